//! template.yaml declares the table and the policies the code expects.

use std::collections::BTreeSet;

use payments::adapters::dynamodb::{FeedLimits, Index};
use serde_norway::Value;

use payments_tests::template::{payments_table, template};

fn index_keys(name: &str) -> Vec<(String, String)> {
    payments_table()
        .indexes
        .into_iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("template declares index {name}"))
        .key_schema
}

fn pair(a: &str, b: &str) -> Vec<(String, String)> {
    vec![
        (a.to_owned(), "HASH".to_owned()),
        (b.to_owned(), "RANGE".to_owned()),
    ]
}

#[test]
fn the_table_has_the_keys_indexes_and_settings_the_code_uses() {
    let table = payments_table();
    assert_eq!(table.key_schema, pair("pk", "sk"));
    assert_eq!(index_keys(Index::BY_ORDER), pair("order_id", "created_at"));
    assert_eq!(index_keys(Index::OUTBOX), pair("outbox", "created_at"));
    assert_eq!(index_keys(Index::DUE), pair("due", "due_at"));
    assert_eq!(index_keys(Index::EVENTS), pair("feed", "event_id"));
    for index in &table.indexes {
        assert_eq!(
            index.projection, "ALL",
            "{} projects whole items",
            index.name
        );
    }
    for (attribute, kind) in &table.attributes {
        assert_eq!(kind, "S", "{attribute} is a string key");
    }
    assert_eq!(table.ttl_attribute, "ttl");
    let p = &table.properties;
    assert_eq!(p["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        p["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    assert!(p["StreamSpecification"]["StreamViewType"]
        .as_str()
        .is_some());
}

/// A function's policies: its DynamoDB actions, the index ARNs it may
/// query, and the rest (managed policies) as text.
struct Policies {
    dynamodb: BTreeSet<String>,
    indexes: BTreeSet<String>,
    text: String,
}

fn policies_of(template: &Value, function: &str) -> Policies {
    let resource = &template["Resources"][function];
    assert_eq!(
        resource["Type"].as_str(),
        Some("AWS::Serverless::Function"),
        "{function}"
    );
    let policies = &resource["Properties"]["Policies"];
    let mut dynamodb = BTreeSet::new();
    let mut indexes = BTreeSet::new();
    for policy in policies.as_sequence().expect("Policies is a list") {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            for action in statement["Action"].as_sequence().into_iter().flatten() {
                let action = action.as_str().expect("actions are strings");
                if let Some(action) = action.strip_prefix("dynamodb:") {
                    dynamodb.insert(action.to_owned());
                }
            }
            let resources = serde_norway::to_string(&statement["Resource"]).unwrap();
            // An index is only ever queried, in a statement of its own.
            if resources.contains("/index/") {
                let actions = serde_norway::to_string(&statement["Action"]).unwrap();
                assert_eq!(
                    actions.trim(),
                    "- dynamodb:Query",
                    "{function}: an index statement grants only Query"
                );
            }
            for index in ["by-order", "outbox", "due-at", "events"] {
                if resources.contains(&format!("/index/{index}")) {
                    indexes.insert(index.to_owned());
                }
            }
        }
    }
    Policies {
        dynamodb,
        indexes,
        text: serde_norway::to_string(policies).unwrap(),
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn each_function_may_do_only_what_it_does() {
    let template = template();
    let writer = ["GetItem", "Query", "PutItem", "UpdateItem"];
    let expected: [(&str, &[&str], &[&str], bool); 7] = [
        (
            "CreatePaymentFunction",
            &["GetItem", "PutItem", "UpdateItem"],
            &[],
            false,
        ),
        (
            "GetPaymentFunction",
            &["GetItem", "Query"],
            &["by-order", "events"],
            false,
        ),
        ("CancelPaymentFunction", &writer, &[], true),
        ("RefundPaymentFunction", &writer, &["events"], true),
        ("PaymentWebhookFunction", &writer, &[], true),
        // GetItem: every function's init pre-warms its connection with one.
        (
            "EventRelayFunction",
            &["GetItem", "Query", "UpdateItem"],
            &["outbox"],
            true,
        ),
        ("PaymentSweeperFunction", &writer, &["due-at"], true),
    ];
    for (function, actions, indexes, publishes) in expected {
        let policies = policies_of(&template, function);
        assert_eq!(
            policies.dynamodb,
            set(actions),
            "{function}'s DynamoDB actions"
        );
        assert_eq!(policies.indexes, set(indexes), "{function}'s indexes");
        assert_eq!(
            policies.text.contains("SNSPublishMessagePolicy"),
            publishes,
            "{function} publishes only if it must"
        );
        for never in [
            "DynamoDBCrudPolicy",
            "DynamoDBReadPolicy",
            "Scan",
            "DeleteItem",
            "BatchWriteItem",
            "dynamodb:*",
        ] {
            assert!(
                !policies.text.contains(never),
                "{function} may not use {never}"
            );
        }
    }
}

/// The SSM parameters a function may read, by template parameter name.
fn ssm_parameters_of(template: &Value, function: &str) -> BTreeSet<String> {
    let policies = &template["Resources"][function]["Properties"]["Policies"];
    let mut parameters = BTreeSet::new();
    for policy in policies.as_sequence().into_iter().flatten() {
        for statement in policy["Statement"].as_sequence().into_iter().flatten() {
            let actions = serde_norway::to_string(&statement["Action"]).unwrap();
            if !actions.contains("ssm:") {
                continue;
            }
            assert_eq!(
                actions.trim(),
                "- ssm:GetParameters",
                "{function}: only GetParameters"
            );
            let resources = serde_norway::to_string(&statement["Resource"]).unwrap();
            for parameter in [
                "MercadoPagoAccessTokenParameter",
                "MercadoPagoWebhookSecretParameter",
            ] {
                if resources.contains(&format!("parameter${{{parameter}}}")) {
                    parameters.insert(parameter.to_owned());
                }
            }
        }
    }
    parameters
}

#[test]
fn secrets_come_from_ssm_and_each_function_reads_only_its_own() {
    let template = template();
    let token = "MercadoPagoAccessTokenParameter";
    let secret = "MercadoPagoWebhookSecretParameter";
    let expected: [(&str, &[&str]); 7] = [
        ("CreatePaymentFunction", &[token]),
        ("GetPaymentFunction", &[]),
        ("CancelPaymentFunction", &[token]),
        ("RefundPaymentFunction", &[token]),
        ("PaymentWebhookFunction", &[token, secret]),
        ("EventRelayFunction", &[]),
        ("PaymentSweeperFunction", &[token]),
    ];
    let globals = serde_norway::to_string(&template["Globals"]).unwrap();
    for (function, parameters) in expected {
        assert_eq!(
            ssm_parameters_of(&template, function),
            set(parameters),
            "{function}"
        );
        let environment =
            serde_norway::to_string(&template["Resources"][function]["Properties"]["Environment"])
                .unwrap();
        for variable in ["MP_ACCESS_TOKEN:", "MP_WEBHOOK_SECRET:"] {
            assert!(
                !environment.contains(variable) && !globals.contains(variable),
                "{function}'s environment holds no secret ({variable})"
            );
        }
    }
}

#[test]
fn the_http_api_requires_iam_by_default_and_throttles() {
    let template = template();
    let parameter = &template["Parameters"]["ApiAuthorization"];
    assert_eq!(parameter["Default"].as_str(), Some("AWS_IAM"));
    let allowed: Vec<_> = parameter["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(allowed, ["AWS_IAM", "NONE"]);
    let api = serde_norway::to_string(&template["Resources"]["PaymentsApi"]["Properties"]).unwrap();
    assert!(
        api.contains("IamAuthorization") && api.contains("DefaultAuthorizer: AWS_IAM"),
        "{api}"
    );
    assert!(
        api.contains("ThrottlingRateLimit") && api.contains("ApiRateLimit"),
        "{api}"
    );
    assert!(
        api.contains("ThrottlingBurstLimit") && api.contains("ApiBurstLimit"),
        "{api}"
    );
    assert_eq!(
        template["Parameters"]["ApiRateLimit"]["Default"].as_u64(),
        Some(200)
    );
    assert_eq!(
        template["Parameters"]["ApiBurstLimit"]["Default"].as_u64(),
        Some(400)
    );
}

/// The quoted strings of a `name = [ ... ]` list in a file (Cargo.toml).
fn quoted_list(text: &str, name: &str) -> Vec<String> {
    let start = text
        .find(&format!("\n{name} = ["))
        .unwrap_or_else(|| panic!("no {name} list"));
    let rest = &text[start..];
    let end = rest.find(']').expect("the list ends");
    rest[..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_function_deploys_the_zip_make_package_builds_and_nothing_else_builds_it() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let template = template();
    let mut deployed = BTreeSet::new();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let code = resource["Properties"]["CodeUri"]
            .as_str()
            .unwrap_or_default();
        let function = code
            .strip_prefix("target/lambda/")
            .and_then(|rest| rest.strip_suffix("/bootstrap.zip"))
            .unwrap_or_else(|| panic!("{name:?} deploys {code:?}, not a zip of make package"));
        // A build method would let SAM build a bootstrap of its own.
        assert!(
            resource["Metadata"]["BuildMethod"].is_null(),
            "{name:?} has SAM build it"
        );
        deployed.insert(function.to_owned());
    }
    // make package builds these crates, and a bare cargo (lambda) build at the
    // root selects the same ones: the same features, the same bootstraps.
    let makefile = std::fs::read_to_string(format!("{root}/Makefile")).unwrap();
    let mut packages = BTreeSet::new();
    for line in makefile
        .lines()
        .skip_while(|line| !line.starts_with("LAMBDA_PACKAGES :="))
    {
        let words = line.trim_start_matches("LAMBDA_PACKAGES :=");
        packages.extend(
            words
                .split_whitespace()
                .filter(|word| *word != "-p" && *word != "\\")
                .map(str::to_owned),
        );
        if !line.ends_with('\\') {
            break;
        }
    }
    assert_eq!(packages, deployed, "make package builds what is deployed");
    let cargo = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    let members: BTreeSet<String> = quoted_list(&cargo, "default-members")
        .iter()
        .map(|path| {
            path.strip_prefix("functions/")
                .unwrap_or_else(|| panic!("default member {path:?} is not a function"))
                .to_owned()
        })
        .collect();
    assert_eq!(members, deployed, "the workspace's default members");
}

#[test]
fn functions_run_on_the_chosen_architecture_on_al2023_with_a_public_webhook_and_secret_parameters()
{
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    // One processor for all, chosen at deploy time, arm64 unless told.
    assert_eq!(
        serde_norway::to_string(&globals["Architectures"])
            .unwrap()
            .trim(),
        "- !Ref Architecture"
    );
    let architecture = &template["Parameters"]["Architecture"];
    assert_eq!(architecture["Default"].as_str(), Some("arm64"));
    assert_eq!(
        serde_norway::to_string(&architecture["AllowedValues"])
            .unwrap()
            .trim(),
        "- arm64\n- x86_64"
    );
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        assert!(
            resource["Properties"]["Architectures"].is_null(),
            "{name:?} sets its own architecture"
        );
    }
    assert_eq!(
        template["Resources"]["PaymentWebhookFunction"]["Properties"]["FunctionUrlConfig"]
            ["AuthType"]
            .as_str(),
        Some("NONE")
    );
    // Secrets are SSM parameters: the template holds their names, never values.
    for (parameter, default) in [
        (
            "MercadoPagoAccessTokenParameter",
            "/payments/mercadopago/access-token",
        ),
        (
            "MercadoPagoWebhookSecretParameter",
            "/payments/mercadopago/webhook-secret",
        ),
    ] {
        assert_eq!(
            template["Parameters"][parameter]["Default"].as_str(),
            Some(default)
        );
    }
    assert!(template["Parameters"]["MercadoPagoAccessToken"].is_null());
    assert!(template["Parameters"]["MercadoPagoWebhookSecret"].is_null());
}

/// Every alarm: its metric, namespace (as text), dimensions and threshold.
fn alarms(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r["Properties"].clone()))
        .collect()
}

#[test]
fn every_promise_has_an_alarm_to_one_topic_with_a_sane_threshold() {
    let template = template();
    let alarms = alarms(&template);
    let on = |metric: &str, function: Option<&str>| -> Vec<&Value> {
        alarms
            .iter()
            .map(|(_, a)| a)
            .filter(|a| a["MetricName"].as_str() == Some(metric))
            .filter(|a| {
                function.is_none_or(|f| {
                    serde_norway::to_string(&a["Dimensions"])
                        .unwrap()
                        .contains(f)
                })
            })
            .collect()
    };
    for (name, alarm) in &alarms {
        let actions = serde_norway::to_string(&alarm["AlarmActions"]).unwrap();
        assert!(
            actions.contains("AlarmTopic"),
            "{name} notifies the alarm topic"
        );
        let description = alarm["AlarmDescription"].as_str().unwrap_or_default();
        assert!(
            description.contains("docs/runbook.md"),
            "{name} points at the runbook"
        );
        assert_eq!(
            alarm["TreatMissingData"].as_str(),
            Some("notBreaching"),
            "{name}"
        );
    }
    // Errors of every function.
    for function in [
        "CreatePaymentFunction",
        "GetPaymentFunction",
        "CancelPaymentFunction",
        "RefundPaymentFunction",
        "PaymentWebhookFunction",
        "EventRelayFunction",
        "PaymentSweeperFunction",
    ] {
        assert_eq!(on("Errors", Some(function)).len(), 1, "{function} errors");
    }
    assert_eq!(on("5xx", None).len(), 1, "HTTP API 5xx");
    assert_eq!(
        on("ApproximateNumberOfMessagesVisible", None).len(),
        1,
        "failed invocations"
    );
    let oldest = on("OutboxOldestAge", Some("event-relay"));
    assert_eq!(oldest.len(), 1);
    assert_eq!(oldest[0]["Threshold"].as_u64(), Some(300), "five minutes");
    for metric in [
        "ProviderMismatch",
        "ProviderUnknownStatus",
        "LatePaymentRefunded",
        "LatePaymentRefundFailed",
        "SweeperNeedsReview",
        "SweeperUnreadableItem",
    ] {
        let any = on(metric, None);
        assert!(!any.is_empty(), "{metric} alarms");
        for alarm in any {
            assert_eq!(alarm["Threshold"].as_u64(), Some(0), "{metric}: any one");
        }
    }
    // Every function that can meet a Mercado Pago answer it cannot use has
    // its alarm: a mismatched create, an order or refund status we do not know.
    for (metric, functions) in [
        (
            "ProviderMismatch",
            &[
                "create-payment",
                "cancel-payment",
                "refund-payment",
                "payment-webhook",
                "payment-sweeper",
            ][..],
        ),
        (
            "ProviderUnknownStatus",
            &[
                "cancel-payment",
                "refund-payment",
                "payment-webhook",
                "payment-sweeper",
            ][..],
        ),
    ] {
        for function in functions {
            assert_eq!(
                on(metric, Some(function)).len(),
                1,
                "{metric} of {function}"
            );
        }
    }
    let rejected = on("WebhookRejected", Some("payment-webhook"));
    // missing, malformed, mismatch: a late signature made with the secret is
    // not rejected (Mercado Pago's retries), only read within bounds.
    assert_eq!(rejected.len(), 3, "one per reason");
    for alarm in rejected {
        let threshold = alarm["Threshold"].as_u64().unwrap();
        assert!(
            (1..=100).contains(&threshold),
            "a burst, not one: {threshold}"
        );
    }
    assert!(template["Outputs"]["AlarmTopicArn"].is_mapping());
    let dashboard = serde_norway::to_string(&template["Resources"]["PaymentsDashboard"]).unwrap();
    for metric in [
        "PaymentCreated",
        "PaymentApproved",
        "PaymentDeclined",
        "PaymentExpired",
        "PaymentCanceled",
        "PaymentRefunded",
        "ProviderLatency",
        "ProviderError",
        "OutboxBacklog",
        "OutboxOldestAge",
    ] {
        assert!(dashboard.contains(metric), "the dashboard shows {metric}");
    }
}

#[test]
fn the_relay_stream_filter_matches_every_outbox_shard_the_code_writes() {
    let events = &template()["Resources"]["EventRelayFunction"]["Properties"]["Events"];
    let stream = events
        .as_mapping()
        .unwrap()
        .values()
        .find(|event| event["Type"] == "DynamoDB")
        .expect("the relay has a stream trigger");
    assert_eq!(
        stream["Properties"]["FunctionResponseTypes"][0], "ReportBatchItemFailures",
        "only the failed records of a batch are retried"
    );
    let pattern: serde_json::Value = serde_json::from_str(
        stream["Properties"]["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        pattern["eventName"],
        serde_json::json!(["INSERT"]),
        "only new events: a claim's update of an event item would wake the relay again"
    );
    let prefix = pattern["dynamodb"]["NewImage"]["outbox"]["S"][0]["prefix"]
        .as_str()
        .expect("the filter matches the outbox attribute by prefix");
    let widest = payments::adapters::dynamodb::IndexShards::new(
        payments::adapters::dynamodb::IndexShards::MAX,
    )
    .unwrap();
    for shard in widest.all() {
        assert!(
            shard.starts_with(prefix),
            "{shard} passes the filter {prefix}"
        );
    }
    let id = payments::domain::PaymentId::from_ulid(ulid::Ulid::new());
    assert!(Index::pending_shard(&id, widest).starts_with(prefix));
}

#[test]
fn the_template_never_sends_a_notification_url_with_qr_orders() {
    // QR orders take the webhook URL configured in Mercado Pago's dashboard,
    // and Mercado Pago may refuse a property it does not list for them.
    let text = serde_norway::to_string(&template()).unwrap();
    assert!(
        !text.contains("MP_NOTIFICATION_URL"),
        "the template must leave MP_NOTIFICATION_URL unset"
    );
}

#[test]
fn alarms_can_reach_someone_and_only_the_service_publishes_payment_events() {
    let template = template();
    let resources = &template["Resources"];
    // CloudWatch cannot use the AWS-managed aws/sns key: the alarm topic's
    // key must be one whose policy admits CloudWatch of this account.
    let alarm_topic = serde_norway::to_string(&resources["AlarmTopic"]["Properties"]).unwrap();
    assert!(!alarm_topic.contains("alias/aws/sns"), "{alarm_topic}");
    assert!(alarm_topic.contains("AlarmTopicKey"), "{alarm_topic}");
    let key = &resources["AlarmTopicKey"];
    assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"));
    let statements = key["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .unwrap();
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"].as_str() == Some("cloudwatch.amazonaws.com"))
        .expect("the key admits CloudWatch");
    let actions = serde_norway::to_string(&cloudwatch["Action"]).unwrap();
    assert!(actions.contains("kms:Decrypt") && actions.contains("kms:GenerateDataKey"));
    let scoped = serde_norway::to_string(&cloudwatch["Condition"]).unwrap();
    assert!(scoped.contains("aws:SourceAccount"), "{scoped}");

    // Publishing to the payments topic: only the roles of the functions
    // that publish (their policies grant it), everyone else denied.
    let publishers: BTreeSet<String> = resources
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            serde_norway::to_string(&r["Properties"]["Policies"])
                .unwrap()
                .contains("SNSPublishMessagePolicy")
        })
        .map(|(name, _)| format!("{}Role", name.as_str().unwrap()))
        .collect();
    assert_eq!(publishers.len(), 5, "{publishers:?}");
    let policy = &resources["PaymentsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let deny = policy
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["Effect"].as_str() == Some("Deny"))
        .expect("a deny of everyone else");
    assert_eq!(deny["Action"].as_str(), Some("sns:Publish"));
    let allowed =
        serde_norway::to_string(&deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]).unwrap();
    for role in &publishers {
        assert!(
            allowed.contains(&format!("{role}.Arn")),
            "{role} may publish: {allowed}"
        );
    }
    assert_eq!(
        allowed.matches(".Arn").count(),
        publishers.len(),
        "{allowed}"
    );

    // The public webhook URL cannot starve the other functions.
    let webhook = serde_norway::to_string(
        &resources["PaymentWebhookFunction"]["Properties"]["ReservedConcurrentExecutions"],
    )
    .unwrap();
    assert!(webhook.contains("WebhookReservedConcurrency"), "{webhook}");
    // ... and being throttled at that cap is an alarm, not silence.
    let throttles = &resources["PaymentWebhookThrottlesAlarm"]["Properties"];
    assert_eq!(throttles["MetricName"].as_str(), Some("Throttles"));
    assert!(serde_norway::to_string(&throttles["Dimensions"])
        .unwrap()
        .contains("PaymentWebhookFunction"));
    assert_eq!(
        template["Parameters"]["WebhookReservedConcurrency"]["Default"].as_u64(),
        Some(20)
    );
    // Logs are kept for the year refunds are audited.
    assert_eq!(
        template["Parameters"]["LogRetentionDays"]["Default"].as_u64(),
        Some(365)
    );
}

