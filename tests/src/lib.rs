//! Test support for the payments service, shared by every test binary of this
//! package: the local stack driven over HTTP, the use cases wired to a backend
//! (in memory, or DynamoDB and SNS on moto), moto and template.yaml helpers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: a failed unwrap is a failed test

pub mod asyncapi;
pub mod backends;
pub mod fake_provider;
pub mod fixtures;
pub mod local_stack;
pub mod logs;
pub mod mercadopago;
pub mod moto;
pub mod template;

/// The one webhook secret of the tests: the mock signs with it, the webhook checks it.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// Now, in Unix milliseconds, as webhook signatures carry it.
pub fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Runs each named test body on both backends: `$backend::memory()` and
/// `$backend::dynamodb()` (DynamoDB and SNS on moto). The body takes the backend
/// by value: `async fn name(backend: $backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($backend:ty => $($name:ident),* $(,)?) => {
        mod memory_backend {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
              async fn $name() {
                  super::$name(<$backend as $crate::backends::OnBackend>::memory().await).await
              })*
        }
        mod dynamodb_backend {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
              async fn $name() {
                  super::$name(<$backend as $crate::backends::OnBackend>::dynamodb().await).await
              })*
        }
    };
}
