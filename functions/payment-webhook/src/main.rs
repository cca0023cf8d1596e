//! payment-webhook: Mercado Pago notifications on a function URL (DESIGN 5).

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use payments::adapters::memory::{MemoryPublisher, MemoryStore};
use payments::adapters::mercadopago::MercadoPagoClient;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::ApplyNotification;
use payments::config::{signature_policy_from_env, Backend, ProcessEnv, ProviderSettings};
use payments::http::handle_webhook;

#[tokio::main]
async fn main() -> Result<(), Error> {
    payments::telemetry::init_json_logs();
    let Backend::Memory = Backend::from_env(&ProcessEnv)?;
    let settings = ProviderSettings::from_env(&ProcessEnv)?;
    let signature = signature_policy_from_env(&ProcessEnv)?;
    let app = Arc::new(ApplyNotification::new(
        Arc::new(MemoryStore::new()),
        Arc::new(MercadoPagoClient::new(settings.mercadopago)?),
        Arc::new(MemoryPublisher::new()),
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
        signature,
    ));
    lambda_http::run(service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle_webhook(&app, request).await) }
    }))
    .await
}