#[test]
fn an_unauthenticated_api_is_refused_outside_a_sandbox() {
    let template = template();
    assert_eq!(
        template["Parameters"]["Stage"]["Default"].as_str(),
        Some("prod")
    );
    let rules = serde_norway::to_string(&template["Rules"]).unwrap();
    let rule = &template["Rules"]["UnauthenticatedApiOnlyInSandbox"];
    let condition = serde_norway::to_string(&rule["RuleCondition"]).unwrap();
    assert!(
        condition.contains("ApiAuthorization") && condition.contains("NONE"),
        "{rules}"
    );
    let assertion = serde_norway::to_string(&rule["Assertions"]).unwrap();
    assert!(
        assertion.contains("Stage") && assertion.contains("sandbox"),
        "{rules}"
    );
    // Refunds are open to named roles only in production, and a sandbox
    // never reads production's secrets.
    let refunds =
        serde_norway::to_string(&template["Rules"]["RefundCallersNamedInProduction"]).unwrap();
    assert!(
        refunds.contains("prod") && refunds.contains("RefundCallerRoles"),
        "{refunds}"
    );
    let sandbox = serde_norway::to_string(&template["Rules"]["SandboxUsesItsOwnSecrets"]).unwrap();
    for parameter in [
        "MercadoPagoAccessTokenParameter",
        "MercadoPagoWebhookSecretParameter",
    ] {
        let default = template["Parameters"][parameter]["Default"]
            .as_str()
            .unwrap();
        assert!(
            sandbox.contains(parameter) && sandbox.contains(default),
            "{sandbox}"
        );
    }
}

