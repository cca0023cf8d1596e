//! Apply a provider notification: read the truth from the provider, and commit
//! the resulting transition with its event. The notification only says which
//! order to read; its origin was checked by the inbound adapter.

use std::sync::Arc;

use crate::domain::{Money, Payment, PaymentId, PaymentStatus, ProviderOrderId};
use crate::ports::{PaymentProvider, Ports, ProviderError, ProviderOrderState, ProviderOutcome};

use super::money_at_provider::MoneyAtProvider;
use super::transitions::{NotificationOutcome, Transitions, Verdict};
use super::AppError;

/// A notification whose origin was verified: something changed on this order
/// at the provider. Built only by the provider's inbound adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNotification {
    pub provider_order_id: ProviderOrderId,
}

pub struct ApplyNotification {
    provider: Arc<dyn PaymentProvider>,
    transitions: Transitions,
    money: MoneyAtProvider,
}

impl ApplyNotification {
    pub fn new(ports: &Ports) -> Self {
        Self {
            provider: ports.provider.clone(),
            transitions: Transitions::new(ports),
            money: MoneyAtProvider::new(ports),
        }
    }

    pub async fn execute(
        &self,
        notification: VerifiedNotification,
    ) -> Result<NotificationOutcome, AppError> {
        let order_id = notification.provider_order_id;
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

    /// Applies what the provider says about an order to its payment: its
    /// status first, then the money (refunds, a late payment).
    async fn apply_state(
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
        let now = self.transitions.clock.now();
        let outcome = self
            .transitions
            .apply(&payment_id, |payment| {
                verdict(payment, &state, payment.expires_at() <= now)
            })
            .await?;
        if let NotificationOutcome::Mismatch(_) | NotificationOutcome::Ignored(_) = outcome {
            return Ok(outcome);
        }
        if !self.money.reconcile(&payment_id, &state).await? {
            return Ok(outcome);
        }
        let status = self
            .transitions
            .payments
            .get(&payment_id)
            .await?
            .map_or(PaymentStatus::Pending, |p| p.status());
        Ok(NotificationOutcome::Applied { payment_id, status })
    }
}

/// The provider's order decides the status, unless it cannot be about this
/// payment. `overdue`: a canceled order then means the QR code expired.
pub(crate) fn verdict(payment: &Payment, state: &ProviderOrderState, overdue: bool) -> Verdict {
    if let Some(reason) = contradiction(payment, state) {
        return Verdict::Contradicts(reason);
    }
    Verdict::Move {
        target: state.outcome.status(overdue),
        decline_reason: match &state.outcome {
            ProviderOutcome::Declined { reason } => reason.clone(),
            _ => None,
        },
        provider_order_id: Some(state.order_id.clone()),
        provider_payment_id: state.payment_id.clone(),
    }
}

/// Why the provider's order cannot be about this payment, if it cannot.
pub(crate) fn contradiction(payment: &Payment, state: &ProviderOrderState) -> Option<&'static str> {
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
