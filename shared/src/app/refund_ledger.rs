//! The life of a refund, whoever asks for it (the refund endpoint, a refund
//! made at Mercado Pago, a late payment): reserved on its payment, asked of
//! Mercado Pago once, settled with what it answered.

use std::sync::Arc;

use crate::domain::{
    CallerId, Currency, DomainError, Fingerprint, IdempotencyKey, Money, Payment, PaymentId,
    PaymentStatus, ProviderOrderId, ProviderRefundId, Refund, RefundFailure, RefundReason,
    RefundSource, RefundStatus,
};
use crate::ports::{
    Clock, DuePayments, EventPublisher, IdGenerator, MadeRefund, Outbox, PaymentCreation,
    PaymentProvider, PaymentReads, Ports, ProviderError, ProviderOrderState, ProviderOutcome,
    ProviderRefundStatus, RefundKey, RefundRequest, RefundSettlement, Refunds, Refusal, StoreError,
};

use super::outbox::publish_and_clear;
use super::{correlation, metrics, AppError};

/// Rounds of read-then-conditional-write before giving up under contention.
/// Every round one of the racing writers on the payment wins, so this many
/// refunds of one payment at the same instant all get through.
const MAX_ATTEMPTS: usize = 32;

/// What the provider said about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefundVerdict {
    /// Made at Mercado Pago: its id there, and what it gave back (less than
    /// asked only when "all that remains" was less than we thought).
    GivenBack(ProviderRefundId, Money),
    /// Taken by Mercado Pago, which gives the money back asynchronously:
    /// pending, with its id there, until a read says processed or failed.
    Accepted(ProviderRefundId),
    /// Taken, then failed at Mercado Pago: the money stayed with the merchant.
    FailedAtProvider(String),
    Refused(RefundFailure, String),
    /// A late payment's refund refused for too long: failed, and the payment
    /// flagged for a person in the same write.
    GivenUp(String),
}

/// A refund to reserve: how much (`None`: all that remains), why, who asks,
/// and the key that makes asking twice one refund.
pub(crate) struct RefundAsk<'a> {
    pub payment_id: &'a PaymentId,
    pub amount: Option<i64>,
    pub reason: Option<RefundReason>,
    pub source: RefundSource,
    pub key: &'a RefundKey,
    /// The API caller's session, kept on the refund for audit.
    pub requested_by: Option<CallerId>,
}

/// What became of a refund Mercado Pago lists that no call of ours made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MadeAtProvider {
    Recorded,
    AlreadyHeld,
    /// A pending refund of ours holds the amount it needs: settle that first.
    Blocked,
    /// It cannot be about this payment (logged, with `ProviderMismatch`).
    Mismatch,
}

/// A reservation: new, or the one an earlier request with the key made.
pub(crate) enum Reserved {
    New(Box<Payment>, Refund),
    Existing(Refund),
}

