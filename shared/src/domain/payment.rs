//! The payment aggregate: a charge for one order, moved through the state machine
//! only by `transition`, which also yields the event to broadcast.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::event::RefundSummary;
use super::item::bounded_text;
use super::{
    CallerId, DomainError, EventId, EventType, Items, Money, OrderId, PaymentEvent, PaymentId,
    PaymentStatus, PosId, ProviderOrderId, ProviderPaymentId, ProviderRef, Refund, RefundSource,
    Timestamp,
};

/// Free text shown to the payer, 1..=150 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_text(raw, 150, "description").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hex SHA-256 of a canonical create request: equal requests, equal fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of_canonical(canonical: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(canonical)))
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::invalid(
                "fingerprint",
                "must be 64 lower-case hex digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything needed to open a new pending payment.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub id: PaymentId,
    pub created_by: CallerId,
    pub order_id: OrderId,
    pub amount: Money,
    pub items: Items,
    pub description: Option<Description>,
    /// The Mercado Pago point of sale its QR order is created at.
    pub pos_id: PosId,
    pub fingerprint: Fingerprint,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A payment's full stored state, for adapters that rebuild it from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentParts {
    pub id: PaymentId,
    /// Who asked for it (the caller's IAM ARN, `anonymous`, `local`).
    pub created_by: CallerId,
    pub order_id: OrderId,
    pub status: PaymentStatus,
    pub amount: Money,
    pub items: Items,
    pub description: Option<Description>,
    /// The Mercado Pago point of sale of its QR order; `None` only for a
    /// payment stored before points of sale were recorded.
    pub pos_id: Option<PosId>,
    pub fingerprint: Fingerprint,
    pub provider: Option<ProviderRef>,
    pub qr_data: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
    pub decline_reason: Option<String>,
    /// Minor units given back so far (0 until a refund succeeds).
    pub amount_refunded: i64,
    /// Minor units held by refunds that succeeded or are still pending: never
    /// above `amount`, which is what keeps racing refunds within it.
    pub amount_reserved: i64,
    /// The sweeper's backoff: when to look at it next, and how many times it
    /// could not be settled.
    pub sweep: SweepSchedule,
    /// How many events it has had: the next one is number `sequence + 1`.
    pub sequence: u64,
    /// The session that asked to cancel it, once canceled at a caller's
    /// request (audit; an expiry has none).
    pub canceled_by: Option<CallerId>,
    pub version: u64,
}

/// When the sweeper looks at a payment next. Two lives: while something
/// awaits settlement (the customer's payment, a refund Mercado Pago has not
/// answered) it backs off 1, 2, 4 ... intervals up to an hour; once the
/// payment has ended, it is watched a few more times for money that moves
/// without a webhook (a late payment, a dashboard refund). Either starts
/// afresh whenever the payment's status or its refunds change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepSchedule {
    /// Looks since the schedule started.
    pub attempts: u32,
    /// When to look next; none: at `since` (or, while pending, at expiry).
    pub next_check_at: Option<Timestamp>,
    /// Unsettled a day past its start: a person must look at it.
    pub needs_review: bool,
    /// When this schedule started: the last change of the payment's status or
    /// refunds. None while the payment was never changed since its creation.
    pub since: Option<Timestamp>,
}

impl SweepSchedule {
    /// Longest wait between two looks at an unsettled payment.
    pub const MAX_DELAY: Duration = Duration::from_secs(60 * 60);
    /// How long an item may stay unsettled before a person must look at it.
    pub const REVIEW_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
    /// When an ended payment is looked at again, in sweeper intervals after
    /// it ended (the first look is the next run after it ended).
    pub const WATCH: [u32; 4] = [5, 30, 120, 1440];

    fn restarted(at: Timestamp) -> Self {
        Self {
            attempts: 0,
            next_check_at: None,
            needs_review: false,
            since: Some(at),
        }
    }
}

