//! The payment store, by role, and the records it keeps besides payments.

use async_trait::async_trait;
use thiserror::Error;

use crate::domain::{
    CorrelationId, EventId, EventType, Fingerprint, IdempotencyKey, OrderId, Payment, PaymentEvent,
    PaymentId, PaymentStatus, ProviderOrderId, Refund, RefundStatus, Timestamp,
};

/// State of an order's lock item: which payment is live and whether it was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
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
        self.into()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }

    /// The lock state a payment's status leaves its order in.
    pub fn after(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Pending => Self::Open,
            PaymentStatus::Approved => Self::Paid,
            // A refunded order is not paid any more; a new payment may follow.
            PaymentStatus::Declined
            | PaymentStatus::Expired
            | PaymentStatus::Canceled
            | PaymentStatus::Refunded => Self::Closed,
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
    /// Its place in its payment's history (also a message attribute).
    pub sequence: u64,
    /// The request or run that caused it (also a message attribute).
    pub correlation_id: Option<CorrelationId>,
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
            sequence: event.sequence,
            correlation_id: event.correlation_id.clone(),
        }
    }
}

/// A request asking to hold an `Idempotency-Key` until `expires_at`. A record
/// whose time ran out before `now` is free to claim again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
    pub now: Timestamp,
    pub expires_at: Timestamp,
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

/// Where a page of an order's payments ended: its last payment. The next
/// page starts after it (newest first: older ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at: Timestamp,
    pub payment_id: PaymentId,
}

impl OrderCursor {
    pub fn after(payment: &Payment) -> Self {
        Self {
            created_at: payment.created_at(),
            payment_id: payment.id().clone(),
        }
    }
}

/// Up to a page of an order's payments, newest first, and where the next
/// page starts when more remain.
#[derive(Debug, Clone, Default)]
pub struct OrderPage {
    pub payments: Vec<Payment>,
    pub next: Option<OrderCursor>,
}

/// A read of the event feed: the events after `after`, up to `until`.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    pub after: EventId,
    pub until: Timestamp,
    pub event_type: Option<EventType>,
    pub limit: usize,
}

/// A page of the feed, and where the next one starts (after that id) while
/// more may follow. A store that reads within a budget may end a page early,
/// even empty, with `next` set: the caller simply goes on from there.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    pub events: Vec<OutboxEvent>,
    pub next: Option<EventId>,
}

/// Reading payments: all that get-payment needs.
#[async_trait]
pub trait PaymentReads: Send + Sync {
    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError>;

    /// At most `limit` payments of an order, newest first, after `after`
    /// (from the newest when none); `next` is set only when more remain.
    async fn page_by_order(
        &self,
        order_id: &OrderId,
        after: Option<&OrderCursor>,
        limit: usize,
    ) -> Result<OrderPage, StoreError>;

    /// Every payment of an order, newest first, page by page (tests and
    /// tooling; the API answers one page at a time).
    async fn list_by_order(&self, order_id: &OrderId) -> Result<Vec<Payment>, StoreError> {
        let mut payments = Vec::new();
        let mut after = None;
        loop {
            let page = self.page_by_order(order_id, after.as_ref(), 100).await?;
            payments.extend(page.payments);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(payments),
            }
        }
    }

    /// A payment's refunds, oldest first.
    async fn refunds_of(&self, payment_id: &PaymentId) -> Result<Vec<Refund>, StoreError>;

    /// A payment's stored events (kept 30 days), in no particular order.
    async fn events_of(&self, payment_id: &PaymentId) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Every stored event whose id sorts after `query.after` (ids sort by
    /// the time they were made), oldest first, of `query.event_type` if
    /// set, at most `query.limit`; `more` when others follow.
    async fn events_after(&self, query: &FeedQuery) -> Result<FeedPage, StoreError>;

    /// One stored event, by its id.
    async fn event(&self, id: &EventId) -> Result<Option<OutboxEvent>, StoreError>;
}

/// Opening a payment for an order, under the order's lock.
#[async_trait]
pub trait PaymentCreation: Send + Sync {
    async fn order_lock(&self, order_id: &OrderId) -> Result<Option<OrderLock>, StoreError>;

    /// Stores a new pending payment and points its order's lock at it, atomically.
    /// `expected_lock_version` is the lock version the caller read (`None`: no lock
    /// yet). Fails with `Conflict` if the payment exists or the lock moved.
    async fn insert_pending(
        &self,
        payment: &Payment,
        expected_lock_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.create_pending(payment, expected_lock_version, None)
            .await
    }

