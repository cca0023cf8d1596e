//! Moving a payment to a new status: decide on the freshly read payment, commit
//! the change with its event in one conditional transaction, then publish.
//! Shared by the webhook and the sweeper.

use std::sync::Arc;

use crate::domain::{
    CallerId, Payment, PaymentId, PaymentStatus, ProviderOrderId, ProviderPaymentId,
    TransitionDetails,
};
use crate::ports::{
    Clock, EventPublisher, IdGenerator, Outbox, PaymentReads, PaymentTransitions, Ports, StoreError,
};

use super::outbox::publish_and_clear;
use super::AppError;
use super::{correlation, metrics};

/// Rounds of read-decide-commit before giving up under contention.
const MAX_ATTEMPTS: usize = 5;

/// What to do with a payment, decided on its current stored state.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Move {
        target: PaymentStatus,
        decline_reason: Option<String>,
        provider_order_id: Option<ProviderOrderId>,
        provider_payment_id: Option<ProviderPaymentId>,
    },
    /// The evidence contradicts the payment: change nothing, log an error.
    Contradicts(&'static str),
    /// The payment is no longer what the decision was about: change nothing.
    Keep,
}

impl Verdict {
    /// A move decided on our side, with no news from the provider.
    pub fn move_to(target: PaymentStatus) -> Self {
        Self::Move {
            target,
            decline_reason: None,
            provider_order_id: None,
            provider_payment_id: None,
        }
    }
}

/// Every outcome of applying what the provider says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    Applied {
        payment_id: PaymentId,
        status: PaymentStatus,
    },
    /// Duplicate, replay, out of order, or still pending at the provider.
    Unchanged {
        payment_id: PaymentId,
        status: PaymentStatus,
    },
    /// Not about a payment we know; nothing to do.
    Ignored(&'static str),
    /// The provider's order contradicts our payment; logged as an error.
    Mismatch(PaymentId),
    /// The same signed delivery was processed already: nothing was read.
    Duplicate,
}

pub(crate) struct Transitions {
    pub payments: Arc<dyn PaymentReads>,
    pub transitions: Arc<dyn PaymentTransitions>,
    pub outbox: Arc<dyn Outbox>,
    pub publisher: Arc<dyn EventPublisher>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

impl Transitions {
    pub fn new<Provider>(ports: &Ports<Provider>) -> Self {
        Self {
            payments: ports.store.clone(),
            transitions: ports.store.clone(),
            outbox: ports.store.clone(),
            publisher: ports.publisher.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        }
    }

    pub async fn apply(
        &self,
        payment_id: &PaymentId,
        decide: impl Fn(&Payment) -> Verdict,
    ) -> Result<NotificationOutcome, AppError> {
        self.apply_for(payment_id, None, decide).await
    }

    /// `apply`, on behalf of the caller that asked for the move (kept on the
    /// payment for audit when the move is a cancel).
    pub async fn apply_for(
        &self,
        payment_id: &PaymentId,
        requested_by: Option<&CallerId>,
        decide: impl Fn(&Payment) -> Verdict,
    ) -> Result<NotificationOutcome, AppError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(payment) = self.payments.get(payment_id).await? else {
                tracing::warn!(%payment_id, "no such payment");
                return Ok(NotificationOutcome::Ignored("unknown payment"));
            };
            let (target, details) = match decide(&payment) {
                Verdict::Contradicts(reason) => {
                    metrics::count("ProviderMismatch");
                    tracing::error!(
                        %payment_id,
                        order_id = %payment.order_id(),
                        reason,
                        metric = "ProviderMismatch",
                        "provider order contradicts the payment; nothing changed"
                    );
                    return Ok(NotificationOutcome::Mismatch(payment_id.clone()));
                }
                Verdict::Keep => {
                    return Ok(NotificationOutcome::Unchanged {
                        payment_id: payment_id.clone(),
                        status: payment.status(),
                    })
                }
                Verdict::Move {
                    target,
                    decline_reason,
                    provider_order_id,
                    provider_payment_id,
                } => (
                    target,
                    TransitionDetails {
                        at: self.clock.now(),
                        event_id: self.ids.event_id(),
                        decline_reason,
                        provider_order_id,
                        provider_payment_id,
                        requested_by: requested_by.cloned(),
                    },
                ),
            };
            // Duplicates, replays and out-of-order news land here: no change, no event.
            if !payment.status().can_become(target) {
                return Ok(NotificationOutcome::Unchanged {
                    payment_id: payment_id.clone(),
                    status: payment.status(),
                });
            }
            let (next, event) = payment.transition(target, details)?;
            let outbox = correlation::outbox_event(event);
            match self
                .transitions
                .commit_transition(&next, payment.version(), &outbox)
                .await
            {
                Ok(()) => {
                    metrics::reached(target);
                    tracing::info!(
                        %payment_id,
                        order_id = %next.order_id(),
                        status = %target,
                        event_id = %outbox.event_id,
                        "payment transitioned"
                    );
                    publish_and_clear(
                        self.outbox.as_ref(),
                        self.publisher.as_ref(),
                        &outbox,
                        self.clock.now(),
                    )
                    .await;
                    return Ok(NotificationOutcome::Applied {
                        payment_id: payment_id.clone(),
                        status: target,
                    });
                }
                // A concurrent change won the race: read again and decide anew.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }
}
