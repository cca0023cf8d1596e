//! A point of sale per kiosk: `pos_id` on the create request is one of
//! `MP_POS_IDS` (the first when absent), reaches Mercado Pago as the order's
//! `config.qr.external_pos_id`, is stored with the payment and shown on it.

use payments::app::CreatePaymentCommand;
use payments::compose::{aws, InitError};
use payments::config::{parse_points_of_sale, ConfigError};
use payments::http::payment_json;
use payments_tests::backends::{command, Backend};
use payments_tests::fixtures::{pos, POS_IDS};
use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};
use payments_tests::on_both_backends;
use payments_tests::template::template;
use serde_json::{json, Value};

/// The `external_pos_id` the mock was asked to create `provider_order` at,
/// as `GET /mock/orders` lists it.
async fn pos_at_mercado_pago(stack: &Stack, provider_order: &str) -> Value {
    let orders = stack.send(stack.http.get(stack.mock("/mock/orders"))).await;
    assert_eq!(orders.status, 200, "{:?}", orders.body);
    orders.body["items"]
        .as_array()
        .expect("the mock lists its orders")
        .iter()
        .find(|order| order["id"] == provider_order)
        .map(|order| order["config"]["qr"]["external_pos_id"].clone())
        .unwrap_or(Value::Null)
}

fn with_pos(order: &str, pos_id: Value) -> Value {
    let mut body = order_body(order);
    body["pos_id"] = pos_id;
    body
}

#[tokio::test]
async fn the_point_of_sale_a_kiosk_names_is_the_one_mercado_pago_creates_the_order_at() {
    let stack = Stack::start().await;
    let created = stack
        .create(&with_pos("ord-pos-2", json!("LOCALPOS002")))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["pos_id"], "LOCALPOS002");
    assert_eq!(
        pos_at_mercado_pago(&stack, &provider_order_id(&created.body)).await,
        "LOCALPOS002"
    );
    let read = stack
        .get(&format!("/payments/{}", payment_id(&created.body)))
        .await;
    assert_eq!(read.body["pos_id"], "LOCALPOS002", "shown when read back");
    let listed = stack.get("/payments?order_id=ord-pos-2").await;
    assert_eq!(listed.body["items"][0]["pos_id"], "LOCALPOS002");
    stack.stop().await;
}

