//! Who called: the IAM principal API Gateway authenticated is stored on the
//! payment as `created_by` and scopes Idempotency-Keys, so the same key from
//! two callers never collides. The shared handler is called with the request
//! context API Gateway would hand it.

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use payments::app::CreatePayment;
use payments::domain::PaymentId;
use payments::http::handle_create_payment;
use payments_tests::backends::{Backend, OnBackend};
use payments_tests::local_stack::order_body;
use serde_json::{json, Value};

const ORDERS: &str = "arn:aws:sts::123456789012:assumed-role/orders-service/session-1";
const KIOSKS: &str = "arn:aws:sts::123456789012:assumed-role/kiosk-backend/session-7";

/// `POST /payments` as API Gateway hands it over: `caller` is the IAM
/// principal (`None`: an API without authentication).
fn create_request(caller: Option<&str>, key: &str, order: &str) -> lambda_http::Request {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/payments")
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(lambda_http::Body::from(order_body(order).to_string()))
        .unwrap();
    let authorizer = caller.map(|arn| json!({"iam": {"userArn": arn}}));
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
    let response = handle_create_payment(app, request).await;
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