    /// `insert_pending`, and in the same transaction the claimed
    /// `Idempotency-Key` records this new payment as its outcome, so a key can
    /// never point at nothing while its payment exists.
    async fn create_pending(
        &self,
        payment: &Payment,
        expected_lock_version: Option<u64>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError>;

    /// Stores a pending payment with its provider order and QR attached, if its
    /// stored version is still `expected_version` and its status unchanged.
    async fn record_provider_order(
        &self,
        payment: &Payment,
        expected_version: u64,
    ) -> Result<(), StoreError>;
}

/// Moving a payment to a new status together with its event.
#[async_trait]
pub trait PaymentTransitions: Send + Sync {
    /// One transaction: the payment's new state (guarded by `expected_version`), its
    /// event in the outbox, and the order lock moved to match the new status.
    async fn commit_transition(
        &self,
        payment: &Payment,
        expected_version: u64,
        event: &OutboxEvent,
    ) -> Result<(), StoreError>;
}

/// Events committed but not yet published.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Events not yet published, oldest first, at most `limit`.
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Clears the event's outbox marker; clearing twice is fine.
    async fn mark_published(&self, event: &OutboxEvent) -> Result<(), StoreError>;

    /// Takes the right to publish the event until `until`: true if it is
    /// still in the outbox and nobody holds that right past `now`; false
    /// when someone else is publishing it or it is published already.
    async fn claim_publish(
        &self,
        event: &OutboxEvent,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Lets go of the right to publish the event (its publish failed), so
    /// the relay need not wait for the claim to run out; only the claim
    /// that ran `until` (one taken over since is left alone).
    async fn release_publish(
        &self,
        event: &OutboxEvent,
        until: Timestamp,
    ) -> Result<(), StoreError>;
}

/// Clients' `Idempotency-Key`s and what each stands for.
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    /// Claims the key for the claim's request. Returns `None` when this call
    /// claimed it, or the live record someone else holds.
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Records the result of the request that claimed `key`; `Conflict` when
    /// the key already has one (a twin answered first, and keeps its answer).
    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        outcome: &IdempotentOutcome,
    ) -> Result<(), StoreError>;
}

/// Payments the sweeper must look at now: pending ones past expiry, ones
/// with a refund Mercado Pago has not answered, ended ones still watched.
#[async_trait]
pub trait DuePayments: Send + Sync {
    /// Items whose `due_at` is at or before `now`, earliest first. An item
    /// the store cannot read is listed as such, never failing the others.
    async fn due_payments(&self, now: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError>;

    /// Stores a payment's new sweep schedule, if its stored version is still
    /// `expected_version` and its status unchanged.
    async fn reschedule(&self, payment: &Payment, expected_version: u64) -> Result<(), StoreError>;

    /// Moves an item the store cannot read out of the way until `until`, so
    /// it never holds the others up (a person fixes it meanwhile).
    async fn set_aside(&self, item: &UnreadableItem, until: Timestamp) -> Result<(), StoreError>;
}

/// One entry of the sweeper's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueItem {
    Payment(Box<Payment>),
    Unreadable(UnreadableItem),
}

impl DueItem {
    pub fn payment(&self) -> Option<&Payment> {
        match self {
            Self::Payment(payment) => Some(payment.as_ref()),
            Self::Unreadable(_) => None,
        }
    }

    /// Earliest due first; ties by key, so every reader agrees on the order.
    pub fn order_key(&self) -> (String, String) {
        match self {
            Self::Payment(p) => (
                p.due_at().map(|at| at.to_rfc3339()).unwrap_or_default(),
                p.id().to_string(),
            ),
            Self::Unreadable(item) => (item.due_at.clone(), item.key.clone()),
        }
    }
}

/// An index entry whose payment cannot be rebuilt (corrupt or from a newer
/// writer): its table key and raw due time, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableItem {
    pub key: String,
    pub due_at: String,
    pub reason: String,
}

/// A refund's `Idempotency-Key`, scoped to its payment, and the request it
/// stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundKey {
    pub key: IdempotencyKey,
    pub fingerprint: Fingerprint,
}

/// Refunds of a payment: reserved, then settled.
#[async_trait]
pub trait Refunds: Send + Sync {
    /// One transaction: the payment with the refund's amount reserved (guarded
    /// by `expected_version`), the new pending refund, and its key. `Conflict`
    /// when the payment moved or the key is taken.
    async fn reserve_refund(
        &self,
        payment: &Payment,
        expected_version: u64,
        refund: &Refund,
        key: &RefundKey,
    ) -> Result<(), StoreError>;

