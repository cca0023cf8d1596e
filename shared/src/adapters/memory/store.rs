use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::{Mutex, MutexGuard};

use crate::domain::{
    EventId, Fingerprint, IdempotencyKey, OrderId, Payment, PaymentId, ProviderOrderId, Refund,
    RefundId, RefundStatus, Timestamp,
};
use crate::ports::{
    DeliveryKey, DueItem, DuePayments, FeedPage, FeedQuery, IdempotencyKeys, IdempotencyRecord,
    IdempotentOutcome, KeyClaim, MadeRefund, OrderCursor, OrderLock, OrderLockState, OrderPage,
    OrderReadLimits, Outbox, OutboxEvent, PaymentCreation, PaymentReads, PaymentTransitions,
    RefundKey, RefundSettlement, Refunds, StoreError, UnreadableItem,
};

#[derive(Default)]
struct Tables {
    payments: HashMap<PaymentId, Payment>,
    locks: HashMap<OrderId, OrderLock>,
    /// Every event ever committed, with whether it still waits in the outbox.
    events: Vec<(OutboxEvent, bool)>,
    keys: HashMap<IdempotencyKey, (IdempotencyRecord, Timestamp)>,
    /// Every refund, oldest first.
    refunds: Vec<Refund>,
    refund_keys: HashMap<(PaymentId, IdempotencyKey), (RefundId, Fingerprint)>,
    /// The status each refund key was first answered with.
    first_answers: HashMap<(PaymentId, IdempotencyKey), RefundStatus>,
    /// Who may publish an event, until when (`Outbox::claim_publish`).
    publishing: HashMap<EventId, Timestamp>,
    /// Provider orders read for a late or unsigned notification, until when.
    order_reads: HashMap<ProviderOrderId, Timestamp>,
    processed_deliveries: HashMap<DeliveryKey, Timestamp>,
}

impl Tables {
    /// The payment's stored version is still `expected`, or a conflict.
    fn expect_version(&self, id: &PaymentId, expected: u64) -> Result<(), StoreError> {
        match self.payments.get(id) {
            Some(stored) if stored.version() == expected => Ok(()),
            _ => Err(conflict("payment version moved")),
        }
    }

    /// No event with this id is stored yet, or a conflict.
    fn expect_new_event(&self, event: &OutboxEvent) -> Result<(), StoreError> {
        if self
            .events
            .iter()
            .any(|(e, _)| e.event_id == event.event_id)
        {
            return Err(conflict("event exists"));
        }
        Ok(())
    }

    /// Neither the refund nor its key is stored yet, or a conflict.
    fn expect_new_refund(
        &self,
        payment_id: &PaymentId,
        refund: &Refund,
        key: &RefundKey,
    ) -> Result<(), StoreError> {
        if self
            .refund_keys
            .contains_key(&(payment_id.clone(), key.key.clone()))
        {
            return Err(conflict("refund key taken"));
        }
        if self.refunds.iter().any(|r| r.refund_id == refund.refund_id) {
            return Err(conflict("refund exists"));
        }
        Ok(())
    }

    fn insert_refund(&mut self, payment_id: &PaymentId, refund: &Refund, key: &RefundKey) {
        self.refunds.push(refund.clone());
        self.refund_keys.insert(
            (payment_id.clone(), key.key.clone()),
            (refund.refund_id.clone(), key.fingerprint.clone()),
        );
    }

    /// Moves the order's lock to match the payment's status, if the payment
    /// holds it (or a conflict, with nothing moved). The last check of a
    /// write: it changes the lock when it passes.
    fn move_lock(&mut self, payment: &Payment) -> Result<(), StoreError> {
        match self.locks.get_mut(payment.order_id()) {
            Some(lock) if lock.live_payment_id == *payment.id() => {
                lock.state = OrderLockState::after(payment.status());
                lock.version += 1;
                Ok(())
            }
            _ => Err(conflict("order lock is not held by this payment")),
        }
    }
}

