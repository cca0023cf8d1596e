//! Every parser at the HTTP edge, fed arbitrary input: it never panics, and
//! what it does not accept it refuses with a 4xx problem naming the field at
//! fault.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::arbitrary::any_json;
use crate::domain::CallerId;

use super::body::{parse_json, require_json};
use super::create_request::parse_command;
use super::get::route;
use super::refund_request::parse_refund;
use super::request::{idempotency_key, payment_id_in_path};
use super::{Problem, RequestError};

fn request(
    method: &str,
    uri: &str,
    headers: &[(&str, &[u8])],
    body: Vec<u8>,
) -> Option<lambda_http::Request> {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, http::HeaderValue::from_bytes(value).ok()?);
    }
    builder.body(lambda_http::Body::from(body)).ok()
}

fn json_request(uri: &str, body: Vec<u8>) -> Option<lambda_http::Request> {
    request("POST", uri, &[("content-type", b"application/json")], body)
}

fn valid_create_body() -> Value {
    json!({
        "order_id": "ord-1042", "amount": 2590, "currency": "BRL",
        "items": [{"sku": "XB", "title": "X-Burger", "quantity": 2, "unit_price": 1295}],
        "description": "Kiosk 3",
        "pos_id": "KIOSK3"
    })
}

/// Where a value can be put in a create body, and the fields an error may then
/// name: the field itself, and those checked against it (the items' sum
/// against the amount, prices against the currency).
const CREATE_FIELDS: &[(&str, &[&str])] = &[
    ("order_id", &[]),
    ("amount", &["items"]),
    ("currency", &["amount", "items", "items[0].unit_price"]),
    ("items", &[]),
    ("description", &[]),
    ("pos_id", &[]),
    ("items[0]", &[]),
    ("items[0].sku", &[]),
    ("items[0].title", &[]),
    ("items[0].quantity", &["items", "items[0].quantity"]),
    ("items[0].unit_price", &["items"]),
];

fn put(body: &mut Value, path: &str, value: Value) {
    match path.split_once('.') {
        Some(("items[0]", field)) => body["items"][0][field] = value,
        _ if path == "items[0]" => body["items"][0] = value,
        _ => body[path] = value,
    }
}