    /// One transaction: the refund settled (guarded: still pending, under
    /// the same ask claim it carries), the payment with its new amounts
    /// (guarded by `expected_version`), the event of a succeeded refund, and
    /// the order lock when `move_lock` (the payment became `refunded` and
    /// still holds its order's lock).
    async fn settle_refund(&self, settlement: &RefundSettlement<'_>) -> Result<(), StoreError>;

    /// Stores `claimed`'s ask claim on its refund (and Mercado Pago's id
    /// for it, once Mercado Pago took it) if the refund is still
    /// pending under claim number `expected_claim`; `Conflict` otherwise
    /// (someone else claimed it, or it was settled).
    async fn claim_refund_ask(
        &self,
        claimed: &Refund,
        expected_claim: u32,
    ) -> Result<(), StoreError>;

    /// One transaction for a refund that was made before we knew of it (in
    /// Mercado Pago's dashboard): the payment with its amount reserved and
    /// given back at once (guarded by `expected_version`), the refund already
    /// `succeeded`, its key, its event, and the order lock when `move_lock`.
    /// Never pending, so never asked of Mercado Pago.
    async fn record_made_refund(&self, made: &MadeRefund<'_>) -> Result<(), StoreError>;

    /// The refund a key stands for on a payment, and the request it was made with.
    async fn refund_by_key(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
    ) -> Result<Option<(Refund, Fingerprint)>, StoreError>;

    /// Keeps `answered` as the status a key's refund was first answered
    /// with, unless one is kept already, and returns the one kept: every
    /// answer to the key, first or replayed, is given by it.
    async fn keep_first_answer(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
        answered: RefundStatus,
    ) -> Result<RefundStatus, StoreError>;
}

/// Everything `Refunds::settle_refund` writes at once.
#[derive(Debug, Clone, Copy)]
pub struct RefundSettlement<'a> {
    pub payment: &'a Payment,
    pub expected_version: u64,
    pub refund: &'a Refund,
    pub event: Option<&'a OutboxEvent>,
    pub move_lock: bool,
}

/// Everything `Refunds::record_made_refund` writes at once.
#[derive(Debug, Clone, Copy)]
pub struct MadeRefund<'a> {
    pub payment: &'a Payment,
    pub expected_version: u64,
    pub refund: &'a Refund,
    pub key: &'a RefundKey,
    pub event: &'a OutboxEvent,
    pub move_lock: bool,
}

/// A signed webhook delivery, by its request id and signature (in one
/// spelling): the same delivery sent again (a replay, or a retry with the
/// first signature) has the same key. A digest, so the signature itself is
/// never stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryKey(String);

impl DeliveryKey {
    pub fn of(request_id: &str, signature: &str) -> Self {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(request_id.as_bytes());
        hash.update([0]);
        hash.update(signature.as_bytes());
        Self(hex::encode(hash.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What webhook deliveries may make us do at the provider. A notification
/// we cannot tell from a replay (signed long ago, or unsigned) reads its
/// order at most once per order per window, across every function
/// instance; a signed delivery already processed is not read again while
/// its signature is fresh.
#[async_trait]
pub trait OrderReadLimits: Send + Sync {
    /// Whether `delivery` was processed and its mark still holds at `now`.
    async fn delivery_processed(
        &self,
        delivery: &DeliveryKey,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Marks `delivery` processed until `until` (a conditional put: a mark
    /// already held stays as it is).
    async fn mark_delivery_processed(
        &self,
        delivery: &DeliveryKey,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), StoreError>;

    /// Takes the order's read until `until` if nobody holds it at `now`:
    /// true when taken (read now), false when another read holds it.
    async fn take_order_read(
        &self,
        order: &ProviderOrderId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// A whole store: every role. Adapters implement the roles; this follows.
pub trait PaymentStore:
    PaymentReads
    + PaymentCreation
    + PaymentTransitions
    + Outbox
    + IdempotencyKeys
    + DuePayments
    + Refunds
    + OrderReadLimits
{
}

impl<T> PaymentStore for T where
    T: PaymentReads
        + PaymentCreation
        + PaymentTransitions
        + Outbox
        + IdempotencyKeys
        + DuePayments
        + Refunds
        + OrderReadLimits
        + ?Sized
{
}
