//! payment-sweeper: pending payments past `expires_at` whose webhook never came.
//! Read the order at the provider and apply its status; if it is still open
//! there, cancel it and mark the payment expired.

use std::sync::Arc;

use serde::Serialize;

use crate::domain::{Payment, PaymentStatus};
use crate::ports::{DuePayments, PaymentProvider, Ports, ProviderError, ProviderOutcome};

use super::notification::verdict;
use super::transitions::{NotificationOutcome, Transitions, Verdict};
use super::AppError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub examined: usize,
    pub changed: usize,
    pub failed: usize,
}

pub struct SweepOverduePayments {
    due: Arc<dyn DuePayments>,
    provider: Arc<dyn PaymentProvider>,
    transitions: Transitions,
    batch: usize,
}

impl SweepOverduePayments {
    pub const DEFAULT_BATCH: usize = 50;

    pub fn new(ports: &Ports) -> Self {
        Self {
            due: ports.store.clone(),
            provider: ports.provider.clone(),
            transitions: Transitions::new(ports),
            batch: Self::DEFAULT_BATCH,
        }
    }

    pub async fn execute(&self) -> Result<SweepReport, AppError> {
        let now = self.transitions.clock.now();
        let due = self.due.due_payments(now, self.batch).await?;
        let mut report = SweepReport {
            examined: due.len(),
            ..SweepReport::default()
        };
        for payment in due {
            match self.sweep(&payment).await {
                Ok(NotificationOutcome::Applied { .. }) => report.changed += 1,
                Ok(_) => {}
                Err(error) => {
                    // One payment's trouble must not stop the others.
                    report.failed += 1;
                    tracing::warn!(payment_id = %payment.id(), %error, "sweep failed; next run retries");
                }
            }
        }
        tracing::info!(
            examined = report.examined,
            changed = report.changed,
            failed = report.failed,
            "overdue payments swept"
        );
        Ok(report)
    }

    async fn sweep(&self, payment: &Payment) -> Result<NotificationOutcome, AppError> {
        let now = self.transitions.clock.now();
        let Some(provider) = payment.provider() else {
            // The provider never confirmed an order, so no QR was ever shown.
            return self.expire(payment).await;
        };
        let state = match self.provider.get_order(&provider.order_id).await {
            Ok(state) => state,
            Err(ProviderError::NotFound) => return self.expire(payment).await,
            Err(other) => return Err(other.into()),
        };
        if state.outcome != ProviderOutcome::Pending {
            return self
                .transitions
                .apply(payment.id(), |p| verdict(p, &state, p.expires_at() <= now))
                .await;
        }
        match self.provider.cancel_order(&provider.order_id).await {
            Ok(_) => self.expire(payment).await,
            // Paid between our read and the cancel: the order decides.
            Err(ProviderError::Rejected { status: 409, .. }) => {
                let state = self.provider.get_order(&provider.order_id).await?;
                self.transitions
                    .apply(payment.id(), |p| verdict(p, &state, p.expires_at() <= now))
                    .await
            }
            Err(other) => Err(other.into()),
        }
    }

    async fn expire(&self, payment: &Payment) -> Result<NotificationOutcome, AppError> {
        self.transitions
            .apply(payment.id(), |_| Verdict::move_to(PaymentStatus::Expired))
            .await
    }
}
