//! Settling a reserved refund with what the provider answered: given back
//! (with its `payment.refunded` event) or refused (its reservation released).
//! Shared by the refund endpoint and by every later path that learns a
//! refund's fate.

use std::sync::Arc;

use crate::domain::{Payment, ProviderRefundId, Refund, RefundStatus};
use crate::ports::{
    Clock, EventPublisher, IdGenerator, Outbox, OutboxEvent, PaymentCreation, PaymentReads, Ports,
    RefundSettlement, Refunds, StoreError,
};

use super::outbox::publish_and_clear;
use super::AppError;

/// Rounds of read-settle-commit before giving up under contention (as many
/// as a reservation gets: settling races the same writers).
const MAX_ATTEMPTS: usize = 32;

/// What the provider said about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefundVerdict {
    GivenBack(Option<ProviderRefundId>),
    Refused(String),
}

pub(crate) struct RefundSettler {
    payments: Arc<dyn PaymentReads>,
    locks: Arc<dyn PaymentCreation>,
    refunds: Arc<dyn Refunds>,
    outbox: Arc<dyn Outbox>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl RefundSettler {
    pub fn new<Provider>(ports: &Ports<Provider>) -> Self {
        Self {
            payments: ports.store.clone(),
            locks: ports.store.clone(),
            refunds: ports.store.clone(),
            outbox: ports.store.clone(),
            publisher: ports.publisher.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
        }
    }

    /// Settles `refund` on its payment as it is now. A refund that is no
    /// longer pending was settled by someone else: it is returned as it is.
    pub async fn settle(
        &self,
        refund: &Refund,
        verdict: &RefundVerdict,
    ) -> Result<(Payment, Refund), AppError> {
        for _ in 0..MAX_ATTEMPTS {
            let payment = self
                .payments
                .get(&refund.payment_id)
                .await?
                .ok_or_else(|| AppError::PaymentNotFound(refund.payment_id.clone()))?;
            let current = self
                .payments
                .refunds_of(payment.id())
                .await?
                .into_iter()
                .find(|r| r.refund_id == refund.refund_id)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("refund {} is missing", refund.refund_id))
                })?;
            if current.status != RefundStatus::Pending {
                return Ok((payment, current));
            }
            let now = self.clock.now();
            let (next, settled, event) = match verdict {
                RefundVerdict::GivenBack(provider_refund_id) => {
                    let done = current.succeeded(provider_refund_id.clone(), now);
                    let (next, event) =
                        payment.refund_succeeded(&done, self.ids.event_id(), now)?;
                    (next, done, Some(OutboxEvent::from(&event)))
                }
                RefundVerdict::Refused(reason) => {
                    let failed = current.failed(reason.clone(), now);
                    (payment.refund_failed(&failed, now), failed, None)
                }
            };
            // The order's lock moves with the payment only while it holds it: a
            // newer payment of the same order keeps its own.
            let move_lock = next.status() != payment.status()
                && self
                    .locks
                    .order_lock(payment.order_id())
                    .await?
                    .is_some_and(|lock| lock.live_payment_id == *payment.id());
            let settlement = RefundSettlement {
                payment: &next,
                expected_version: payment.version(),
                refund: &settled,
                event: event.as_ref(),
                move_lock,
            };
            match self.refunds.settle_refund(&settlement).await {
                Ok(()) => {
                    tracing::info!(
                        payment_id = %next.id(),
                        order_id = %next.order_id(),
                        refund_id = %settled.refund_id,
                        status = settled.status.as_str(),
                        "refund settled"
                    );
                    if let Some(event) = &event {
                        publish_and_clear(self.outbox.as_ref(), self.publisher.as_ref(), event)
                            .await;
                    }
                    return Ok((next, settled));
                }
                // The payment moved (another refund, a transition): read again.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }
}
