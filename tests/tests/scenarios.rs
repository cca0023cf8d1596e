//! Acceptance tests in Gherkin (tests/features/*.feature), run with cucumber
//! against payments-local started in-process on free loopback ports. Each
//! scenario gets its own stack, stopped when the scenario ends.

use std::fmt;

use cucumber::{given, then, when, World as _};
use serde_json::{json, Value};

use payments_tests::local_stack::{payment_id, provider_order_id, Reply, Stack};

#[derive(cucumber::World, Default)]
struct Kiosk {
    stack: Option<Stack>,
    request: Option<Value>,
    answers: Vec<Reply>,
}

impl fmt::Debug for Kiosk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kiosk")
            .field("request", &self.request)
            .field(
                "answers",
                &self
                    .answers
                    .iter()
                    .map(|a| (a.status, &a.body))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Kiosk {
    fn stack(&self) -> &Stack {
        self.stack
            .as_ref()
            .expect("the Background starts the service")
    }

    fn last(&self) -> &Reply {
        self.answers.last().expect("a request was sent")
    }

    /// The first payment this scenario created.
    fn payment(&self) -> &Value {
        &self.answers.first().expect("a payment was created").body
    }

    async fn send_request(&mut self) {
        let request = self.request.clone().expect("a request was made before");
        let reply = self.stack().create(&request).await;
        self.answers.push(reply);
    }
}

#[given("the payments service is running on this machine")]
async fn service_is_running(kiosk: &mut Kiosk) {
    kiosk.stack = Some(Stack::start().await);
}

#[given("QR codes that expire after 1 second")]
async fn short_expiry(kiosk: &mut Kiosk) {
    if let Some(stack) = kiosk.stack.take() {
        stack.stop().await;
    }
    kiosk.stack = Some(
        Stack::start_with(|config| config.payment_expiry = std::time::Duration::from_secs(1)).await,
    );
}

#[given("Mercado Pago takes its usual time to process refunds")]
async fn refunds_take_time(kiosk: &mut Kiosk) {
    if let Some(stack) = kiosk.stack.take() {
        stack.stop().await;
    }
    kiosk.stack = Some(
        Stack::start_with(|config| {
            config.refund_settle = mercadopago_mock::DEFAULT_REFUND_SETTLE;
        })
        .await,
    );
}

#[when("the customer's card is rejected but the QR code stays open")]
async fn attempt_rejected(kiosk: &mut Kiosk) {
    let order = provider_order_id(kiosk.payment());
    let tried = kiosk.stack().pay(&order, "rejected-attempt").await;
    assert_eq!(tried.status, 200, "{:?}", tried.body);
    assert_eq!(tried.body["order"]["status"], "created", "{:?}", tried.body);
    assert_eq!(tried.body["webhook"]["status"], 200, "{:?}", tried.body);
}

#[when("Mercado Pago fails the refund")]
async fn provider_fails_refund(kiosk: &mut Kiosk) {
    let order = provider_order_id(kiosk.payment());
    let refund = kiosk.last().body["refund"]["provider_refund_id"]
        .as_str()
        .expect("Mercado Pago's id of the refund it took")
        .to_owned();
    let failed = kiosk
        .stack()
        .mock_post(
            &format!("/mock/orders/{order}/refunds/{refund}/fail"),
            &Value::Null,
        )
        .await;
    assert_eq!(failed.status, 200, "{:?}", failed.body);
}

#[then(expr = "shortly the refund is {string} and {int} have been given back")]
async fn refund_settles(kiosk: &mut Kiosk, status: String, refunded: i64) {
    let refund_id = kiosk.last().body["refund"]["refund_id"].clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let payment = current_payment(kiosk).await;
        let refund = payment["refunds"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["refund_id"] == refund_id).cloned())
            .unwrap_or_default();
        if refund["status"] == status.as_str() {
            assert_eq!(payment["amount_refunded"], refunded, "{payment}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "refund still {} after 10 s: {payment}",
            refund["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[when(expr = "Mercado Pago re-sends the notification signed {int} minutes ago")]
async fn resends_old_signature(kiosk: &mut Kiosk, minutes: i64) {
    let order = provider_order_id(kiosk.payment());
    let request_id = "0d3ab1d2-5a6f-4d8e-9a61-3f0e0c1b7a11";
    let signed_at = payments_tests::now_millis() - minutes * 60_000;
    let signature = mercadopago_mock::signing::signature_header(
        payments_tests::WEBHOOK_SECRET,
        &order,
        request_id,
        signed_at,
    );
    let reply = kiosk
        .stack()
        .webhook(
            &format!("data.id={order}&type=order"),
            &[("x-signature", &signature), ("x-request-id", request_id)],
        )
        .await;
    kiosk.answers.push(reply);
}

#[then("the notification is deferred for Mercado Pago to deliver again")]
async fn notification_deferred(kiosk: &mut Kiosk) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 429, "{:?}", reply.body);
    assert_eq!(reply.body["type"], "/problems/notification-deferred");
}

#[then(expr = "the notification is answered 200 {string}")]
async fn notification_answered(kiosk: &mut Kiosk, outcome: String) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["outcome"], outcome.as_str(), "{:?}", reply.body);
}

