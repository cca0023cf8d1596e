//! Refund an approved payment, in full or in part. The amount is reserved on
//! the payment first (a conditional write, so racing refunds never exceed
//! what was paid), then Mercado Pago is asked with the refund id as its
//! idempotency key, so asking again never refunds twice.

use std::sync::Arc;

use serde_json::json;

use crate::domain::{
    AllowedCallers, CallerId, Fingerprint, IdempotencyKey, Payment, PaymentId, Refund,
    RefundFailure, RefundReason, RefundSource, RefundStatus,
};
use crate::ports::{PaymentProvider, PaymentReads, Ports, RefundKey, Refunds};

use super::money_at_provider::MoneyAtProvider;
use super::refund_ledger::{provider_key, RefundAsk, RefundLedger, Reserved};
use super::AppError;

/// A validated refund request.
#[derive(Debug, Clone)]
pub struct RefundCommand {
    pub payment_id: PaymentId,
    /// Minor units; `None` is all that remains.
    pub amount: Option<i64>,
    pub reason: Option<RefundReason>,
    pub key: IdempotencyKey,
    /// The caller's session (audit): kept on the refund as `requested_by`.
    pub requested_by: CallerId,
}

impl RefundCommand {
    /// SHA-256 of the request's canonical JSON: the same body, the same
    /// fingerprint, whatever its layout.
    fn fingerprint(&self) -> Fingerprint {
        let canonical = json!({
            "amount": self.amount,
            "reason": self.reason.as_ref().map(RefundReason::as_str),
        });
        Fingerprint::of_canonical(canonical.to_string().as_bytes())
    }
}

/// The refund as it stands, and its payment with every refund it has.
#[derive(Debug, Clone)]
pub struct RefundOutcome {
    pub refund: Refund,
    pub payment: Payment,
    pub refunds: Vec<Refund>,
    /// The refund's status when its key was first answered: every answer to
    /// the key, the first and each replay, is given by it (201, 202 or 422),
    /// while `refund` shows the refund as it is now.
    pub answered: RefundStatus,
    /// The refund is the one the Idempotency-Key asked for before: this is a
    /// replay of that request.
    pub replayed: bool,
}

pub struct RefundPayment {
    payments: Arc<dyn PaymentReads>,
    refunds: Arc<dyn Refunds>,
    provider: Arc<dyn PaymentProvider>,
    ledger: RefundLedger,
    money: MoneyAtProvider,
    callers: AllowedCallers,
}

impl RefundPayment {
    pub fn new(ports: &Ports) -> Self {
        Self {
            payments: ports.store.clone(),
            refunds: ports.store.clone(),
            provider: ports.provider.clone(),
            ledger: RefundLedger::new(ports),
            money: MoneyAtProvider::new(ports),
            callers: AllowedCallers::anyone(),
        }
    }

    /// Admits only `callers` (the route's `ALLOWED_CALLERS`); anyone until set.
    pub fn admitting(self, callers: AllowedCallers) -> Self {
        Self { callers, ..self }
    }

    pub fn allowed_callers(&self) -> &AllowedCallers {
        &self.callers
    }

    /// The refund: given back, still pending (Mercado Pago unavailable: asked
    /// again later with the same key), or refused. A repeat of the same request
    /// answers with the same refund; another request with its key is refused.
    pub async fn execute(&self, command: RefundCommand) -> Result<RefundOutcome, AppError> {
        let key = RefundKey {
            key: command.key.clone(),
            fingerprint: command.fingerprint(),
        };
        let reserved = self
            .ledger
            .reserve(RefundAsk {
                payment_id: &command.payment_id,
                amount: command.amount,
                reason: command.reason.clone(),
                source: RefundSource::Api,
                key: &key,
                requested_by: Some(command.requested_by.clone()),
            })
            .await?;
        let replayed = matches!(reserved, Reserved::Existing(_));
        let refund = match reserved {
            Reserved::Existing(refund) => refund,
            Reserved::New(payment, refund) => {
                // The refund id is Mercado Pago's idempotency key: a retry of
                // this very refund never gives the money back twice.
                let key = provider_key(&refund);
                let refund = self.ledger.ask_provider(&payment, refund, key).await?;
                if refund.failure == Some(RefundFailure::AboveRemaining) {
                    self.record_what_remains(&payment).await;
                }
                refund
            }
        };
        self.outcome(refund, &key.key, replayed).await
    }

    /// Mercado Pago holds less than we thought: refunds we had not seen
    /// (its dashboard's) are read from the order and recorded, so the answer
    /// says what truly remains. Best effort: the sweeper's watch records
    /// them too.
    async fn record_what_remains(&self, payment: &Payment) {
        let Some(provider) = payment.provider() else {
            return;
        };
        let recorded = match self.provider.get_order(&provider.order_id).await {
            Ok(order) => self.money.reconcile(payment.id(), &order).await,
            Err(error) => Err(error.into()),
        };
        if let Err(error) = recorded {
            tracing::warn!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                %error,
                "could not record the refunds Mercado Pago lists; the watch will"
            );
        }
    }

    /// The refund and its payment as they are now, answered as the key was
    /// first answered. Keeping that first answer is a write: when it fails
    /// the caller is told to retry (503) rather than given an answer a
    /// replay could contradict.
    async fn outcome(
        &self,
        refund: Refund,
        key: &IdempotencyKey,
        replayed: bool,
    ) -> Result<RefundOutcome, AppError> {
        let payment = self
            .payments
            .get(&refund.payment_id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(refund.payment_id.clone()))?;
        let refunds = self.payments.refunds_of(payment.id()).await?;
        // The refund as stored now: a pending one may have been settled meanwhile.
        let refund = refunds
            .iter()
            .find(|r| r.refund_id == refund.refund_id)
            .cloned()
            .unwrap_or(refund);
        let answered = self
            .refunds
            .keep_first_answer(payment.id(), key, refund.status)
            .await?;
        Ok(RefundOutcome {
            refund,
            payment,
            refunds,
            answered,
            replayed,
        })
    }
}
