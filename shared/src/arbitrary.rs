//! Strategies for the property tests of every parser that reads outside input.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Any JSON value, nested a little: what a client could put in a field.
pub(crate) fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        // Numbers no 64-bit integer holds, and floats for amounts.
        "-?[0-9]{19,40}"
            .prop_map(|digits| { serde_json::from_str::<Value>(&digits).unwrap_or(Value::Null) }),
        "[0-9]{1,6}\\.[0-9]{1,3}".prop_map(|n| serde_json::from_str(&n).unwrap_or(Value::Null)),
        any::<String>().prop_map(Value::from),
        "[A-Z]{3}".prop_map(Value::from),
        "[ -~\\x00-\\x1f\\x7f]{0,200}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(("[a-z_]{1,12}", inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}
