//! Cancel a payment the kiosk abandoned, so its QR code stops being payable.
//! Mercado Pago is told first; what it answers is what gets recorded, so a
//! customer who paid in the meantime is recorded as paid, never canceled.

use std::sync::Arc;

use crate::domain::{
    AllowedCallers, CallerId, Payment, PaymentId, PaymentStatus, ProviderOrderId, Refund,
};
use crate::ports::{cancel_key, PaymentProvider, PaymentReads, Ports, ProviderError};

use super::notification::verdict;
use super::transitions::{NotificationOutcome, Transitions, Verdict};
use super::AppError;

pub struct CancelPayment {
    payments: Arc<dyn PaymentReads>,
    provider: Arc<dyn PaymentProvider>,
    transitions: Transitions,
    callers: AllowedCallers,
}

impl CancelPayment {
    pub fn new(ports: &Ports) -> Self {
        Self {
            payments: ports.store.clone(),
            provider: ports.provider.clone(),
            transitions: Transitions::new(ports),
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

    /// The canceled payment and its refunds. Canceling twice is fine; a
    /// payment that is (or turns out to be) paid, or that ended otherwise, is
    /// refused.
    /// `caller` is kept on the payment as who canceled it.
    pub async fn execute(
        &self,
        id: &PaymentId,
        caller: &CallerId,
    ) -> Result<(Payment, Vec<Refund>), AppError> {
        let payment = self.cancel(id, caller).await?;
        let refunds = self.payments.refunds_of(id).await?;
        Ok((payment, refunds))
    }

    async fn cancel(&self, id: &PaymentId, caller: &CallerId) -> Result<Payment, AppError> {
        let payment = self.read(id).await?;
        match payment.status() {
            PaymentStatus::Canceled => return Ok(payment),
            PaymentStatus::Pending => {}
            other => return Err(refusal(id, other)),
        }
        let outcome = match payment.provider() {
            // Mercado Pago never confirmed an order: no QR code was ever shown.
            // Unless one is recorded before the commit: then it is canceled
            // at Mercado Pago first, like any other.
            None => {
                let outcome = self
                    .transitions
                    .apply_for(id, Some(caller), |p| match p.provider() {
                        None => Verdict::move_to(PaymentStatus::Canceled),
                        Some(_) => Verdict::Keep,
                    })
                    .await?;
                match (outcome, self.read(id).await?) {
                    (_, now) if now.status() == PaymentStatus::Pending => match now.provider() {
                        Some(provider) => {
                            self.cancel_at_provider(id, &provider.order_id, caller)
                                .await?
                        }
                        None => return Err(AppError::Contention),
                    },
                    (outcome, _) => outcome,
                }
            }
            Some(provider) => {
                self.cancel_at_provider(id, &provider.order_id, caller)
                    .await?
            }
        };
        if let NotificationOutcome::Mismatch(_) = outcome {
            return Err(ProviderError::InvalidResponse(
                "the provider's order contradicts the payment".into(),
            )
            .into());
        }
        let payment = self.read(id).await?;
        match payment.status() {
            PaymentStatus::Canceled => Ok(payment),
            PaymentStatus::Pending => Err(ProviderError::InvalidResponse(
                "the provider refused to cancel an order it reports open".into(),
            )
            .into()),
            other => Err(refusal(id, other)),
        }
    }

    /// Cancels the order at Mercado Pago and records what it then says.
    async fn cancel_at_provider(
        &self,
        id: &PaymentId,
        order_id: &ProviderOrderId,
        caller: &CallerId,
    ) -> Result<NotificationOutcome, AppError> {
        let state = match self.provider.cancel_order(order_id, &cancel_key(id)).await {
            Ok(state) => state,
            // Not cancelable any more: paid, failed or expired meanwhile.
            Err(ProviderError::Rejected { status: 409, .. }) => {
                self.provider.get_order(order_id).await?
            }
            Err(other) => return Err(other.into()),
        };
        // The kiosk asked for it: a canceled order is a cancel here, even
        // past the QR's expiry.
        self.transitions
            .apply_for(id, Some(caller), |p| verdict(p, &state, false))
            .await
    }

    async fn read(&self, id: &PaymentId) -> Result<Payment, AppError> {
        self.payments
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))
    }
}

fn refusal(id: &PaymentId, status: PaymentStatus) -> AppError {
    match status {
        PaymentStatus::Approved | PaymentStatus::Refunded => {
            AppError::PaymentAlreadyApproved(id.clone())
        }
        other => AppError::PaymentNotCancelable {
            payment_id: id.clone(),
            status: other,
        },
    }
}
