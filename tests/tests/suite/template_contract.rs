//! template.yaml declares the table and the policies the code expects.

use payments::adapters::dynamodb::Index;

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
    assert_eq!(index_keys(Index::DUE), pair("due", "expires_at"));
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

#[test]
fn functions_run_arm64_on_al2023_with_least_privilege() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    let policies = |function: &str| -> String {
        let resource = &template["Resources"][function];
        assert_eq!(
            resource["Type"].as_str(),
            Some("AWS::Serverless::Function"),
            "{function}"
        );
        serde_norway::to_string(&resource["Properties"]["Policies"]).unwrap()
    };
    let get = policies("GetPaymentFunction");
    assert!(get.contains("DynamoDBReadPolicy") && !get.contains("Crud") && !get.contains("SNS"));
    let create = policies("CreatePaymentFunction");
    assert!(create.contains("DynamoDBCrudPolicy") && !create.contains("SNS"));
    let cancel = policies("CancelPaymentFunction");
    assert!(cancel.contains("DynamoDBCrudPolicy") && cancel.contains("SNSPublishMessagePolicy"));
    let refund = policies("RefundPaymentFunction");
    assert!(refund.contains("DynamoDBCrudPolicy") && refund.contains("SNSPublishMessagePolicy"));
    let webhook = policies("PaymentWebhookFunction");
    assert!(webhook.contains("DynamoDBCrudPolicy") && webhook.contains("SNSPublishMessagePolicy"));
    assert_eq!(
        template["Resources"]["PaymentWebhookFunction"]["Properties"]["FunctionUrlConfig"]
            ["AuthType"]
            .as_str(),
        Some("NONE")
    );
    for secret in ["MercadoPagoAccessToken", "MercadoPagoWebhookSecret"] {
        assert_eq!(
            template["Parameters"][secret]["NoEcho"].as_bool(),
            Some(true),
            "{secret}"
        );
    }
}
