//! HTTP-level cases beyond the Gherkin scenarios in tests/features:
//! conflicts, reads, provider outage, Idempotency-Key, the local schedule.

use serde_json::Value;

use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};

#[tokio::test]
async fn a_different_request_for_a_pending_order_conflicts() {
    let stack = Stack::start().await;
    let first = stack.create(&order_body("ord-twice")).await;
    assert_eq!(first.status, 201);
    let mut other = order_body("ord-twice");
    other["description"] = "another kiosk".into();
    let second = stack.create(&other).await;
    assert_eq!(second.status, 409);
    assert_eq!(second.content_type(), "application/problem+json");
    assert_eq!(second.body["type"], "/problems/order-has-live-payment");
    assert_eq!(stack.orders_created(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn reads_answer_404_and_400_as_problems() {
    let stack = Stack::start().await;
    let unknown = stack.get("/payments/pay_01JD0000000000000000000000").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.content_type(), "application/problem+json");
    for (path, field) in [
        ("/payments/not-a-payment", "payment_id"),
        ("/payments", "order_id"),
        ("/payments?order_id=bad%20id", "order_id"),
    ] {
        let reply = stack.get(path).await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_eq!(reply.body["errors"][0]["field"], field, "{path}");
    }
    let empty = stack.get("/payments?order_id=nobody").await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.body["items"], serde_json::json!([]));
    stack.stop().await;
}

#[tokio::test]
async fn provider_outage_on_create_is_503_and_a_retry_completes_the_same_payment() {
    let stack = Stack::start().await;
    // More failures than the client's retries: the create gives up.
    stack.local.mock.state.fail_next(3, 503);
    let body = order_body("ord-outage");
    let failed = stack.create(&body).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.content_type(), "application/problem+json");
    assert_eq!(failed.body["type"], "/problems/provider-unavailable");
    // Mercado Pago answered (503): not told as a timeout.
    let detail = failed.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("answered with an error or not in time"),
        "{detail}"
    );
    assert_eq!(stack.orders_created(), 0);

    let retried = stack.create(&body).await;
    assert_eq!(retried.status, 200, "{:?}", retried.body);
    assert!(retried.body["qr_data"].as_str().is_some());
    assert_eq!(stack.orders_created(), 1);
    assert_eq!(stack.local.store.payment_count(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let stack = Stack::start().await;
    let body = order_body("ord-keyed");
    let keyed = |body: &Value, key: &str| {
        stack
            .http
            .post(stack.api("/payments"))
            .header("Idempotency-Key", key)
            .json(body)
    };
    let first = stack.send(keyed(&body, "kiosk-7-attempt-1")).await;
    assert_eq!(first.status, 201);
    stack.pay(&provider_order_id(&first.body), "approved").await;

    // Even after the payment moved on, the key answers with that payment.
    let again = stack.send(keyed(&body, "kiosk-7-attempt-1")).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["payment_id"], first.body["payment_id"]);
    assert_eq!(again.body["status"], "approved");
    // Without the key, the order rule applies.
    assert_eq!(stack.create(&body).await.status, 409);

    let mut other = body.clone();
    other["description"] = "a different request".into();
    let reused = stack.send(keyed(&other, "kiosk-7-attempt-1")).await;
    assert_eq!(reused.status, 422);
    assert_eq!(reused.content_type(), "application/problem+json");
    assert_eq!(reused.body["type"], "/problems/idempotency-key-reused");

    let bad_key = stack.send(keyed(&body, &"k".repeat(256))).await;
    assert_eq!(bad_key.status, 400);
    assert_eq!(bad_key.body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(stack.orders_created(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn the_local_schedule_expires_a_payment_whose_webhook_never_came() {
    let stack = Stack::start_with(|config| {
        config.payment_expiry = std::time::Duration::from_millis(300);
        config.scheduled_every = Some(std::time::Duration::from_millis(100));
    })
    .await;
    let created = stack.create(&order_body("ord-abandoned")).await;
    assert_eq!(created.status, 201);
    let id = payment_id(&created.body);
    let mut status = String::new();
    for _ in 0..50 {
        status = stack.get(&format!("/payments/{id}")).await.body["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if status != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired");
    let order = provider_order_id(&created.body);
    assert_eq!(
        stack.local.mock.state.order_status(&order).as_deref(),
        Some("canceled")
    );
    let events = stack.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "payment.expired");
    // Paying the canceled order is no longer possible.
    assert_eq!(stack.pay(&order, "approved").await.status, 409);
    stack.stop().await;
}

/// `GET /payments?order_id=` answers 50 payments at most, with the cursor
/// of the next page while more remain; a cursor it did not give out is 400.
#[tokio::test]
async fn an_orders_list_comes_in_pages_of_fifty_with_a_cursor() {
    use payments::http::handle_get_payment;
    use payments_tests::backends::{Backend, OnBackend};
    use payments_tests::fixtures::{payment, transition};

    let h = <Backend as OnBackend>::memory().await;
    let order = payments::domain::OrderId::parse("ord-many").unwrap();
    let mut lock_version = None;
    for i in 0..51 {
        let p = payment(order.as_str(), i * 10);
        h.store.insert_pending(&p, lock_version).await.unwrap();
        let (declined, event) =
            transition(&p, payments::domain::PaymentStatus::Declined, i * 10 + 5);
        h.store
            .commit_transition(&declined, p.version(), &event)
            .await
            .unwrap();
        lock_version = h.store.order_lock(&order).await.unwrap().map(|l| l.version);
    }
    let queries = payments::app::PaymentQueries::new(&h.ports());
    let get = |query: String| {
        let request = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("/payments?{query}"))
            .body(lambda_http::Body::Empty)
            .unwrap();
        let queries = &queries;
        async move {
            let response = handle_get_payment(queries, request).await;
            let status = response.status().as_u16();
            let body: serde_json::Value = match response.body() {
                lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
                other => panic!("unexpected body {other:?}"),
            };
            (status, body)
        }
    };

    let (status, first) = get("order_id=ord-many".into()).await;
    assert_eq!(status, 200);
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (status, second) = get(format!("order_id=ord-many&cursor={cursor}")).await;
    assert_eq!(status, 200, "{second}");
    let rest = second["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(second.get("next_cursor").is_none(), "{second}");
    let oldest = payments_tests::fixtures::at(0).to_rfc3339();
    assert_eq!(rest[0]["created_at"], oldest.as_str(), "the oldest is last");

    for bad in [
        "nope",
        "00",
        &cursor.to_uppercase(),
        &format!("{cursor}{cursor}"),
    ] {
        let (status, problem) = get(format!("order_id=ord-many&cursor={bad}")).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "cursor");
    }
    h.stop().await;
}

/// A payment approved, then refunded twice, lists its three events in
/// order, each as subscribers received it; an unknown payment is 404.
#[tokio::test]
async fn a_payments_events_list_its_history_in_sequence_order() {
    use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-history")).await;
    let payment = payment_id(&created.body);
    let order = provider_order_id(&created.body);
    assert_eq!(stack.pay(&order, "approved").await.status, 200);
    for key in ["history-1", "history-2"] {
        let refund = stack
            .refund(&payment, Some(key), r#"{"amount": 100}"#)
            .await;
        assert_eq!(refund.status, 201, "{:?}", refund.body);
    }
    let listed = stack.get(&format!("/payments/{payment}/events")).await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    let summary: Vec<(String, u64)> = items
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap().to_owned(),
                e["sequence"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("payment.approved".to_owned(), 1),
            ("payment.refunded".to_owned(), 2),
            ("payment.refunded".to_owned(), 3)
        ]
    );
    // The same bodies the topic carried.
    let published = stack.events().await;
    for event in items {
        assert!(published.contains(event), "{event}");
    }
    let unknown = stack
        .get("/payments/pay_01JD0000000000000000000000/events")
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["type"], "/problems/payment-not-found");

    // Redelivery publishes the same event again.
    let first = items[0]["event_id"].as_str().unwrap();
    let redelivered = stack
        .send(
            stack
                .http
                .post(stack.api(&format!("/events/{first}/redeliver"))),
        )
        .await;
    assert_eq!(redelivered.status, 202, "{:?}", redelivered.body);
    assert_eq!(redelivered.body["event_id"], first);
    let published = stack.events().await;
    let copies = published.iter().filter(|e| e["event_id"] == first).count();
    assert_eq!(copies, 2, "published again");
    for (id, status) in [("evt_01JD0000000000000000000000", 404), ("evt_nope", 400)] {
        let reply = stack
            .send(
                stack
                    .http
                    .post(stack.api(&format!("/events/{id}/redeliver"))),
            )
            .await;
        assert_eq!(reply.status, status, "{id}: {:?}", reply.body);
    }
    stack.stop().await;
}

/// 24 approved payments page through `GET /events?type=payment.approved&limit=10`
/// in three pages, each event exactly once, oldest first; other types stay
/// out; bad parameters are 400 naming them.
#[tokio::test]
async fn the_event_feed_pages_every_approval_exactly_once() {
    use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};
    let stack = Stack::start().await;
    for n in 0..24 {
        let created = stack.create(&order_body(&format!("ord-feed-{n}"))).await;
        let order = provider_order_id(&created.body);
        assert_eq!(stack.pay(&order, "approved").await.status, 200);
    }
    let abandoned = stack.create(&order_body("ord-feed-canceled")).await;
    assert_eq!(stack.cancel(&payment_id(&abandoned.body)).await.status, 200);

    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    let mut query = "type=payment.approved&limit=10".to_owned();
    loop {
        let page = stack.get(&format!("/events?{query}")).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        pages += 1;
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 10);
        for event in items {
            assert_eq!(event["event_type"], "payment.approved");
            seen.push(event["event_id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("type=payment.approved&limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 24);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "each once, oldest first");

    let everything = stack.get("/events?limit=100").await;
    assert_eq!(everything.body["items"].as_array().unwrap().len(), 25);
    let later = stack
        .get(&format!("/events?since={}", urlencode(&future())))
        .await;
    assert_eq!(later.status, 200);
    assert!(later.body["items"].as_array().unwrap().is_empty());

    for (query, field) in [
        ("type=payment.paid", "type"),
        ("since=yesterday", "since"),
        // Past year 9999 once in UTC: refused, not a crash.
        ("since=9999-12-31T23%3A59%3A59-01%3A00", "since"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=1.5", "limit"),
        ("cursor=zz", "cursor"),
        ("cursor=6576745f", "cursor"),
        ("limit=1&limit=2", "limit"),
    ] {
        let refused = stack.get(&format!("/events?{query}")).await;
        assert_eq!(refused.status, 400, "{query}");
        assert_eq!(refused.body["errors"][0]["field"], field, "{query}");
    }
    stack.stop().await;
}

fn future() -> String {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let secs = later
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    payments::domain::Timestamp::from_unix_millis(secs)
        .unwrap()
        .to_rfc3339()
}

fn urlencode(raw: &str) -> String {
    raw.replace(':', "%3A").replace('+', "%2B")
}

/// Events are listed for the 30 days they are kept: a payment's history and
/// the feed leave out what is older, even before DynamoDB's TTL deletes it.
#[tokio::test]
async fn events_older_than_thirty_days_are_not_listed() {
    use payments::app::{FeedRead, PaymentQueries};
    use payments::domain::Timestamp;
    use payments::ports::Clock;
    use payments_tests::backends::{Backend, OnBackend};

    struct DaysLater(u64);
    impl Clock for DaysLater {
        fn now(&self) -> Timestamp {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            Timestamp::from_unix_millis(now + (self.0 * 24 * 3600 * 1000) as i64).unwrap()
        }
    }
    let h = <Backend as OnBackend>::memory().await;
    let paid = h.approved_payment("ord-old-events", 2590).await;
    let read = FeedRead {
        event_type: None,
        since: None,
        cursor: None,
        limit: 50,
    };
    let approval = PaymentQueries::new(&h.ports())
        .events_of(paid.id())
        .await
        .unwrap()[0]
        .event_id
        .clone();
    for (days, listed) in [(29, 1), (31, 0)] {
        let mut ports = h.ports();
        ports.clock = std::sync::Arc::new(DaysLater(days));
        let queries = PaymentQueries::new(&ports);
        let history = queries.events_of(paid.id()).await.unwrap();
        assert_eq!(history.len(), listed, "{days} days later");
        let (feed, _) = queries.event_feed(read.clone()).await.unwrap();
        assert_eq!(feed.len(), listed, "{days} days later, the feed");
        // Going on from an event that has expired would skip those that
        // expired with it: refused, not moved.
        let resumed = queries
            .event_feed(FeedRead {
                cursor: Some(approval.clone()),
                ..read.clone()
            })
            .await;
        match listed {
            1 => assert!(resumed.unwrap().0.is_empty(), "{days} days later"),
            _ => assert!(
                matches!(resumed, Err(payments::app::AppError::CursorExpired)),
                "{days} days later: {resumed:?}"
            ),
        }
        let redelivered = payments::app::RedeliverEvent::new(&ports)
            .execute(&approval)
            .await;
        match listed {
            1 => assert!(redelivered.is_ok(), "{days} days later: {redelivered:?}"),
            _ => assert!(
                matches!(redelivered, Err(payments::app::AppError::EventNotFound(_))),
                "{days} days later: {redelivered:?}"
            ),
        }
    }
    h.stop().await;
}
