//! `EventPublisher` on an SNS topic: the stored body verbatim, with
//! `event_type` and `order_id` as String message attributes for filter policies.

use async_trait::async_trait;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;

use crate::ports::{EventPublisher, OutboxEvent, PublishError};

pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, PublishError> {
    attribute("String", value)
}

fn attribute(data_type: &str, value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|e| PublishError(format!("message attribute: {e}")))
}

#[async_trait]
impl EventPublisher for SnsPublisher {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        self.send(event, false).await
    }

    async fn redeliver(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        self.send(event, true).await
    }
}

impl SnsPublisher {
    async fn send(&self, event: &OutboxEvent, redelivered: bool) -> Result<(), PublishError> {
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(&event.body)
            .message_attributes("event_type", string_attribute(event.event_type.as_str())?)
            .message_attributes("order_id", string_attribute(event.order_id.as_str())?)
            .message_attributes(
                "sequence",
                attribute("Number", &event.sequence.to_string())?,
            );
        if let Some(id) = &event.correlation_id {
            publish = publish.message_attributes("correlation_id", string_attribute(id.as_str())?);
        }
        if redelivered {
            publish = publish.message_attributes("redelivered", string_attribute("true")?);
        }
        publish.send().await.map_err(|e| {
            PublishError(format!(
                "SNS Publish {}: {}",
                e.code().unwrap_or("error"),
                DisplayErrorContext(&e)
            ))
        })?;
        Ok(())
    }
}