#[when("Mercado Pago is down while the orders service refunds the rest")]
async fn refunds_while_down(kiosk: &mut Kiosk) {
    kiosk.stack().local.mock.state.fail_next(3, 503);
    refunds_rest(kiosk).await;
}

#[then("the refund is accepted but still pending")]
async fn refund_pending(kiosk: &mut Kiosk) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert_eq!(reply.body["refund"]["status"], "pending");
}

#[when("the QR code's time runs out")]
async fn time_runs_out(kiosk: &mut Kiosk) {
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert!(kiosk.stack.is_some());
}

#[when("the sweeper runs")]
async fn sweeper_runs(kiosk: &mut Kiosk) {
    kiosk.stack().local.run_scheduled_jobs().await;
}

#[when("the QR code's time runs out and the sweeper runs")]
async fn time_runs_out_then_sweep(kiosk: &mut Kiosk) {
    time_runs_out(kiosk).await;
    sweeper_runs(kiosk).await;
}

#[when(expr = "the kiosk creates a payment for order {string} of {int} BRL")]
async fn kiosk_creates(kiosk: &mut Kiosk, order: String, amount: i64) {
    kiosk.request = Some(json!({
        "order_id": order,
        "amount": amount,
        "currency": "BRL",
        "items": [{"sku": "COMBO", "title": "Combo", "quantity": 1, "unit_price": amount}]
    }));
    kiosk.send_request().await;
}

#[when("the kiosk sends the same request again")]
async fn kiosk_retries(kiosk: &mut Kiosk) {
    kiosk.send_request().await;
}

#[when(regex = r"^the customer pays and Mercado Pago (approves|rejects)$")]
async fn customer_pays(kiosk: &mut Kiosk, verdict: String) {
    let outcome = if verdict == "approves" {
        "approved"
    } else {
        "rejected"
    };
    let order = provider_order_id(kiosk.payment());
    let paid = kiosk.stack().pay(&order, outcome).await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
    assert_eq!(
        paid.body["webhook"]["status"], 200,
        "the signed webhook was accepted"
    );
}

#[when("the customer pays before Mercado Pago notifies the service")]
async fn customer_pays_silently(kiosk: &mut Kiosk) {
    let order = provider_order_id(kiosk.payment());
    let paid = kiosk.stack().pay_silently(&order, "approved").await;
    assert_eq!(paid.status, 200, "{:?}", paid.body);
}

#[when("the kiosk cancels the payment")]
async fn kiosk_cancels(kiosk: &mut Kiosk) {
    let reply = kiosk.stack().cancel(&payment_id(kiosk.payment())).await;
    kiosk.answers.push(reply);
}

#[when(expr = "the orders service refunds {int} of it")]
async fn refunds_part(kiosk: &mut Kiosk, amount: i64) {
    let key = format!("refund-{}", kiosk.answers.len());
    let body = json!({ "amount": amount }).to_string();
    let reply = kiosk
        .stack()
        .refund(&payment_id(kiosk.payment()), Some(&key), &body)
        .await;
    kiosk.answers.push(reply);
}

