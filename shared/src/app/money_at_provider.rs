//! The money side of what Mercado Pago says about an order: refunds made at
//! Mercado Pago (its dashboard) that we do not hold yet, our own refunds whose
//! answer never came back, and a customer who paid an order we had already
//! closed, whose money goes back at once.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{
    Fingerprint, IdempotencyKey, Payment, PaymentId, ProviderRefundId, Refund, RefundFailure,
    RefundReason, RefundSource, RefundStatus,
};
use crate::ports::{
    PaymentReads, Ports, ProviderOrderState, ProviderOutcome, ProviderRefundStatus, RefundKey,
};

use super::notification::contradiction;
use super::refund_ledger::{provider_key, MadeAtProvider, RefundAsk, RefundLedger, Reserved};
use super::{metrics, AppError};

/// The key of a payment's late-payment refund; the n-th (the ones before
/// failed at Mercado Pago after taking them) is `late-payment-{n}`.
const LATE_PAYMENT_KEY: &str = "late-payment";
/// Late-payment refunds Mercado Pago may take and fail before a person
/// alone must give the money back (each failure is alarmed already).
const LATE_PAYMENT_ATTEMPTS: u32 = 5;

pub(crate) struct MoneyAtProvider {
    payments: Arc<dyn PaymentReads>,
    ledger: RefundLedger,
}

impl MoneyAtProvider {
    pub fn new(ports: &Ports) -> Self {
        Self {
            payments: ports.store.clone(),
            ledger: RefundLedger::new(ports),
        }
    }

