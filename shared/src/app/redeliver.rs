//! Publish a stored event again, for a consumer whose queue lost it: the
//! same message, marked as a redelivery. Served by refund-payment, so only
//! the roles that may refund may ask for it.

use std::sync::Arc;

use crate::domain::{AllowedCallers, EventId};
use crate::ports::{Clock, EventPublisher, OutboxEvent, PaymentReads, Ports};

use super::queries::EVENTS_KEPT;
use super::AppError;

pub struct RedeliverEvent {
    events: Arc<dyn PaymentReads>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    callers: AllowedCallers,
}

impl RedeliverEvent {
    pub fn new<Provider>(ports: &Ports<Provider>) -> Self {
        Self {
            events: ports.store.clone(),
            publisher: ports.publisher.clone(),
            clock: ports.clock.clone(),
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

    /// The event, published again; an id no event kept (30 days) has is an
    /// error. Nothing is written: a redelivery changes no payment and no
    /// outbox.
    pub async fn execute(&self, id: &EventId) -> Result<OutboxEvent, AppError> {
        let now = self.clock.now();
        let event = self
            .events
            .event(id)
            .await?
            // An expired item lingers until DynamoDB's TTL deletes it.
            .filter(|event| event.created_at.plus(EVENTS_KEPT) > now)
            .ok_or_else(|| AppError::EventNotFound(id.clone()))?;
        if let Err(error) = self.publisher.redeliver(&event).await {
            // The SDK's text names ARNs: logged here, not answered.
            tracing::warn!(event_id = %event.event_id, %error, "redelivery failed");
            return Err(AppError::TopicUnavailable);
        }
        tracing::info!(
            event_id = %event.event_id,
            payment_id = %event.payment_id,
            order_id = %event.order_id,
            "event redelivered"
        );
        Ok(event)
    }
}
