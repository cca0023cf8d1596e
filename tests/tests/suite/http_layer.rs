//! The local stack's HTTP layer refuses what API Gateway would refuse in front
//! of the Lambdas, with the same problem+json as every other refusal, and never
//! leaves a connection hanging.

use std::time::Duration;

use payments_tests::local_stack::{order_body, payment_id, Stack};

#[tokio::test]
async fn a_wrong_method_gets_a_405_problem_with_the_allowed_methods() {
    let stack = Stack::start().await;
    let reply = stack
        .raw_exchange(b"DELETE /payments HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .await;
    reply.assert_problem(405, "method-not-allowed");
    let allow = reply.header("allow").unwrap_or_default();
    assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");
    stack.stop().await;
}

#[tokio::test]
async fn head_on_a_payment_answers_as_get_would_without_a_body() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-head")).await;
    let id = payment_id(&created.body);
    let get = stack.get(&format!("/payments/{id}")).await;
    let request =
        format!("HEAD /payments/{id} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    let head = stack.raw_exchange(request.as_bytes()).await;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(
        head.header("content-length")
            .and_then(|l| l.parse::<usize>().ok()),
        Some(serde_json::to_vec(&get.body).unwrap_or_default().len())
    );
    assert_eq!(head.body, "");

    let list = stack
        .raw_exchange(b"HEAD /payments?order_id=ord-head HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .await;
    assert_eq!(list.status, 200, "{list:?}");
    stack.stop().await;
}

#[tokio::test]
async fn a_malformed_chunked_body_is_a_400_problem_not_a_413() {
    let stack = Stack::start().await;
    let reply = stack
        .raw_exchange(
            b"POST /payments HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
              transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        )
        .await;
    reply.assert_problem(400, "malformed-request");
    assert_eq!(stack.orders_created(), 0);
    stack.stop().await;
}

#[tokio::test]
async fn too_many_header_fields_are_a_431_problem() {
    let stack = Stack::start().await;
    let mut request = b"GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: 127.0.0.1\r\n".to_vec();
    for n in 0..200 {
        request.extend_from_slice(format!("x-filler-{n}: a\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let reply = stack.raw_exchange(&request).await;
    reply.assert_problem(431, "header-fields-too-large");
    assert_eq!(reply.header("connection"), Some("close"));
    stack.stop().await;
}

#[tokio::test]
async fn a_malformed_header_field_is_a_400_problem() {
    let stack = Stack::start().await;
    let reply = stack
        .raw_exchange(
            b"GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: 127.0.0.1\r\nno colon here\r\n\r\n",
        )
        .await;
    reply.assert_problem(400, "malformed-request");
    stack.stop().await;
}

#[tokio::test]
async fn a_request_target_beyond_what_is_parsed_is_a_414_problem() {
    let stack = Stack::start().await;
    let request = format!(
        "GET /payments?order_id={} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
        "a".repeat(70_000)
    );
    let reply = stack.raw_exchange(request.as_bytes()).await;
    reply.assert_problem(414, "uri-too-long");
    stack.stop().await;
}

#[tokio::test]
async fn a_body_announced_far_above_the_limit_is_refused_at_once() {
    let stack = Stack::start().await;
    // The connection stays open on our side: the answer must not wait for
    // the announced bytes (raw_exchange gives it five seconds).
    let reply = stack
        .raw_exchange(
            b"POST /payments HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
              content-length: 999999999999\r\n\r\n{\"order_id\":",
        )
        .await;
    reply.assert_problem(413, "payload-too-large");
    stack.stop().await;
}

#[tokio::test]
async fn a_chunked_body_growing_past_the_limit_is_a_413_problem() {
    let stack = Stack::start().await;
    let chunk = "a".repeat(40 * 1024);
    let request = format!(
        "POST /payments HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\n\r\n{len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    let reply = stack.raw_exchange(request.as_bytes()).await;
    reply.assert_problem(413, "payload-too-large");
    stack.stop().await;
}

#[tokio::test]
async fn idle_connections_and_stalled_requests_are_closed() {
    let stack = Stack::start_with(|config| config.idle_timeout = Duration::from_millis(300)).await;
    // Nothing sent at all, then half a head: both are closed, answered or not.
    for request in [
        &b""[..],
        &b"GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: lo"[..],
    ] {
        let reply = tokio::time::timeout(Duration::from_secs(3), async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(stack.local.api_addr).await?;
            stream.write_all(request).await?;
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).await.map(|_| bytes)
        })
        .await;
        assert!(reply.is_ok(), "connection left open after {request:?}");
    }
    // A request still gets through on a connection that is busy.
    let answered = stack.get("/payments?order_id=ord-1").await;
    assert_eq!(answered.status, 200);
    stack.stop().await;
}

#[tokio::test]
async fn a_query_parameter_given_twice_is_refused_naming_it() {
    let stack = Stack::start().await;
    let list = stack.get("/payments?order_id=ord-1&order_id=ord-2").await;
    assert_eq!(list.status, 400, "{:?}", list.body);
    assert_eq!(list.body["errors"][0]["field"], "order_id");

    let webhook = stack
        .webhook("data.id=ORD01&data.id=ORD02&type=order", &[])
        .await;
    assert_eq!(webhook.status, 400, "{:?}", webhook.body);
    assert_eq!(webhook.body["errors"][0]["field"], "data.id");
    stack.stop().await;
}

#[tokio::test]
async fn invalid_percent_encoding_in_a_path_or_query_is_a_400_naming_the_parameter() {
    let stack = Stack::start().await;
    for (path, field) in [
        ("/payments/pay_%ZZ", "payment_id"),
        ("/payments/%FF%FE/cancel", "payment_id"),
        ("/payments?order_id=ord%ZZ1", "order_id"),
        ("/payments?order_id=ord%C31", "order_id"),
    ] {
        let method = if path.ends_with("/cancel") {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        };
        let reply = stack
            .send(stack.http.request(method, stack.api(path)))
            .await;
        assert_eq!(reply.status, 400, "{path}: {:?}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_eq!(reply.body["errors"][0]["field"], field, "{path}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_request_addressed_to_another_host_is_refused_before_any_route() {
    let stack = Stack::start().await;
    for host in ["evil.example", "evil.example:3000", "127.0.0.1.nip.io"] {
        let request = format!(
            "GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        );
        let reply = stack.raw_exchange(request.as_bytes()).await;
        assert_eq!(reply.status, 421, "{host}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json")
        );
        assert!(
            reply.body.contains("/problems/misdirected-request"),
            "{}",
            reply.body
        );
    }
    for host in ["127.0.0.1", "localhost:3000", "[::1]:3000"] {
        let request = format!(
            "GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            stack.raw_exchange(request.as_bytes()).await.status,
            200,
            "{host}"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_request_sent_by_a_page_of_another_origin_is_refused() {
    let stack = Stack::start().await;
    let own = format!("http://{}", stack.local.api_addr);
    let post = |origin: &str| {
        format!(
            "POST /payments HTTP/1.1\r\nhost: 127.0.0.1\r\norigin: {origin}\r\n\
             content-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
        )
    };
    let reply = stack
        .raw_exchange(post("http://evil.example").as_bytes())
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(
        reply.body.contains("/problems/caller-not-allowed"),
        "{}",
        reply.body
    );
    // The stack's own page gets through to the handler (which refuses `{}`).
    let reply = stack.raw_exchange(post(&own).as_bytes()).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    stack.stop().await;
}

/// Every answer carries `X-Request-Id`, problems and the HTTP layer's own
/// refusals included, and the events a request causes carry it as their
/// `correlation_id`.
#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_cancel_s_is_its_event_s_correlation_id() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-request-id")).await;
    assert_eq!(created.status, 201);
    let id_of = |reply: &payments_tests::local_stack::Reply| {
        reply
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let create_id = id_of(&created).expect("a create carries X-Request-Id");
    let payment = payment_id(&created.body);
    let canceled = stack.cancel(&payment).await;
    assert_eq!(canceled.status, 200);
    let cancel_id = id_of(&canceled).expect("a cancel carries X-Request-Id");
    assert_ne!(cancel_id, create_id, "each request its own");
    let events = stack.events().await;
    let event = events
        .iter()
        .find(|e| e["event_type"] == "payment.canceled")
        .expect("the cancel's event");
    assert_eq!(event["correlation_id"], cancel_id.as_str());

    // Problems, from the handlers and from the HTTP layer before them.
    for path in ["/payments/pay_bad", "/payments?order_id=", "/nowhere"] {
        let reply = stack.get(path).await;
        assert!(reply.status >= 400, "{path}");
        assert!(id_of(&reply).is_some(), "{path}: {:?}", reply.headers);
    }
    let too_many = {
        let mut request = b"GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: 127.0.0.1\r\n".to_vec();
        for n in 0..120 {
            request.extend_from_slice(format!("x-h{n}: v\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        stack.raw_exchange(&request).await
    };
    assert_eq!(too_many.status, 431);
    assert!(
        too_many.header("x-request-id").is_some(),
        "{:?}",
        too_many.headers
    );
    let foreign = stack
        .raw_exchange(b"GET /payments?order_id=ord-1 HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n")
        .await;
    assert_eq!(foreign.status, 421);
    assert!(foreign.header("x-request-id").is_some());
    stack.stop().await;
}

#[tokio::test]
async fn a_header_hyper_cannot_read_is_a_malformed_request_that_says_so_not_malformed_json() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-bad-header")).await;
    let payment = payment_id(&created.body);
    let mut request =
        format!("GET /payments/{payment}/qr.svg HTTP/1.1\r\nhost: 127.0.0.1\r\nif-none-match: ")
            .into_bytes();
    request.extend_from_slice(b"\"\x01\x02\"\r\nconnection: close\r\n\r\n");
    let reply = stack.raw_exchange(&request).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.body.contains("/problems/malformed-request"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("JSON"), "{}", reply.body);
    assert!(reply.body.contains("header field"), "{}", reply.body);
    stack.stop().await;
}

/// A request repeated under its Idempotency-Key answers the first one's
/// status, marked `Idempotent-Replayed: true`; a first answer never is.
#[tokio::test]
async fn replays_under_an_idempotency_key_say_so_and_first_answers_do_not() {
    let stack = Stack::start().await;
    let create = |key: &'static str| {
        stack.send(
            stack
                .http
                .post(stack.api("/payments"))
                .header("idempotency-key", key)
                .json(&order_body("ord-replayed")),
        )
    };
    let replayed = |reply: &payments_tests::local_stack::Reply| {
        reply
            .headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let first = create("create-1").await;
    assert_eq!((first.status, replayed(&first)), (201, None));
    let again = create("create-1").await;
    assert_eq!(again.status, 201, "a replayed create is 201 again");
    assert_eq!(replayed(&again).as_deref(), Some("true"));
    assert_eq!(again.body["payment_id"], first.body["payment_id"]);

    let payment = payment_id(&first.body);
    let order = payments_tests::local_stack::provider_order_id(&first.body);
    assert_eq!(stack.pay(&order, "approved").await.status, 200);
    let refund = stack
        .refund(&payment, Some("refund-1"), r#"{"amount": 100}"#)
        .await;
    assert!(matches!(refund.status, 201 | 202), "{:?}", refund.body);
    assert_eq!(replayed(&refund), None);
    let again = stack
        .refund(&payment, Some("refund-1"), r#"{"amount": 100}"#)
        .await;
    assert_eq!(replayed(&again).as_deref(), Some("true"));
    assert_eq!(
        again.body["refund"]["refund_id"],
        refund.body["refund"]["refund_id"]
    );
    stack.stop().await;
}
