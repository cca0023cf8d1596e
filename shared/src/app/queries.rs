//! Read side: a payment by id, the payments of an order, events (a
//! payment's, and the feed of all of them).

use std::sync::Arc;

use crate::domain::{
    AllowedCallers, EventId, EventType, OrderId, Payment, PaymentId, PaymentStatus, Refund,
    Timestamp,
};
use crate::ports::{Clock, FeedQuery, OrderCursor, OutboxEvent, PaymentReads, Ports};

/// How long events are kept and listed (their items' TTL).
pub const EVENTS_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// How far past the 30-day edge a feed cursor may have fallen and still go
/// on (from the edge) rather than be refused.
pub const CURSOR_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

use super::AppError;

pub struct PaymentQueries {
    store: Arc<dyn PaymentReads>,
    clock: Arc<dyn Clock>,
    callers: AllowedCallers,
}

/// One read of the event feed, as the caller asked for it.
#[derive(Debug, Clone)]
pub struct FeedRead {
    pub event_type: Option<EventType>,
    pub since: Option<Timestamp>,
    pub cursor: Option<EventId>,
    /// 1..=100.
    pub limit: usize,
}

/// What a kiosk shows for a payment it can still be paid through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayableQr {
    pub qr_data: String,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

impl PaymentQueries {
    /// Most payments one answer lists: bounded work per request however many
    /// times an order was retried.
    pub const PAGE_SIZE: usize = 50;

    pub fn new<Provider, Publisher>(ports: &Ports<Provider, Publisher>) -> Self {
        Self {
            store: ports.store.clone(),
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

    /// The QR data of a payment the customer can still pay: `pending`, with
    /// the QR Mercado Pago confirmed, before `expires_at`.
    pub async fn payable_qr(&self, id: &PaymentId) -> Result<PayableQr, AppError> {
        let payment = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))?;
        let now = self.clock.now();
        match payment.qr_data() {
            Some(qr_data)
                if payment.status() == PaymentStatus::Pending && now < payment.expires_at() =>
            {
                Ok(PayableQr {
                    qr_data: qr_data.to_owned(),
                    expires_at: payment.expires_at(),
                    now,
                })
            }
            _ => Err(AppError::QrNotAvailable {
                payment_id: id.clone(),
                status: payment.status(),
            }),
        }
    }

    /// The payment and its refunds, oldest first.
    pub async fn get(&self, id: &PaymentId) -> Result<(Payment, Vec<Refund>), AppError> {
        let payment = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))?;
        let refunds = self.store.refunds_of(id).await?;
        Ok((payment, refunds))
    }

    /// A page of every event of the last 30 days, oldest first: after
    /// `cursor` (where the previous page ended), else from `since` (else
    /// from 30 days ago), of `event_type` if set, at most `limit`. Where the
    /// next page starts comes back while more may follow; a page may be
    /// short, even empty, when the store's read budget ran out first.
    pub async fn event_feed(
        &self,
        read: FeedRead,
    ) -> Result<(Vec<OutboxEvent>, Option<EventId>), AppError> {
        let now = self.clock.now();
        let kept_from = u64::try_from(now.unix_millis())
            .unwrap_or(0)
            .saturating_sub(EVENTS_KEPT.as_millis() as u64);
        let since = read
            .since
            .map_or(0, |t| u64::try_from(t.unix_millis()).unwrap_or(0));
        // A cursor from well before what is kept would silently skip the
        // events that expired since: the caller is told, and starts again.
        // Within an hour of the edge it goes on from the edge, so that a
        // reader paging from 30 days ago is not refused as the edge moves.
        let grace = u64::try_from(CURSOR_GRACE.as_millis()).unwrap_or(0);
        if read
            .cursor
            .as_ref()
            .is_some_and(|cursor| *cursor < EventId::first_at(kept_from.saturating_sub(grace)))
        {
            return Err(AppError::CursorExpired);
        }
        let floor = EventId::first_at(kept_from.max(since));
        let after = match read.cursor {
            Some(cursor) if cursor > floor => cursor,
            _ => floor,
        };
        let page = self
            .store
            .events_after(&FeedQuery {
                after,
                until: now,
                event_type: read.event_type,
                limit: read.limit,
            })
            .await?;
        Ok((page.events, page.next))
    }

    /// The payment's events of the last 30 days (how long they are kept),
    /// in `sequence` order; an unknown payment is an error.
    pub async fn events_of(&self, id: &PaymentId) -> Result<Vec<OutboxEvent>, AppError> {
        if self.store.get(id).await?.is_none() {
            return Err(AppError::PaymentNotFound(id.clone()));
        }
        let now = self.clock.now();
        let mut events: Vec<OutboxEvent> = self
            .store
            .events_of(id)
            .await?
            .into_iter()
            // Expired items linger until DynamoDB's TTL deletes them.
            .filter(|event| event.created_at.plus(EVENTS_KEPT) > now)
            .collect();
        events.sort_by_key(|event| event.sequence);
        Ok(events)
    }

    /// One page of the order's payments, newest first, each with its
    /// refunds, after `after` (from the newest when none); an order without
    /// payments has an empty page. The cursor of the next page comes with
    /// it while more remain.
    pub async fn list_by_order(
        &self,
        order_id: &OrderId,
        after: Option<&OrderCursor>,
    ) -> Result<(Vec<(Payment, Vec<Refund>)>, Option<OrderCursor>), AppError> {
        let page = self
            .store
            .page_by_order(order_id, after, Self::PAGE_SIZE)
            .await?;
        let mut listed = Vec::with_capacity(page.payments.len());
        for payment in page.payments {
            let refunds = self.store.refunds_of(payment.id()).await?;
            listed.push((payment, refunds));
        }
        Ok((listed, page.next))
    }
}
