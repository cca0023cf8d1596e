//! The ports every use case of a history is built from: the real in-memory
//! store, the Mercado Pago model and a topic, each call behind a gate (the
//! scheduler decides when it runs) and a roll of the fault dice.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use payments::adapters::memory::MemoryStore;
use payments::domain::{
    Fingerprint, IdempotencyKey, OrderId, Payment, PaymentId, ProviderOrderId, Refund,
    RefundStatus, Timestamp,
};
use payments::ports::{
    DueItem, DuePayments, EventPublisher, IdempotencyKeys, IdempotencyRecord, IdempotentOutcome,
    KeyClaim, MadeRefund, OrderCursor, OrderLock, OrderPage, OrderReadLimits, Outbox, OutboxEvent,
    PaymentCreation, PaymentProvider, PaymentReads, PaymentTransitions, ProviderError,
    ProviderOrder, ProviderOrderState, PublishError, RefundKey, RefundRequest, RefundSettlement,
    Refunds, StoreError, UnreadableItem,
};

use crate::executor::Gates;
use crate::faults::{Fault, Faults};
use crate::mercadopago::MercadoPago;

/// The history's steps, as they happen.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    pub fn note(&self, line: impl Into<String>) {
        self.0.lock().push(line.into());
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

/// Where a port call goes through: its gate, then its fault roll.
#[derive(Clone)]
pub struct Wiring {
    pub gates: Arc<Gates>,
    pub faults: Faults,
    pub journal: Journal,
}

impl Wiring {
    async fn store_call(
        &self,
        call: &'static str,
        writes: bool,
    ) -> Result<Option<Fault>, StoreError> {
        self.gates.pass(call).await;
        match self.faults.store(writes) {
            Some(Fault::Before) => {
                self.journal.note(format!("  ! {call}: store unavailable"));
                Err(StoreError::Unavailable(format!("{call}: simulated outage")))
            }
            other => Ok(other),
        }
    }

    /// The answer of a write that was applied, or lost after it was.
    fn store_answer<T>(
        &self,
        call: &'static str,
        fault: Option<Fault>,
        answer: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match (fault, &answer) {
            (Some(Fault::After), Ok(_)) => {
                self.journal
                    .note(format!("  ! {call}: applied, answer lost"));
                Err(StoreError::Unavailable(format!(
                    "{call}: simulated timeout"
                )))
            }
            _ => answer,
        }
    }
}

/// The real in-memory store, gated and faulty.
pub struct SimStore {
    pub inner: Arc<MemoryStore>,
    pub wiring: Wiring,
}

macro_rules! read {
    ($self:ident, $call:literal, $body:expr) => {{
        $self.wiring.store_call($call, false).await?;
        $body.await
    }};
}

macro_rules! write {
    ($self:ident, $call:literal, $body:expr) => {{
        let fault = $self.wiring.store_call($call, true).await?;
        let answer = $body.await;
        $self.wiring.store_answer($call, fault, answer)
    }};
}

#[async_trait]
impl PaymentReads for SimStore {
    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        read!(self, "store.get", self.inner.get(id))
    }
    async fn page_by_order(
        &self,
        order_id: &OrderId,
        after: Option<&OrderCursor>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        read!(
            self,
            "store.page_by_order",
            self.inner.page_by_order(order_id, after, limit)
        )
    }
    async fn refunds_of(&self, payment_id: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        read!(self, "store.refunds_of", self.inner.refunds_of(payment_id))
    }
    async fn events_of(
        &self,
        payment_id: &PaymentId,
    ) -> Result<Vec<payments::ports::OutboxEvent>, StoreError> {
        read!(self, "store.events_of", self.inner.events_of(payment_id))
    }
    async fn events_after(
        &self,
        query: &payments::ports::FeedQuery,
    ) -> Result<payments::ports::FeedPage, StoreError> {
        read!(self, "store.events_after", self.inner.events_after(query))
    }
    async fn event(
        &self,
        id: &payments::domain::EventId,
    ) -> Result<Option<payments::ports::OutboxEvent>, StoreError> {
        read!(self, "store.event", self.inner.event(id))
    }
}

