//! payment-sweeper: payments past `expires_at` whose webhook never came, and
//! refunds Mercado Pago did not answer. Each is decided on a fresh read: the
//! order is read at Mercado Pago (and canceled there if still open) before
//! anything is recorded. One run pages through everything due within its time
//! budget; a payment it cannot settle is looked at again later (backoff), so
//! it never holds the others up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::domain::{Payment, PaymentStatus, ProviderOrderId, RefundStatus};
use crate::ports::{
    DuePayments, PaymentProvider, Ports, ProviderError, ProviderOutcome, StoreError,
};

use super::money_at_provider::MoneyAtProvider;
use super::notification::verdict;
use super::refund_ledger::{provider_key, RefundLedger};
use super::transitions::{NotificationOutcome, Transitions, Verdict};
use super::{metrics, AppError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub examined: usize,
    pub changed: usize,
    /// Could not be settled now: looked at again later.
    pub rescheduled: usize,
    pub failed: usize,
}

pub struct SweepOverduePayments {
    due: Arc<dyn DuePayments>,
    provider: Arc<dyn PaymentProvider>,
    transitions: Transitions,
    money: MoneyAtProvider,
    ledger: RefundLedger,
    batch: usize,
}

impl SweepOverduePayments {
    pub const DEFAULT_BATCH: usize = 50;
    /// Time a run may take when nothing says otherwise: the one-minute schedule.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(50);
    /// What a run leaves of its Lambda's remaining time, to finish cleanly.
    pub const MARGIN: Duration = Duration::from_secs(10);

    pub fn new(ports: &Ports) -> Self {
        Self {
            due: ports.store.clone(),
            provider: ports.provider.clone(),
            transitions: Transitions::new(ports),
            money: MoneyAtProvider::new(ports),
            ledger: RefundLedger::new(ports),
            batch: Self::DEFAULT_BATCH,
        }
    }

    pub async fn execute(&self) -> Result<SweepReport, AppError> {
        self.execute_within(Self::DEFAULT_BUDGET).await
    }

    /// A Lambda run: everything due until `MARGIN` before the invocation's
    /// deadline (Unix milliseconds).
    pub async fn execute_until(&self, deadline_unix_millis: u64) -> Result<SweepReport, AppError> {
        let now = u64::try_from(self.transitions.clock.now().unix_millis()).unwrap_or(0);
        let left = Duration::from_millis(deadline_unix_millis.saturating_sub(now));
        self.execute_within(left.saturating_sub(Self::MARGIN)).await
    }

    /// Pages through everything due, oldest first, until nothing is left or the
    /// budget is spent. A payment already looked at in this run is not again.
    pub async fn execute_within(&self, budget: Duration) -> Result<SweepReport, AppError> {
        let started = Instant::now();
        let mut seen = HashSet::new();
        let mut report = SweepReport::default();
        loop {
            let now = self.transitions.clock.now();
            let page: Vec<Payment> = self
                .due
                .due_payments(now, self.batch)
                .await?
                .into_iter()
                .filter(|p| seen.insert(p.id().clone()))
                .collect();
            if page.is_empty() {
                break;
            }
            let done = self.settle_listed(page).await;
            report.examined += done.examined;
            report.changed += done.changed;
            report.rescheduled += done.rescheduled;
            report.failed += done.failed;
            if started.elapsed() >= budget {
                break;
            }
        }
        tracing::info!(
            examined = report.examined,
            changed = report.changed,
            rescheduled = report.rescheduled,
            failed = report.failed,
            "due payments swept"
        );
        Ok(report)
    }