#[test]
fn routes_admit_their_caller_roles_and_the_api_logs_who_called() {
    let template = template();
    let resources = &template["Resources"];
    let expected = [
        ("CreatePaymentFunction", Some("PaymentCallerRoles")),
        ("GetPaymentFunction", Some("PaymentCallerRoles")),
        ("CancelPaymentFunction", Some("PaymentCallerRoles")),
        ("RefundPaymentFunction", Some("RefundCallerRoles")),
        ("PaymentWebhookFunction", None),
        ("EventRelayFunction", None),
        ("PaymentSweeperFunction", None),
    ];
    for (function, roles) in expected {
        let variable =
            &resources[function]["Properties"]["Environment"]["Variables"]["ALLOWED_CALLERS"];
        assert_eq!(
            serde_norway::to_string(variable).unwrap().trim(),
            roles.map_or("null".to_owned(), |r| format!("!Ref {r}")),
            "{function}'s ALLOWED_CALLERS"
        );
    }
    for parameter in ["PaymentCallerRoles", "RefundCallerRoles"] {
        let parameter = &template["Parameters"][parameter];
        assert_eq!(parameter["Default"].as_str(), Some(""), "anyone by default");
        let pattern = parameter["AllowedPattern"].as_str().unwrap();
        assert!(pattern.contains(":iam::[0-9]{12}:role/"), "{pattern}");
    }

    // Access logs name the caller of every request, kept as long as the rest.
    let api = &resources["PaymentsApi"]["Properties"]["AccessLogSettings"];
    let format = api["Format"].as_str().expect("an access log format");
    let fields: Value = serde_json::from_str(format).expect("the format is JSON");
    for (field, variable) in [
        ("requestId", "$context.requestId"),
        ("routeKey", "$context.routeKey"),
        ("status", "$context.status"),
        ("responseLatency", "$context.responseLatency"),
        ("userArn", "$context.authorizer.iam.userArn"),
    ] {
        assert_eq!(fields[field].as_str(), Some(variable), "{format}");
    }
    let destination = serde_norway::to_string(&api["DestinationArn"]).unwrap();
    assert!(
        destination.contains("ApiAccessLogGroup.Arn"),
        "{destination}"
    );
    let group = serde_norway::to_string(&resources["ApiAccessLogGroup"]["Properties"]).unwrap();
    assert!(
        group.contains("RetentionInDays: !Ref LogRetentionDays"),
        "{group}"
    );
}

