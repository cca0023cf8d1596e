//! The seams between use cases and the outside world. Adapters implement these;
//! use cases see nothing else.

use async_trait::async_trait;
use thiserror::Error;

use crate::domain::{
    EventId, EventType, Fingerprint, IdempotencyKey, OrderId, Payment, PaymentEvent, PaymentId,
    PaymentStatus, Timestamp,
};

/// State of an order's lock item: which payment is live and whether it was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderLockState {
    /// `live_payment_id` is pending: no other payment may be created.
    Open,
    /// The order is paid: no other payment may ever be created.
    Paid,
    /// The last payment failed or expired: a new attempt may take the lock.
    Closed,
}

impl OrderLockState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(Self::Open),
            "paid" => Some(Self::Paid),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    /// The lock state a payment's status leaves its order in.
    pub fn after(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Pending => Self::Open,
            PaymentStatus::Approved => Self::Paid,
            // A refunded order is not paid any more; a new payment may follow.
            PaymentStatus::Declined | PaymentStatus::Expired | PaymentStatus::Refunded => {
                Self::Closed
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLock {
    pub order_id: OrderId,
    pub live_payment_id: PaymentId,
    pub state: OrderLockState,
    pub version: u64,
}

/// An event as kept in the outbox until it is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_id: EventId,
    pub event_type: EventType,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    /// The exact message body subscribers receive.
    pub body: String,
    pub created_at: Timestamp,
}

impl From<&PaymentEvent> for OutboxEvent {
    fn from(event: &PaymentEvent) -> Self {
        Self {
            event_id: event.event_id.clone(),
            event_type: event.event_type,
            payment_id: event.payment_id.clone(),
            order_id: event.order_id.clone(),
            body: event.to_message_body(),
            created_at: event.occurred_at,
        }
    }
}

/// What an `Idempotency-Key` already stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub fingerprint: Fingerprint,
    /// Set once the first request with the key succeeded.
    pub outcome: Option<IdempotentOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentOutcome {
    pub payment_id: PaymentId,
    pub newly_created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// A conditional write lost a race: the state is not what the caller read.
    #[error("conditional write failed: {0}")]
    Conflict(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Stores a new pending payment and points its order's lock at it, atomically.
    /// `expected_lock_version` is the lock version the caller read (`None`: no lock
    /// yet). Fails with `Conflict` if the payment exists or the lock moved.
    async fn insert_pending(
        &self,
        payment: &Payment,
        expected_lock_version: Option<u64>,
    ) -> Result<(), StoreError>;

    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError>;

    /// Payments of an order, newest first.
    async fn list_by_order(&self, order_id: &OrderId) -> Result<Vec<Payment>, StoreError>;

    async fn order_lock(&self, order_id: &OrderId) -> Result<Option<OrderLock>, StoreError>;

    /// Replaces a payment whose status does not change (e.g. provider data),
    /// if its stored version is still `expected_version`.
    async fn update(&self, payment: &Payment, expected_version: u64) -> Result<(), StoreError>;

    /// One transaction: the payment's new state (guarded by `expected_version`), its
    /// event in the outbox, and the order lock moved to match the new status.
    async fn commit_transition(
        &self,
        payment: &Payment,
        expected_version: u64,
        event: &OutboxEvent,
    ) -> Result<(), StoreError>;

    /// Events not yet published, oldest first, at most `limit`.
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Clears the event's outbox marker; clearing twice is fine.
    async fn mark_published(&self, event: &OutboxEvent) -> Result<(), StoreError>;

    /// Claims `key` for `fingerprint` until `expires_at`. Returns `None` when this
    /// call claimed it, or the live record someone else holds.
    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Records the result of the request that claimed `key`.
    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        outcome: &IdempotentOutcome,
    ) -> Result<(), StoreError>;

    /// Pending payments whose `expires_at` is at or before `now`, oldest first.
    async fn due_payments(&self, now: Timestamp, limit: usize) -> Result<Vec<Payment>, StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event publish failed: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError>;
}

/// The order the provider created for a payment, with what the kiosk shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOrder {
    pub order_id: String,
    pub payment_id: Option<String>,
    pub qr_data: String,
}

/// The provider's verdict on an order, already mapped out of its vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderOutcome {
    Pending,
    Approved,
    Declined { reason: Option<String> },
    Expired,
}

impl ProviderOutcome {
    pub fn status(&self) -> PaymentStatus {
        match self {
            Self::Pending => PaymentStatus::Pending,
            Self::Approved => PaymentStatus::Approved,
            Self::Declined { .. } => PaymentStatus::Declined,
            Self::Expired => PaymentStatus::Expired,
        }
    }
}

/// What reading an order at the provider tells us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOrderState {
    pub order_id: String,
    pub outcome: ProviderOutcome,
    pub external_reference: Option<String>,
    /// Decimal string as the provider sent it, parsed against our currency.
    pub total_amount: Option<String>,
    pub currency: Option<String>,
    pub payment_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProviderError {
    /// Timeouts, connection failures, 423/429/5xx after the retries ran out.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    #[error("payment provider has no such order")]
    NotFound,
    /// The provider refused the call (4xx other than 404/423/429).
    #[error("payment provider rejected the request with status {status}: {detail}")]
    Rejected { status: u16, detail: String },
    #[error("payment provider answered something unexpected: {0}")]
    InvalidResponse(String),
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Creates (or, for a repeated payment id, returns) the provider order.
    async fn create_order(&self, payment: &Payment) -> Result<ProviderOrder, ProviderError>;
    async fn get_order(&self, provider_order_id: &str)
        -> Result<ProviderOrderState, ProviderError>;
    async fn cancel_order(
        &self,
        provider_order_id: &str,
    ) -> Result<ProviderOrderState, ProviderError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub trait IdGenerator: Send + Sync {
    fn payment_id(&self) -> PaymentId;
    fn event_id(&self) -> EventId;
}
