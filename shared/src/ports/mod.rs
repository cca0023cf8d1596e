//! The seams between use cases and the outside world. Adapters implement these
//! traits; use cases see nothing else. The store is split by role, so each use
//! case depends only on what it does (get-payment on `PaymentReads` alone).

mod provider;
mod publisher;
mod store;
mod system;

use std::sync::Arc;

pub use provider::{
    cancel_key, PaymentProvider, ProviderError, ProviderOrder, ProviderOrderState, ProviderOutcome,
    ProviderRefund, ProviderRefundStatus, RefundRequest, Refusal,
};
pub use publisher::{EventPublisher, PublishError};
pub use store::{
    DeliveryKey, DueItem, DuePayments, FeedPage, FeedQuery, IdempotencyKeys, IdempotencyRecord,
    IdempotentOutcome, KeyClaim, MadeRefund, OrderCursor, OrderLock, OrderLockState, OrderPage,
    OrderReadLimits, Outbox, OutboxEvent, PaymentCreation, PaymentReads, PaymentStore,
    PaymentTransitions, RefundKey, RefundSettlement, Refunds, StoreError, UnreadableItem,
};
pub use system::{Clock, IdGenerator};

/// A Mercado Pago (or other provider) client, as a use case holds it.
pub type ProviderPort = Arc<dyn PaymentProvider>;
/// An event topic, as a use case holds it.
pub type PublisherPort = Arc<dyn EventPublisher>;

/// Every port a use case is built from, handed over as one value by the
/// composition root (`crate::compose`). A function without a Mercado Pago client
/// or without a topic has `()` in that place, so building a use case that needs
/// one from it does not compile.
#[derive(Clone)]
pub struct Ports<Provider = ProviderPort, Publisher = PublisherPort> {
    pub store: Arc<dyn PaymentStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub provider: Provider,
    pub publisher: Publisher,
}

impl Ports<(), ()> {
    /// The store and the system's clock and ids; add the rest with `with_*`.
    pub fn new(
        store: Arc<dyn PaymentStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            store,
            clock,
            ids,
            provider: (),
            publisher: (),
        }
    }
}

impl<Provider, Publisher> Ports<Provider, Publisher> {
    pub fn with_provider(self, provider: ProviderPort) -> Ports<ProviderPort, Publisher> {
        Ports {
            store: self.store,
            clock: self.clock,
            ids: self.ids,
            provider,
            publisher: self.publisher,
        }
    }

    pub fn with_publisher(self, publisher: PublisherPort) -> Ports<Provider, PublisherPort> {
        Ports {
            store: self.store,
            clock: self.clock,
            ids: self.ids,
            provider: self.provider,
            publisher,
        }
    }

    pub fn with_store(self, store: Arc<dyn PaymentStore>) -> Self {
        Self { store, ..self }
    }
}