#[tokio::test]
async fn a_payment_that_names_no_point_of_sale_is_made_at_the_first_one() {
    let stack = Stack::start().await;
    for (order, body) in [
        ("ord-pos-absent", order_body("ord-pos-absent")),
        ("ord-pos-null", with_pos("ord-pos-null", Value::Null)),
    ] {
        let created = stack.create(&body).await;
        assert_eq!(created.status, 201, "{order}: {:?}", created.body);
        assert_eq!(created.body["pos_id"], "LOCALPOS001", "{order}");
        assert_eq!(
            pos_at_mercado_pago(&stack, &provider_order_id(&created.body)).await,
            "LOCALPOS001",
            "{order}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn mp_pos_ids_decides_which_points_of_sale_exist_and_the_default() {
    let stack = Stack::start_with(|config| {
        config.points_of_sale = Some(parse_points_of_sale("SHOP9KIOSK1,SHOP9KIOSK2").unwrap());
    })
    .await;
    let default = stack.create(&order_body("ord-pos-shop9")).await;
    assert_eq!(default.status, 201, "{:?}", default.body);
    assert_eq!(default.body["pos_id"], "SHOP9KIOSK1");
    let named = stack
        .create(&with_pos("ord-pos-shop9-2", json!("SHOP9KIOSK2")))
        .await;
    assert_eq!(named.body["pos_id"], "SHOP9KIOSK2");
    let local = stack
        .create(&with_pos("ord-pos-shop9-3", json!("LOCALPOS001")))
        .await;
    assert_eq!(local.status, 422, "another stack's point of sale");
    stack.stop().await;
}

#[tokio::test]
async fn a_point_of_sale_outside_mp_pos_ids_is_refused_naming_pos_id_and_nothing_is_made() {
    let stack = Stack::start().await;
    for unknown in ["LOCALPOS003", "localpos001", "OTHERSHOP1"] {
        let refused = stack
            .create(&with_pos("ord-pos-unknown", json!(unknown)))
            .await;
        assert_eq!(refused.status, 422, "{unknown}: {:?}", refused.body);
        assert_eq!(refused.content_type(), "application/problem+json");
        assert_eq!(refused.body["type"], "/problems/validation-failed");
        assert_eq!(
            refused.body["errors"],
            json!([{"field": "pos_id", "message": "is not one of the service's points of sale"}]),
            "{unknown}"
        );
    }
    // Refused before anything was recorded or asked of Mercado Pago; an
    // Idempotency-Key sent with it stays free for the corrected request.
    let keyed = stack
        .send(
            stack
                .http
                .post(stack.api("/payments"))
                .header("idempotency-key", "pos-attempt-1")
                .json(&with_pos("ord-pos-unknown", json!("LOCALPOS003"))),
        )
        .await;
    assert_eq!(keyed.status, 422);
    assert_eq!(stack.orders_created(), 0);
    let none = stack.get("/payments?order_id=ord-pos-unknown").await;
    assert_eq!(none.body["items"], json!([]));
    let corrected = stack
        .send(
            stack
                .http
                .post(stack.api("/payments"))
                .header("idempotency-key", "pos-attempt-1")
                .json(&with_pos("ord-pos-unknown", json!("LOCALPOS002"))),
        )
        .await;
    assert_eq!(corrected.status, 201, "{:?}", corrected.body);
    stack.stop().await;
}

#[tokio::test]
async fn a_malformed_pos_id_is_a_field_error_and_a_wrong_json_type_a_400() {
    let stack = Stack::start().await;
    for bad in [
        json!(""),
        json!("LOCAL-POS-1"),
        json!("LOCAL POS1"),
        json!("A".repeat(41)),
        json!("LOCALPÓS1"),
    ] {
        let refused = stack.create(&with_pos("ord-pos-bad", bad.clone())).await;
        assert_eq!(refused.status, 422, "{bad}: {:?}", refused.body);
        assert_eq!(refused.body["errors"][0]["field"], "pos_id", "{bad}");
        assert_eq!(
            refused.body["errors"][0]["message"],
            "must be 1 to 40 letters (A-Z, a-z) or digits"
        );
    }
    for wrong_type in [
        json!(7),
        json!(["LOCALPOS001"]),
        json!({"id": "LOCALPOS001"}),
    ] {
        let refused = stack
            .create(&with_pos("ord-pos-bad", wrong_type.clone()))
            .await;
        assert_eq!(refused.status, 400, "{wrong_type}: {:?}", refused.body);
        assert_eq!(refused.body["type"], "/problems/malformed-request");
        assert_eq!(refused.body["errors"][0]["field"], "pos_id", "{wrong_type}");
    }
    // Every field error at once, pos_id among them.
    let mut several = with_pos("ord pos", json!("POS-1"));
    several["currency"] = json!("XXX");
    let refused = stack.create(&several).await;
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        ["order_id", "currency", "pos_id"]
            .iter()
            .all(|f| fields.contains(f)),
        "{fields:?}"
    );
    assert_eq!(stack.orders_created(), 0);
    stack.stop().await;
}

#[tokio::test]
async fn the_point_of_sale_is_part_of_the_request_a_retry_must_repeat() {
    let stack = Stack::start().await;
    let body = with_pos("ord-pos-retry", json!("LOCALPOS002"));
    let first = stack.create(&body).await;
    assert_eq!(first.status, 201);
    let retry = stack.create(&body).await;
    assert_eq!(retry.status, 200, "the same request: the same payment");
    assert_eq!(retry.body["payment_id"], first.body["payment_id"]);
    // The same order at another kiosk is another request.
    let elsewhere = stack
        .create(&with_pos("ord-pos-retry", json!("LOCALPOS001")))
        .await;
    assert_eq!(elsewhere.status, 409, "{:?}", elsewhere.body);
    assert_eq!(elsewhere.body["type"], "/problems/order-has-live-payment");
    // Fingerprinted as sent: naming the default is not the same request as
    // naming none.
    let named_default = stack
        .create(&with_pos("ord-pos-default", json!("LOCALPOS001")))
        .await;
    assert_eq!(named_default.status, 201);
    let unnamed = stack.create(&order_body("ord-pos-default")).await;
    assert_eq!(unnamed.status, 409, "{:?}", unnamed.body);
    assert_eq!(stack.orders_created(), 2);
    stack.stop().await;
}

#[test]
fn a_request_without_pos_id_keeps_the_fingerprint_it_had_before_points_of_sale() {
    let unnamed = command("ord-fp", 2590);
    // The canonical JSON of the request as it was fingerprinted before
    // `pos_id` existed: payments and keys recorded then still match.
    let before = payments::domain::Fingerprint::of_canonical(
        json!({
            "order_id": "ord-fp",
            "amount": 2590,
            "currency": "BRL",
            "items": [{"sku": "XB", "title": "X-Burger", "quantity": 1, "unit_price": 2590}],
            "description": null,
        })
        .to_string()
        .as_bytes(),
    );
    assert_eq!(unnamed.fingerprint(), before);
    let named = CreatePaymentCommand {
        pos_id: Some(pos("POS001")),
        ..unnamed.clone()
    };
    let other = CreatePaymentCommand {
        pos_id: Some(pos("POS002")),
        ..unnamed.clone()
    };
    assert_ne!(named.fingerprint(), unnamed.fingerprint());
    assert_ne!(named.fingerprint(), other.fingerprint());
    assert_eq!(named.fingerprint(), named.clone().fingerprint());
}

/// Stored with the payment on either store, shown on its JSON, and sent to
/// Mercado Pago; on DynamoDB as the item's `pos_id` attribute.
async fn the_point_of_sale_is_stored_with_the_payment_and_shown(backend: Backend) {
    let create = backend.create();
    let named = create
        .execute(
            CreatePaymentCommand {
                pos_id: Some(pos(POS_IDS[1])),
                ..command("ord-pos-store", 2590)
            },
            None,
        )
        .await
        .unwrap()
        .payment;
    let unnamed = create
        .execute(command("ord-pos-store-default", 2590), None)
        .await
        .unwrap()
        .payment;
    for (payment, expected) in [(&named, POS_IDS[1]), (&unnamed, POS_IDS[0])] {
        let stored = backend.store.get(payment.id()).await.unwrap().unwrap();
        assert_eq!(stored.pos_id(), Some(&pos(expected)));
        assert_eq!(payment_json(&stored, &[])["pos_id"], expected);
        let order = stored.provider().unwrap().order_id.as_str();
        assert_eq!(
            backend.mock.state.order_json(order).unwrap()["config"]["qr"]["external_pos_id"],
            expected
        );
        if let Some((dynamodb, table)) = &backend.table {
            let item = dynamodb
                .get_item()
                .table_name(table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("PAYMENT#{}", payment.id())),
                )
                .key(
                    "sk",
                    aws_sdk_dynamodb::types::AttributeValue::S("PAYMENT".into()),
                )
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .expect("the payment's item");
            assert_eq!(
                item.get("pos_id")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str),
                Some(expected)
            );
        }
    }
    // A point of sale that is not one of ours is refused before anything is stored.
    let refused = create
        .execute(
            CreatePaymentCommand {
                pos_id: Some(pos("ELSEWHERE1")),
                ..command("ord-pos-store-elsewhere", 2590)
            },
            None,
        )
        .await;
    assert!(
        matches!(refused, Err(payments::app::AppError::UnknownPointOfSale(ref asked)) if asked.as_str() == "ELSEWHERE1"),
        "{refused:?}"
    );
    let order = payments::domain::OrderId::parse("ord-pos-store-elsewhere").unwrap();
    assert!(backend
        .store
        .list_by_order(&order)
        .await
        .unwrap()
        .is_empty());
    backend.stop().await;
}