#[async_trait]
impl PaymentCreation for SimStore {
    async fn order_lock(&self, order_id: &OrderId) -> Result<Option<OrderLock>, StoreError> {
        read!(self, "store.order_lock", self.inner.order_lock(order_id))
    }
    async fn create_pending(
        &self,
        payment: &Payment,
        expected_lock_version: Option<u64>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.create_pending",
            self.inner
                .create_pending(payment, expected_lock_version, key)
        )
    }
    async fn record_provider_order(
        &self,
        payment: &Payment,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.record_provider_order",
            self.inner.record_provider_order(payment, expected_version)
        )
    }
}

#[async_trait]
impl PaymentTransitions for SimStore {
    async fn commit_transition(
        &self,
        payment: &Payment,
        expected_version: u64,
        event: &OutboxEvent,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.commit_transition",
            self.inner
                .commit_transition(payment, expected_version, event)
        )
    }
}

#[async_trait]
impl Outbox for SimStore {
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        read!(
            self,
            "store.pending_events",
            self.inner.pending_events(limit)
        )
    }
    async fn mark_published(&self, event: &OutboxEvent) -> Result<(), StoreError> {
        write!(
            self,
            "store.mark_published",
            self.inner.mark_published(event)
        )
    }
    async fn claim_publish(
        &self,
        event: &OutboxEvent,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        write!(
            self,
            "store.claim_publish",
            self.inner.claim_publish(event, now, until)
        )
    }
    async fn release_publish(
        &self,
        event: &OutboxEvent,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.release_publish",
            self.inner.release_publish(event, until)
        )
    }
}

#[async_trait]
impl IdempotencyKeys for SimStore {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        write!(
            self,
            "store.claim_idempotency_key",
            self.inner.claim_idempotency_key(claim)
        )
    }
    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        outcome: &IdempotentOutcome,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.complete_idempotency_key",
            self.inner.complete_idempotency_key(key, outcome)
        )
    }
}

#[async_trait]
impl OrderReadLimits for SimStore {
    async fn delivery_processed(
        &self,
        delivery: &payments::ports::DeliveryKey,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        read!(
            self,
            "store.delivery_processed",
            self.inner.delivery_processed(delivery, now)
        )
    }

    async fn mark_delivery_processed(
        &self,
        delivery: &payments::ports::DeliveryKey,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.mark_delivery_processed",
            self.inner.mark_delivery_processed(delivery, now, until)
        )
    }

    async fn take_order_read(
        &self,
        order: &ProviderOrderId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        write!(
            self,
            "store.take_order_read",
            self.inner.take_order_read(order, now, until)
        )
    }
}

#[async_trait]
impl DuePayments for SimStore {
    async fn due_payments(&self, now: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        read!(
            self,
            "store.due_payments",
            self.inner.due_payments(now, limit)
        )
    }
    async fn reschedule(&self, payment: &Payment, expected_version: u64) -> Result<(), StoreError> {
        write!(
            self,
            "store.reschedule",
            self.inner.reschedule(payment, expected_version)
        )
    }
    async fn set_aside(&self, item: &UnreadableItem, until: Timestamp) -> Result<(), StoreError> {
        write!(self, "store.set_aside", self.inner.set_aside(item, until))
    }
}