pub(crate) struct RefundLedger {
    payments: Arc<dyn PaymentReads>,
    locks: Arc<dyn PaymentCreation>,
    refunds: Arc<dyn Refunds>,
    due: Arc<dyn DuePayments>,
    outbox: Arc<dyn Outbox>,
    provider: Arc<dyn PaymentProvider>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl RefundLedger {
    pub fn new(ports: &Ports) -> Self {
        Self {
            payments: ports.store.clone(),
            locks: ports.store.clone(),
            refunds: ports.store.clone(),
            due: ports.store.clone(),
            outbox: ports.store.clone(),
            provider: ports.provider.clone(),
            publisher: ports.publisher.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        }
    }

    /// Reserves the refund on its payment, with its key, in one conditional
    /// write. The same key with the same request finds the first refund; with
    /// another request it is refused.
    pub async fn reserve(&self, ask: RefundAsk<'_>) -> Result<Reserved, AppError> {
        for _ in 0..MAX_ATTEMPTS {
            match self
                .refunds
                .refund_by_key(ask.payment_id, &ask.key.key)
                .await?
            {
                Some((refund, stored)) if stored == ask.key.fingerprint => {
                    return Ok(Reserved::Existing(refund))
                }
                Some(_) => return Err(AppError::IdempotencyKeyReused),
                None => {}
            }
            let payment = self.payment(ask.payment_id).await?;
            payment
                .accepts_refund_from(ask.source)
                .map_err(|e| refusal(&payment, e))?;
            let minor = ask.amount.unwrap_or_else(|| payment.refundable());
            let amount = Money::new(minor, payment.amount().currency()).map_err(|_| {
                refusal(
                    &payment,
                    DomainError::RefundTooLarge {
                        remaining: payment.refundable(),
                    },
                )
            })?;
            // Mercado Pago takes a partial refund only for a named payment of
            // the order: without that id it could never be made, so nothing
            // is reserved and the caller is told.
            let partial = amount != payment.amount();
            if partial && payment.provider().is_none_or(|p| p.payment_id.is_none()) {
                return Err(AppError::PartialRefundNotSupported {
                    payment_id: payment.id().clone(),
                    reason: "we do not hold its Mercado Pago payment id",
                });
            }
            let now = self.clock.now();
            let reserved = payment
                .reserve_refund(amount, ask.source, now)
                .map_err(|e| refusal(&payment, e))?;
            let refund = Refund::pending(
                self.ids.refund_id(),
                payment.id().clone(),
                amount,
                ask.reason.clone(),
                ask.source,
                now,
            )
            .requested_by(ask.requested_by.clone());
            match self
                .refunds
                .reserve_refund(&reserved, payment.version(), &refund, ask.key)
                .await
            {
                Ok(()) => {
                    tracing::info!(
                        payment_id = %payment.id(),
                        order_id = %payment.order_id(),
                        refund_id = %refund.refund_id,
                        source = refund.source.as_str(),
                        amount = amount.minor_units(),
                        "refund reserved"
                    );
                    return Ok(Reserved::New(Box::new(reserved), refund));
                }
                // The payment moved, or a twin request took the key: read again.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }

    /// The right to ask Mercado Pago for a pending refund, if nobody holds
    /// it: only the last claimant's answer is recorded, and nobody asks
    /// again once the refund is settled.
    pub async fn claim(&self, refund: &Refund) -> Result<Option<Refund>, AppError> {
        let Some(claimed) = refund.claim_ask(self.clock.now()) else {
            return Ok(None);
        };
        match self
            .refunds
            .claim_refund_ask(&claimed, refund.ask.number)
            .await
        {
            Ok(()) => Ok(Some(claimed)),
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Lets go of the claim to ask: Mercado Pago gave no answer to record,
    /// and the next asker (the sweeper) need not wait for the lease to end.
    async fn release(&self, refund: Refund) -> Result<Refund, AppError> {
        let released = refund.ask_released();
        match self
            .refunds
            .claim_refund_ask(&released, refund.ask.number)
            .await
        {
            // Claimed by another or settled meanwhile: nothing to let go of.
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(released),
            Err(other) => Err(other.into()),
        }
    }

    /// Asks Mercado Pago to give the money back, under `idempotency_key`, and
    /// records its answer. When it cannot answer, the refund stays pending for
    /// a later retry with the same key.
    pub async fn ask_provider(
        &self,
        payment: &Payment,
        refund: Refund,
        idempotency_key: String,
    ) -> Result<Refund, AppError> {
        if refund.source == RefundSource::Provider {
            // Made at Mercado Pago already: asking for it would pay it twice.
            tracing::error!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                refund_id = %refund.refund_id,
                "a refund made at Mercado Pago is pending; it is never asked for"
            );
            return Ok(refund);
        }
        let Some(provider) = payment.provider() else {
            let verdict = RefundVerdict::Refused(
                RefundFailure::Refused,
                "the payment has no Mercado Pago order".into(),
            );
            return Ok(self.settle(&refund, &verdict).await?.1);
        };
        let whole = refund.amount == payment.amount();
        if !whole && provider.payment_id.is_none() {
            // Reserved before this was refused up front: it can never be made.
            let verdict = RefundVerdict::Refused(
                RefundFailure::PartialNotSupported,
                "a partial refund needs the Mercado Pago payment id, which we do not hold".into(),
            );
            return Ok(self.settle(&refund, &verdict).await?.1);
        }
        if !whole && self.clock.now() >= refund.created_at.plus(KEY_TRUSTED_FOR) {
            // Mercado Pago remembers a key for 24 hours: asked after that,
            // the same key would make a second refund if the first was made
            // and its answer lost. A whole refund cannot be paid twice (it
            // is "all that remains"); a partial one is left to a person.
            tracing::error!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                refund_id = %refund.refund_id,
                "a partial refund unanswered for 23 hours is not asked again (Mercado Pago \
                 forgets its key after a day); needs review"
            );
            self.flag(payment).await?;
            return self.release(refund).await;
        }
        let request = RefundRequest {
            idempotency_key,
            payment_id: provider.payment_id.clone(),
            amount: (!whole).then_some(refund.amount),
        };
        let verdict = match self
            .provider
            .refund_order(&provider.order_id, &request)
            .await
        {
            Ok(order) => {
                let known = self.payments.refunds_of(payment.id()).await?;
                match refund_made_by_answer(&order, &known, &refund, whole) {
                    Some((made, amount, ProviderRefundStatus::Processed)) => {
                        RefundVerdict::GivenBack(made, amount)
                    }
                    Some((made, _, ProviderRefundStatus::Processing)) => {
                        RefundVerdict::Accepted(made)
                    }
                    Some((made, _, ProviderRefundStatus::Failed)) => {
                        // Taken once and failed since (an old answer to our
                        // key): recorded under its id, then settled as failed.
                        let accepted = self.accept(payment, &refund, made).await?;
                        if accepted.status != RefundStatus::Pending {
                            return Ok(accepted);
                        }
                        return Ok(self
                            .settle_failed_at_provider(payment, accepted, "failed at Mercado Pago")
                            .await?
                            .1);
                    }
                    None => {
                        tracing::error!(
                            payment_id = %payment.id(),
                            order_id = %payment.order_id(),
                            refund_id = %refund.refund_id,
                            "Mercado Pago's answer names no refund of this amount that is not \
                             already recorded; left pending for a person"
                        );
                        return self.release(refund).await;
                    }
                }
            }
            // Another refund of the order is still processing: this one
            // waits its turn, asked again later with the same key.
            Err(ProviderError::Busy(detail)) => {
                tracing::info!(
                    payment_id = %payment.id(),
                    order_id = %payment.order_id(),
                    refund_id = %refund.refund_id,
                    detail,
                    "Mercado Pago is still processing another refund of the order; asked again later"
                );
                return self.release(refund).await;
            }
            Err(ProviderError::Rejected { status, detail, .. })
                if refund.source == RefundSource::LatePayment =>
            {
                let refusal = format!("Mercado Pago refused ({status}): {detail}");
                if !self
                    .money_left_at(&provider.order_id, payment.amount().currency())
                    .await
                {
                    // Given back otherwise (in the dashboard): nothing is kept.
                    RefundVerdict::Refused(RefundFailure::Refused, refusal)
                } else if self.clock.now() < refund.created_at.plus(LATE_REFUND_RETRIED_FOR) {
                    self.flag_late_refund_refused(payment, &refund, &refusal)
                        .await?;
                    return self.release(refund).await;
                } else {
                    // A week of refusals: no more asking. Failed and flagged
                    // in one write (a person gives it back by hand); told first.
                    late_refund_failed(
                        payment,
                        &refund,
                        Some(&refusal),
                        "Mercado Pago refused a late payment's refund for 7 days; given up, \
                         the money must be given back by hand",
                    );
                    RefundVerdict::GivenUp(refusal)
                }
            }
            Err(ProviderError::Rejected {
                status,
                refusal,
                detail,
            }) => {
                let failure = match refusal {
                    Refusal::PartialRefundNotSupported => RefundFailure::PartialNotSupported,
                    Refusal::AmountAboveRemaining => RefundFailure::AboveRemaining,
                    Refusal::RefundPeriodExpired | Refusal::Other => RefundFailure::Refused,
                };
                RefundVerdict::Refused(
                    failure,
                    format!("Mercado Pago refused ({status}): {detail}"),
                )
            }
            Err(ProviderError::NotFound) => RefundVerdict::Refused(
                RefundFailure::Refused,
                "Mercado Pago has no such order".into(),
            ),
            Err(error @ (ProviderError::Unavailable(_) | ProviderError::InvalidResponse(_))) => {
                tracing::warn!(
                    payment_id = %payment.id(),
                    order_id = %payment.order_id(),
                    refund_id = %refund.refund_id,
                    %error,
                    "refund left pending; it is asked again with the same key"
                );
                return self.release(refund).await;
            }
        };
        if let RefundVerdict::Accepted(made) = verdict {
            return self.accept(payment, &refund, made).await;
        }
        Ok(self.settle(&refund, &verdict).await?.1)
    }

    /// Records that Mercado Pago took the refund, under the claim that asked:
    /// it stays pending with Mercado Pago's id, and is never asked again. The
    /// refund as stored afterwards (settled or claimed by another meanwhile:
    /// as they left it).
    async fn accept(
        &self,
        payment: &Payment,
        refund: &Refund,
        made: ProviderRefundId,
    ) -> Result<Refund, AppError> {
        let accepted = refund.accepted(made, self.clock.now());
        match self
            .refunds
            .claim_refund_ask(&accepted, refund.ask.number)
            .await
        {
            Ok(()) => {
                tracing::info!(
                    payment_id = %payment.id(),
                    order_id = %payment.order_id(),
                    refund_id = %refund.refund_id,
                    "Mercado Pago took the refund; it is settled when Mercado Pago says it is done"
                );
                Ok(accepted)
            }
            Err(StoreError::Conflict(_)) => Ok(self
                .payments
                .refunds_of(&refund.payment_id)
                .await?
                .into_iter()
                .find(|r| r.refund_id == refund.refund_id)
                .unwrap_or_else(|| refund.clone())),
            Err(other) => Err(other.into()),
        }
    }

    /// Settles the refunds of ours Mercado Pago took by what the order now
    /// lists for each: processed (given back, `payment.refunded`) or failed
    /// (released, `payment.refund_failed`); still processing, left as is.
    /// True when anything was settled.
    pub async fn settle_accepted(
        &self,
        payment_id: &PaymentId,
        order: &ProviderOrderState,
    ) -> Result<bool, AppError> {
        let mut changed = false;
        let refunds = self.payments.refunds_of(payment_id).await?;
        if !refunds.iter().any(Refund::is_accepted) {
            return Ok(false);
        }
        let payment = self.payment(payment_id).await?;
        for refund in refunds {
            if !refund.is_accepted() {
                continue;
            }
            let Some(listed) = order
                .refunds
                .iter()
                .find(|listed| Some(&listed.id) == refund.provider_refund_id.as_ref())
            else {
                continue;
            };
            match listed.status {
                ProviderRefundStatus::Processing => {}
                ProviderRefundStatus::Processed => {
                    let Ok(amount) =
                        Money::from_decimal_string(&listed.amount, refund.amount.currency())
                    else {
                        tracing::error!(
                            %payment_id,
                            order_id = %payment.order_id(),
                            refund_id = %refund.refund_id,
                            amount = listed.amount,
                            "Mercado Pago lists our refund with an amount we cannot read; left pending"
                        );
                        continue;
                    };
                    let verdict = RefundVerdict::GivenBack(listed.id.clone(), amount);
                    let (_, settled) = self.settle(&refund, &verdict).await?;
                    changed |= settled.status == RefundStatus::Succeeded;
                }
                ProviderRefundStatus::Failed => {
                    let (_, settled) = self
                        .settle_failed_at_provider(&payment, refund, "failed at Mercado Pago")
                        .await?;
                    changed |= settled.status == RefundStatus::Failed;
                }
            }
        }
        Ok(changed)
    }

    /// A refund Mercado Pago took and then failed: counted, and for a late
    /// payment (whose money Mercado Pago still holds) a person is told.
    async fn settle_failed_at_provider(
        &self,
        payment: &Payment,
        refund: Refund,
        reason: &str,
    ) -> Result<(Payment, Refund), AppError> {
        if refund.source == RefundSource::LatePayment {
            late_refund_failed(
                payment,
                &refund,
                None,
                "Mercado Pago failed a late payment's refund; asked again under a new key, \
                 needs review",
            );
        }
        self.settle(&refund, &RefundVerdict::FailedAtProvider(reason.into()))
            .await
    }

    /// Settles `refund` on its payment as it is now. A refund that is no
    /// longer pending was settled by someone else: it is returned as it is.
    pub async fn settle(
        &self,
        refund: &Refund,
        verdict: &RefundVerdict,
    ) -> Result<(Payment, Refund), AppError> {
        for _ in 0..MAX_ATTEMPTS {
            let payment = self.payment(&refund.payment_id).await?;
            let current = self
                .payments
                .refunds_of(payment.id())
                .await?
                .into_iter()
                .find(|r| r.refund_id == refund.refund_id)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("refund {} is missing", refund.refund_id))
                })?;
            // Settled meanwhile, or someone else asked since (their answer
            // is the one to record): left as it is.
            if current.status != RefundStatus::Pending || current.ask.number != refund.ask.number {
                return Ok((payment, current));
            }
            let now = self.clock.now();
            let (next, settled, event) = match verdict {
                RefundVerdict::GivenBack(provider_refund_id, amount) => {
                    let done = current.succeeded_for(*amount, provider_refund_id.clone(), now);
                    let (next, event) =
                        payment.refund_made(&current, &done, self.ids.event_id(), now)?;
                    (next, done, Some(correlation::outbox_event(event)))
                }
                RefundVerdict::Refused(failure, reason) => {
                    let failed = current.failed(*failure, reason.clone(), now);
                    (payment.refund_failed(&failed, now), failed, None)
                }
                RefundVerdict::GivenUp(reason) => {
                    let failed = current.failed(RefundFailure::Refused, reason.clone(), now);
                    (payment.late_refund_given_up(&failed, now), failed, None)
                }
                RefundVerdict::FailedAtProvider(reason) => {
                    let failed =
                        current.failed(RefundFailure::FailedAtProvider, reason.clone(), now);
                    let flag = failed.source == RefundSource::LatePayment;
                    let (next, event) =
                        payment.refund_failed_at_provider(&failed, flag, self.ids.event_id(), now);
                    (next, failed, Some(correlation::outbox_event(event)))
                }
                // Not a settlement: `accept` records it.
                RefundVerdict::Accepted(_) => return Ok((payment, current)),
            };
            let move_lock = self.lock_moves(&payment, &next).await?;
            let settlement = RefundSettlement {
                payment: &next,
                expected_version: payment.version(),
                refund: &settled,
                event: event.as_ref(),
                move_lock,
            };
            match self.refunds.settle_refund(&settlement).await {
                Ok(()) => {
                    match verdict {
                        RefundVerdict::GivenBack(..) => metrics::reached(PaymentStatus::Refunded),
                        RefundVerdict::Refused(..)
                        | RefundVerdict::GivenUp(_)
                        | RefundVerdict::FailedAtProvider(_) => metrics::count("RefundFailed"),
                        RefundVerdict::Accepted(_) => {}
                    }
                    tracing::info!(
                        payment_id = %next.id(),
                        order_id = %next.order_id(),
                        refund_id = %settled.refund_id,
                        status = settled.status.as_str(),
                        "refund settled"
                    );
                    if let Some(event) = &event {
                        publish_and_clear(
                            self.outbox.as_ref(),
                            self.publisher.as_ref(),
                            event,
                            self.clock.now(),
                        )
                        .await;
                    }
                    return Ok((next, settled));
                }
                // The payment moved (another refund, a transition): read again.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }

    /// Records a refund Mercado Pago lists that no call of ours made (one
    /// made in its dashboard): in one write, already succeeded, under its own
    /// id as key, never asked of Mercado Pago.
    pub async fn record_made_at_provider(
        &self,
        payment_id: &PaymentId,
        provider_refund_id: &ProviderRefundId,
        listed_amount: &str,
    ) -> Result<MadeAtProvider, AppError> {
        let key = RefundKey {
            key: IdempotencyKey::of_service(&format!("provider-{provider_refund_id}"))?,
            fingerprint: Fingerprint::of_canonical(provider_refund_id.as_str().as_bytes()),
        };
        for _ in 0..MAX_ATTEMPTS {
            if self
                .refunds
                .refund_by_key(payment_id, &key.key)
                .await?
                .is_some()
            {
                return Ok(MadeAtProvider::AlreadyHeld);
            }
            let payment = self.payment(payment_id).await?;
            let known = self.payments.refunds_of(payment_id).await?;
            if known
                .iter()
                .any(|r| r.provider_refund_id.as_ref() == Some(provider_refund_id))
            {
                return Ok(MadeAtProvider::AlreadyHeld);
            }
            let reserved_by_ours = known.iter().any(|r| r.status == RefundStatus::Pending);
            let now = self.clock.now();
            let recorded = Money::from_decimal_string(listed_amount, payment.amount().currency())
                .and_then(|amount| {
                    let refund = Refund::pending(
                        self.ids.refund_id(),
                        payment_id.clone(),
                        amount,
                        None,
                        RefundSource::Provider,
                        now,
                    )
                    .succeeded(Some(provider_refund_id.clone()), now);
                    let (next, event) =
                        payment.record_made_refund(&refund, self.ids.event_id(), now)?;
                    Ok((next, refund, event))
                });
            let (next, refund, event) = match recorded {
                Ok(recorded) => recorded,
                // A refund of ours still holds what this one needs: it must be
                // settled (asked again) first.
                Err(DomainError::RefundTooLarge { .. }) if reserved_by_ours => {
                    return Ok(MadeAtProvider::Blocked)
                }
                Err(error) => {
                    metrics::count("ProviderMismatch");
                    tracing::error!(
                        %payment_id,
                        order_id = %payment.order_id(),
                        %provider_refund_id,
                        %error,
                        metric = "ProviderMismatch",
                        "Mercado Pago lists a refund the payment cannot hold; nothing recorded"
                    );
                    return Ok(MadeAtProvider::Mismatch);
                }
            };
            let event = correlation::outbox_event(event);
            let move_lock = self.lock_moves(&payment, &next).await?;
            let made = MadeRefund {
                payment: &next,
                expected_version: payment.version(),
                refund: &refund,
                key: &key,
                event: &event,
                move_lock,
            };
            match self.refunds.record_made_refund(&made).await {
                Ok(()) => {
                    metrics::reached(PaymentStatus::Refunded);
                    tracing::info!(
                        %payment_id,
                        order_id = %payment.order_id(),
                        refund_id = %refund.refund_id,
                        %provider_refund_id,
                        "refund made at Mercado Pago recorded"
                    );
                    publish_and_clear(
                        self.outbox.as_ref(),
                        self.publisher.as_ref(),
                        &event,
                        self.clock.now(),
                    )
                    .await;
                    return Ok(MadeAtProvider::Recorded);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }

    /// The order's lock moves with the payment only when its status changes
    /// while it holds the lock: a newer payment of the same order keeps its own.
    async fn lock_moves(&self, before: &Payment, after: &Payment) -> Result<bool, AppError> {
        Ok(after.status() != before.status()
            && self
                .locks
                .order_lock(before.order_id())
                .await?
                .is_some_and(|lock| lock.live_payment_id == *before.id()))
    }

    /// Whether Mercado Pago still holds some of the customer's money for the
    /// order. Unknown (it cannot be read now) counts as yes.
    async fn money_left_at(&self, order_id: &ProviderOrderId, currency: Currency) -> bool {
        let Ok(order) = self.provider.get_order(order_id).await else {
            return true;
        };
        if order.outcome == ProviderOutcome::Refunded {
            return false;
        }
        let minor = |raw: &str| Money::from_decimal_string(raw, currency).map(Money::minor_units);
        let Some(Ok(total)) = order.total_amount.as_deref().map(minor) else {
            return true;
        };
        // Only what Mercado Pago gave back or is giving back: a failed
        // refund moved no money.
        let refunded: Result<i64, _> = order
            .refunds
            .iter()
            .filter(|r| r.status != ProviderRefundStatus::Failed)
            .map(|r| minor(&r.amount))
            .sum();
        refunded.map_or(true, |refunded| refunded < total)
    }

    /// A late payment's refund Mercado Pago refused while it still holds the
    /// money: kept pending for the sweeper to ask again, and a person told.
    async fn flag_late_refund_refused(
        &self,
        payment: &Payment,
        refund: &Refund,
        refusal: &str,
    ) -> Result<(), AppError> {
        late_refund_failed(
            payment,
            refund,
            Some(refusal),
            "Mercado Pago refused to give a late payment back; asked again later, needs review",
        );
        self.flag(payment).await
    }

    /// Flags the payment for a person (`needs_review`), unless it is already.
    async fn flag(&self, payment: &Payment) -> Result<(), AppError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.payment(payment.id()).await?;
            if current.sweep().needs_review {
                return Ok(());
            }
            let flagged = current.flag_for_review(self.clock.now());
            match self.due.reschedule(&flagged, current.version()).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }

    async fn payment(&self, id: &PaymentId) -> Result<Payment, AppError> {
        self.payments
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))
    }
}

/// A late payment's refund Mercado Pago would not (or could not) make: the
/// customer's money is still there, so it is counted (alarmed) and logged.
fn late_refund_failed(payment: &Payment, refund: &Refund, refusal: Option<&str>, what: &str) {
    metrics::count("LatePaymentRefundFailed");
    tracing::error!(
        payment_id = %payment.id(),
        order_id = %payment.order_id(),
        refund_id = %refund.refund_id,
        refusal,
        metric = "LatePaymentRefundFailed",
        "{what}"
    );
}

/// How long a partial refund may be asked again under its key: Mercado
/// Pago keeps a key 24 hours, and an hour is left for clocks and retries.
const KEY_TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(23 * 3600);

/// How long a late payment's refund Mercado Pago refuses is asked again.
const LATE_REFUND_RETRIED_FOR: std::time::Duration =
    std::time::Duration::from_secs(7 * 24 * 60 * 60);

/// The provider's id of the refund our call made: Mercado Pago appends the
/// refund a call makes to the order's refunds, and answers a repeated key
/// with its first answer, so it is the last one listed in the answer to our
/// key. Never matched by amount alone against the whole order: a refund made
/// in the dashboard may have the same amount.
fn refund_made_by_answer(
    order: &ProviderOrderState,
    known: &[Refund],
    refund: &Refund,
    all_that_remains: bool,
) -> Option<(ProviderRefundId, Money, ProviderRefundStatus)> {
    let last = order.refunds.last()?;
    let held_by_another = known.iter().any(|k| {
        k.refund_id != refund.refund_id && k.provider_refund_id.as_ref() == Some(&last.id)
    });
    let made = Money::from_decimal_string(&last.amount, refund.amount.currency()).ok()?;
    // Asked for "all that remains", Mercado Pago gives back what remains:
    // less than ours when some went back in its dashboard meanwhile.
    let amount_matches = made == refund.amount
        || (all_that_remains
            && made.minor_units() > 0
            && made.minor_units() < refund.amount.minor_units());
    (amount_matches && !held_by_another).then(|| (last.id.clone(), made, last.status))
}

/// The `X-Idempotency-Key` Mercado Pago knows a refund of ours by: asking
/// again with it never refunds twice. A late payment's refund has its own
/// prefix; a second one (the first failed at Mercado Pago) a new key.
pub(crate) fn provider_key(refund: &Refund) -> String {
    match refund.source {
        RefundSource::LatePayment => format!("late-{}", refund.refund_id),
        RefundSource::Api | RefundSource::Provider => refund.refund_id.to_string(),
    }
}

fn refusal(payment: &Payment, error: DomainError) -> AppError {
    match error {
        DomainError::NotRefundable(status) => AppError::PaymentNotRefundable {
            payment_id: payment.id().clone(),
            status,
        },
        DomainError::RefundTooLarge { remaining } => AppError::RefundTooLarge { remaining },
        other => other.into(),
    }
}