fn refused_as_4xx(error: RequestError) -> Problem {
    let problem = Problem::from(error);
    assert!(problem.status().is_client_error(), "{problem:?}");
    problem
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_as_a_create_body_are_accepted_or_refused_as_4xx(
        bytes in vec(any::<u8>(), 0..512),
    ) {
        if let Some(request) = json_request("/payments", bytes) {
            if let Err(error) = parse_command(&request, CallerId::local()) {
                refused_as_4xx(error);
            }
        }
    }

    #[test]
    fn any_value_in_any_create_field_is_accepted_or_refused_naming_that_field(
        field in 0..CREATE_FIELDS.len(),
        value in any_json(),
    ) {
        let (path, related) = CREATE_FIELDS[field];
        let mut body = valid_create_body();
        put(&mut body, path, value);
        let request = json_request("/payments", body.to_string().into_bytes());
        let Some(request) = request else { return Ok(()) };
        if let Err(error) = parse_command(&request, CallerId::local()) {
            let problem = refused_as_4xx(error);
            let named: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
            prop_assert!(!named.is_empty(), "no field named for {path}: {problem:?}");
            for name in &named {
                // A field inside the one replaced counts as naming it.
                let inside = name.starts_with(path)
                    && name[path.len()..].starts_with(['.', '[']);
                prop_assert!(
                    *name == path || inside || related.contains(name),
                    "{path} replaced, {name} named: {problem:?}"
                );
            }
        }
    }

    #[test]
    fn any_value_in_a_refund_body_is_accepted_or_refused_naming_its_field(
        field in prop::sample::select(vec!["amount", "reason", "amuont"]),
        value in any_json(),
    ) {
        let body = json!({ field: value }).to_string().into_bytes();
        let request = request(
            "POST",
            "/payments/pay_01JDQ4S5V7W8X9Y0Z1A2B3C4D5/refunds",
            &[("content-type", b"application/json"), ("idempotency-key", b"k-1")],
            body,
        );
        let Some(request) = request else { return Ok(()) };
        if let Err(error) = parse_refund(&request, CallerId::local()) {
            let problem = refused_as_4xx(error);
            let named: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
            // An unknown field is refused by serde, which names the body.
            prop_assert!(
                named.iter().all(|name| *name == field) || field == "amuont",
                "{field} given, {named:?} named: {problem:?}"
            );
        }
    }

    #[test]
    fn arbitrary_bodies_are_objects_or_refused(bytes in vec(any::<u8>(), 0..256)) {
        if let Err(error) = parse_json::<Value>(&bytes, &["items"]) {
            refused_as_4xx(error);
        }
    }

    #[test]
    fn any_content_type_is_json_or_a_415(value in vec(any::<u8>(), 0..80)) {
        let Some(request) = request("POST", "/payments", &[("content-type", &value)], vec![])
        else { return Ok(()) };
        if let Err(error) = require_json(&request) {
            prop_assert_eq!(refused_as_4xx(error).status().as_u16(), 415);
        }
    }

    #[test]
    fn json_with_any_parameters_is_json(params in "[ -~]{0,60}") {
        let value = format!("Application/JSON;{params}");
        let request = request("POST", "/payments", &[("content-type", value.as_bytes())], vec![]);
        if let Some(request) = request {
            prop_assert_eq!(require_json(&request), Ok(()));
        }
    }

    #[test]
    fn any_idempotency_key_is_kept_exactly_or_refused_naming_the_header(
        value in vec(any::<u8>(), 0..300),
    ) {
        let Some(request) = request("POST", "/payments", &[("idempotency-key", &value)], vec![])
        else { return Ok(()) };
        match idempotency_key(&request, &CallerId::local()) {
            Ok(key) => {
                let key = key.map(|key| key.as_str().as_bytes().to_vec());
                prop_assert_eq!(key, Some(value));
            }
            Err(error) => {
                let problem = refused_as_4xx(error);
                prop_assert_eq!(problem.errors[0].field.as_str(), "Idempotency-Key");
            }
        }
    }

    #[test]
    fn any_query_string_lists_an_order_or_is_refused_naming_order_id(
        query in "[ -~]{0,120}",
    ) {
        let Some(request) = request("GET", &format!("/payments?{query}"), &[], vec![])
        else { return Ok(()) };
        if let Err(error) = route(&request) {
            let problem = refused_as_4xx(error);
            prop_assert_eq!(problem.errors[0].field.as_str(), "order_id");
        }
    }

    #[test]
    fn any_path_id_is_that_exact_payment_or_refused_naming_payment_id(
        segment in prop_oneof![
            "[ -~]{0,40}",
            "pay_[0-9A-Za-z]{20,30}",
            // Crockford's alphabet in either case, any first character.
            "pay_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}",
            "(%[0-9A-Fa-f]{2}|[A-Z0-9_]){0,40}",
        ],
    ) {
        let encoded: String = segment.chars().map(|c| match c {
            '/' | '?' | '#' | ' ' | '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}' => {
                format!("%{:02X}", c as u32)
            }
            c => c.to_string(),
        }).collect();
        let Some(request) = request("GET", &format!("/payments/{encoded}"), &[], vec![])
        else { return Ok(()) };
        match payment_id_in_path(&request, "") {
            Ok(id) => {
                // Accepted only when the id is written exactly as the service
                // writes it: nothing normalised, nothing decoded differently.
                let written = id.to_string();
                let decoded = percent_decode(&encoded);
                prop_assert_eq!(Some(written), decoded);
            }
            Err(RequestError::NoRoute) => {}
            Err(error) => {
                let problem = refused_as_4xx(error);
                prop_assert_eq!(problem.errors[0].field.as_str(), "payment_id");
            }
        }
    }
}

/// Percent-decoding as a strict reader would: `None` for an invalid escape.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}
