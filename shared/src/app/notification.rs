//! Apply a provider notification (DESIGN 5): check the signature, read the truth
//! from the provider, and commit the resulting transition with its event.

use std::sync::Arc;

use crate::domain::{Money, Payment, PaymentId, PaymentStatus, TransitionDetails};
use crate::ports::{
    Clock, EventPublisher, IdGenerator, OutboxEvent, PaymentProvider, PaymentStore, ProviderError,
    ProviderOrderState, ProviderOutcome, StoreError,
};

use super::outbox::publish_and_clear;
use super::signature::SignedParts;
use super::{AppError, SignaturePolicy};

const MAX_ATTEMPTS: usize = 5;

/// What arrived, before anything is trusted.
#[derive(Debug, Clone, Default)]
pub struct Notification {
    /// `type` (or legacy `topic`) from the query string.
    pub kind: Option<String>,
    /// `data.id` from the query string: the provider's order id.
    pub data_id: Option<String>,
    pub signature: Option<String>,
    pub request_id: Option<String>,
}

/// Every outcome is answered 200 so the provider stops retrying.
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
    /// Not about an order we know; nothing to do.
    Ignored(&'static str),
    /// The provider's order contradicts our payment; logged as an error.
    Mismatch(PaymentId),
}

pub struct ApplyNotification {
    store: Arc<dyn PaymentStore>,
    provider: Arc<dyn PaymentProvider>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    signature: SignaturePolicy,
}

impl ApplyNotification {
    pub fn new(
        store: Arc<dyn PaymentStore>,
        provider: Arc<dyn PaymentProvider>,
        publisher: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        signature: SignaturePolicy,
    ) -> Self {
        Self {
            store,
            provider,
            publisher,
            clock,
            ids,
            signature,
        }
    }

    pub async fn execute(
        &self,
        notification: Notification,
    ) -> Result<NotificationOutcome, AppError> {
        self.signature.verify(
            SignedParts {
                data_id: notification.data_id.as_deref(),
                request_id: notification.request_id.as_deref(),
                signature_header: notification.signature.as_deref(),
            },
            self.clock.now(),
        )?;
        if notification.kind.as_deref() != Some("order") {
            return Ok(NotificationOutcome::Ignored("not an order notification"));
        }
        let order_id = notification
            .data_id
            .filter(|id| !id.is_empty())
            .ok_or(AppError::NotificationWithoutId)?;
        let state = match self.provider.get_order(&order_id).await {
            Ok(state) => state,
            Err(ProviderError::NotFound) => {
                tracing::warn!(provider_order_id = %order_id, "notification for an unknown provider order");
                return Ok(NotificationOutcome::Ignored("unknown provider order"));
            }
            Err(other) => return Err(other.into()),
        };
        self.apply_state(state).await
    }

    /// Applies what the provider says about an order to its payment.
    pub async fn apply_state(
        &self,
        state: ProviderOrderState,
    ) -> Result<NotificationOutcome, AppError> {
        let Some(payment_id) = state
            .external_reference
            .as_deref()
            .and_then(|r| PaymentId::parse(r).ok())
        else {
            tracing::warn!(provider_order_id = %state.order_id, "provider order has no payment reference of ours");
            return Ok(NotificationOutcome::Ignored("no payment reference"));
        };
        for _ in 0..MAX_ATTEMPTS {
            let Some(payment) = self.store.get(&payment_id).await? else {
                tracing::warn!(%payment_id, "notification for an unknown payment");
                return Ok(NotificationOutcome::Ignored("unknown payment"));
            };
            if let Some(reason) = contradiction(&payment, &state) {
                tracing::error!(
                    %payment_id,
                    provider_order_id = %state.order_id,
                    reason,
                    metric = "ProviderMismatch",
                    "provider order contradicts the payment; nothing changed"
                );
                return Ok(NotificationOutcome::Mismatch(payment_id));
            }
            let target = state.outcome.status();
            if !payment.status().can_become(target) {
                return Ok(NotificationOutcome::Unchanged {
                    payment_id,
                    status: payment.status(),
                });
            }
            let (next, event) = payment.transition(
                target,
                TransitionDetails {
                    at: self.clock.now(),
                    event_id: self.ids.event_id(),
                    decline_reason: match &state.outcome {
                        ProviderOutcome::Declined { reason } => reason.clone(),
                        _ => None,
                    },
                    provider_order_id: Some(state.order_id.clone()),
                    provider_payment_id: state.payment_id.clone(),
                },
            )?;
            let outbox = OutboxEvent::from(&event);
            match self
                .store
                .commit_transition(&next, payment.version(), &outbox)
                .await
            {
                Ok(()) => {
                    tracing::info!(%payment_id, status = %target, event_id = %outbox.event_id, "payment transitioned");
                    publish_and_clear(self.store.as_ref(), self.publisher.as_ref(), &outbox).await;
                    return Ok(NotificationOutcome::Applied {
                        payment_id,
                        status: target,
                    });
                }
                // A concurrent delivery moved it first: read again.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }
}

/// Why the provider's order cannot be about this payment, if it cannot.
fn contradiction(payment: &Payment, state: &ProviderOrderState) -> Option<&'static str> {
    if let Some(provider) = payment.provider() {
        if provider.order_id != state.order_id {
            return Some("provider order id differs");
        }
    }
    if let Some(currency) = &state.currency {
        if currency != payment.amount().currency().code() {
            return Some("currency differs");
        }
    }
    match &state.total_amount {
        Some(total) => match Money::from_decimal_string(total, payment.amount().currency()) {
            Ok(amount) if amount == payment.amount() => None,
            _ => Some("total amount differs"),
        },
        None => Some("total amount missing"),
    }
}