/// A payment stored before points of sale were recorded (no `pos_id`), left
/// without its Mercado Pago order: the same request completes it at the
/// default point of sale, and records it.
async fn a_payment_stored_without_a_point_of_sale_is_completed_at_the_default(backend: Backend) {
    let request = command("ord-pos-before", 2590);
    let now = payments::domain::Timestamp::from_unix_millis(payments_tests::now_millis()).unwrap();
    let current = payments::domain::Payment::new_pending(payments::domain::NewPayment {
        id: payments::domain::PaymentId::from_ulid(ulid::Ulid::new()),
        created_by: request.created_by.clone(),
        order_id: request.order_id.clone(),
        amount: request.amount,
        items: request.items.clone(),
        description: None,
        pos_id: pos(POS_IDS[1]),
        fingerprint: request.fingerprint(),
        created_at: now,
        expires_at: now.plus(std::time::Duration::from_secs(900)),
    });
    let stored_before = payments::domain::Payment::restore(payments::domain::PaymentParts {
        pos_id: None,
        ..current.parts().clone()
    });
    backend
        .store
        .insert_pending(&stored_before, None)
        .await
        .unwrap();
    assert_eq!(
        backend
            .store
            .get(stored_before.id())
            .await
            .unwrap()
            .unwrap()
            .pos_id(),
        None,
        "read back without one"
    );

    let completed = backend.create().execute(request, None).await.unwrap();
    assert!(!completed.newly_created);
    assert_eq!(completed.payment.id(), stored_before.id());
    assert_eq!(completed.payment.pos_id(), Some(&pos(POS_IDS[0])));
    let stored = backend
        .store
        .get(stored_before.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.pos_id(), Some(&pos(POS_IDS[0])), "recorded with it");
    let order = stored.provider().unwrap().order_id.as_str();
    assert_eq!(
        backend.mock.state.order_json(order).unwrap()["config"]["qr"]["external_pos_id"],
        POS_IDS[0]
    );
    backend.stop().await;
}

on_both_backends!(Backend =>
    the_point_of_sale_is_stored_with_the_payment_and_shown,
    a_payment_stored_without_a_point_of_sale_is_completed_at_the_default,
);

