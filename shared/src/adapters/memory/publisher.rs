use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::ports::{EventPublisher, OutboxEvent, PublishError};

/// A published message as a subscriber would see it: body plus attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    pub event_type: String,
    pub order_id: String,
    pub body: String,
    /// Sent again on request (`redelivered=true`), not as it happened.
    pub redelivered: bool,
}

/// Keeps every published message in order; optionally prints each as a JSON line.
#[derive(Debug, Default)]
pub struct MemoryPublisher {
    published: Mutex<Vec<PublishedEvent>>,
    print: bool,
    failing: AtomicBool,
}

impl MemoryPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Also print each message body to stdout, one JSON line per event.
    pub fn printing() -> Self {
        Self {
            print: true,
            ..Self::default()
        }
    }

    /// Fault switch: while set, every publish fails as if the topic were down.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn published(&self) -> Vec<PublishedEvent> {
        self.published.lock().clone()
    }
}

#[async_trait]
impl EventPublisher for MemoryPublisher {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        self.keep(event, false)
    }

    async fn redeliver(&self, event: &OutboxEvent) -> Result<(), PublishError> {
        self.keep(event, true)
    }
}

impl MemoryPublisher {
    fn keep(&self, event: &OutboxEvent, redelivered: bool) -> Result<(), PublishError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PublishError("publisher switched to failing".into()));
        }
        let message = PublishedEvent {
            event_type: event.event_type.as_str().to_owned(),
            order_id: event.order_id.as_str().to_owned(),
            body: event.body.clone(),
            redelivered,
        };
        if self.print {
            let mut out = std::io::stdout().lock();
            // A closed stdout must not fail the publish: the message is kept anyway.
            let _ = writeln!(out, "{}", message.body);
        }
        self.published.lock().push(message);
        Ok(())
    }
}