#[async_trait]
impl Refunds for SimStore {
    async fn reserve_refund(
        &self,
        payment: &Payment,
        expected_version: u64,
        refund: &Refund,
        key: &RefundKey,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.reserve_refund",
            self.inner
                .reserve_refund(payment, expected_version, refund, key)
        )
    }
    async fn settle_refund(&self, settlement: &RefundSettlement<'_>) -> Result<(), StoreError> {
        write!(
            self,
            "store.settle_refund",
            self.inner.settle_refund(settlement)
        )
    }
    async fn claim_refund_ask(
        &self,
        claimed: &Refund,
        expected_claim: u32,
    ) -> Result<(), StoreError> {
        write!(
            self,
            "store.claim_refund_ask",
            self.inner.claim_refund_ask(claimed, expected_claim)
        )
    }
    async fn record_made_refund(&self, made: &MadeRefund<'_>) -> Result<(), StoreError> {
        write!(
            self,
            "store.record_made_refund",
            self.inner.record_made_refund(made)
        )
    }
    async fn refund_by_key(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
    ) -> Result<Option<(Refund, Fingerprint)>, StoreError> {
        read!(
            self,
            "store.refund_by_key",
            self.inner.refund_by_key(payment_id, key)
        )
    }
    async fn keep_first_answer(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
        answered: RefundStatus,
    ) -> Result<RefundStatus, StoreError> {
        write!(
            self,
            "store.keep_first_answer",
            self.inner.keep_first_answer(payment_id, key, answered)
        )
    }
}

/// The Mercado Pago model behind our provider port, gated and faulty: a
/// fault before the call leaves it undone, one after it applied loses only
/// the answer.
pub struct SimProvider {
    pub mercadopago: Arc<MercadoPago>,
    pub wiring: Wiring,
}

impl SimProvider {
    async fn call<T>(
        &self,
        call: &'static str,
        writes: bool,
        apply: impl FnOnce(&MercadoPago) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        self.wiring.gates.pass(call).await;
        let fault = self.wiring.faults.provider(writes);
        if fault == Some(Fault::Before) {
            self.wiring
                .journal
                .note(format!("  ! {call}: Mercado Pago unavailable"));
            return Err(ProviderError::Unavailable(format!("{call}: simulated 503")));
        }
        let answer = apply(&self.mercadopago);
        if fault == Some(Fault::After) {
            self.wiring
                .journal
                .note(format!("  ! {call}: applied, answer lost"));
            return Err(ProviderError::Unavailable(format!(
                "{call}: simulated timeout"
            )));
        }
        if let Err(error) = &answer {
            self.wiring.journal.note(format!("  ! {call}: {error}"));
        }
        answer
    }
}

#[async_trait]
impl PaymentProvider for SimProvider {
    async fn create_order(&self, payment: &Payment) -> Result<ProviderOrder, ProviderError> {
        self.call("mp.create_order", true, |mp| mp.create_order(payment))
            .await
    }
    async fn get_order(&self, id: &ProviderOrderId) -> Result<ProviderOrderState, ProviderError> {
        self.call("mp.get_order", false, |mp| mp.get_order(id))
            .await
    }
    async fn cancel_order(
        &self,
        id: &ProviderOrderId,
        _idempotency_key: &str,
    ) -> Result<ProviderOrderState, ProviderError> {
        self.call("mp.cancel_order", true, |mp| mp.cancel_order(id))
            .await
    }
    async fn refund_order(
        &self,
        id: &ProviderOrderId,
        request: &RefundRequest,
    ) -> Result<ProviderOrderState, ProviderError> {
        self.call("mp.refund_order", true, |mp| mp.refund_order(id, request))
            .await
    }
}

/// The topic: what subscribers received, in order, duplicates included.
pub struct SimTopic {
    pub delivered: Mutex<Vec<OutboxEvent>>,
    pub wiring: Wiring,
}

#[async_trait]
impl EventPublisher for SimTopic {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        self.wiring.gates.pass("sns.publish").await;
        match self.wiring.faults.sns() {
            None => {
                self.delivered.lock().push(event.clone());
                Ok(())
            }
            Some(Fault::Before) => {
                self.wiring
                    .journal
                    .note("  ! sns.publish: topic unavailable");
                Err(PublishError("simulated SNS outage".into()))
            }
            Some(Fault::After) => {
                self.delivered.lock().push(event.clone());
                self.wiring
                    .journal
                    .note("  ! sns.publish: delivered, answer lost");
                Err(PublishError("simulated SNS timeout".into()))
            }
        }
    }
}
