//! Who called: the IAM principal API Gateway authenticated is stored on the
//! payment as `created_by` and scopes Idempotency-Keys, so the same key from
//! two callers never collides; a route with `ALLOWED_CALLERS` admits only the
//! roles listed; cancels and refunds keep who asked. The shared handlers are
//! called with the request context API Gateway would hand them.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use payments::app::{CancelPayment, CreatePayment, PaymentQueries, RedeliverEvent};
use payments::domain::{AllowedCallers, PaymentId};
use payments::http::{
    handle_cancel_payment, handle_create_payment, handle_get_payment, handle_redeliver_event,
    handle_refund_payment, HttpResponse,
};
use payments_tests::backends::{Backend, OnBackend};
use payments_tests::local_stack::order_body;
use payments_tests::on_both_backends;
use serde_json::{json, Value};

const ORDERS: &str = "arn:aws:sts::123456789012:assumed-role/orders-service/session-1";
const KIOSKS: &str = "arn:aws:sts::123456789012:assumed-role/kiosk-backend/session-7";

const ORDERS_ROLE: &str = "arn:aws:iam::123456789012:role/orders-service";

/// `POST /payments` as API Gateway hands it over: `caller` is the IAM
/// principal (`None`: an API without authentication).
fn create_request(caller: Option<&str>, key: &str, order: &str) -> lambda_http::Request {
    let authorizer = caller.map(|arn| json!({"iam": {"userArn": arn}}));
    api_request(
        "POST",
        "/payments",
        authorizer,
        Some(key),
        order_body(order),
    )
}

/// A request to any route, with the authorizer context API Gateway would set
/// (`None`: an API without authentication).
fn api_request(
    method: &str,
    path: &str,
    authorizer: Option<Value>,
    key: Option<&str>,
    body: Value,
) -> lambda_http::Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    let body = match body {
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let request = builder.body(lambda_http::Body::from(body)).unwrap();
    let context: ApiGatewayV2httpRequestContext = serde_json::from_value(json!({
        "routeKey": "POST /payments",
        "accountId": "123456789012",
        "stage": "$default",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "apiId": "api-id",
        "domainName": "api.example.com",
        "time": "25/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1_795_608_000_000_i64,
        "http": {"method": "POST", "path": "/payments", "protocol": "HTTP/1.1",
                 "sourceIp": "192.0.2.10", "userAgent": "orders/1.0"},
        "authorizer": authorizer,
    }))
    .unwrap();
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

async fn send(app: &CreatePayment, request: lambda_http::Request) -> (u16, Value) {
    answer(handle_create_payment(app, request).await)
}

fn answer(response: HttpResponse) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    (status, body)
}

async fn created_by(h: &Backend, body: &Value) -> String {
    let id = PaymentId::parse(body["payment_id"].as_str().unwrap()).unwrap();
    let payment = h.store.get(&id).await.unwrap().unwrap();
    payment.created_by().as_str().to_owned()
}

#[tokio::test]
async fn the_same_key_from_two_callers_makes_independent_payments() {
    let h = <Backend as OnBackend>::memory().await;
    let app = h.create();

    let (status, first) = send(&app, create_request(Some(ORDERS), "attempt-1", "ord-a")).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = send(&app, create_request(Some(KIOSKS), "attempt-1", "ord-b")).await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(first["payment_id"], second["payment_id"]);
    assert_eq!(created_by(&h, &first).await, ORDERS);
    assert_eq!(created_by(&h, &second).await, KIOSKS);

    // Within one caller the key still means one request.
    let (status, reused) = send(&app, create_request(Some(ORDERS), "attempt-1", "ord-c")).await;
    assert_eq!(status, 422, "{reused}");
    assert_eq!(reused["type"], "/problems/idempotency-key-reused");
    let (status, replay) = send(&app, create_request(Some(ORDERS), "attempt-1", "ord-a")).await;
    assert_eq!(status, 201);
    assert_eq!(replay["payment_id"], first["payment_id"]);
    h.stop().await;
}

#[tokio::test]
async fn without_authentication_the_caller_is_anonymous_and_locally_it_is_local() {
    let h = <Backend as OnBackend>::memory().await;
    let app = h.create();
    let (status, open) = send(&app, create_request(None, "k", "ord-open")).await;
    assert_eq!(status, 201, "{open}");
    assert_eq!(created_by(&h, &open).await, "anonymous");

    let local = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/json")
        .body(lambda_http::Body::from(order_body("ord-local").to_string()))
        .unwrap();
    let (status, body) = send(&app, local).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(created_by(&h, &body).await, "local");
    h.stop().await;
}

#[tokio::test]
async fn an_iam_context_without_a_usable_user_arn_is_refused_not_taken_for_anonymous() {
    let h = <Backend as OnBackend>::memory().await;
    let app = h.create();
    for (n, iam) in [
        json!({}),
        json!({"userArn": null}),
        json!({"userArn": ""}),
        json!({"userArn": "anonymous"}),
        json!({"userArn": "arn:aws:sts::123456789012:assumed-role/x/has space"}),
    ]
    .into_iter()
    .enumerate()
    {
        let order = format!("ord-unknown-{n}");
        let request = api_request(
            "POST",
            "/payments",
            Some(json!({ "iam": iam })),
            Some("k"),
            order_body(&order),
        );
        let (status, body) = send(&app, request).await;
        assert_eq!(status, 403, "{iam}: {body}");
        assert_eq!(body["type"], "/problems/caller-not-allowed");
        let order_id = payments::domain::OrderId::parse(&order).unwrap();
        assert!(h.store.list_by_order(&order_id).await.unwrap().is_empty());
    }
    h.stop().await;
}

