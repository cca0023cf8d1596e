//! The money side of what Mercado Pago says about an order: refunds made at
//! Mercado Pago (its dashboard) that we do not hold yet, our own refunds whose
//! answer never came back, and a customer who paid an order we had already
//! closed, whose money goes back at once.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{
    Fingerprint, IdempotencyKey, Money, Payment, PaymentId, ProviderRefundId, RefundReason,
    RefundSource, RefundStatus,
};
use crate::ports::{PaymentReads, Ports, ProviderOrderState, ProviderOutcome, RefundKey};

use super::refund_ledger::{RefundAsk, RefundLedger, RefundVerdict, Reserved};
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
            // Asked before, Mercado Pago did not answer: ask again, same key.
            Reserved::Existing(refund) if refund.status == RefundStatus::Pending => {
                (payment, refund)
            }
            Reserved::Existing(_) => return Ok(false),
        };
        let late_key = format!("late-{}", payment.id());
        self.ledger.ask_provider(&payment, refund, late_key).await?;
        Ok(true)
    }

    /// Refunds the order lists that none of ours holds: our own whose answer
    /// was lost are settled; the others were made at Mercado Pago and are
    /// recorded once, under their own id as key.
    async fn record_provider_refunds(
        &self,
        payment: &Payment,
        order: &ProviderOrderState,
    ) -> Result<bool, AppError> {
        let payment_id = payment.id();
        let known = self.payments.refunds_of(payment_id).await?;
        let mut held: HashSet<ProviderRefundId> = known
            .iter()
            .filter_map(|r| r.provider_refund_id.clone())
            .collect();
        let mut matched = HashSet::new();
        let mut changed = false;
        for listed in &order.refunds {
            if !held.insert(listed.id.clone()) {
                continue;
            }
            let Ok(amount) =
                Money::from_decimal_string(&listed.amount, payment.amount().currency())
            else {
                metrics::count("ProviderMismatch");
                tracing::error!(
                    %payment_id,
                    order_id = %payment.order_id(),
                    provider_refund_id = %listed.id,
                    metric = "ProviderMismatch",
                    "Mercado Pago lists a refund amount we cannot read; nothing recorded"
                );
                continue;
            };
            let ours = known
                .iter()
                .filter(|r| r.status == RefundStatus::Pending && r.amount == amount)
                .find(|r| !matched.contains(&r.refund_id));
            let verdict = RefundVerdict::GivenBack(Some(listed.id.clone()));
            match ours {
                Some(ours) => {
                    matched.insert(ours.refund_id.clone());
                    self.ledger.settle(ours, &verdict).await?;
                    changed = true;
                }
                None => {
                    changed |= self
                        .record_made_at_provider(payment, &listed.id, amount)
                        .await?;
                }
            }
        }
        Ok(changed)
    }

    async fn record_made_at_provider(
        &self,
        payment: &Payment,
        provider_refund_id: &ProviderRefundId,
        amount: Money,
    ) -> Result<bool, AppError> {
        let key = RefundKey {
            key: fixed_key(&format!("provider-{provider_refund_id}"))?,
            fingerprint: Fingerprint::of_canonical(provider_refund_id.as_str().as_bytes()),
        };
        let reserved = self
            .ledger
            .reserve(RefundAsk {
                payment_id: payment.id(),
                amount: Some(amount.minor_units()),
                reason: None,
                source: RefundSource::Provider,
                key: &key,
            })
            .await;
        let refund = match reserved {
            Ok(Reserved::New(_, refund)) => refund,
            Ok(Reserved::Existing(refund)) if refund.status == RefundStatus::Pending => refund,
            Ok(Reserved::Existing(_)) => return Ok(false),
            Err(AppError::RefundTooLarge { .. } | AppError::PaymentNotRefundable { .. }) => {
                metrics::count("ProviderMismatch");
                tracing::error!(
                    payment_id = %payment.id(),
                    order_id = %payment.order_id(),
                    %provider_refund_id,
                    metric = "ProviderMismatch",
                    "Mercado Pago lists a refund the payment cannot hold; nothing recorded"
                );
                return Ok(false);
            }
            Err(other) => return Err(other),
        };
        let verdict = RefundVerdict::GivenBack(Some(provider_refund_id.clone()));
        self.ledger.settle(&refund, &verdict).await?;
        Ok(true)
    }
}

/// A key the service makes itself; its form always parses.
fn fixed_key(raw: &str) -> Result<IdempotencyKey, AppError> {
    Ok(IdempotencyKey::parse(raw)?)
}
