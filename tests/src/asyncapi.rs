//! Every event the tests see published is held against `asyncapi.yaml`:
//! its message's payload schema, by `event_type`. A published body the
//! contract does not describe fails the test that published it.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// The contract as JSON.
pub fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../asyncapi.yaml");
    let text = std::fs::read_to_string(path).expect("asyncapi.yaml is readable");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("asyncapi.yaml is YAML");
    serde_json::to_value(yaml).expect("asyncapi.yaml is JSON-shaped")
}

/// The payload schema of each message, by its name (the event type).
fn validators() -> &'static HashMap<String, jsonschema::Validator> {
    static VALIDATORS: OnceLock<HashMap<String, jsonschema::Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let document = document();
        let messages = document["components"]["messages"]
            .as_object()
            .expect("components.messages");
        messages
            .values()
            .map(|message| {
                let name = message["name"].as_str().expect("a message name").to_owned();
                // The whole document as the schema's root, so its `$ref`s resolve.
                let mut schema = document.clone();
                schema["$ref"] = message["payload"]["$ref"].clone();
                let validator = jsonschema::draft202012::new(&schema)
                    .unwrap_or_else(|e| panic!("{name}'s schema: {e}"));
                (name, validator)
            })
            .collect()
    })
}

/// Panics, naming what is wrong, unless `body` is a message the contract
/// describes.
pub fn assert_valid_event(body: &str) {
    let event: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("a published body is not JSON ({e}): {body}"));
    let event_type = event["event_type"].as_str().unwrap_or_default();
    let validator = validators()
        .get(event_type)
        .unwrap_or_else(|| panic!("asyncapi.yaml has no message {event_type:?}: {body}"));
    let errors: Vec<String> = validator
        .iter_errors(&event)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "a published {event_type} does not match asyncapi.yaml: {errors:?}\n{body}"
    );
}

/// Whether `body` is a message the contract describes (for tests of the
/// schemas themselves).
pub fn is_valid_event(body: &Value) -> bool {
    let event_type = body["event_type"].as_str().unwrap_or_default();
    validators()
        .get(event_type)
        .is_some_and(|validator| validator.is_valid(body))
}
