//! The Mercado Pago token, the webhook secrets and full signatures appear in
//! no log line, no error body and no `Debug` output, on every error path a
//! caller or Mercado Pago can cause.

use mercadopago_mock::signing::signature_header;
use payments::adapters::mercadopago::{AccessToken, SignaturePolicy, WebhookSecret};
use payments::adapters::secrets::Secret;
use payments::config::{signature_policy_from_env, ProviderSettings};
use payments_local::LOCAL_ACCESS_TOKEN;
use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};
use payments_tests::logs::Captured;
use payments_tests::now_millis;
use serde_json::json;

const CURRENT: &str = "leak-check-current-secret";
const PREVIOUS: &str = "leak-check-previous-secret";

#[tokio::test]
async fn no_secret_token_or_signature_in_logs_bodies_or_debug_output() {
    let captured = Captured::default();
    let subscriber = captured.subscriber(tracing::Level::TRACE);
    // A current-thread runtime: the stack's tasks all log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let stack = Stack::start_with(|config| {
        config.webhook_secret = format!("{CURRENT},{PREVIOUS}");
    })
    .await;
    let mut bodies = Vec::new();
    let mut signatures = Vec::new();

    // Create: bad input, Mercado Pago down, Mercado Pago refusing, then fine.
    bodies.push(
        stack
            .create_raw(Some("application/json"), b"{".to_vec())
            .await
            .body,
    );
    stack.local.mock.state.fail_next(3, 503);
    bodies.push(stack.create(&order_body("ord-leak-down")).await.body);
    stack.local.mock.state.fail_next(1, 400);
    bodies.push(stack.create(&order_body("ord-leak-refused")).await.body);
    let created = stack.create(&order_body("ord-leak")).await;
    let order = provider_order_id(&created.body);
    let payment = payment_id(&created.body);

    // Webhooks: missing, malformed, wrong, stale, unknown order, then right.
    let now = now_millis();
    let query = format!("data.id={order}&type=order");
    let wrong = signature_header("not-the-secret", &order, "req-1", now);
    let stale = signature_header(CURRENT, &order, "req-1", now - 10 * 60 * 1000);
    let right = signature_header(CURRENT, &order, "req-1", now);
    let previous = signature_header(PREVIOUS, &order, "req-2", now);
    for header in [&wrong, &stale, &right, &previous] {
        signatures.push(header.split(",v1=").nth(1).unwrap().to_owned());
    }
    for headers in [
        vec![("x-request-id", "req-1")],
        vec![("x-signature", "ts=1,v1=zz"), ("x-request-id", "req-1")],
        vec![("x-signature", wrong.as_str()), ("x-request-id", "req-1")],
        vec![("x-signature", stale.as_str()), ("x-request-id", "req-1")],
    ] {
        bodies.push(stack.webhook(&query, &headers).await.body);
    }
    let unknown = signature_header(CURRENT, "ORD01NOBODY", "req-3", now);
    signatures.push(unknown.split(",v1=").nth(1).unwrap().to_owned());
    bodies.push(
        stack
            .webhook(
                "data.id=ORD01NOBODY&type=order",
                &[("x-signature", &unknown), ("x-request-id", "req-3")],
            )
            .await
            .body,
    );
    stack.local.mock.state.fail_next(3, 500);
    bodies.push(
        stack
            .webhook(
                &query,
                &[("x-signature", &right), ("x-request-id", "req-1")],
            )
            .await
            .body,
    );
    stack.pay_silently(&order, "approved").await;
    bodies.push(
        stack
            .webhook(
                &query,
                &[("x-signature", &previous), ("x-request-id", "req-2")],
            )
            .await
            .body,
    );

    // Cancel and refund refusals, Mercado Pago down on a refund, refused refund.
    bodies.push(stack.cancel(&payment).await.body);
    bodies.push(stack.refund(&payment, None, "").await.body);
    bodies.push(
        stack
            .refund(&payment, Some("k"), r#"{"amount": -1}"#)
            .await
            .body,
    );
    stack.local.mock.state.fail_next(3, 503);
    bodies.push(
        stack
            .refund(&payment, Some("down"), r#"{"amount": 100}"#)
            .await
            .body,
    );
    stack
        .mock_post(
            &format!("/mock/orders/{order}/refund-window"),
            &json!({"open": false}),
        )
        .await;
    bodies.push(
        stack
            .refund(&payment, Some("late"), r#"{"amount": 100}"#)
            .await
            .body,
    );
    stack.stop().await;

    // Debug output of everything that holds a secret.
    let env = |name: &str| match name {
        "MP_ACCESS_TOKEN" => Some(LOCAL_ACCESS_TOKEN.to_owned()),
        "MP_EXTERNAL_POS_ID" => Some("POS1".to_owned()),
        "MP_WEBHOOK_SECRET" => Some(format!("{CURRENT},{PREVIOUS}")),
        _ => None,
    };
    let debug = [
        format!("{:?}", ProviderSettings::from_env(&env).unwrap()),
        format!("{:?}", signature_policy_from_env(&env).unwrap()),
        format!("{:?}", AccessToken::new(LOCAL_ACCESS_TOKEN)),
        format!(
            "{:?}",
            WebhookSecret::new(format!("{CURRENT},{PREVIOUS}")).unwrap()
        ),
        format!("{:?}", SignaturePolicy::Required(Secret::fixed(CURRENT))),
    ]
    .join("\n");

    // Only proves the capture works: how many lines a run logs varies with timing.
    let logs = captured.text();
    assert!(logs.lines().count() > 10, "the run logged: {logs}");
    let bodies = serde_json::to_string(&bodies).unwrap();
    let mut secrets = vec![
        LOCAL_ACCESS_TOKEN.to_owned(),
        CURRENT.to_owned(),
        PREVIOUS.to_owned(),
    ];
    secrets.extend(signatures);
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a log line holds {secret}");
        assert!(
            !bodies.contains(secret.as_str()),
            "an answer holds {secret}"
        );
        assert!(
            !debug.contains(secret.as_str()),
            "Debug shows {secret}: {debug}"
        );
    }
}