    /// Brings the payment's refunds in line with the order. True when
    /// anything was recorded.
    pub async fn reconcile(
        &self,
        payment_id: &PaymentId,
        order: &ProviderOrderState,
    ) -> Result<bool, AppError> {
        let Some(payment) = self.payments.get(payment_id).await? else {
            return Ok(false);
        };
        // An order that cannot be about this payment moves none of its money.
        if let Some(reason) = contradiction(&payment, order) {
            metrics::count("ProviderMismatch");
            tracing::error!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                reason,
                metric = "ProviderMismatch",
                "provider order contradicts the payment; no money recorded or asked for"
            );
            return Ok(false);
        }
        // Refunds Mercado Pago took settle first: a failed one frees its
        // amount (and a late payment's is asked again below).
        let mut changed = self.ledger.settle_accepted(payment_id, order).await?;
        if order.outcome == ProviderOutcome::Approved && payment.status().ended_unpaid() {
            changed |= self.refund_late_payment(payment_id).await?;
        }
        changed |= self.record_provider_refunds(&payment, order).await?;
        Ok(changed)
    }

    /// Paid after we expired, canceled or declined it: nobody will serve the
    /// order, so all of it goes back, announced only as `payment.refunded`.
    /// One refund at a time, under its own key: a new one only when the one
    /// before was taken and then failed at Mercado Pago.
    async fn refund_late_payment(&self, payment_id: &PaymentId) -> Result<bool, AppError> {
        for attempt in 1..=LATE_PAYMENT_ATTEMPTS {
            let name = match attempt {
                1 => LATE_PAYMENT_KEY.to_owned(),
                n => format!("{LATE_PAYMENT_KEY}-{n}"),
            };
            let key = RefundKey {
                key: fixed_key(&name)?,
                fingerprint: Fingerprint::of_canonical(name.as_bytes()),
            };
            let Some(payment) = self.payments.get(payment_id).await? else {
                return Ok(false);
            };
            if !payment.status().ended_unpaid() {
                return Ok(false);
            }
            match self.late_refund(payment, &key).await? {
                LateRefund::FailedAtProvider => continue,
                LateRefund::Done(changed) => return Ok(changed),
            }
        }
        Ok(false)
    }

    async fn late_refund(&self, payment: Payment, key: &RefundKey) -> Result<LateRefund, AppError> {
        let reserved = self
            .ledger
            .reserve(RefundAsk {
                payment_id: payment.id(),
                amount: None,
                reason: RefundReason::parse("paid after the order was closed").ok(),
                requested_by: None,
                source: RefundSource::LatePayment,
                key,
            })
            .await?;
        let (payment, refund) = match reserved {
            Reserved::New(payment, refund) => {
                metrics::count("LatePaymentRefunded");
                tracing::error!(
                    payment_id = %payment.id(),
                    order_id = %payment.order_id(),
                    refund_id = %refund.refund_id,
                    metric = "LatePaymentRefunded",
                    "the customer paid an order that was already closed; refunding it all"
                );
                (*payment, refund)
            }
            // Asked before, Mercado Pago did not answer: ask again, same key,
            // unless someone is asking right now (or Mercado Pago took it).
            Reserved::Existing(refund) if refund.status == RefundStatus::Pending => {
                match self.ledger.claim(&refund).await? {
                    Some(claimed) => (payment, claimed),
                    None => return Ok(LateRefund::Done(false)),
                }
            }
            Reserved::Existing(refund)
                if refund.failure == Some(RefundFailure::FailedAtProvider) =>
            {
                return Ok(LateRefund::FailedAtProvider)
            }
            Reserved::Existing(_) => return Ok(LateRefund::Done(false)),
        };
        let late_key = provider_key(&refund);
        self.ledger.ask_provider(&payment, refund, late_key).await?;
        Ok(LateRefund::Done(true))
    }

    /// Refunds the order lists that none of ours holds. A refund of ours is
    /// known only by what Mercado Pago answered to its own key, never by its
    /// amount: while any of ours is pending, it is asked again with its key
    /// first (the answer names the refund it made, or makes it now). Once
    /// none is pending, whatever is still unknown was made in Mercado Pago's
    /// dashboard and is recorded as such, once, in one write.
    async fn record_provider_refunds(
        &self,
        payment: &Payment,
        order: &ProviderOrderState,
    ) -> Result<bool, AppError> {
        let payment_id = payment.id();
        let mut changed = false;
        // Each round settles every pending refund of ours or stops.
        for _ in 0..4 {
            let known = self.payments.refunds_of(payment_id).await?;
            let held: HashSet<&ProviderRefundId> = known
                .iter()
                .filter_map(|r| r.provider_refund_id.as_ref())
                .collect();
            let unknown: Vec<_> = order
                .refunds
                .iter()
                .filter(|listed| !held.contains(&listed.id))
                .collect();
            if unknown.is_empty() {
                return Ok(changed);
            }
            // Ours that Mercado Pago has not said it took: one of the
            // unknown refunds may be its (the answer was lost).
            let ours: Vec<Refund> = known
                .iter()
                .filter(|r| {
                    r.status == RefundStatus::Pending
                        && r.source != RefundSource::Provider
                        && r.provider_refund_id.is_none()
                })
                .cloned()
                .collect();
            if ours.is_empty() {
                let mut blocked = false;
                // Money is back only once Mercado Pago processed it; a
                // failed one never moved any, a processing one is recorded
                // when it settles (its notification, or the watch).
                let given_back = unknown
                    .into_iter()
                    .filter(|listed| listed.status == ProviderRefundStatus::Processed);
                for listed in given_back {
                    match self
                        .ledger
                        .record_made_at_provider(payment_id, &listed.id, &listed.amount)
                        .await?
                    {
                        MadeAtProvider::Recorded => changed = true,
                        MadeAtProvider::Blocked => blocked = true,
                        MadeAtProvider::AlreadyHeld | MadeAtProvider::Mismatch => {}
                    }
                }
                // A refund of ours was reserved meanwhile: settle it, then again.
                if blocked {
                    continue;
                }
                return Ok(changed);
            }
            for refund in ours {
                // Someone is asking for it right now: their answer settles it,
                // and a later read records the rest.
                let Some(refund) = self.ledger.claim(&refund).await? else {
                    return Ok(changed);
                };
                let Some(current) = self.payments.get(payment_id).await? else {
                    return Ok(changed);
                };
                let key = provider_key(&refund);
                let settled = self.ledger.ask_provider(&current, refund, key).await?;
                if settled.is_accepted() {
                    // Taken: the listing in hand may already say how it ended.
                    self.ledger.settle_accepted(payment_id, order).await?;
                    changed = true;
                    continue;
                }
                if settled.status == RefundStatus::Pending {
                    // Mercado Pago cannot say now which refund is ours: the
                    // sweeper asks again, and the next read records the rest.
                    return Ok(changed);
                }
                changed = true;
            }
        }
        Ok(changed)
    }
}

/// What became of one late-payment refund.
enum LateRefund {
    /// Taken by Mercado Pago, then failed: the next key asks again.
    FailedAtProvider,
    /// Asked (true), or nothing to do (false).
    Done(bool),
}

/// A key the service makes itself, in a scope no caller can name; its form
/// always parses.
fn fixed_key(raw: &str) -> Result<IdempotencyKey, AppError> {
    Ok(IdempotencyKey::of_service(raw)?)
}
