//! Where committed events go: the topic subscribers listen to.

use async_trait::async_trait;
use thiserror::Error;

use super::OutboxEvent;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event publish failed: {0}")]
pub struct PublishError(pub String);

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError>;

    /// Publishes a stored event again, for consumers that lost it: the same
    /// message, marked as a redelivery (`redelivered=true` on SNS). Test
    /// doubles that do not tell the two apart just publish.
    async fn redeliver(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        self.publish(event).await
    }
}
