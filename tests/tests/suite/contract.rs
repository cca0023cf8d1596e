//! openapi.yaml cannot drift from the code: the routes the local stack and the
//! template serve, and the problem types the service answers with, are exactly
//! those the document lists. (Whether every answer matches the document is
//! schemathesis's job in `make contract`.)

use std::collections::BTreeSet;

use payments::http::ProblemType;
use payments_local::LocalRoute;
use payments_tests::local_stack::Stack;
use payments_tests::template::template;
use serde_norway::Value;
use strum::IntoEnumIterator;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn openapi_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
    std::fs::read_to_string(path).expect("openapi.yaml is readable")
}

fn openapi() -> Value {
    serde_norway::from_str(&openapi_text()).expect("openapi.yaml is YAML")
}

/// (METHOD, path) of every operation, with its tags.
fn operations(document: &Value) -> Vec<(String, String, Vec<String>)> {
    let paths = document["paths"].as_mapping().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path").to_owned();
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let tags = operation["tags"]
                    .as_sequence()
                    .map(|tags| {
                        tags.iter()
                            .filter_map(|t| t.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push((method.to_uppercase(), path.clone(), tags));
            }
        }
    }
    operations
}

#[test]
fn every_route_the_local_stack_serves_is_in_the_contract_and_no_other() {
    let documented: BTreeSet<(String, String)> = operations(&openapi())
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let served: BTreeSet<(String, String)> = LocalRoute::iter()
        .map(|route| (route.method().to_string(), route.path().to_owned()))
        .collect();
    assert_eq!(served, documented);
}

#[test]
fn every_route_the_template_deploys_is_in_the_contract_and_no_other() {
    let template = template();
    let mut deployed = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() == Some("HttpApi") {
                let properties = &event["Properties"];
                deployed.insert((
                    properties["Method"]
                        .as_str()
                        .expect("Method")
                        .to_uppercase(),
                    properties["Path"].as_str().expect("Path").to_owned(),
                ));
            }
        }
    }
    // On AWS the webhook is a function URL and the local routes do not exist.
    let documented: BTreeSet<(String, String)> = operations(&openapi())
        .into_iter()
        .filter(|(_, path, tags)| {
            !tags.iter().any(|tag| tag == "local") && path != "/webhooks/mercadopago"
        })
        .map(|(method, path, _)| (method, path))
        .collect();
    assert!(!deployed.is_empty());
    assert_eq!(deployed, documented);
}

#[test]
fn every_problem_type_the_service_answers_with_is_in_the_contract_and_no_other() {
    let document = openapi();
    let documented: BTreeSet<String> = document["components"]["schemas"]["Problem"]["properties"]
        ["type"]["enum"]
        .as_sequence()
        .expect("Problem.type lists every problem type")
        .iter()
        .filter_map(|slug| slug.as_str().map(str::to_owned))
        .collect();
    let answered: BTreeSet<String> = ProblemType::iter()
        .map(|kind| format!("/problems/{}", kind.slug()))
        .collect();
    assert_eq!(answered, documented);
}

/// The values a schema allows by `const` or `enum` (none for any other schema).
fn allowed(schema: &Value) -> impl Iterator<Item = &Value> {
    let one = schema.get("const").into_iter();
    let many = schema
        .get("enum")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten();
    one.chain(many)
}

