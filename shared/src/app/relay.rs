//! event-relay: publish whatever the outbox still holds, oldest first, in bounded
//! pages. Safe to run twice at once: an event may go out twice (consumers dedupe
//! by event_id), never zero times.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use thiserror::Error;

use crate::ports::{Clock, EventPublisher, Outbox, OutboxEvent, Ports, PublisherPort};

use super::outbox::publish_and_clear;
use super::{metrics, AppError};

/// What one run did; serialized as the function's answer (failures make the
/// run an error instead, see `require_all_published`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RelayReport {
    pub published: usize,
    #[serde(skip)]
    pub failed: usize,
    pub pages: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0} events could not be published; they stay in the outbox")]
pub struct EventsLeftInOutbox(pub usize);

impl RelayReport {
    /// A run that left events behind is a failed run: on the stream trigger that
    /// makes Lambda retry the batch and, past its retries, keep it on the
    /// on-failure destination.
    pub fn require_all_published(self) -> Result<Self, EventsLeftInOutbox> {
        match self.failed {
            0 => Ok(self),
            failed => Err(EventsLeftInOutbox(failed)),
        }
    }
}

pub struct RelayEvents {
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    page_size: usize,
    max_pages: usize,
}

impl RelayEvents {
    pub const DEFAULT_PAGE_SIZE: usize = 25;
    pub const DEFAULT_MAX_PAGES: usize = 40;
    /// At most this many waiting events are counted for `OutboxBacklog`.
    pub const BACKLOG_SCAN: usize = 1000;

    pub fn new<Provider>(ports: &Ports<Provider, PublisherPort>) -> Self {
        Self {
            outbox: ports.store.clone(),
            publisher: ports.publisher.clone(),
            clock: ports.clock.clone(),
            page_size: Self::DEFAULT_PAGE_SIZE,
            max_pages: Self::DEFAULT_MAX_PAGES,
        }
    }

    pub fn with_pages(mut self, page_size: usize, max_pages: usize) -> Self {
        self.page_size = page_size.max(1);
        self.max_pages = max_pages.max(1);
        self
    }

    pub async fn execute(&self) -> Result<RelayReport, AppError> {
        let mut report = RelayReport::default();
        // The outbox index may still list what this run already published.
        let mut published = HashSet::new();
        while report.pages < self.max_pages {
            let events = self.outbox.pending_events(self.page_size).await?;
            let fresh: Vec<_> = events
                .iter()
                .filter(|e| !published.contains(&e.event_id))
                .collect();
            if fresh.is_empty() {
                break;
            }
            report.pages += 1;
            let mut page_failed = false;
            for event in fresh {
                published.insert(event.event_id.clone());
                if publish_and_clear(
                    self.outbox.as_ref(),
                    self.publisher.as_ref(),
                    event,
                    self.clock.now(),
                )
                .await
                {
                    report.published += 1;
                } else {
                    report.failed += 1;
                    page_failed = true;
                }
            }
            // A failing topic would hand back the same page forever: stop and
            // let the next scheduled run retry.
            if page_failed || events.len() < self.page_size {
                break;
            }
        }
        self.measure_backlog(&published).await?;
        // A run that found nothing is debug: at a one-second schedule (the
        // local stack's demos) it would bury the lines that matter.
        if report.published + report.failed > 0 {
            tracing::info!(
                published = report.published,
                failed = report.failed,
                pages = report.pages,
                "outbox relayed"
            );
        } else {
            tracing::debug!(pages = report.pages, "outbox empty");
        }
        Ok(report)
    }

    /// Publishes each event once and clears its marker, as a stream batch
    /// hands them over; answers the ids of those that could not be, for the
    /// trigger to retry (they also stay in the outbox for the next tick).
    pub async fn publish_each<Id>(&self, events: Vec<(Id, OutboxEvent)>) -> Vec<Id> {
        let mut failed = Vec::new();
        for (id, event) in events {
            if !publish_and_clear(
                self.outbox.as_ref(),
                self.publisher.as_ref(),
                &event,
                self.clock.now(),
            )
            .await
            {
                failed.push(id);
            }
        }
        failed
    }

