//! payment-sweeper: what no webhook settled. Pending payments past
//! `expires_at`, refunds Mercado Pago did not answer, and ended payments
//! still watched for money that moved without a webhook (a late payment, a
//! dashboard refund). Each is decided on a fresh read: the order is read at
//! Mercado Pago (and canceled there if still open) before anything is
//! recorded. Every look ends with the item's own next look scheduled, so
//! one item's trouble never holds the others up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::domain::{Payment, PaymentStatus, ProviderOrderId, RefundStatus, Timestamp};
use crate::ports::{
    cancel_key, DueItem, DuePayments, PaymentProvider, Ports, ProviderError, ProviderOutcome,
    StoreError, UnreadableItem,
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
    /// Could not be settled now, or still watched: looked at again later.
    pub rescheduled: usize,
    pub failed: usize,
}

impl SweepReport {
    fn add(&mut self, other: Self) {
        self.examined += other.examined;
        self.changed += other.changed;
        self.rescheduled += other.rescheduled;
        self.failed += other.failed;
    }
}

pub struct SweepOverduePayments {
    due: Arc<dyn DuePayments>,
    provider: Arc<dyn PaymentProvider>,
    transitions: Transitions,
    money: MoneyAtProvider,
    ledger: RefundLedger,
    batch: usize,
    interval: Duration,
}

impl SweepOverduePayments {
    pub const DEFAULT_BATCH: usize = 50;
    /// Time a run may take when nothing says otherwise: the one-minute schedule.
    pub const DEFAULT_BUDGET: Duration = Duration::from_secs(50);
    /// What a run leaves of its Lambda's remaining time, to finish cleanly.
    pub const MARGIN: Duration = Duration::from_secs(10);
    /// The longest one payment may take: a Mercado Pago call's three tries
    /// of 5 s. No payment is started with less than this left.
    pub const PER_PAYMENT: Duration = Duration::from_secs(15);
    /// How often the sweeper runs (the template's schedule): the unit of its
    /// backoff and of its watch.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

    pub fn new(ports: &Ports) -> Self {
        Self {
            due: ports.store.clone(),
            provider: ports.provider.clone(),
            transitions: Transitions::new(ports),
            money: MoneyAtProvider::new(ports),
            ledger: RefundLedger::new(ports),
            batch: Self::DEFAULT_BATCH,
            interval: Self::DEFAULT_INTERVAL,
        }
    }