/// Each documented problem response narrows `type` (one, or an enum) and
/// `status`: every type it allows must have that status in the code.
#[test]
fn every_documented_problem_response_carries_its_types_status() {
    let document = openapi();
    let responses = document["components"]["responses"]
        .as_mapping()
        .expect("components.responses");
    let status_of = |slug: &str| {
        ProblemType::iter()
            .find(|kind| format!("/problems/{}", kind.slug()) == slug)
            .map(|kind| kind.status().as_u16())
    };
    let mut checked = 0;
    for (name, response) in responses {
        let Some(parts) =
            response["content"]["application/problem+json"]["schema"]["allOf"].as_sequence()
        else {
            continue;
        };
        for part in parts {
            let narrowed = &part["properties"];
            let types: Vec<&str> = allowed(&narrowed["type"])
                .filter_map(Value::as_str)
                .collect();
            let statuses: Vec<u64> = allowed(&narrowed["status"])
                .filter_map(Value::as_u64)
                .collect();
            if types.is_empty() || statuses.is_empty() {
                continue;
            }
            for slug in types {
                let status = status_of(slug)
                    .unwrap_or_else(|| panic!("{name:?}: {slug} is no problem type"));
                assert!(
                    statuses.contains(&u64::from(status)),
                    "{name:?}: {slug} is answered with {status}, documented as {statuses:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= ProblemType::iter().count(),
        "only {checked} checked"
    );
}

#[tokio::test]
async fn the_local_stack_serves_the_contract_itself() {
    let stack = Stack::start().await;
    let served = stack.get("/openapi.yaml").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.content_type(), "application/yaml");
    assert_eq!(served.body.as_str(), Some(openapi_text().as_str()));
    stack.stop().await;
}

/// The text fields' patterns refuse exactly what the code refuses among
/// invisible characters: every format character (Unicode category Cf) is
/// outside the pattern and refused by the domain, so a client validating
/// against the contract and the service agree.
#[test]
fn text_patterns_refuse_every_format_character_the_service_refuses() {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let document = openapi();
    let schemas = &document["components"]["schemas"];
    let format_characters: Vec<char> = (0..=0x10FFFF_u32)
        .filter_map(char::from_u32)
        .filter(|c| c.general_category() == GeneralCategory::Format)
        .collect();
    assert!(format_characters.contains(&'\u{202E}') && format_characters.contains(&'\u{200B}'));
    for name in ["Sku", "Title", "Description", "RefundReason"] {
        let pattern = schemas[name]["pattern"].as_str().expect("a pattern");
        let pattern = regex::Regex::new(pattern).expect("the pattern compiles");
        for shown in ["X-Burger", "Pão de queijo", "Açaí 🍧", "寿司"] {
            assert!(pattern.is_match(shown), "{name} allows {shown:?}");
        }
        for c in &format_characters {
            let text = format!("a{c}b");
            assert!(
                !pattern.is_match(&text),
                "{name}'s pattern allows U+{:04X}",
                u32::from(*c)
            );
            assert!(
                payments::domain::Title::parse(&text).is_err(),
                "the service allows U+{:04X}",
                u32::from(*c)
            );
        }
    }
}

/// Every route that takes parameters or a body lists, at 400, the refusal
/// of a request the HTTP layer cannot read (`malformed-request`), and every
/// answer documents `X-Request-Id`.
#[test]
fn every_route_lists_the_http_layers_refusal_and_every_answer_its_request_id() {
    let document = openapi();
    let resolve = |response: &Value| -> Value {
        match response["$ref"].as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap();
                document["components"]["responses"][name].clone()
            }
            None => response.clone(),
        }
    };
    for (path, item) in document["paths"].as_mapping().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_mapping().unwrap();
            for (status, response) in responses {
                let response = resolve(response);
                assert!(
                    response["headers"].get("X-Request-Id").is_some(),
                    "{method} {path:?} {status:?} documents X-Request-Id"
                );
            }
            if let Some(bad) = operation["responses"].get("400") {
                let text = serde_norway::to_string(&resolve(bad)).unwrap();
                assert!(
                    text.contains("/problems/malformed-request"),
                    "{method} {path:?}: 400 lists malformed-request"
                );
            }
        }
    }
}

/// asyncapi.yaml's schemas are strict: an `amount` that is a string, a
/// field it does not list, or one missing is refused; a real body passes.
#[test]
fn the_event_schemas_refuse_what_consumers_could_not_read() {
    use payments_tests::asyncapi::is_valid_event;
    let good = serde_json::json!({
        "event_id": "evt_01JDX3P2H7Q8R9S0T1V2W3X4YZ", "event_type": "payment.approved",
        "schema_version": 1, "occurred_at": "2026-11-25T12:00:03.000Z",
        "payment_id": "pay_01JDX3M8Q4S7V2C9K5T6W1Y0ZB", "order_id": "ord-1042",
        "status": "approved", "amount": 2590, "currency": "BRL",
        "provider_payment_id": "PAY01JDX3M8S1A2B3C4D5E6F7G8", "decline_reason": null,
        "amount_refunded": 0, "sequence": 1, "correlation_id": "req-1", "refund": null
    });
    assert!(is_valid_event(&good));
    let mut string_amount = good.clone();
    string_amount["amount"] = serde_json::json!("2590");
    assert!(!is_valid_event(&string_amount), "amount as a string");
    let mut extra = good.clone();
    extra["note"] = serde_json::json!("x");
    assert!(!is_valid_event(&extra), "a field the schema does not list");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("sequence");
    assert!(!is_valid_event(&missing), "sequence missing");
    let mut wrong_status = good.clone();
    wrong_status["status"] = serde_json::json!("refunded");
    assert!(
        !is_valid_event(&wrong_status),
        "an approval whose status is refunded"
    );
    let mut refund_without = good;
    refund_without["event_type"] = serde_json::json!("payment.refunded");
    assert!(
        !is_valid_event(&refund_without),
        "a refund event without its refund"
    );
}