    /// What still waits after the run, and how long the oldest has waited:
    /// the alarm on `OutboxOldestAge` says publishing has stopped.
    async fn measure_backlog(
        &self,
        published: &HashSet<crate::domain::EventId>,
    ) -> Result<(), AppError> {
        let waiting: Vec<_> = self
            .outbox
            .pending_events(Self::BACKLOG_SCAN)
            .await?
            .into_iter()
            .filter(|e| !published.contains(&e.event_id))
            .collect();
        let now = self.clock.now().unix_millis();
        let oldest = waiting.iter().map(|e| e.created_at.unix_millis()).min();
        let age_seconds = oldest.map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
        metrics::outbox(waiting.len(), age_seconds);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::adapters::memory::{MemoryPublisher, MemoryStore};
    use crate::adapters::system::{SystemClock, UlidGenerator};
    use crate::domain::payment::tests::sample_payment;
    use crate::domain::{EventId, PaymentStatus, TransitionDetails};
    use crate::ports::{Outbox, OutboxEvent, PaymentCreation, PaymentTransitions, StoreError};
    use async_trait::async_trait;

    /// An outbox whose index lags: what was published is still listed.
    struct LaggingOutbox(MemoryStore);

    #[async_trait]
    impl Outbox for LaggingOutbox {
        async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
            let mut all = self.0.all_events();
            all.truncate(limit);
            Ok(all)
        }
        async fn mark_published(&self, event: &OutboxEvent) -> Result<(), StoreError> {
            self.0.mark_published(event).await
        }
        // Grants every claim, so only the run's own memory of what it
        // published keeps it from publishing twice.
        async fn claim_publish(
            &self,
            _event: &OutboxEvent,
            _now: crate::domain::Timestamp,
            _until: crate::domain::Timestamp,
        ) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn release_publish(
            &self,
            _event: &OutboxEvent,
            _until: crate::domain::Timestamp,
        ) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn one_run_publishes_each_event_once_even_when_the_index_lags() {
        let store = MemoryStore::new();
        for _ in 0..3 {
            let payment = sample_payment();
            // The same order each time: take its lock over from the last one.
            let lock = store.order_lock(payment.order_id()).await.unwrap();
            store
                .insert_pending(&payment, lock.map(|l| l.version))
                .await
                .unwrap();
            let (approved, event) = payment
                .transition(
                    PaymentStatus::Approved,
                    TransitionDetails {
                        at: payment.created_at(),
                        event_id: EventId::from_ulid(ulid::Ulid::new()),
                        decline_reason: None,
                        provider_order_id: None,
                        provider_payment_id: None,
                        requested_by: None,
                    },
                )
                .unwrap();
            store
                .commit_transition(&approved, payment.version(), &OutboxEvent::from(&event))
                .await
                .unwrap();
        }
        let publisher = Arc::new(MemoryPublisher::new());
        let ports = crate::ports::Ports::new(
            Arc::new(MemoryStore::new()),
            Arc::new(SystemClock),
            Arc::new(UlidGenerator::default()),
        )
        .with_publisher(publisher.clone());
        let relay = RelayEvents {
            outbox: Arc::new(LaggingOutbox(store)),
            ..RelayEvents::new(&ports)
        }
        .with_pages(10, 10);
        let report = relay.execute().await.unwrap();
        assert_eq!(report.published, 3);
        assert_eq!(publisher.published().len(), 3, "each event once");
    }

    #[test]
    fn a_run_that_left_events_behind_is_an_error_and_the_report_omits_failures() {
        let clean = RelayReport {
            published: 3,
            failed: 0,
            pages: 1,
        };
        assert_eq!(clean.require_all_published(), Ok(clean));
        assert_eq!(
            serde_json::to_value(clean).unwrap(),
            serde_json::json!({"published": 3, "pages": 1})
        );
        let partial = RelayReport {
            published: 1,
            failed: 2,
            pages: 1,
        };
        let error = partial.require_all_published().unwrap_err();
        assert_eq!(error, EventsLeftInOutbox(2));
        assert_eq!(
            error.to_string(),
            "2 events could not be published; they stay in the outbox"
        );
    }
}