    /// The schedule it runs on, when not the template's minute.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    pub async fn execute(&self) -> Result<SweepReport, AppError> {
        self.execute_within(Self::DEFAULT_BUDGET).await
    }

    /// A Lambda run: everything due until `MARGIN` before the invocation's
    /// deadline (Unix milliseconds). A deadline already past is not one
    /// (cargo-lambda's emulator sends the timeout itself, 600000): the
    /// default budget applies.
    pub async fn execute_until(&self, deadline_unix_millis: u64) -> Result<SweepReport, AppError> {
        let now = u64::try_from(self.transitions.clock.now().unix_millis()).unwrap_or(0);
        if deadline_unix_millis <= now {
            tracing::debug!(deadline_unix_millis, "no usable deadline; default budget");
            return self.execute().await;
        }
        let left = Duration::from_millis(deadline_unix_millis - now);
        self.execute_within(left.saturating_sub(Self::MARGIN)).await
    }

    /// Pages through everything due, earliest first, until nothing is left
    /// or too little of the budget remains to settle one more payment. An
    /// item already looked at in this run is not again.
    pub async fn execute_within(&self, budget: Duration) -> Result<SweepReport, AppError> {
        let deadline = self.transitions.clock.now().plus(budget);
        let mut seen = HashSet::new();
        let mut report = SweepReport::default();
        // What was due when the run started: what it changes becomes due
        // again only after that (the first look of its watch), next run.
        let started = self.transitions.clock.now();
        'pages: loop {
            // Items looked at but still due (their reschedule failed, or the
            // clock stood still) come back first: ask for that many more, so
            // they never fill a page and end the run early.
            let page: Vec<DueItem> = self
                .due
                .due_payments(started, self.batch + seen.len())
                .await?
                .into_iter()
                .filter(|item| seen.insert(item.order_key().1))
                .collect();
            if page.is_empty() {
                break;
            }
            for item in page {
                if self.transitions.clock.now().plus(Self::PER_PAYMENT) > deadline {
                    // The rest stay due; the next run starts with them.
                    break 'pages;
                }
                report.add(self.examine(item).await);
            }
        }
        let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        // A run that found nothing due is debug, as the relay's.
        if report.examined > 0 {
            tracing::info!(
                budget_ms,
                examined = report.examined,
                changed = report.changed,
                rescheduled = report.rescheduled,
                failed = report.failed,
                "due payments swept"
            );
        } else {
            tracing::debug!(budget_ms, "nothing due");
        }
        Ok(report)
    }

    /// Settles payments a listing named, each decided on what it is when its
    /// turn comes, never on the listing's snapshot.
    pub async fn settle_listed(&self, due: Vec<Payment>) -> SweepReport {
        let mut report = SweepReport::default();
        for payment in due {
            report.add(self.examine(DueItem::Payment(Box::new(payment))).await);
        }
        report
    }

    /// One item: looked at, then its next look scheduled. Every error stays
    /// with the item it happened to.
    async fn examine(&self, item: DueItem) -> SweepReport {
        let mut report = SweepReport {
            examined: 1,
            ..SweepReport::default()
        };
        let listed = match item {
            DueItem::Payment(payment) => *payment,
            DueItem::Unreadable(item) => {
                report.failed += self.set_aside(&item).await;
                return report;
            }
        };
        let now = self.transitions.clock.now();
        let before = match self.transitions.payments.get(listed.id()).await {
            // Settled or rescheduled since it was listed: not due any more.
            Ok(Some(payment)) if payment.due_at().is_some_and(|at| at <= now) => payment,
            Ok(_) => return report,
            Err(error) => {
                tracing::warn!(payment_id = %listed.id(), order_id = %listed.order_id(), %error, "could not read a due payment; the next run tries again");
                report.failed += 1;
                return report;
            }
        };
        match self.sweep(&before).await {
            Ok(NotificationOutcome::Applied { .. }) => report.changed += 1,
            Ok(_) => {}
            Err(AppError::Provider(error)) => {
                tracing::warn!(payment_id = %before.id(), order_id = %before.order_id(), %error, "Mercado Pago could not settle it now");
            }
            Err(error) => {
                report.failed += 1;
                tracing::warn!(payment_id = %before.id(), order_id = %before.order_id(), %error, "sweep failed; looked at again later");
            }
        }
        match self.schedule_next_look(&before).await {
            Ok(true) => report.rescheduled += 1,
            Ok(false) => {}
            Err(error) => {
                report.failed += 1;
                tracing::warn!(payment_id = %before.id(), order_id = %before.order_id(), %error, "could not reschedule; the next run looks again");
            }
        }
        report
    }

    /// An index item the store cannot read: a person must fix it; meanwhile
    /// it waits an hour, so it never stands at the head of every page.
    async fn set_aside(&self, item: &UnreadableItem) -> usize {
        metrics::count("SweeperUnreadableItem");
        tracing::error!(
            key = %item.key,
            reason = %item.reason,
            metric = "SweeperUnreadableItem",
            "a due item cannot be read; set aside for an hour"
        );
        let until = self
            .transitions
            .clock
            .now()
            .plus(crate::domain::SweepSchedule::MAX_DELAY);
        if let Err(error) = self.due.set_aside(item, until).await {
            tracing::warn!(key = %item.key, %error, "could not set the unreadable item aside");
        }
        1
    }

    /// The item's next look: its backoff while something awaits settlement,
    /// the next point of its watch once ended. Not when its status or money
    /// moved since `before`: that change started its schedule afresh.
    async fn schedule_next_look(&self, before: &Payment) -> Result<bool, AppError> {
        let Some(payment) = self.transitions.payments.get(before.id()).await? else {
            return Ok(false);
        };
        if payment.settled_more_than(before) {
            return Ok(false);
        }
        let now: Timestamp = self.transitions.clock.now();
        let next = payment.after_sweep(now, self.interval);
        match self.due.reschedule(&next, payment.version()).await {
            Ok(()) => {}
            // It moved meanwhile: that change set its schedule.
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(other) => return Err(other.into()),
        }
        if next.sweep().needs_review && !payment.sweep().needs_review {
            metrics::count("SweeperNeedsReview");
            tracing::error!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                attempts = next.sweep().attempts,
                metric = "SweeperNeedsReview",
                "unsettled a day after it was due; kept as it is, checked hourly"
            );
        }
        Ok(next.due_at().is_some())
    }

    /// Settles one listed payment, deciding on what it is now: the snapshot
    /// that listed it may be older than its Mercado Pago order.
    async fn sweep(&self, listed: &Payment) -> Result<NotificationOutcome, AppError> {
        for _ in 0..2 {
            let Some(payment) = self.transitions.payments.get(listed.id()).await? else {
                return Ok(NotificationOutcome::Ignored("unknown payment"));
            };
            if payment.status() != PaymentStatus::Pending {
                return self.look_at_ended(&payment).await;
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
                match self
                    .provider
                    .cancel_order(order_id, &cancel_key(payment.id()))
                    .await
                {
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
        if let NotificationOutcome::Mismatch(_) | NotificationOutcome::Ignored(_) = outcome {
            return Ok(outcome);
        }
        if self.money.reconcile(payment.id(), &state).await? {
            return self.applied(payment).await;
        }
        Ok(outcome)
    }

    /// An ended payment: refunds Mercado Pago did not answer are asked again,
    /// then its order is read for money that moved without a webhook.
    async fn look_at_ended(&self, payment: &Payment) -> Result<NotificationOutcome, AppError> {
        let retried = self.retry_pending_refunds(payment).await?;
        let Some(provider) = payment.provider() else {
            return Ok(retried);
        };
        // A refund of ours still unanswered: Mercado Pago refuses or is down
        // now, and reading the order would only ask it again. Next look.
        // (One Mercado Pago took is settled by the read below.)
        let unanswered = self
            .transitions
            .payments
            .refunds_of(payment.id())
            .await?
            .iter()
            .any(|r| r.status == RefundStatus::Pending && !r.is_accepted());
        if unanswered {
            return Ok(retried);
        }
        let state = match self.provider.get_order(&provider.order_id).await {
            Ok(state) => state,
            Err(ProviderError::NotFound) => return Ok(retried),
            Err(other) => return Err(other.into()),
        };
        if self.money.reconcile(payment.id(), &state).await? {
            return self.applied(payment).await;
        }
        Ok(retried)
    }

    /// The payment changed money here: applied, with the status it has now.
    async fn applied(&self, payment: &Payment) -> Result<NotificationOutcome, AppError> {
        let now = self.transitions.payments.get(payment.id()).await?;
        Ok(NotificationOutcome::Applied {
            payment_id: payment.id().clone(),
            status: now.map_or(payment.status(), |p| p.status()),
        })
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
            // Asked by someone else right now, or settled meanwhile: not here.
            let Some(refund) = self.ledger.claim(&refund).await? else {
                continue;
            };
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