#[when("the orders service refunds the rest")]
async fn refunds_rest(kiosk: &mut Kiosk) {
    let key = format!("refund-{}", kiosk.answers.len());
    let reply = kiosk
        .stack()
        .refund(&payment_id(kiosk.payment()), Some(&key), "")
        .await;
    kiosk.answers.push(reply);
}

#[then(expr = "the refund {string} and {int} have been given back")]
async fn refund_answered(kiosk: &mut Kiosk, status: String, refunded: i64) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["refund"]["status"], status);
    assert_eq!(reply.body["payment"]["amount_refunded"], refunded);
}

#[when(expr = "Mercado Pago's dashboard refunds {string} of it")]
async fn dashboard_refunds(kiosk: &mut Kiosk, amount: String) {
    dashboard_refund(kiosk, json!({ "amount": amount })).await;
}

#[when("Mercado Pago's dashboard refunds the rest")]
async fn dashboard_refunds_rest(kiosk: &mut Kiosk) {
    dashboard_refund(kiosk, json!({})).await;
}

async fn dashboard_refund(kiosk: &Kiosk, body: Value) {
    let order = provider_order_id(kiosk.payment());
    let reply = kiosk
        .stack()
        .mock_post(&format!("/mock/orders/{order}/refund"), &body)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["webhook"]["status"], 200,
        "the webhook was accepted"
    );
}

#[when("the customer pays the canceled QR code anyway")]
async fn pays_anyway(kiosk: &mut Kiosk) {
    let order = provider_order_id(kiosk.payment());
    let reply = kiosk
        .stack()
        .mock_post(
            &format!("/mock/orders/{order}/pay"),
            &json!({"outcome": "approved", "force": true}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body["webhook"]["status"], 200,
        "the webhook was accepted"
    );
}

#[then(expr = "the payment is {string} with {int} given back by {string}")]
async fn given_back(kiosk: &mut Kiosk, status: String, refunded: i64, source: String) {
    let payment = current_payment(kiosk).await;
    assert_eq!(payment["status"], status, "{payment}");
    assert_eq!(payment["amount_refunded"], refunded);
    let refunds = payment["refunds"].as_array().cloned().unwrap_or_default();
    assert!(!refunds.is_empty());
    for refund in refunds {
        assert_eq!(refund["source"], source.as_str(), "{refund}");
        assert_eq!(refund["status"], "succeeded", "{refund}");
    }
}

#[then(expr = "the events are {string}")]
async fn events_are(kiosk: &mut Kiosk, expected: String) {
    let events = kiosk.stack().events().await;
    let kinds: Vec<String> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kinds.join(", "), expected);
}

#[then(expr = "the answer is 200 with the payment {string}")]
async fn answered_payment(kiosk: &mut Kiosk, status: String) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["payment_id"], kiosk.payment()["payment_id"]);
    assert_eq!(reply.body["status"], status);
}

#[then("the QR code can no longer be paid at Mercado Pago")]
async fn qr_not_payable(kiosk: &mut Kiosk) {
    let order = provider_order_id(kiosk.payment());
    let paid = kiosk.stack().pay(&order, "approved").await;
    assert_eq!(paid.status, 409, "{:?}", paid.body);
}

#[when("the QR code expires at Mercado Pago")]
async fn qr_expires(kiosk: &mut Kiosk) {
    let order = provider_order_id(kiosk.payment());
    let expired = kiosk.stack().expire(&order).await;
    assert_eq!(expired.body["webhook"]["status"], 200);
}

#[then("the answer is 201 with a pending payment and its QR data")]
async fn created_pending(kiosk: &mut Kiosk) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    assert!(reply.body["qr_data"]
        .as_str()
        .is_some_and(|qr| !qr.is_empty()));
    let location = reply.headers["location"].to_str().unwrap();
    assert_eq!(location, format!("/payments/{}", payment_id(&reply.body)));
}

#[then("the answer is 201 with a new pending payment")]
async fn created_new(kiosk: &mut Kiosk) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "pending");
    assert_ne!(reply.body["payment_id"], kiosk.payment()["payment_id"]);
}

