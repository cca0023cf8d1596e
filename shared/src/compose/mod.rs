//! The composition root: the one place where configuration becomes adapters
//! and adapters become use cases. The Lambda functions build theirs with `aws`;
//! the local stack and the tests build theirs with `ports` over the store and
//! publisher they chose (in memory, or DynamoDB and SNS on moto).

pub mod aws;
pub mod tls;

use std::sync::Arc;

use thiserror::Error;

use crate::adapters::mercadopago::{MercadoPagoClient, MercadoPagoConfig};
use crate::adapters::system::{SystemClock, UlidGenerator};
use crate::config::ConfigError;
use crate::ports::{EventPublisher, PaymentStore, Ports, ProviderError, ProviderPort};

/// Why a function (or the local stack) could not start.
#[derive(Debug, Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the Mercado Pago client: {0}")]
    MercadoPago(#[from] ProviderError),
    #[error(transparent)]
    Secret(#[from] crate::adapters::secrets::SecretError),
    #[error("cannot build an HTTPS client: {0}")]
    Tls(String),
}

/// The store with the system clock and ULID ids; nothing else yet.
pub fn store_ports(store: Arc<dyn PaymentStore>) -> Ports<(), ()> {
    Ports::new(
        store,
        Arc::new(SystemClock),
        Arc::new(UlidGenerator::default()),
    )
}

/// Every port: the given store and publisher, and a Mercado Pago client for
/// `mercadopago` (the embedded mock, for the local stack and tests).
pub fn ports(
    store: Arc<dyn PaymentStore>,
    publisher: Arc<dyn EventPublisher>,
    mercadopago: MercadoPagoConfig,
) -> Result<Ports, InitError> {
    Ok(store_ports(store)
        .with_provider(mercado_pago(mercadopago)?)
        .with_publisher(publisher))
}

/// The Mercado Pago client trusting the compiled-in roots, as a use case holds it.
pub fn mercado_pago(config: MercadoPagoConfig) -> Result<ProviderPort, InitError> {
    mercado_pago_trusting(config, &tls::TrustRoots::Compiled)
}

/// The Mercado Pago client trusting `roots`.
pub fn mercado_pago_trusting(
    config: MercadoPagoConfig,
    roots: &tls::TrustRoots,
) -> Result<ProviderPort, InitError> {
    let tls = roots
        .for_mercado_pago()
        .map_err(|e| InitError::Tls(e.to_string()))?;
    Ok(Arc::new(MercadoPagoClient::new(config, tls)?))
}