#[test]
fn secrets_under_a_customer_managed_key_can_be_decrypted_through_ssm_only() {
    let template = template();
    let parameter = &template["Parameters"]["SecretsKmsKeyArn"];
    assert_eq!(parameter["Default"].as_str(), Some(""));
    for function in [
        "CreatePaymentFunction",
        "GetPaymentFunction",
        "CancelPaymentFunction",
        "RefundPaymentFunction",
        "PaymentWebhookFunction",
        "EventRelayFunction",
        "PaymentSweeperFunction",
    ] {
        let reads_secrets = !ssm_parameters_of(&template, function).is_empty();
        let policies =
            serde_norway::to_string(&template["Resources"][function]["Properties"]["Policies"])
                .unwrap();
        let grant = policies.find("kms:Decrypt");
        assert_eq!(grant.is_some(), reads_secrets, "{function}: {policies}");
        if reads_secrets {
            for part in [
                "SecretsKeyGiven",
                "Resource: !Ref SecretsKmsKeyArn",
                "kms:ViaService: !Sub ssm.${AWS::Region}.amazonaws.com",
                "AWS::NoValue",
            ] {
                assert!(
                    policies.contains(part),
                    "{function} lacks {part}: {policies}"
                );
            }
        }
    }
}

/// The feed lists an event only once its id is older than its settle line,
/// so every function must have committed its writes well before that: a
/// function whose timeout outgrew it could add events behind a cursor
/// already given out.
#[test]
fn every_function_ends_well_before_the_feeds_settle_line() {
    let template = template();
    let global = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    let mut functions = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        functions += 1;
        let timeout = resource["Properties"]["Timeout"].as_u64().unwrap_or(global);
        assert!(
            std::time::Duration::from_secs(timeout * 2) <= FeedLimits::SETTLE,
            "{name:?} may run {timeout} s"
        );
    }
    assert_eq!(functions, 7);
}

/// The event routes have ceilings of their own, below the API's: a feed read
/// may evaluate 1,000 index items, a redelivery fans out to every
/// subscriber. The access log links each request to its function's log
/// lines (`integrationRequestId` is Lambda's request id) and to the id the
/// caller sent, whoever's it is.
#[test]
fn the_event_routes_are_throttled_below_the_api_and_the_log_links_to_lambda() {
    let template = template();
    let api_rate = template["Parameters"]["ApiRateLimit"]["Default"]
        .as_u64()
        .unwrap();
    for (function, event, rate) in [
        ("GetPaymentFunction", "EventFeed", 20),
        ("RefundPaymentFunction", "Redeliver", 5),
    ] {
        let route = &template["Resources"][function]["Properties"]["Events"][event]["Properties"];
        assert_eq!(
            route["RouteSettings"]["ThrottlingRateLimit"].as_u64(),
            Some(rate),
            "{event}"
        );
        assert!(rate < api_rate, "{event}");
    }
    let format = template["Resources"]["PaymentsApi"]["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .unwrap();
    for field in [
        "$context.integration.requestId",
        "$request.header.x-request-id",
    ] {
        assert!(format.contains(field), "{field}");
    }
}
