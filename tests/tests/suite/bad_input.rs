//! Malformed create requests: each gets its 4xx as problem+json and stores nothing.

use serde_json::{json, Value};

use payments_tests::local_stack::{order_body, payment_id, Stack};

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// A field the problem's `errors` must name, when the status is field-level.
    field: Option<&'static str>,
}

fn json_case(name: &'static str, body: Value, status: u16, field: Option<&'static str>) -> Case {
    Case {
        name,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        status,
        field,
    }
}

fn with(field: &str, value: Value) -> Value {
    let mut body = order_body("ord-bad");
    body[field] = value;
    body
}

fn with_item(field: &str, value: Value) -> Value {
    let mut body = order_body("ord-bad");
    body["items"][0][field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = order_body("ord-bad");
    body.as_object_mut().map(|o| o.remove(field));
    body
}

fn cases() -> Vec<Case> {
    let raw = |name, content_type, body: &str, status| Case {
        name,
        content_type,
        body: body.as_bytes().to_vec(),
        status,
        field: None,
    };
    let many_items: Vec<Value> = (0..101)
        .map(|i| json!({"sku": format!("S{i}"), "title": "Fries", "quantity": 1, "unit_price": 10}))
        .collect();
    let mut too_many = order_body("ord-bad");
    too_many["items"] = Value::Array(many_items);
    too_many["amount"] = json!(1010);
    let mut too_large_amount = order_body("ord-bad");
    too_large_amount["amount"] = json!(100_000_001);
    too_large_amount["items"] =
        json!([{"sku": "XB", "title": "X", "quantity": 1, "unit_price": 100_000_001}]);
    let mut oversized = order_body("ord-bad");
    oversized["description"] = json!("x".repeat(70 * 1024));

    vec![
        raw("not JSON", Some("application/json"), "order_id=ord-1", 400),
        raw("empty body", Some("application/json"), "", 400),
        raw("JSON array", Some("application/json"), "[1,2,3]", 400),
        raw(
            "trailing garbage",
            Some("application/json"),
            &format!("{} x", order_body("ord-bad")),
            400,
        ),
        raw(
            "wrong content type",
            Some("text/plain"),
            &order_body("ord-bad").to_string(),
            415,
        ),
        raw(
            "no content type",
            None,
            &order_body("ord-bad").to_string(),
            415,
        ),
        raw(
            "form content type",
            Some("application/x-www-form-urlencoded"),
            "order_id=x",
            415,
        ),
        Case {
            name: "oversized body",
            content_type: Some("application/json"),
            body: oversized.to_string().into_bytes(),
            status: 413,
            field: None,
        },
        json_case(
            "amount as string",
            with("amount", json!("2590")),
            400,
            Some("amount"),
        ),
        json_case(
            "float amount",
            with("amount", json!(25.90)),
            400,
            Some("amount"),
        ),
        json_case(
            "amount beyond i64",
            with("amount", json!(1e30)),
            400,
            Some("amount"),
        ),
        Case {
            field: Some("amount"),
            ..raw(
                "an integer amount beyond 64 bits",
                Some("application/json"),
                &order_body("ord-bad").to_string().replace(
                    "\"amount\":2590",
                    "\"amount\":123456789012345678901234567890",
                ),
                400,
            )
        },
        Case {
            field: Some("amount"),
            ..raw(
                "a field given twice",
                Some("application/json"),
                &order_body("ord-bad")
                    .to_string()
                    .replace("\"amount\":2590", "\"amount\":2590,\"amount\":1"),
                400,
            )
        },
        json_case(
            "an unknown field",
            with("tip", json!(100)),
            400,
            Some("tip"),
        ),
        json_case(
            "an unknown field in an item",
            with_item("colour", json!("red")),
            400,
            Some("items[0].colour"),
        ),
        json_case(
            "a control character in a title",
            with_item("title", json!("X-Burger\u{7}")),
            422,
            Some("items[0].title"),
        ),
        json_case(
            "items not an array",
            with("items", json!({"sku": "XB"})),
            400,
            Some("items"),
        ),
        json_case(
            "float unit price",
            with_item("unit_price", json!(12.95)),
            400,
            Some("items[0].unit_price"),
        ),
        json_case(
            "negative amount",
            with("amount", json!(-2590)),
            422,
            Some("amount"),
        ),
        json_case("zero amount", with("amount", json!(0)), 422, Some("amount")),
        json_case("too large amount", too_large_amount, 422, Some("amount")),
        json_case(
            "unknown currency",
            with("currency", json!("USD")),
            422,
            Some("currency"),
        ),
        json_case(
            "lower-case currency",
            with("currency", json!("brl")),
            422,
            Some("currency"),
        ),
        json_case(
            "item sum mismatch",
            with("amount", json!(2591)),
            422,
            Some("items"),
        ),
        json_case("too many items", too_many, 422, Some("items")),
        json_case("no items", with("items", json!([])), 422, Some("items")),
        json_case(
            "empty sku",
            with_item("sku", json!("")),
            422,
            Some("items[0].sku"),
        ),
        json_case(
            "long title",
            with_item("title", json!("t".repeat(151))),
            422,
            Some("items[0].title"),
        ),
        json_case(
            "zero quantity",
            with_item("quantity", json!(0)),
            422,
            Some("items[0].quantity"),
        ),
        json_case(
            "quantity 1000",
            with_item("quantity", json!(1000)),
            422,
            Some("items[0].quantity"),
        ),
        json_case(
            "negative unit price",
            with_item("unit_price", json!(-1)),
            422,
            Some("items[0].unit_price"),
        ),
        json_case(
            "missing order_id",
            without("order_id"),
            422,
            Some("order_id"),
        ),
        json_case(
            "null amount",
            with("amount", Value::Null),
            422,
            Some("amount"),
        ),
        json_case(
            "order_id with space",
            with("order_id", json!("ord 1")),
            422,
            Some("order_id"),
        ),
        json_case(
            "order_id too long",
            with("order_id", json!("o".repeat(65))),
            422,
            Some("order_id"),
        ),
        json_case(
            "long description",
            with("description", json!("d".repeat(151))),
            422,
            Some("description"),
        ),
        // serde's derive would read these as the fields in order, and create.
        json_case(
            "the body as an array of its field values",
            json!([
                "ord-1042",
                2590,
                "BRL",
                [{"sku": "XB", "title": "X-Burger", "quantity": 2, "unit_price": 1295}],
                "Kiosk 3"
            ]),
            400,
            None,
        ),
        json_case(
            "an item as an array of its field values",
            with("items", json!([["XB", "X-Burger", 2, 1295]])),
            400,
            Some("items[0]"),
        ),
    ]
}

#[tokio::test]
async fn every_malformed_create_gets_its_4xx_problem_and_stores_nothing() {
    let stack = Stack::start().await;
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in cases {
        let reply = stack.create_raw(case.content_type, case.body).await;
        assert_eq!(reply.status, case.status, "{}: {:?}", case.name, reply.body);
        assert_eq!(
            reply.content_type(),
            "application/problem+json",
            "{}",
            case.name
        );
        assert_eq!(reply.body["status"], case.status, "{}", case.name);
        for key in ["type", "title", "detail"] {
            assert!(
                reply.body[key].is_string(),
                "{}: problem has {key}",
                case.name
            );
        }
        if let Some(field) = case.field {
            let fields: Vec<&str> = reply.body["errors"]
                .as_array()
                .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                fields.contains(&field),
                "{}: errors name {field}, got {fields:?}",
                case.name
            );
        }
        assert_eq!(
            stack.local.store.payment_count(),
            0,
            "{} stored nothing",
            case.name
        );
        assert_eq!(
            stack.orders_created(),
            0,
            "{} created no MP order",
            case.name
        );
    }
    // The same stack still serves a good request.
    assert_eq!(stack.create(&order_body("ord-good")).await.status, 201);
    stack.stop().await;
}

