//! Mercado Pago's notifications, the inbound side: a delivery is checked against
//! its signature and Mercado Pago's notification shape, and only then handed to
//! the use case as a notification it can trust. The body decides nothing: the
//! use case reads the order at Mercado Pago.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::app::metrics as app_metrics;
use crate::app::{AppError, ApplyNotification, NotificationOutcome, VerifiedNotification};
use crate::domain::ProviderOrderId;
use crate::ports::{Clock, DeliveryKey, OrderReadLimits, Ports};

use super::signature::{
    canonical_signature, SignatureError, SignaturePolicy, SignedParts, Verified,
};

/// How often a late or unsigned notification may make us read one order.
pub const BOUNDED_READ_EVERY: Duration = Duration::from_secs(60);

/// How long a processed signed delivery is remembered: past the replay
/// window on either side of its timestamp, after which the same signature
/// is late and its reads are bounded anyway.
pub const PROCESSED_DELIVERY_KEPT: Duration =
    Duration::from_millis(2 * super::signature::REPLAY_WINDOW_MILLIS as u64);

/// A notification as Mercado Pago delivers it, nothing trusted yet.
#[derive(Debug, Clone, Default)]
pub struct WebhookDelivery {
    /// `type` (or the legacy `topic`) from the query string.
    pub kind: Option<String>,
    /// `data.id` from the query string: Mercado Pago's order id.
    pub data_id: Option<String>,
    /// The `x-signature` header.
    pub signature: Option<String>,
    /// The `x-request-id` header.
    pub request_id: Option<String>,
}

#[derive(Debug, Error)]
pub enum WebhookError {
    #[error("webhook signature rejected: {0}")]
    Unauthorized(#[from] SignatureError),
    #[error("notification is missing data.id")]
    WithoutDataId,
    /// A late or unsigned delivery for an order read within the last
    /// minute: not read now, and not acknowledged either, so Mercado Pago
    /// delivers it again later (a change it announces is never dropped).
    #[error("order {0} was read within the last minute; deliver this notification again later")]
    Deferred(ProviderOrderId),
    #[error(transparent)]
    App(#[from] AppError),
}

pub struct MercadoPagoWebhook {
    signature: SignaturePolicy,
    clock: Arc<dyn Clock>,
    read_limits: Arc<dyn OrderReadLimits>,
    notifications: ApplyNotification,
}

impl MercadoPagoWebhook {
    pub fn new(ports: &Ports, signature: SignaturePolicy) -> Self {
        Self {
            signature,
            clock: ports.clock.clone(),
            read_limits: ports.store.clone(),
            notifications: ApplyNotification::new(ports),
        }
    }

    /// Signature first: nothing is read or written for a delivery that fails it.
    pub async fn receive(
        &self,
        delivery: WebhookDelivery,
    ) -> Result<NotificationOutcome, WebhookError> {
        let verified = self
            .signature
            .verify(
                SignedParts {
                    data_id: delivery.data_id.as_deref(),
                    request_id: delivery.request_id.as_deref(),
                    signature_header: delivery.signature.as_deref(),
                },
                self.clock.now(),
            )
            .await;
        let verified = match verified {
            Ok(verified) => verified,
            Err(rejected) => {
                let reason = match rejected {
                    SignatureError::Missing => "missing",
                    SignatureError::Malformed => "malformed",
                    SignatureError::Mismatch => "mismatch",
                    SignatureError::Stale => "stale",
                };
                app_metrics::count_with("WebhookRejected", "Reason", reason);
                return Err(rejected.into());
            }
        };
        match verified {
            Verified::Fresh => {}
            Verified::Late => tracing::info!(
                "signed with our secret outside the replay window (a retry of Mercado Pago's); \
                 its order is read at most once a minute"
            ),
            Verified::Unsigned => app_metrics::count("WebhookUnsigned"),
        }
        // Payments, chargebacks and the rest are not ours to act on.
        if delivery.kind.as_deref() != Some("order") {
            return Ok(NotificationOutcome::Ignored("not an order notification"));
        }
        let data_id = delivery
            .data_id
            .filter(|id| !id.is_empty())
            .ok_or(WebhookError::WithoutDataId)?;
        let Ok(provider_order_id) = ProviderOrderId::parse(&data_id) else {
            tracing::warn!(provider_order_id = %data_id, "notification for an unknown provider order");
            return Ok(NotificationOutcome::Ignored("unknown provider order"));
        };
        // The same signed delivery again while its signature is fresh (a
        // replay, or Mercado Pago's retry with the first signature) was
        // already applied: nothing new to read.
        let signed = match (&verified, &delivery.request_id, &delivery.signature) {
            (Verified::Fresh, Some(request_id), Some(signature)) => {
                canonical_signature(signature).map(|signed| DeliveryKey::of(request_id, &signed))
            }
            _ => None,
        };
        if let Some(key) = &signed {
            let processed = self
                .read_limits
                .delivery_processed(key, self.clock.now())
                .await
                .map_err(AppError::from)?;
            if processed {
                tracing::info!(%provider_order_id, "this delivery was already processed");
                return Ok(NotificationOutcome::Duplicate);
            }
        }
        // A late or unsigned delivery cannot be told from a replay: it may
        // make us read the order, but not more than once a minute per order.
        if verified != Verified::Fresh {
            let now = self.clock.now();
            let read_now = self
                .read_limits
                .take_order_read(&provider_order_id, now, now.plus(BOUNDED_READ_EVERY))
                .await
                .map_err(AppError::from)?;
            if !read_now {
                tracing::info!(%provider_order_id, "order read within the last minute; deferred");
                return Err(WebhookError::Deferred(provider_order_id));
            }
        }
        let outcome = self
            .notifications
            .execute(VerifiedNotification { provider_order_id })
            .await?;
        // Marked only once applied: a delivery that failed half-way is
        // processed again when it comes back.
        if let Some(key) = &signed {
            let now = self.clock.now();
            let marked = self
                .read_limits
                .mark_delivery_processed(key, now, now.plus(PROCESSED_DELIVERY_KEPT))
                .await;
            if let Err(error) = marked {
                // The outcome stands; a replay would only read the order again.
                tracing::warn!(%error, "could not mark the delivery processed");
            }
        }
        Ok(outcome)
    }
}