#[tokio::test]
async fn a_route_with_allowed_callers_admits_every_session_of_a_listed_role_and_nobody_else() {
    let h = <Backend as OnBackend>::memory().await;
    let allowed = AllowedCallers::parse(ORDERS_ROLE).unwrap();
    let create = h.create().admitting(allowed.clone());
    let queries = PaymentQueries::new(&h.ports()).admitting(allowed);

    let (status, first) = send(&create, create_request(Some(ORDERS), "a", "ord-1")).await;
    assert_eq!(status, 201, "{first}");
    let other_session = "arn:aws:sts::123456789012:assumed-role/orders-service/task-9";
    let (status, second) = send(&create, create_request(Some(other_session), "b", "ord-2")).await;
    assert_eq!(status, 201, "{second}");

    let (status, refused) = send(&create, create_request(Some(KIOSKS), "c", "ord-3")).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["type"], "/problems/caller-not-allowed");
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("arn:aws:iam::123456789012:role/kiosk-backend"));
    let (status, _) = send(&create, create_request(None, "d", "ord-4")).await;
    assert_eq!(status, 403, "an unauthenticated caller is on no list");
    for order in ["ord-3", "ord-4"] {
        let order_id = payments::domain::OrderId::parse(order).unwrap();
        assert!(h.store.list_by_order(&order_id).await.unwrap().is_empty());
    }

    // Reads are closed the same way, before anything is read.
    let path = format!("/payments/{}", first["payment_id"].as_str().unwrap());
    let read = |arn: &str| {
        let authorizer = Some(json!({"iam": {"userArn": arn}}));
        api_request("GET", &path, authorizer, None, Value::Null)
    };
    let (status, _) = answer(handle_get_payment(&queries, read(other_session)).await);
    assert_eq!(status, 200);
    let (status, body) = answer(handle_get_payment(&queries, read(KIOSKS)).await);
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("/problems/caller-not-allowed"))
    );

    // So are the event routes: a payment's history, the feed, redelivery.
    let as_caller = |method: &str, path: &str, arn: &str| {
        let authorizer = Some(json!({"iam": {"userArn": arn}}));
        api_request(method, path, authorizer, None, Value::Null)
    };
    for events in [format!("{path}/events"), "/events".to_owned()] {
        let (status, body) =
            answer(handle_get_payment(&queries, as_caller("GET", &events, KIOSKS)).await);
        assert_eq!(
            (status, body["type"].as_str()),
            (403, Some("/problems/caller-not-allowed")),
            "{events}"
        );
        let (status, body) =
            answer(handle_get_payment(&queries, as_caller("GET", &events, other_session)).await);
        assert_eq!(status, 200, "{events}: {body}");
    }
    let redeliver =
        RedeliverEvent::new(&h.ports()).admitting(AllowedCallers::parse(ORDERS_ROLE).unwrap());
    let unknown = "/events/evt_01JD0000000000000000000000/redeliver";
    let (status, body) =
        answer(handle_redeliver_event(&redeliver, as_caller("POST", unknown, KIOSKS)).await);
    assert_eq!(
        (status, body["type"].as_str()),
        (403, Some("/problems/caller-not-allowed"))
    );
    let (status, body) =
        answer(handle_redeliver_event(&redeliver, as_caller("POST", unknown, other_session)).await);
    assert_eq!(
        (status, body["type"].as_str()),
        (404, Some("/problems/event-not-found")),
        "admitted, and the event is unknown"
    );
    h.stop().await;
}

/// Cancels and refunds keep the session that asked (`canceled_by`,
/// `requested_by`), in each store; refunds from a role not on the refund
/// route's list are refused with nothing reserved.
async fn cancels_and_refunds_keep_who_asked_and_refunds_admit_only_their_roles(h: Backend) {
    let refunds_role = "arn:aws:iam::123456789012:role/support";
    let support = "arn:aws:sts::123456789012:assumed-role/support/alice";
    let as_caller = |arn: &str| Some(json!({"iam": {"userArn": arn}}));

    let paid = h.approved_payment("ord-refund", 2590).await;
    let refund = h
        .refund()
        .admitting(AllowedCallers::parse(refunds_role).unwrap());
    let path = format!("/payments/{}/refunds", paid.id());
    let body = json!({"amount": 1000});
    let request = api_request("POST", &path, as_caller(ORDERS), Some("r1"), body.clone());
    let (status, refused) = answer(handle_refund_payment(&refund, request).await);
    assert_eq!(
        (status, refused["type"].as_str()),
        (403, Some("/problems/caller-not-allowed"))
    );
    assert!(h.store.refunds_of(paid.id()).await.unwrap().is_empty());

    let request = api_request("POST", &path, as_caller(support), Some("r1"), body);
    let (status, made) = answer(handle_refund_payment(&refund, request).await);
    assert_eq!(status, 201, "{made}");
    let stored = h.store.refunds_of(paid.id()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].requested_by.as_ref().map(|c| c.as_str()),
        Some(support)
    );

    let (_, open) = send(&h.create(), create_request(Some(ORDERS), "k", "ord-cancel")).await;
    let id = PaymentId::parse(open["payment_id"].as_str().unwrap()).unwrap();
    let cancel = CancelPayment::new(&h.ports());
    let path = format!("/payments/{id}/cancel");
    let request = api_request("POST", &path, as_caller(KIOSKS), None, Value::Null);
    let (status, canceled) = answer(handle_cancel_payment(&cancel, request).await);
    assert_eq!(status, 200, "{canceled}");
    let stored = h.store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.parts().canceled_by.as_ref().map(|c| c.as_str()),
        Some(KIOSKS)
    );
    assert_eq!(stored.created_by().as_str(), ORDERS);
    h.stop().await;
}

on_both_backends!(Backend =>
    cancels_and_refunds_keep_who_asked_and_refunds_admit_only_their_roles,
);