/// The same conditions as the DynamoDB adapter, enforced under one mutex.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    latency: Duration,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call waits `latency` first, like a round trip to a real store, so
    /// concurrency tests see reads and conditional writes interleave.
    pub fn with_latency(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// Every call is a suspension point, as a network round trip would be.
    async fn suspend(&self) {
        if self.latency.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(self.latency).await;
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock()
    }

    /// Replaces a payment whose status does not change, if its stored version
    /// is still `expected_version`.
    async fn put_same_status(
        &self,
        payment: &Payment,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        let stored = tables
            .payments
            .get_mut(payment.id())
            .ok_or_else(|| conflict("payment missing"))?;
        if stored.version() != expected_version || stored.status() != payment.status() {
            return Err(conflict("payment version moved"));
        }
        *stored = payment.clone();
        Ok(())
    }

    /// How many payments are stored.
    pub fn payment_count(&self) -> usize {
        self.tables().payments.len()
    }

    /// Every stored payment, by id: what a test or the simulation inspects.
    pub fn payments(&self) -> Vec<Payment> {
        let mut payments: Vec<Payment> = self.tables().payments.values().cloned().collect();
        payments.sort_by(|a, b| a.id().cmp(b.id()));
        payments
    }

    /// Every refund of every payment, oldest first.
    pub fn refunds(&self) -> Vec<Refund> {
        self.tables().refunds.clone()
    }

    /// Events committed and not yet published, in commit order.
    pub fn waiting_events(&self) -> Vec<OutboxEvent> {
        self.tables()
            .events
            .iter()
            .filter(|(_, waiting)| *waiting)
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// Every committed event, oldest first, published or not.
    pub fn all_events(&self) -> Vec<OutboxEvent> {
        self.tables()
            .events
            .iter()
            .map(|(e, _)| e.clone())
            .collect()
    }
}

fn conflict(what: impl Into<String>) -> StoreError {
    StoreError::Conflict(what.into())
}

#[async_trait]
impl PaymentReads for MemoryStore {
    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.suspend().await;
        Ok(self.tables().payments.get(id).cloned())
    }

    async fn page_by_order(
        &self,
        order_id: &OrderId,
        after: Option<&OrderCursor>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        self.suspend().await;
        let position = |p: &Payment| (p.created_at(), p.id().clone());
        let mut payments: Vec<Payment> = self
            .tables()
            .payments
            .values()
            .filter(|p| p.order_id() == order_id)
            .filter(|p| after.is_none_or(|a| position(p) < (a.created_at, a.payment_id.clone())))
            .cloned()
            .collect();
        payments.sort_by_key(|p| std::cmp::Reverse(position(p)));
        let more = payments.len() > limit;
        payments.truncate(limit);
        let next = more
            .then(|| payments.last().map(OrderCursor::after))
            .flatten();
        Ok(OrderPage { payments, next })
    }

    async fn events_of(&self, payment_id: &PaymentId) -> Result<Vec<OutboxEvent>, StoreError> {
        self.suspend().await;
        Ok(self
            .tables()
            .events
            .iter()
            .filter(|(event, _)| &event.payment_id == payment_id)
            .map(|(event, _)| event.clone())
            .collect())
    }

    async fn events_after(&self, query: &FeedQuery) -> Result<FeedPage, StoreError> {
        self.suspend().await;
        let mut events: Vec<OutboxEvent> = self
            .tables()
            .events
            .iter()
            .map(|(event, _)| event)
            .filter(|event| event.event_id > query.after)
            .filter(|event| event.event_id.unix_millis() <= query.until.unix_millis().max(0) as u64)
            .filter(|event| query.event_type.is_none_or(|t| t == event.event_type))
            .cloned()
            .collect();
        events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        let more = events.len() > query.limit;
        events.truncate(query.limit);
        let next = events
            .last()
            .filter(|_| more)
            .map(|event| event.event_id.clone());
        Ok(FeedPage { events, next })
    }

    async fn event(&self, id: &EventId) -> Result<Option<OutboxEvent>, StoreError> {
        self.suspend().await;
        Ok(self
            .tables()
            .events
            .iter()
            .map(|(event, _)| event)
            .find(|event| &event.event_id == id)
            .cloned())
    }

    async fn refunds_of(&self, payment_id: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        self.suspend().await;
        Ok(self
            .tables()
            .refunds
            .iter()
            .filter(|r| r.payment_id == *payment_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl PaymentCreation for MemoryStore {
    async fn order_lock(&self, order_id: &OrderId) -> Result<Option<OrderLock>, StoreError> {
        self.suspend().await;
        Ok(self.tables().locks.get(order_id).cloned())
    }

    async fn create_pending(
        &self,
        payment: &Payment,
        expected_lock_version: Option<u64>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        if tables.payments.contains_key(payment.id()) {
            return Err(conflict("payment exists"));
        }
        let current = tables.locks.get(payment.order_id()).map(|l| l.version);
        if current != expected_lock_version {
            return Err(conflict("order lock moved"));
        }
        if let Some(key) = key {
            let Some((record, _)) = tables.keys.get_mut(key) else {
                return Err(conflict("idempotency key missing"));
            };
            // A twin request answered this key first: it keeps its answer.
            if record.outcome.is_some() {
                return Err(conflict("idempotency key already answered"));
            }
            record.outcome = Some(IdempotentOutcome {
                payment_id: payment.id().clone(),
                newly_created: true,
            });
        }
        tables.locks.insert(
            payment.order_id().clone(),
            OrderLock {
                order_id: payment.order_id().clone(),
                live_payment_id: payment.id().clone(),
                state: OrderLockState::Open,
                version: current.map_or(1, |v| v + 1),
            },
        );
        tables
            .payments
            .insert(payment.id().clone(), payment.clone());
        Ok(())
    }

    async fn record_provider_order(
        &self,
        payment: &Payment,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.put_same_status(payment, expected_version).await
    }
}

#[async_trait]
impl PaymentTransitions for MemoryStore {
    async fn commit_transition(
        &self,
        payment: &Payment,
        expected_version: u64,
        event: &OutboxEvent,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        // Check every condition before writing anything: all or nothing.
        tables.expect_version(payment.id(), expected_version)?;
        match tables.locks.get(payment.order_id()) {
            Some(lock) if lock.live_payment_id == *payment.id() => {}
            _ => return Err(conflict("order lock is not held by this payment")),
        }
        tables.expect_new_event(event)?;
        if let Some(lock) = tables.locks.get_mut(payment.order_id()) {
            lock.state = OrderLockState::after(payment.status());
            lock.version += 1;
        }
        tables
            .payments
            .insert(payment.id().clone(), payment.clone());
        tables.events.push((event.clone(), true));
        Ok(())
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.suspend().await;
        let mut pending: Vec<OutboxEvent> = self
            .tables()
            .events
            .iter()
            .filter(|(_, pending)| *pending)
            .map(|(e, _)| e.clone())
            .collect();
        pending.sort_by(|a, b| (a.created_at, &a.event_id).cmp(&(b.created_at, &b.event_id)));
        pending.truncate(limit);
        Ok(pending)
    }

    async fn mark_published(&self, event: &OutboxEvent) -> Result<(), StoreError> {
        self.suspend().await;
        let id: &EventId = &event.event_id;
        for (stored, pending) in self.tables().events.iter_mut() {
            if stored.event_id == *id {
                *pending = false;
            }
        }
        Ok(())
    }
    async fn claim_publish(
        &self,
        event: &OutboxEvent,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        let waiting = tables
            .events
            .iter()
            .any(|(stored, pending)| stored.event_id == event.event_id && *pending);
        let free = tables
            .publishing
            .get(&event.event_id)
            .is_none_or(|held| *held <= now);
        if !(waiting && free) {
            return Ok(false);
        }
        tables.publishing.insert(event.event_id.clone(), until);
        Ok(true)
    }

    async fn release_publish(
        &self,
        event: &OutboxEvent,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        if tables.publishing.get(&event.event_id) == Some(&until) {
            tables.publishing.remove(&event.event_id);
        }
        Ok(())
    }
}

#[async_trait]
impl IdempotencyKeys for MemoryStore {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        if let Some((record, until)) = tables.keys.get(&claim.key) {
            if *until > claim.now {
                return Ok(Some(record.clone()));
            }
        }
        let record = IdempotencyRecord {
            fingerprint: claim.fingerprint.clone(),
            outcome: None,
        };
        tables
            .keys
            .insert(claim.key.clone(), (record, claim.expires_at));
        Ok(None)
    }

    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        outcome: &IdempotentOutcome,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        match self.tables().keys.get_mut(key) {
            Some((record, _)) if record.outcome.is_some() => {
                Err(conflict("idempotency key already answered"))
            }
            Some((record, _)) => {
                record.outcome = Some(outcome.clone());
                Ok(())
            }
            None => Err(conflict("idempotency key missing")),
        }
    }
}

#[async_trait]
impl OrderReadLimits for MemoryStore {
    async fn delivery_processed(
        &self,
        delivery: &DeliveryKey,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.suspend().await;
        Ok(self
            .tables()
            .processed_deliveries
            .get(delivery)
            .is_some_and(|until| *until > now))
    }

    async fn mark_delivery_processed(
        &self,
        delivery: &DeliveryKey,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        if tables
            .processed_deliveries
            .get(delivery)
            .is_none_or(|held| *held <= now)
        {
            tables.processed_deliveries.insert(delivery.clone(), until);
        }
        Ok(())
    }

    async fn take_order_read(
        &self,
        order: &ProviderOrderId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        if tables
            .order_reads
            .get(order)
            .is_some_and(|held| *held > now)
        {
            return Ok(false);
        }
        tables.order_reads.insert(order.clone(), until);
        Ok(true)
    }
}

#[async_trait]
impl DuePayments for MemoryStore {
    async fn due_payments(&self, now: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        self.suspend().await;
        let mut due: Vec<DueItem> = self
            .tables()
            .payments
            .values()
            .filter(|p| p.due_at().is_some_and(|at| at <= now))
            .map(|p| DueItem::Payment(Box::new(p.clone())))
            .collect();
        due.sort_by_key(DueItem::order_key);
        due.truncate(limit);
        Ok(due)
    }

    /// Every payment here is readable: nothing to set aside.
    async fn set_aside(&self, _item: &UnreadableItem, _until: Timestamp) -> Result<(), StoreError> {
        Ok(())
    }

    async fn reschedule(&self, payment: &Payment, expected_version: u64) -> Result<(), StoreError> {
        self.put_same_status(payment, expected_version).await
    }
}

#[async_trait]
impl Refunds for MemoryStore {
    async fn reserve_refund(
        &self,
        payment: &Payment,
        expected_version: u64,
        refund: &Refund,
        key: &RefundKey,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        tables.expect_version(payment.id(), expected_version)?;
        tables.expect_new_refund(payment.id(), refund, key)?;
        tables
            .payments
            .insert(payment.id().clone(), payment.clone());
        tables.insert_refund(payment.id(), refund, key);
        Ok(())
    }

    async fn settle_refund(&self, settlement: &RefundSettlement<'_>) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        let payment = settlement.payment;
        // Check every condition before writing anything: all or nothing.
        let Some(index) = tables.refunds.iter().position(|r| {
            r.refund_id == settlement.refund.refund_id
                && r.status == RefundStatus::Pending
                && r.ask.number == settlement.refund.ask.number
        }) else {
            return Err(conflict("refund is not pending under this claim"));
        };
        tables.expect_version(payment.id(), settlement.expected_version)?;
        if let Some(event) = settlement.event {
            tables.expect_new_event(event)?;
        }
        if settlement.move_lock {
            tables.move_lock(payment)?;
        }
        tables.refunds[index] = settlement.refund.clone();
        tables
            .payments
            .insert(payment.id().clone(), payment.clone());
        if let Some(event) = settlement.event {
            tables.events.push((event.clone(), true));
        }
        Ok(())
    }

    async fn claim_refund_ask(
        &self,
        claimed: &Refund,
        expected_claim: u32,
    ) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        let Some(stored) = tables.refunds.iter_mut().find(|r| {
            r.refund_id == claimed.refund_id
                && r.status == RefundStatus::Pending
                && r.ask.number == expected_claim
        }) else {
            return Err(conflict("refund claimed or settled meanwhile"));
        };
        stored.ask = claimed.ask;
        if claimed.provider_refund_id.is_some() {
            stored.provider_refund_id = claimed.provider_refund_id.clone();
            stored.updated_at = claimed.updated_at;
        }
        Ok(())
    }

    async fn record_made_refund(&self, made: &MadeRefund<'_>) -> Result<(), StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        let payment = made.payment;
        // Check every condition before writing anything: all or nothing.
        tables.expect_version(payment.id(), made.expected_version)?;
        tables.expect_new_refund(payment.id(), made.refund, made.key)?;
        tables.expect_new_event(made.event)?;
        if made.move_lock {
            tables.move_lock(payment)?;
        }
        tables
            .payments
            .insert(payment.id().clone(), payment.clone());
        tables.insert_refund(payment.id(), made.refund, made.key);
        tables.events.push((made.event.clone(), true));
        Ok(())
    }

    async fn refund_by_key(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
    ) -> Result<Option<(Refund, Fingerprint)>, StoreError> {
        self.suspend().await;
        let tables = self.tables();
        let Some((refund_id, fingerprint)) =
            tables.refund_keys.get(&(payment_id.clone(), key.clone()))
        else {
            return Ok(None);
        };
        Ok(tables
            .refunds
            .iter()
            .find(|r| r.refund_id == *refund_id)
            .map(|r| (r.clone(), fingerprint.clone())))
    }

    async fn keep_first_answer(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
        answered: RefundStatus,
    ) -> Result<RefundStatus, StoreError> {
        self.suspend().await;
        let mut tables = self.tables();
        let entry = (payment_id.clone(), key.clone());
        if !tables.refund_keys.contains_key(&entry) {
            return Err(StoreError::Conflict("no such refund key".into()));
        }
        Ok(*tables.first_answers.entry(entry).or_insert(answered))
    }
}
