//! The money side of what Mercado Pago says about an order: refunds made at
//! Mercado Pago (its dashboard) that we do not hold yet, our own refunds whose
//! answer never came back, and a customer who paid an order we had already
//! closed, whose money goes back at once.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{
    Fingerprint, IdempotencyKey, Payment, PaymentId, ProviderRefundId, Refund, RefundReason,
    RefundSource, RefundStatus,
};
use crate::ports::{PaymentReads, Ports, ProviderOrderState, ProviderOutcome, RefundKey};

use super::notification::contradiction;
use super::refund_ledger::{provider_key, MadeAtProvider, RefundAsk, RefundLedger, Reserved};
use super::{metrics, AppError};

/// The one key of a payment's late-payment refund: there is only ever one.
const LATE_PAYMENT_KEY: &str = "late-payment";

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
        let mut changed = false;
        if order.outcome == ProviderOutcome::Approved && payment.status().ended_unpaid() {
            changed |= self.refund_late_payment(payment.clone()).await?;
        }
        changed |= self.record_provider_refunds(&payment, order).await?;
        Ok(changed)
    }

    /// Paid after we expired, canceled or declined it: nobody will serve the
    /// order, so all of it goes back, announced only as `payment.refunded`.
    async fn refund_late_payment(&self, payment: Payment) -> Result<bool, AppError> {
        let key = RefundKey {
            key: fixed_key(LATE_PAYMENT_KEY)?,
            fingerprint: Fingerprint::of_canonical(LATE_PAYMENT_KEY.as_bytes()),
        };
        let reserved = self
            .ledger
            .reserve(RefundAsk {
                payment_id: payment.id(),
                amount: None,
                reason: RefundReason::parse("paid after the order was closed").ok(),
                source: RefundSource::LatePayment,
                key: &key,
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
            // unless someone is asking right now.
            Reserved::Existing(refund) if refund.status == RefundStatus::Pending => {
                match self.ledger.claim(&refund).await? {
                    Some(claimed) => (payment, claimed),
                    None => return Ok(false),
                }
            }
            Reserved::Existing(_) => return Ok(false),
        };
        let late_key = provider_key(&refund);
        self.ledger.ask_provider(&payment, refund, late_key).await?;
        Ok(true)
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
            let ours: Vec<Refund> = known
                .iter()
                .filter(|r| r.status == RefundStatus::Pending && r.source != RefundSource::Provider)
                .cloned()
                .collect();
            if ours.is_empty() {
                let mut blocked = false;
                for listed in unknown {
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

/// A key the service makes itself; its form always parses.
fn fixed_key(raw: &str) -> Result<IdempotencyKey, AppError> {
    Ok(IdempotencyKey::parse(raw)?)
}
