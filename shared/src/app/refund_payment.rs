//! Refund an approved payment, in full or in part. The amount is reserved on
//! the payment first (a conditional write, so racing refunds never exceed
//! what was paid), then Mercado Pago is asked with the refund id as its
//! idempotency key, so asking again never refunds twice.

use std::sync::Arc;

use serde_json::json;

use crate::domain::{
    DomainError, Fingerprint, IdempotencyKey, Money, Payment, PaymentId, Refund, RefundReason,
    RefundSource,
};
use crate::ports::{
    Clock, IdGenerator, PaymentProvider, PaymentReads, Ports, ProviderError, ProviderOrderState,
    RefundKey, RefundRequest, Refunds, StoreError,
};

use super::refund_settlement::{RefundSettler, RefundVerdict};
use super::AppError;

/// Rounds of read-reserve before giving up under contention. Every round one
/// of the racing writers on the payment wins, so this many refunds of one
/// payment at the same instant all get through.
const MAX_ATTEMPTS: usize = 32;

/// A validated refund request.
#[derive(Debug, Clone)]
pub struct RefundCommand {
    pub payment_id: PaymentId,
    /// Minor units; `None` is all that remains.
    pub amount: Option<i64>,
    pub reason: Option<RefundReason>,
    pub key: IdempotencyKey,
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
}

pub struct RefundPayment {
    payments: Arc<dyn PaymentReads>,
    refunds: Arc<dyn Refunds>,
    provider: Arc<dyn PaymentProvider>,
    settler: RefundSettler,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl RefundPayment {
    pub fn new(ports: &Ports) -> Self {
        Self {
            payments: ports.store.clone(),
            refunds: ports.store.clone(),
            provider: ports.provider.clone(),
            settler: RefundSettler::new(ports),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        }
    }

    /// The refund: given back, still pending (Mercado Pago unavailable: retried
    /// later with the same key), or refused. A repeat of the same request
    /// answers with the same refund; another request with its key is refused.
    pub async fn execute(&self, command: RefundCommand) -> Result<RefundOutcome, AppError> {
        let fingerprint = command.fingerprint();
        let key = RefundKey {
            key: command.key.clone(),
            fingerprint: fingerprint.clone(),
        };
        for _ in 0..MAX_ATTEMPTS {
            if let Some(refund) = self.existing(&command, &fingerprint).await? {
                return self.outcome(refund).await;
            }
            let payment = self
                .payments
                .get(&command.payment_id)
                .await?
                .ok_or_else(|| AppError::PaymentNotFound(command.payment_id.clone()))?;
            payment
                .accepts_refund_from(RefundSource::Api)
                .map_err(|e| refusal(&payment, e))?;
            let amount = match command.amount {
                Some(minor) => minor,
                None => payment.refundable(),
            };
            let amount = Money::new(amount, payment.amount().currency())
                .map_err(|_| refusal(&payment, DomainError::RefundTooLarge { remaining: 0 }))?;
            let now = self.clock.now();
            let reserved = payment
                .reserve_refund(amount, RefundSource::Api, now)
                .map_err(|e| refusal(&payment, e))?;
            let refund = Refund::pending(
                self.ids.refund_id(),
                payment.id().clone(),
                amount,
                command.reason.clone(),
                RefundSource::Api,
                now,
            );
            match self
                .refunds
                .reserve_refund(&reserved, payment.version(), &refund, &key)
                .await
            {
                Ok(()) => {
                    tracing::info!(
                        payment_id = %payment.id(),
                        order_id = %payment.order_id(),
                        refund_id = %refund.refund_id,
                        amount = amount.minor_units(),
                        "refund reserved"
                    );
                    let refund = self.ask_provider(&reserved, refund).await?;
                    return self.outcome(refund).await;
                }
                // The payment moved, or a twin request took the key: read again.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }

    async fn existing(
        &self,
        command: &RefundCommand,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Refund>, AppError> {
        match self
            .refunds
            .refund_by_key(&command.payment_id, &command.key)
            .await?
        {
            Some((refund, stored)) if stored == *fingerprint => Ok(Some(refund)),
            Some(_) => Err(AppError::IdempotencyKeyReused),
            None => Ok(None),
        }
    }

    /// Asks Mercado Pago to give the money back and records its answer. When it
    /// cannot answer, the refund stays pending for the sweeper to retry.
    async fn ask_provider(&self, payment: &Payment, refund: Refund) -> Result<Refund, AppError> {
        let Some(provider) = payment.provider() else {
            let verdict = RefundVerdict::Refused("the payment has no Mercado Pago order".into());
            return Ok(self.settler.settle(&refund, &verdict).await?.1);
        };
        let whole = refund.amount == payment.amount();
        let request = RefundRequest {
            refund_id: refund.refund_id.clone(),
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
                RefundVerdict::GivenBack(new_provider_refund(&order, &known, &refund))
            }
            Err(ProviderError::Rejected { status, detail }) => {
                RefundVerdict::Refused(format!("Mercado Pago refused ({status}): {detail}"))
            }
            Err(ProviderError::NotFound) => {
                RefundVerdict::Refused("Mercado Pago has no such order".into())
            }
            Err(error @ (ProviderError::Unavailable(_) | ProviderError::InvalidResponse(_))) => {
                tracing::warn!(
                    payment_id = %payment.id(),
                    refund_id = %refund.refund_id,
                    %error,
                    "refund left pending; the sweeper retries it with the same key"
                );
                return Ok(refund);
            }
        };
        Ok(self.settler.settle(&refund, &verdict).await?.1)
    }

    async fn outcome(&self, refund: Refund) -> Result<RefundOutcome, AppError> {
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
        Ok(RefundOutcome {
            refund,
            payment,
            refunds,
        })
    }
}

/// The provider's id of the refund just made: the one on the order that none
/// of our refunds holds yet, with this refund's amount.
fn new_provider_refund(
    order: &ProviderOrderState,
    known: &[Refund],
    refund: &Refund,
) -> Option<crate::domain::ProviderRefundId> {
    order
        .refunds
        .iter()
        .rev()
        .filter(|r| {
            !known
                .iter()
                .any(|k| k.provider_refund_id.as_ref() == Some(&r.id))
        })
        .find(|r| {
            Money::from_decimal_string(&r.amount, refund.amount.currency())
                .is_ok_and(|amount| amount == refund.amount)
        })
        .map(|r| r.id.clone())
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