/// The environment a function with a Mercado Pago client reads, but for the
/// points of sale.
fn function_env(pos: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut pairs: Vec<(String, String)> = [
        ("PAYMENTS_TABLE", "payments"),
        (
            "PAYMENTS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:payments",
        ),
        ("MP_ACCESS_TOKEN", "TEST-token"),
        ("MP_WEBHOOK_SECRET", "secret"),
    ]
    .iter()
    .chain(pos)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    pairs.sort();
    move |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn config_error(result: Result<(), InitError>) -> Option<ConfigError> {
    match result {
        Err(InitError::Config(error)) => Some(error),
        _ => None,
    }
}

/// Each init that builds a Mercado Pago client, up to the first error.
async fn every_mercado_pago_init(env: &dyn payments::config::Env) -> Vec<Option<ConfigError>> {
    vec![
        config_error(aws::create_payment(env).await.map(drop)),
        config_error(aws::cancel_payment(env).await.map(drop)),
        config_error(aws::refund_payment(env).await.map(drop)),
        config_error(aws::mercadopago_webhook(env).await.map(drop)),
        config_error(aws::sweep_overdue_payments(env).await.map(drop)),
    ]
}

#[tokio::test]
async fn every_function_with_a_mercado_pago_client_fails_init_without_valid_points_of_sale() {
    // Parsed before any AWS client is built: no AWS needed.
    let missing = every_mercado_pago_init(&function_env(&[])).await;
    assert!(
        missing
            .iter()
            .all(|error| *error == Some(ConfigError::Missing("MP_POS_IDS"))),
        "{missing:?}"
    );
    for wrong in [
        "KIOSK1,",
        "KIOSK1,KIOSK-2",
        "KIOSK1, KIOSK2",
        "KIOSK1,KIOSK1",
    ] {
        let refused = every_mercado_pago_init(&function_env(&[("MP_POS_IDS", wrong)])).await;
        assert!(
            refused.iter().all(|error| matches!(
                error,
                Some(ConfigError::Invalid {
                    name: "MP_POS_IDS",
                    ..
                })
            )),
            "{wrong}: {refused:?}"
        );
    }
    let older = every_mercado_pago_init(&function_env(&[("MP_EXTERNAL_POS_ID", "KIOSK-1")])).await;
    assert!(
        older.iter().all(|error| matches!(
            error,
            Some(ConfigError::Invalid {
                name: "MP_EXTERNAL_POS_ID",
                ..
            })
        )),
        "{older:?}"
    );
}

#[test]
fn the_template_gives_every_function_mp_pos_ids_from_point_of_sale_ids() {
    let template = template();
    let parameter = &template["Parameters"]["PointOfSaleIds"];
    assert_eq!(parameter["Type"].as_str(), Some("String"));
    assert_eq!(
        parameter["AllowedPattern"].as_str(),
        Some("^[A-Za-z0-9]{1,40}(,[A-Za-z0-9]{1,40})*$"),
        "the pattern says what MP_POS_IDS accepts"
    );
    let default = parameter["Default"].as_str().expect("a default");
    assert!(parse_points_of_sale(default).is_ok(), "{default}");
    assert!(template["Parameters"]["MercadoPagoExternalPosId"].is_null());
    // In Globals: every function gets it, so each one that builds a Mercado
    // Pago client (create, cancel, refund, webhook, sweeper) has a valid one.
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        serde_norway::to_string(&variables["MP_POS_IDS"])
            .unwrap()
            .trim(),
        "!Ref PointOfSaleIds"
    );
    assert!(variables["MP_EXTERNAL_POS_ID"].is_null());
    let text = serde_norway::to_string(&template["Resources"]).unwrap();
    assert!(!text.contains("MP_EXTERNAL_POS_ID") && !text.contains("MP_POS_IDS"));
}

#[test]
fn the_create_sample_event_names_a_point_of_sale_of_the_templates_default() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/create-payment.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    let template = template();
    let default = parse_points_of_sale(
        template["Parameters"]["PointOfSaleIds"]["Default"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let named = pos(body["pos_id"].as_str().expect("the sample names a pos_id"));
    assert!(
        default.contains(&named),
        "sam local invoke with the defaults accepts it"
    );
}

#[tokio::test]
async fn every_function_refuses_a_mercado_pago_base_url_over_plain_http_to_another_host() {
    // The access token rides on every call: https, or http to loopback only.
    let plain = every_mercado_pago_init(&function_env(&[
        ("MP_POS_IDS", "KIOSK1"),
        ("MP_API_BASE_URL", "http://api.example.com"),
    ]))
    .await;
    assert!(
        plain.iter().all(|error| matches!(
            error,
            Some(ConfigError::Invalid {
                name: "MP_API_BASE_URL",
                ..
            })
        )),
        "{plain:?}"
    );
}
