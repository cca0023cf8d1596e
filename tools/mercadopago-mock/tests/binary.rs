//! The `mercadopago-mock` binary as users start it: its flags, and a cancel
//! without `X-Idempotency-Key` refused as Mercado Pago refuses it; `--refund-settle-ms` and
//! `MP_MOCK_REFUND_SETTLE_MS` decide how long refunds stay `processing`;
//! secrets come from the environment only; only loopback hosts are served
//! and only listed origins may call from a browser page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

/// The binary on a free port; killed when dropped.
struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercadopago-mock"));
    command
        .args(["--port", "0"])
        .args(args)
        .env_remove("MP_MOCK_REFUND_SETTLE_MS")
        .env_remove("MP_WEBHOOK_SECRET")
        .env_remove("MP_MOCK_ACCESS_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("Mercado Pago mock on ")
        .unwrap_or_else(|| panic!("banner: {line:?}"))
        .to_owned();
    Running { child, base }
}

/// An order of 10.00 at POS001, created under `key` for `reference`.
async fn create_order(http: &reqwest::Client, mock: &Running, key: &str, reference: &str) -> Value {
    http.post(format!("{}/v1/orders", mock.base))
        .bearer_auth("TEST-binary")
        .header("x-idempotency-key", key)
        .json(&json!({
            "type": "qr", "external_reference": reference, "total_amount": "10.00",
            "config": {"qr": {"external_pos_id": "POS001", "mode": "dynamic"}},
            "transactions": {"payments": [{"amount": "10.00"}]},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Creates and pays an order, refunds it all; the refund's status in the answer.
async fn refund_status(mock: &Running) -> String {
    let http = reqwest::Client::new();
    let order = create_order(&http, mock, "binary-1", "pay_binary").await;
    let id = order["id"].as_str().unwrap();
    let paid = http
        .post(format!("{}/mock/orders/{id}/pay", mock.base))
        .json(&json!({"outcome": "approved", "notify": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 200);
    let refunded: Value = http
        .post(format!("{}/v1/orders/{id}/refund", mock.base))
        .bearer_auth("TEST-binary")
        .header("x-idempotency-key", "binary-refund")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    refunded["transactions"]["refunds"][0]["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_binary_settles_refunds_after_half_a_second_by_default() {
    let mock = start(&[], &[]);
    assert_eq!(refund_status(&mock).await, "processing");
}

#[tokio::test]
async fn the_refund_settle_flag_and_its_variable_set_the_delay() {
    let flag = start(&["--refund-settle-ms", "0"], &[]);
    assert_eq!(refund_status(&flag).await, "processed");
    let variable = start(&[], &[("MP_MOCK_REFUND_SETTLE_MS", "0")]);
    assert_eq!(refund_status(&variable).await, "processed");
    // A flag wins over its variable.
    let both = start(
        &["--refund-settle-ms", "60000"],
        &[("MP_MOCK_REFUND_SETTLE_MS", "0")],
    );
    assert_eq!(refund_status(&both).await, "processing");
}

#[test]
fn the_help_names_the_refund_settle_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_mercadopago-mock"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("--refund-settle-ms"), "{help}");
    assert!(help.contains("MP_MOCK_REFUND_SETTLE_MS"), "{help}");
}

#[tokio::test]
async fn the_standalone_mock_refuses_a_cancel_without_an_idempotency_key() {
    let mock = start(&["--points-of-sale", "POS001"], &[]);
    let http = reqwest::Client::new();
    let order = create_order(&http, &mock, "binary-cancel", "pay_binary_cancel").await;
    let id = order["id"].as_str().unwrap();
    let refused = http
        .post(format!("{}/v1/orders/{id}/cancel", mock.base))
        .bearer_auth("TEST-binary")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "empty_required_header");
    let canceled = http
        .post(format!("{}/v1/orders/{id}/cancel", mock.base))
        .bearer_auth("TEST-binary")
        .header("x-idempotency-key", "cancel-pay_binary_cancel")
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.status(), 200, "with the key it is canceled");
}

#[test]
fn secrets_are_never_taken_from_the_command_line() {
    for flag in ["--secret", "--access-token"] {
        let output = Command::new(env!("CARGO_BIN_EXE_mercadopago-mock"))
            .args(["--port", "0", flag, "s3cr3t"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} is refused");
        let error = String::from_utf8(output.stderr).unwrap();
        assert!(error.contains("unexpected argument"), "{error}");
    }
}

#[tokio::test]
async fn the_webhook_secret_and_the_access_token_come_from_the_environment() {
    let mock = start(
        &["--notification-url", "http://127.0.0.1:9/webhook"],
        &[
            ("MP_WEBHOOK_SECRET", "from-the-environment"),
            ("MP_MOCK_ACCESS_TOKEN", "TEST-binary"),
        ],
    );
    let http = reqwest::Client::new();
    let other_token = http
        .get(format!(
            "{}/v1/orders/ORD01JD0000000000000000000000",
            mock.base
        ))
        .bearer_auth("TEST-another")
        .send()
        .await
        .unwrap();
    assert_eq!(other_token.status(), 401);
    let order = create_order(&http, &mock, "binary-env", "pay_binary_env").await;
    let id = order["id"].as_str().unwrap();
    let notified: Value = http
        .post(format!("{}/mock/orders/{id}/notify", mock.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook = &notified["webhook"];
    let signature = webhook["x_signature"].as_str().unwrap();
    let ts = signature
        .split(',')
        .find_map(|part| part.strip_prefix("ts="))
        .unwrap();
    let request_id = webhook["x_request_id"].as_str().unwrap();
    let manifest = mercadopago_mock::signing::manifest(id, request_id, ts);
    let expected = mercadopago_mock::signing::sign_manifest("from-the-environment", &manifest);
    assert!(
        signature.ends_with(&format!("v1={expected}")),
        "{signature}"
    );
}

#[tokio::test]
async fn only_loopback_hosts_are_served_and_only_listed_origins_may_call_from_a_page() {
    let mock = start(&["--allow-origin", "http://127.0.0.1:3000"], &[]);
    let http = reqwest::Client::new();
    let rebound = http
        .get(format!("{}/mock/orders", mock.base))
        .header("host", "evil.example:3001")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 421);
    let served = http
        .get(format!("{}/mock/orders", mock.base))
        .header("origin", "http://127.0.0.1:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["access-control-allow-origin"],
        "http://127.0.0.1:3000"
    );
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/mock/orders/ORD1/pay", mock.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
    };
    let listed = preflight("http://127.0.0.1:3000").await.unwrap();
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "http://127.0.0.1:3000"
    );
    let other = preflight("http://evil.example").await.unwrap();
    assert!(
        other.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        other.headers()
    );
    // A page of another site posting a form (no preflight) does nothing.
    let order = create_order(&http, &mock, "binary-origin", "pay_binary_origin").await;
    let id = order["id"].as_str().unwrap();
    let forged = http
        .post(format!("{}/mock/orders/{id}/expire", mock.base))
        .header("origin", "http://evil.example")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let still: Value = http
        .get(format!("{}/v1/orders/{id}", mock.base))
        .bearer_auth("TEST-binary")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "created", "{still}");
}