#[tokio::test]
async fn all_field_errors_are_reported_together() {
    let stack = Stack::start().await;
    let body = json!({"order_id": "", "amount": 0, "currency": "XXX", "items": [{"sku": "", "title": "", "quantity": 0, "unit_price": 0}]});
    let reply = stack.create(&body).await;
    assert_eq!(reply.status, 422);
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    for field in [
        "order_id",
        "currency",
        "amount",
        "items[0].sku",
        "items[0].title",
        "items[0].quantity",
        "items[0].unit_price",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    stack.stop().await;
}

/// A decimal where money goes is answered with what to send instead: minor
/// units, as integers (on create and on refunds alike).
#[tokio::test]
async fn a_decimal_amount_is_told_that_money_is_integer_centavos() {
    let stack = Stack::start().await;
    let mut decimal_amount = order_body("ord-decimal");
    decimal_amount["amount"] = json!(25.90);
    let mut decimal_price = order_body("ord-decimal");
    decimal_price["items"][0]["unit_price"] = json!(12.95);
    for (body, field) in [
        (decimal_amount, "amount"),
        (decimal_price, "items[0].unit_price"),
    ] {
        let reply = stack.create(&body).await;
        assert_eq!(reply.status, 400, "{field}");
        let detail = reply.body["detail"].as_str().unwrap();
        assert!(
            detail.ends_with(&format!(
                "{field} is an integer number of minor units (centavos): 1295 for R$ 12,95"
            )),
            "{detail}"
        );
    }
    let paid = stack.approved_payment("ord-decimal-refund").await;
    let refund = stack
        .refund(&payment_id(&paid), Some("decimal"), r#"{"amount": 12.95}"#)
        .await;
    assert_eq!(refund.status, 400);
    assert!(
        refund.body["detail"]
            .as_str()
            .unwrap()
            .contains("amount is an integer number of minor units (centavos)"),
        "{}",
        refund.body
    );
    stack.stop().await;
}