    /// Settles payments a listing named, each decided on what it is when its
    /// turn comes, never on the listing's snapshot.
    pub async fn settle_listed(&self, due: Vec<Payment>) -> SweepReport {
        let mut report = SweepReport {
            examined: due.len(),
            ..SweepReport::default()
        };
        for payment in due {
            let unsettled = match self.sweep(&payment).await {
                Ok(NotificationOutcome::Applied { .. }) => {
                    report.changed += 1;
                    false
                }
                // Still open, or Mercado Pago contradicts us: not now.
                Ok(NotificationOutcome::Mismatch(_)) => true,
                Ok(NotificationOutcome::Unchanged { .. }) => true,
                Ok(NotificationOutcome::Ignored(_)) => false,
                // Mercado Pago refused or failed: not now.
                Err(AppError::Provider(error)) => {
                    tracing::warn!(payment_id = %payment.id(), order_id = %payment.order_id(), %error, "Mercado Pago could not settle it now");
                    true
                }
                Err(error) => {
                    // One payment's trouble must not stop the others.
                    report.failed += 1;
                    tracing::warn!(payment_id = %payment.id(), order_id = %payment.order_id(), %error, "sweep failed; next run retries");
                    false
                }
            };
            if unsettled {
                match self.reschedule(&payment).await {
                    Ok(true) => report.rescheduled += 1,
                    Ok(false) => {}
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(payment_id = %payment.id(), order_id = %payment.order_id(), %error, "could not reschedule");
                    }
                }
            }
        }
        report
    }

    /// Looks at the payment again later (1, 2, 4 … 60 minutes); a day past its
    /// expiry it is flagged for a person, once, with an error and its metric.
    async fn reschedule(&self, listed: &Payment) -> Result<bool, AppError> {
        let Some(payment) = self
            .transitions
            .payments
            .get(listed.id())
            .await?
            .filter(Payment::awaits_settlement)
        else {
            return Ok(false);
        };
        let next = payment.reschedule_sweep(self.transitions.clock.now());
        match self.due.reschedule(&next, payment.version()).await {
            // It moved meanwhile: the next run sees it as it is.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other.into()),
        }
        if next.sweep().needs_review && !payment.sweep().needs_review {
            metrics::count("SweeperNeedsReview");
            tracing::error!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                attempts = next.sweep().attempts,
                metric = "SweeperNeedsReview",
                "unsettled a day past its expiry; kept pending, checked hourly"
            );
        }
        Ok(true)
    }

    /// Settles one listed payment, deciding on what it is now: the snapshot
    /// that listed it may be older than its Mercado Pago order.
    async fn sweep(&self, listed: &Payment) -> Result<NotificationOutcome, AppError> {
        for _ in 0..2 {
            let Some(payment) = self.transitions.payments.get(listed.id()).await? else {
                return Ok(NotificationOutcome::Ignored("unknown payment"));
            };
            if payment.status() != PaymentStatus::Pending {
                return self.retry_pending_refunds(&payment).await;
            }
            let Some(provider) = payment.provider() else {
                // No order recorded, so no QR shown: expire it, unless one gets
                // recorded before the commit; then it is read at Mercado Pago.
                let outcome = self
                    .transitions
                    .apply(payment.id(), |p| match p.provider() {
                        None => Verdict::move_to(PaymentStatus::Expired),
                        Some(_) => Verdict::Keep,
                    })
                    .await?;
                match outcome {
                    NotificationOutcome::Unchanged {
                        status: PaymentStatus::Pending,
                        ..
                    } => continue,
                    other => return Ok(other),
                }
            };
            return self.settle_at_provider(&payment, &provider.order_id).await;
        }
        Err(AppError::Contention)
    }

    /// Reads the order; if it is still open, cancels it so it can no longer be
    /// paid, and records what Mercado Pago then says (a canceled overdue order
    /// is an expiry).
    async fn settle_at_provider(
        &self,
        payment: &Payment,
        order_id: &ProviderOrderId,
    ) -> Result<NotificationOutcome, AppError> {
        let now = self.transitions.clock.now();
        let state = match self.provider.get_order(order_id).await {
            Ok(state) if state.outcome == ProviderOutcome::Pending => {
                match self.provider.cancel_order(order_id).await {
                    Ok(state) => state,
                    // Paid (or settled) between our read and the cancel: read again.
                    Err(ProviderError::Rejected { status: 409, .. }) => {
                        self.provider.get_order(order_id).await?
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            Ok(state) => state,
            // Mercado Pago never had the order: nothing can be paid.
            Err(ProviderError::NotFound) => {
                return self
                    .transitions
                    .apply(payment.id(), |_| Verdict::move_to(PaymentStatus::Expired))
                    .await
            }
            Err(other) => return Err(other.into()),
        };
        let outcome = self
            .transitions
            .apply(payment.id(), |p| verdict(p, &state, p.expires_at() <= now))
            .await?;
        if self.money.reconcile(payment.id(), &state).await? {
            return Ok(NotificationOutcome::Applied {
                payment_id: payment.id().clone(),
                status: self
                    .transitions
                    .payments
                    .get(payment.id())
                    .await?
                    .map_or(PaymentStatus::Pending, |p| p.status()),
            });
        }
        Ok(outcome)
    }

    /// Refunds Mercado Pago did not answer are asked again, with the same key.
    async fn retry_pending_refunds(
        &self,
        payment: &Payment,
    ) -> Result<NotificationOutcome, AppError> {
        let mut retried = false;
        for refund in self.transitions.payments.refunds_of(payment.id()).await? {
            if refund.status != RefundStatus::Pending {
                continue;
            }
            let key = provider_key(&refund);
            let current = self
                .transitions
                .payments
                .get(payment.id())
                .await?
                .ok_or_else(|| AppError::PaymentNotFound(payment.id().clone()))?;
            let settled = self.ledger.ask_provider(&current, refund, key).await?;
            retried |= settled.status != RefundStatus::Pending;
        }
        let status = self
            .transitions
            .payments
            .get(payment.id())
            .await?
            .map_or(payment.status(), |p| p.status());
        Ok(if retried {
            NotificationOutcome::Applied {
                payment_id: payment.id().clone(),
                status,
            }
        } else {
            NotificationOutcome::Unchanged {
                payment_id: payment.id().clone(),
                status,
            }
        })
    }
}