/// The schedule after the payment's money moved (a refund reserved, made or
/// refused) at `at`: it starts afresh, but a person's flag stays while the
/// status is the same and the matter is not over: money still held of a
/// payment that ended unpaid, or a refund still unanswered.
fn after_money_moved(before: &PaymentParts, next: &mut PaymentParts, at: Timestamp) {
    let unresolved = next.status.ended_unpaid() || next.amount_reserved > next.amount_refunded;
    let keep = before.sweep.needs_review && next.status == before.status && unresolved;
    next.sweep = SweepSchedule::restarted(at);
    next.sweep.needs_review = keep;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment(PaymentParts);

impl Payment {
    pub fn new_pending(new: NewPayment) -> Self {
        Self(PaymentParts {
            id: new.id,
            created_by: new.created_by,
            order_id: new.order_id,
            status: PaymentStatus::Pending,
            amount: new.amount,
            items: new.items,
            description: new.description,
            pos_id: Some(new.pos_id),
            fingerprint: new.fingerprint,
            provider: None,
            qr_data: None,
            created_at: new.created_at,
            updated_at: new.created_at,
            expires_at: new.expires_at,
            decline_reason: None,
            amount_refunded: 0,
            amount_reserved: 0,
            sweep: SweepSchedule::default(),
            sequence: 0,
            canceled_by: None,
            version: 1,
        })
    }

    pub fn restore(parts: PaymentParts) -> Self {
        Self(parts)
    }

    pub fn parts(&self) -> &PaymentParts {
        &self.0
    }

    pub fn id(&self) -> &PaymentId {
        &self.0.id
    }
    pub fn order_id(&self) -> &OrderId {
        &self.0.order_id
    }
    pub fn created_by(&self) -> &CallerId {
        &self.0.created_by
    }
    pub fn status(&self) -> PaymentStatus {
        self.0.status
    }
    pub fn amount(&self) -> Money {
        self.0.amount
    }
    pub fn items(&self) -> &Items {
        &self.0.items
    }
    pub fn description(&self) -> Option<&Description> {
        self.0.description.as_ref()
    }
    pub fn pos_id(&self) -> Option<&PosId> {
        self.0.pos_id.as_ref()
    }
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.0.fingerprint
    }
    pub fn provider(&self) -> Option<&ProviderRef> {
        self.0.provider.as_ref()
    }
    pub fn qr_data(&self) -> Option<&str> {
        self.0.qr_data.as_deref()
    }
    pub fn created_at(&self) -> Timestamp {
        self.0.created_at
    }
    pub fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }
    pub fn expires_at(&self) -> Timestamp {
        self.0.expires_at
    }
    pub fn decline_reason(&self) -> Option<&str> {
        self.0.decline_reason.as_deref()
    }
    pub fn amount_refunded(&self) -> i64 {
        self.0.amount_refunded
    }
    /// Still waiting for something only the sweeper may settle: the
    /// customer's payment, or a refund Mercado Pago has not answered.
    pub fn awaits_settlement(&self) -> bool {
        self.0.status == PaymentStatus::Pending || self.0.amount_reserved > self.0.amount_refunded
    }

    /// Flagged for a person while it ended unpaid: the customer's money may
    /// still be at Mercado Pago, so its order is read daily after the watch,
    /// to record a refund made by hand whose notification never came.
    fn kept_open(&self) -> bool {
        self.0.sweep.needs_review && self.0.status.ended_unpaid()
    }

    /// Ended with a Mercado Pago order that may still move money without
    /// telling us (a late payment, a dashboard refund whose webhook is lost).
    fn watched(&self) -> bool {
        self.0.provider.is_some()
            && (self.0.status.ended_unpaid() || self.0.status == PaymentStatus::Approved)
    }

    pub fn sweep(&self) -> SweepSchedule {
        self.0.sweep
    }

    /// When the sweeper should look at it next; none once there is nothing
    /// left to settle or watch (then it is out of the sweeper's index).
    pub fn due_at(&self) -> Option<Timestamp> {
        let sweep = &self.0.sweep;
        if self.0.status == PaymentStatus::Pending {
            return Some(sweep.next_check_at.unwrap_or(self.0.expires_at));
        }
        let start = sweep.since.unwrap_or(self.0.updated_at);
        let watching = self.watched()
            && ((sweep.attempts as usize) <= SweepSchedule::WATCH.len() || self.kept_open());
        (self.awaits_settlement() || watching).then(|| sweep.next_check_at.unwrap_or(start))
    }

    /// The sweeper looked and nothing changed: while something awaits
    /// settlement, look again 1, 2, 4 ... `interval`s later (at most an hour),
    /// and a day after the schedule started a person must look too; an ended
    /// payment is looked at again at the next point of its watch, or no more.
    pub fn after_sweep(&self, now: Timestamp, interval: Duration) -> Self {
        let mut next = self.0.clone();
        let attempts = next.sweep.attempts.saturating_add(1);
        let start = next.sweep.since.unwrap_or(next.expires_at);
        let next_check_at = if self.awaits_settlement() {
            let factor = 2_u32.saturating_pow(attempts.saturating_sub(1).min(16));
            Some(
                now.plus(
                    interval
                        .saturating_mul(factor)
                        .min(SweepSchedule::MAX_DELAY),
                ),
            )
        } else {
            usize::try_from(attempts - 1)
                .ok()
                .and_then(|step| SweepSchedule::WATCH.get(step))
                .map(|&after| start.plus(interval.saturating_mul(after)).max(now))
                .or_else(|| {
                    self.kept_open()
                        .then(|| now.plus(SweepSchedule::REVIEW_AFTER))
                })
        };
        next.sweep = SweepSchedule {
            attempts,
            next_check_at,
            needs_review: next.sweep.needs_review
                || (self.awaits_settlement() && now >= start.plus(SweepSchedule::REVIEW_AFTER)),
            since: next.sweep.since,
        };
        next.version += 1;
        Self(next)
    }

    /// Something went wrong that a person must look at; the sweeper keeps
    /// trying on its backoff meanwhile.
    pub fn flag_for_review(&self, now: Timestamp) -> Self {
        let mut next = self.0.clone();
        next.sweep.needs_review = true;
        next.updated_at = now;
        next.version += 1;
        Self(next)
    }

    /// Whether its status or its money moved since `before` (a flag or a
    /// schedule is not a move): such a change starts its schedule afresh.
    pub fn settled_more_than(&self, before: &Payment) -> bool {
        self.0.status != before.0.status
            || self.0.amount_refunded != before.0.amount_refunded
            || self.0.amount_reserved != before.0.amount_reserved
    }

    /// What a new refund may still take, in minor units.
    pub fn refundable(&self) -> i64 {
        self.0.amount.minor_units() - self.0.amount_reserved
    }
    pub fn version(&self) -> u64 {
        self.0.version
    }
    /// How many events it has had.
    pub fn sequence(&self) -> u64 {
        self.0.sequence
    }

    /// True once the provider has confirmed the order and the QR can be shown.
    pub fn is_ready(&self) -> bool {
        self.0.provider.is_some() && self.0.qr_data.is_some()
    }

    /// A payment stored before points of sale were recorded gets `pos`: the
    /// deployment's default, the one point of sale there was then. Any other
    /// keeps its own.
    pub fn with_point_of_sale_or(&self, pos: &PosId) -> Self {
        let mut next = self.0.clone();
        next.pos_id.get_or_insert_with(|| pos.clone());
        Self(next)
    }

    /// Records the provider's order and QR data on a pending payment.
    pub fn with_provider(&self, provider: ProviderRef, qr_data: String, at: Timestamp) -> Self {
        let mut next = self.0.clone();
        next.provider = Some(provider);
        next.qr_data = Some(qr_data);
        next.updated_at = at;
        next.version += 1;
        Self(next)
    }

    /// Moves the payment to `to`, returning the new state and its event; any move
    /// outside the state machine is rejected. `provider_payment_id`, when known,
    /// completes the provider reference (the payer's payment exists only now).
    pub fn transition(
        &self,
        to: PaymentStatus,
        change: TransitionDetails,
    ) -> Result<(Self, PaymentEvent), DomainError> {
        let status = self.0.status.transition_to(to)?;
        let event_type = EventType::for_status(status).ok_or(DomainError::Transition {
            from: self.0.status,
            to,
        })?;
        let mut next = self.0.clone();
        next.status = status;
        next.updated_at = change.at;
        next.version += 1;
        next.sweep = SweepSchedule::restarted(change.at);
        next.decline_reason = match status {
            PaymentStatus::Declined => change.decline_reason,
            _ => None,
        };
        if status == PaymentStatus::Canceled {
            next.canceled_by = change.requested_by;
        }
        if let Some(provider_payment_id) = change.provider_payment_id {
            match next.provider.as_mut() {
                Some(provider) => provider.payment_id = Some(provider_payment_id),
                None => {
                    next.provider = change.provider_order_id.map(|order_id| ProviderRef {
                        order_id,
                        payment_id: Some(provider_payment_id),
                    })
                }
            }
        }
        next.sequence += 1;
        let event = Self(next.clone()).event(event_type, change.event_id, change.at, None);
        Ok((Self(next), event))
    }

    /// Holds `amount` for a refund. An approved payment is refunded at its
    /// caller's request; one that ended unpaid only when a late payment is
    /// given back.
    pub fn reserve_refund(
        &self,
        amount: Money,
        source: RefundSource,
        at: Timestamp,
    ) -> Result<Self, DomainError> {
        let refundable_now = match source {
            RefundSource::LatePayment => self.0.status.ended_unpaid(),
            RefundSource::Api | RefundSource::Provider => self.0.status == PaymentStatus::Approved,
        };
        if !refundable_now {
            return Err(DomainError::NotRefundable(self.0.status));
        }
        let mut next = self.with_reserved(amount)?.0;
        next.updated_at = at;
        next.version += 1;
        after_money_moved(&self.0, &mut next, at);
        Ok(Self(next))
    }

    /// `amount` held on top of what is already reserved, if it fits.
    fn with_reserved(&self, amount: Money) -> Result<Self, DomainError> {
        if amount.currency() != self.0.amount.currency() || amount.minor_units() > self.refundable()
        {
            return Err(DomainError::RefundTooLarge {
                remaining: self.refundable(),
            });
        }
        let mut next = self.0.clone();
        next.amount_reserved += amount.minor_units();
        Ok(Self(next))
    }

    /// Whether a refund from `source` may be asked for at all, whatever its amount.
    pub fn accepts_refund_from(&self, source: RefundSource) -> Result<(), DomainError> {
        let refundable_now = match source {
            RefundSource::LatePayment => self.0.status.ended_unpaid(),
            RefundSource::Api | RefundSource::Provider => self.0.status == PaymentStatus::Approved,
        };
        if refundable_now {
            Ok(())
        } else {
            Err(DomainError::NotRefundable(self.0.status))
        }
    }

    /// Records a reserved refund as given back, with its `payment.refunded`
    /// event; the one that completes the amount makes the payment `refunded`.
    pub fn refund_succeeded(
        &self,
        refund: &Refund,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<(Self, PaymentEvent), DomainError> {
        let mut next = self.0.clone();
        next.amount_refunded += refund.amount.minor_units();
        if next.amount_refunded > next.amount_reserved {
            return Err(DomainError::RefundTooLarge {
                remaining: self.refundable(),
            });
        }
        if next.amount_refunded == next.amount.minor_units() {
            next.status = next.status.transition_to(PaymentStatus::Refunded)?;
        }
        next.updated_at = at;
        next.version += 1;
        after_money_moved(&self.0, &mut next, at);
        next.sequence += 1;
        let next = Self(next);
        let event = next.event(EventType::Refunded, event_id, at, Some(refund));
        Ok((next, event))
    }

    /// Records a reserved refund as given back for what was actually made:
    /// `made` may be less than `reserved` (an "all that remains" refund after
    /// money went back another way), and the difference is released.
    pub fn refund_made(
        &self,
        reserved: &Refund,
        made: &Refund,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<(Self, PaymentEvent), DomainError> {
        let released = reserved.amount.minor_units() - made.amount.minor_units();
        if released < 0 || made.amount.currency() != reserved.amount.currency() {
            return Err(DomainError::RefundTooLarge {
                remaining: self.refundable(),
            });
        }
        let mut next = self.0.clone();
        next.amount_reserved -= released;
        Self(next).refund_succeeded(made, event_id, at)
    }

    /// Records a refund made before we knew of it (at the provider, in its
    /// dashboard): reserved and given back in one step, with its
    /// `payment.refunded` event. It is a fact, so any status but `pending`
    /// takes it, as long as it fits in what is not yet reserved.
    pub fn record_made_refund(
        &self,
        refund: &Refund,
        event_id: EventId,
        at: Timestamp,
    ) -> Result<(Self, PaymentEvent), DomainError> {
        if self.0.status == PaymentStatus::Pending || self.0.status.is_terminal() {
            return Err(DomainError::NotRefundable(self.0.status));
        }
        self.with_reserved(refund.amount)?
            .refund_succeeded(refund, event_id, at)
    }

    /// Releases what a refund the provider refused had reserved.
    pub fn refund_failed(&self, refund: &Refund, at: Timestamp) -> Self {
        let mut next = self.0.clone();
        next.amount_reserved = (next.amount_reserved - refund.amount.minor_units()).max(0);
        next.updated_at = at;
        next.version += 1;
        after_money_moved(&self.0, &mut next, at);
        Self(next)
    }

    /// A refund the provider took and then failed: what it reserved is
    /// released (refundable again), announced as `payment.refund_failed`.
    /// `flag`: a person must look (a late payment's money is still held).
    pub fn refund_failed_at_provider(
        &self,
        refund: &Refund,
        flag: bool,
        event_id: EventId,
        at: Timestamp,
    ) -> (Self, PaymentEvent) {
        let mut next = self.refund_failed(refund, at).0;
        next.sweep.needs_review |= flag;
        next.sequence += 1;
        let next = Self(next);
        let event = next.event(EventType::RefundFailed, event_id, at, Some(refund));
        (next, event)
    }

    /// A late payment's refund given up after Mercado Pago refused it for
    /// days: released like any refused refund, and left flagged in the same
    /// write, since the customer's money is still at Mercado Pago.
    pub fn late_refund_given_up(&self, refund: &Refund, at: Timestamp) -> Self {
        let mut next = self.refund_failed(refund, at).0;
        next.sweep.needs_review = true;
        Self(next)
    }

    fn event(
        &self,
        event_type: EventType,
        event_id: EventId,
        at: Timestamp,
        refund: Option<&Refund>,
    ) -> PaymentEvent {
        let p = &self.0;
        PaymentEvent {
            event_id,
            event_type,
            occurred_at: at,
            payment_id: p.id.clone(),
            order_id: p.order_id.clone(),
            status: p.status,
            amount: p.amount,
            provider_payment_id: p.provider.as_ref().and_then(|r| r.payment_id.clone()),
            decline_reason: p.decline_reason.clone(),
            amount_refunded: p.amount_refunded,
            refund: refund.map(RefundSummary::from),
            sequence: p.sequence,
            correlation_id: None,
        }
    }
}

/// The facts that accompany a status change.
#[derive(Debug, Clone)]
pub struct TransitionDetails {
    pub at: Timestamp,
    pub event_id: EventId,
    pub decline_reason: Option<String>,
    pub provider_order_id: Option<ProviderOrderId>,
    pub provider_payment_id: Option<ProviderPaymentId>,
    /// The caller's session when a caller asked for the move (a cancel).
    pub requested_by: Option<CallerId>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{Currency, Item, RefundFailure, Sku, Title};
    use ulid::Ulid;

    pub(crate) fn sample_payment() -> Payment {
        let amount = Money::new(2590, Currency::Brl).unwrap();
        let item = Item::new(
            Sku::parse("XB").unwrap(),
            Title::parse("X-Burger").unwrap(),
            2,
            Money::new(1295, Currency::Brl).unwrap(),
        )
        .unwrap();
        let created_at = Timestamp::from_unix_millis(1_795_608_000_000).unwrap();
        Payment::new_pending(NewPayment {
            id: PaymentId::from_ulid(Ulid::new()),
            created_by: CallerId::anonymous(),
            order_id: OrderId::parse("ord-1042").unwrap(),
            amount,
            items: Items::new(vec![item], amount).unwrap(),
            description: None,
            pos_id: PosId::parse("POS001").unwrap(),
            fingerprint: Fingerprint::of_canonical(b"x"),
            created_at,
            expires_at: created_at.plus(Duration::from_secs(900)),
        })
    }

    #[test]
    fn a_payment_keeps_its_point_of_sale_and_one_stored_without_gets_the_default() {
        let payment = sample_payment();
        assert_eq!(payment.pos_id().map(PosId::as_str), Some("POS001"));
        let other = PosId::parse("POS002").unwrap();
        assert_eq!(payment.with_point_of_sale_or(&other), payment);
        let stored_before = Payment::restore(PaymentParts {
            pos_id: None,
            ..payment.parts().clone()
        });
        let completed = stored_before.with_point_of_sale_or(&other);
        assert_eq!(completed.pos_id(), Some(&other));
        assert_eq!(completed.version(), stored_before.version());
    }

    fn details(reason: Option<&str>) -> TransitionDetails {
        TransitionDetails {
            at: Timestamp::from_unix_millis(1_795_608_003_000).unwrap(),
            event_id: EventId::from_ulid(Ulid::new()),
            decline_reason: reason.map(str::to_owned),
            provider_order_id: Some(ProviderOrderId::parse("ORD01").unwrap()),
            provider_payment_id: Some(ProviderPaymentId::parse("PAY01").unwrap()),
            requested_by: None,
        }
    }

    #[test]
    fn approving_bumps_version_and_yields_the_event() {
        let pending = sample_payment();
        let (approved, event) = pending
            .transition(PaymentStatus::Approved, details(Some("ignored")))
            .unwrap();
        assert_eq!(approved.status(), PaymentStatus::Approved);
        assert_eq!(approved.version(), pending.version() + 1);
        assert_eq!(approved.decline_reason(), None);
        assert_eq!(event.event_type, EventType::Approved);
        assert_eq!(event.payment_id, *pending.id());
        assert_eq!(
            event
                .provider_payment_id
                .as_ref()
                .map(ProviderPaymentId::as_str),
            Some("PAY01")
        );
        assert_eq!(
            approved.provider().map(|p| p.order_id.as_str()),
            Some("ORD01")
        );
    }

    #[test]
    fn declining_keeps_the_reason_and_only_a_late_payment_refund_follows() {
        let (declined, event) = sample_payment()
            .transition(PaymentStatus::Declined, details(Some("rejected_by_issuer")))
            .unwrap();
        assert_eq!(declined.decline_reason(), Some("rejected_by_issuer"));
        assert_eq!(event.decline_reason.as_deref(), Some("rejected_by_issuer"));
        for &to in PaymentStatus::ALL {
            let allowed = to == PaymentStatus::Refunded;
            assert_eq!(
                declined.transition(to, details(None)).is_ok(),
                allowed,
                "{to}"
            );
        }
        assert!(sample_payment()
            .transition(PaymentStatus::Pending, details(None))
            .is_err());
    }

    fn approved_payment() -> Payment {
        sample_payment()
            .transition(PaymentStatus::Approved, details(None))
            .unwrap()
            .0
    }

    fn brl(minor: i64) -> Money {
        Money::new(minor, crate::domain::Currency::Brl).unwrap()
    }

    fn refund_of(payment: &Payment, minor: i64, source: RefundSource) -> Refund {
        Refund::pending(
            crate::domain::RefundId::from_ulid(Ulid::new()),
            payment.id().clone(),
            brl(minor),
            None,
            source,
            Timestamp::from_unix_millis(1_795_608_004_000).unwrap(),
        )
    }

    #[test]
    fn refunds_reserve_at_most_what_remains_and_only_on_approved_payments() {
        let at = Timestamp::from_unix_millis(1_795_608_004_000).unwrap();
        let paid = approved_payment();
        let first = paid
            .reserve_refund(brl(2000), RefundSource::Api, at)
            .unwrap();
        assert_eq!(first.refundable(), 590);
        assert_eq!(
            first.reserve_refund(brl(591), RefundSource::Api, at),
            Err(DomainError::RefundTooLarge { remaining: 590 })
        );
        assert!(first
            .reserve_refund(brl(590), RefundSource::Api, at)
            .is_ok());
        assert_eq!(
            sample_payment().reserve_refund(brl(1), RefundSource::Api, at),
            Err(DomainError::NotRefundable(PaymentStatus::Pending))
        );
        // A late payment is given back only on a payment that ended unpaid.
        assert!(paid
            .reserve_refund(brl(2590), RefundSource::LatePayment, at)
            .is_err());
        let (expired, _) = sample_payment()
            .transition(PaymentStatus::Expired, details(None))
            .unwrap();
        assert!(expired
            .reserve_refund(brl(2590), RefundSource::LatePayment, at)
            .is_ok());
        assert!(expired
            .reserve_refund(brl(2590), RefundSource::Api, at)
            .is_err());
    }

    #[test]
    fn the_refund_that_completes_the_amount_makes_the_payment_refunded() {
        let at = Timestamp::from_unix_millis(1_795_608_005_000).unwrap();
        let paid = approved_payment();
        let part = refund_of(&paid, 1295, RefundSource::Api);
        let reserved = paid.reserve_refund(part.amount, part.source, at).unwrap();
        let (partly, event) = reserved
            .refund_succeeded(
                &part.succeeded(None, at),
                EventId::from_ulid(Ulid::new()),
                at,
            )
            .unwrap();
        assert_eq!(partly.status(), PaymentStatus::Approved);
        assert_eq!(partly.amount_refunded(), 1295);
        assert_eq!(event.event_type, EventType::Refunded);
        assert_eq!(event.status, PaymentStatus::Approved);
        assert_eq!(event.refund.as_ref().map(|r| r.amount), Some(brl(1295)));

        let rest = refund_of(&paid, 1295, RefundSource::Api);
        let reserved = partly.reserve_refund(rest.amount, rest.source, at).unwrap();
        let (refunded, event) = reserved
            .refund_succeeded(
                &rest.succeeded(None, at),
                EventId::from_ulid(Ulid::new()),
                at,
            )
            .unwrap();
        assert_eq!(refunded.status(), PaymentStatus::Refunded);
        assert_eq!(event.status, PaymentStatus::Refunded);
        assert_eq!(event.amount_refunded, 2590);
        assert!(event.to_message_body().contains(rest.refund_id.as_str()));
    }

    #[test]
    fn a_refused_refund_releases_its_reservation() {
        let at = Timestamp::from_unix_millis(1_795_608_005_000).unwrap();
        let paid = approved_payment();
        let refund = refund_of(&paid, 2590, RefundSource::Api);
        let reserved = paid
            .reserve_refund(refund.amount, refund.source, at)
            .unwrap();
        assert_eq!(reserved.refundable(), 0);
        let released = reserved.refund_failed(
            &refund.failed(RefundFailure::Refused, "past the window", at),
            at,
        );
        assert_eq!(released.refundable(), 2590);
        assert_eq!(released.amount_refunded(), 0);
        assert_eq!(released.status(), PaymentStatus::Approved);
    }

    #[test]
    fn an_unsettled_payment_is_looked_at_again_later_and_flagged_after_a_day() {
        let pending = sample_payment();
        let expiry = pending.expires_at();
        let mut payment = pending.clone();
        let mut delays = Vec::new();
        for _ in 0..8 {
            let now = expiry.plus(Duration::from_secs(60));
            payment = payment.after_sweep(now, MINUTE);
            let next = payment.sweep().next_check_at.unwrap();
            delays.push((next.unix_millis() - now.unix_millis()) / 60_000);
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60], "minutes");
        assert!(!payment.sweep().needs_review);
        assert_eq!(payment.version(), pending.version() + 8);
        let a_day_late = expiry.plus(SweepSchedule::REVIEW_AFTER);
        let flagged = payment.after_sweep(a_day_late, MINUTE);
        assert!(flagged.sweep().needs_review);
        assert_eq!(flagged.status(), PaymentStatus::Pending, "kept pending");
    }

    const MINUTE: Duration = Duration::from_secs(60);

    fn approved_at(at: Timestamp) -> Payment {
        let mut change = details(None);
        change.at = at;
        sample_payment()
            .transition(PaymentStatus::Approved, change)
            .unwrap()
            .0
    }

    #[test]
    fn a_refund_left_pending_backs_off_from_its_own_start_not_from_the_payments_expiry() {
        let approved = approved_at(sample_payment().expires_at());
        let two_days_later = approved.expires_at().plus(SweepSchedule::REVIEW_AFTER * 2);
        let refund_asked = approved
            .reserve_refund(approved.amount(), RefundSource::Api, two_days_later)
            .unwrap();
        assert_eq!(refund_asked.due_at(), Some(two_days_later), "due at once");
        let looked = refund_asked.after_sweep(two_days_later.plus(MINUTE), MINUTE);
        assert!(
            !looked.sweep().needs_review,
            "a fresh refund needs no person"
        );
        assert_eq!(looked.due_at(), Some(two_days_later.plus(MINUTE * 2)));
    }

    #[test]
    fn a_status_change_starts_the_schedule_afresh() {
        let pending = sample_payment();
        let late = pending.expires_at().plus(SweepSchedule::REVIEW_AFTER);
        let flagged = pending.after_sweep(late, MINUTE).after_sweep(late, MINUTE);
        assert!(flagged.sweep().needs_review);
        let mut change = details(None);
        change.at = late.plus(MINUTE);
        let (approved, _) = flagged.transition(PaymentStatus::Approved, change).unwrap();
        assert_eq!(approved.sweep().attempts, 0);
        assert!(!approved.sweep().needs_review);
        assert_eq!(
            approved.due_at(),
            Some(late.plus(MINUTE)),
            "watched from now"
        );
    }

    #[test]
    fn an_ended_payment_is_watched_after_5_30_120_and_1440_intervals_then_no_more() {
        let ended = sample_payment().expires_at();
        let mut payment = approved_at(ended);
        let mut looks = Vec::new();
        while let Some(due) = payment.due_at() {
            looks.push((due.unix_millis() - ended.unix_millis()) / 60_000);
            payment = payment.after_sweep(due, MINUTE);
        }
        assert_eq!(looks, [0, 5, 30, 120, 1440], "minutes after it ended");
        assert!(!payment.sweep().needs_review);
    }

    #[test]
    fn a_flagged_payment_that_ended_unpaid_is_read_daily_after_its_watch() {
        let ended = sample_payment().expires_at();
        let mut change = details(None);
        change.at = ended;
        let (expired, _) = sample_payment()
            .transition(PaymentStatus::Expired, change)
            .unwrap();
        let mut payment = expired.flag_for_review(ended);
        for _ in 0..5 {
            let due = payment.due_at().unwrap();
            payment = payment.after_sweep(due, MINUTE);
        }
        let due = payment.due_at().expect("still read after the watch");
        let next = payment.after_sweep(due, MINUTE).due_at().unwrap();
        assert_eq!(
            next.unix_millis() - due.unix_millis(),
            24 * 3600 * 1000,
            "daily"
        );
    }

    #[test]
    fn a_payment_without_a_mercado_pago_order_is_not_watched_once_ended() {
        let pending = sample_payment();
        let mut change = details(None);
        change.provider_payment_id = None;
        change.provider_order_id = None;
        let (expired, _) = pending.transition(PaymentStatus::Expired, change).unwrap();
        assert_eq!(expired.due_at(), None);
    }

    #[test]
    fn fingerprints_are_sha256_hex() {
        let f = Fingerprint::of_canonical(b"abc");
        assert_eq!(
            f.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Fingerprint::parse(f.as_str()), Ok(f));
        assert!(Fingerprint::parse("ABC").is_err());
    }
}