#[then("the second answer is 200 with the same payment and QR data")]
async fn same_payment(kiosk: &mut Kiosk) {
    let (first, second) = (&kiosk.answers[0], &kiosk.answers[1]);
    assert_eq!(second.status, 200);
    assert_eq!(second.body["payment_id"], first.body["payment_id"]);
    assert_eq!(second.body["qr_data"], first.body["qr_data"]);
}

#[then(expr = "the answer is a 409 problem {string}")]
async fn conflict_problem(kiosk: &mut Kiosk, slug: String) {
    let reply = kiosk.last();
    assert_eq!(reply.status, 409);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.body["type"], format!("/problems/{slug}"));
}

async fn current_payment(kiosk: &Kiosk) -> Value {
    let id = payment_id(kiosk.payment());
    let read = kiosk.stack().get(&format!("/payments/{id}")).await;
    assert_eq!(read.status, 200);
    read.body
}

#[then(expr = "the payment is {string}")]
async fn payment_is(kiosk: &mut Kiosk, status: String) {
    let payment = current_payment(kiosk).await;
    assert_eq!(payment["status"], status);
    assert_eq!(payment["decline_reason"], Value::Null);
}

#[then(expr = "the payment is {string} because {string}")]
async fn payment_is_because(kiosk: &mut Kiosk, status: String, reason: String) {
    let payment = current_payment(kiosk).await;
    assert_eq!(payment["status"], status);
    assert_eq!(payment["decline_reason"], reason);
}

/// The event body subscribers receive (docs/api.md), field by field.
#[then(expr = "exactly one {string} event describes the payment")]
async fn one_event(kiosk: &mut Kiosk, event_type: String) {
    let payment = current_payment(kiosk).await;
    let events = kiosk.stack().events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    let mut fields: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "amount",
            "amount_refunded",
            "correlation_id",
            "currency",
            "decline_reason",
            "event_id",
            "event_type",
            "occurred_at",
            "order_id",
            "payment_id",
            "provider_payment_id",
            "refund",
            "schema_version",
            "sequence",
            "status"
        ]
    );
    // Its payment's first event, caused by a request that has an id.
    assert_eq!(event["sequence"], 1);
    assert!(
        event["correlation_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{event}"
    );
    let event_id = event["event_id"].as_str().unwrap();
    assert!(
        event_id.starts_with("evt_") && event_id.len() == 30,
        "{event_id}"
    );
    assert_eq!(event["event_type"], event_type);
    assert_eq!(event["schema_version"], 1);
    for field in [
        "payment_id",
        "order_id",
        "status",
        "amount",
        "currency",
        "decline_reason",
    ] {
        assert_eq!(event[field], payment[field], "{field}");
    }
    assert_eq!(
        event["provider_payment_id"],
        payment["provider"]["payment_id"]
    );
    assert_eq!(event["occurred_at"], payment["updated_at"]);
}

#[then(expr = "the order lists {int} payments, newest first")]
async fn order_lists(kiosk: &mut Kiosk, count: usize) {
    let order = kiosk.payment()["order_id"].as_str().unwrap().to_owned();
    let list = kiosk
        .stack()
        .get(&format!("/payments?order_id={order}"))
        .await;
    let ids: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["payment_id"])
        .collect();
    let mut expected: Vec<&Value> = kiosk
        .answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| &a.body["payment_id"])
        .collect();
    expected.reverse();
    assert_eq!(ids.len(), count);
    assert_eq!(ids, expected);
}

#[then(regex = r"^Mercado Pago holds exactly (\d+) orders?$")]
async fn orders_at_mercado_pago(kiosk: &mut Kiosk, count: u64) {
    assert_eq!(kiosk.stack().orders_created(), count);
}

#[tokio::main]
async fn main() {
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/features");
    Kiosk::cucumber()
        .max_concurrent_scenarios(4)
        .fail_on_skipped()
        .after(|_, _, _, _, kiosk| {
            Box::pin(async move {
                if let Some(stack) = kiosk.and_then(|k| k.stack.take()) {
                    stack.stop().await;
                }
            })
        })
        .run_and_exit(features)
        .await;
}
