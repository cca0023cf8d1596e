//! Mercado Pago as the mock models it, in memory: orders keyed by our payment
//! id, refunds keyed by `X-Idempotency-Key` (same key and request: the first
//! answer again; another request: 409), refunds only of a paid order inside
//! its refund window and never above what remains, orders that expire on
//! their own, and a notification after every change. It remembers which key
//! made each refund, so the invariants can tell ours from the dashboard's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use payments::adapters::mercadopago::outcome_of;
use payments::domain::{
    Money, Payment, ProviderOrderId, ProviderPaymentId, ProviderRefundId, Timestamp,
};
use payments::ports::{
    Clock, ProviderError, ProviderOrder, ProviderOrderState, ProviderRefund, ProviderRefundStatus,
    RefundRequest, Refusal,
};

use crate::system::{SimClock, SimIds};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpStatus {
    Created,
    Processed,
    Refunded,
    Canceled,
    Expired,
    Failed,
}

impl MpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Processed => "processed",
            Self::Refunded => "refunded",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MpRefund {
    pub id: ProviderRefundId,
    pub amount: i64,
    /// The `X-Idempotency-Key` that made it; None: made in the dashboard.
    pub key: Option<String>,
    pub status: ProviderRefundStatus,
    /// When a processing refund settles on its own.
    pub settles_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct MpOrder {
    pub id: ProviderOrderId,
    pub payment_id: String,
    pub provider_payment_id: ProviderPaymentId,
    pub total: Money,
    pub status: MpStatus,
    pub created_at: Timestamp,
    /// The customer paid it at some point (refunded orders were paid too).
    pub paid: bool,
    pub refunds: Vec<MpRefund>,
    pub refund_window_open: bool,
}

impl MpOrder {
    /// Money given back: refunds processed.
    pub fn refunded(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status == ProviderRefundStatus::Processed)
            .map(|r| r.amount)
            .sum()
    }

    /// Money taken for refunds: processed, or still processing.
    fn taken(&self) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.status != ProviderRefundStatus::Failed)
            .map(|r| r.amount)
            .sum()
    }

    fn processing(&self) -> bool {
        self.refunds
            .iter()
            .any(|r| r.status == ProviderRefundStatus::Processing)
    }

    /// The customer's money Mercado Pago still holds for this order.
    pub fn kept(&self) -> i64 {
        if self.paid {
            self.total.minor_units() - self.refunded()
        } else {
            0
        }
    }

    fn state(&self) -> ProviderOrderState {
        let detail = match self.status {
            MpStatus::Processed if self.refunded() > 0 => "partially_refunded",
            MpStatus::Processed => "accredited",
            MpStatus::Failed => "rejected_by_issuer",
            other => other.as_str(),
        };
        ProviderOrderState {
            order_id: self.id.clone(),
            outcome: outcome_of(self.status.as_str(), Some(detail)),
            external_reference: Some(self.payment_id.clone()),
            total_amount: Some(self.total.to_decimal_string()),
            currency: None,
            payment_id: Some(self.provider_payment_id.clone()),
            refunds: self
                .refunds
                .iter()
                .map(|r| ProviderRefund {
                    id: r.id.clone(),
                    amount: Money::new(r.amount, self.total.currency())
                        .map(Money::to_decimal_string)
                        .unwrap_or_default(),
                    status: r.status,
                })
                .collect(),
        }
    }
}

/// A refund key's first request and answer.
struct KeyUse {
    request: String,
    answer: ProviderOrderState,
    at: Timestamp,
}

/// How long Mercado Pago remembers an `X-Idempotency-Key` (its pages: the
/// same key with another request is refused "within the last 24 hours").
pub const KEY_KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

#[derive(Default)]
struct Books {
    /// By our payment id (create's idempotency key).
    orders: BTreeMap<String, MpOrder>,
    refund_keys: BTreeMap<String, KeyUse>,
    /// Orders whose notification is due, in the order they changed.
    notifications: Vec<ProviderOrderId>,
}

/// What a refund did at Mercado Pago, or why it was refused.
pub type MpResult<T> = Result<T, ProviderError>;

pub struct MercadoPago {
    books: Mutex<Books>,
    clock: Arc<SimClock>,
    ids: Arc<SimIds>,
    expiry: Duration,
    /// How long a refund stays processing; None: it is processed at once.
    refund_settle: Option<Duration>,
}

fn rejected(status: u16, code: &str) -> ProviderError {
    refused(status, code, Refusal::Other)
}

fn refused(status: u16, code: &str, refusal: Refusal) -> ProviderError {
    ProviderError::Rejected {
        status,
        refusal,
        detail: code.into(),
    }
}

impl MercadoPago {
    pub fn new(
        clock: Arc<SimClock>,
        ids: Arc<SimIds>,
        expiry: Duration,
        refund_settle: Option<Duration>,
    ) -> Self {
        Self {
            books: Mutex::new(Books::default()),
            clock,
            ids,
            expiry,
            refund_settle,
        }
    }

    /// Orders past their `expiration_time` expire, and refunds past their
    /// processing time are processed, each with its notification.
    pub fn tick(&self) {
        let now = self.clock.now();
        let mut books = self.books.lock();
        let mut changed = Vec::new();
        for order in books.orders.values_mut() {
            if order.status == MpStatus::Created && order.created_at.plus(self.expiry) <= now {
                order.status = MpStatus::Expired;
                changed.push(order.id.clone());
            }
            let mut settled = false;
            for refund in &mut order.refunds {
                if refund.status == ProviderRefundStatus::Processing && refund.settles_at <= now {
                    refund.status = ProviderRefundStatus::Processed;
                    settled = true;
                }
            }
            if settled {
                if order.refunded() == order.total.minor_units() {
                    order.status = MpStatus::Refunded;
                }
                changed.push(order.id.clone());
            }
        }
        books.notifications.extend(changed);
    }

    /// Mercado Pago fails a refund it is still processing: the money stays
    /// with the merchant, and the order says so in its notification.
    pub fn fail_a_refund(&self, id: &ProviderOrderId) -> bool {
        let failed = self
            .with_order(id, |order| {
                Ok(order
                    .refunds
                    .iter_mut()
                    .find(|r| r.status == ProviderRefundStatus::Processing)
                    .map(|refund| refund.status = ProviderRefundStatus::Failed)
                    .is_some())
            })
            .unwrap_or(false);
        if failed {
            self.notify(id);
        }
        failed
    }

    pub fn orders(&self) -> Vec<MpOrder> {
        self.books.lock().orders.values().cloned().collect()
    }

    pub fn take_notifications(&self) -> Vec<ProviderOrderId> {
        std::mem::take(&mut self.books.lock().notifications)
    }

    fn with_order<T>(
        &self,
        id: &ProviderOrderId,
        change: impl FnOnce(&mut MpOrder) -> MpResult<T>,
    ) -> MpResult<T> {
        self.tick();
        let mut books = self.books.lock();
        let order = books
            .orders
            .values_mut()
            .find(|o| o.id == *id)
            .ok_or(ProviderError::NotFound)?;
        change(order)
    }

    fn notify(&self, id: &ProviderOrderId) {
        self.books.lock().notifications.push(id.clone());
    }

    // --- The API our client calls -------------------------------------------

    pub fn create_order(&self, payment: &Payment) -> MpResult<ProviderOrder> {
        self.tick();
        let now = self.clock.now();
        let mut books = self.books.lock();
        let key = payment.id().as_str().to_owned();
        let ulid = key.get(4..).unwrap_or_default().to_owned();
        let order_id = ProviderOrderId::parse(&format!("ORD{ulid}")).map_err(invalid)?;
        let provider_payment_id =
            ProviderPaymentId::parse(&format!("PAY{ulid}")).map_err(invalid)?;
        let order = books.orders.entry(key.clone()).or_insert_with(|| MpOrder {
            id: order_id,
            payment_id: key.clone(),
            provider_payment_id,
            total: payment.amount(),
            status: MpStatus::Created,
            created_at: now,
            paid: false,
            refunds: Vec::new(),
            refund_window_open: true,
        });
        Ok(ProviderOrder {
            order_id: order.id.clone(),
            payment_id: Some(order.provider_payment_id.clone()),
            qr_data: format!("qr-{ulid}"),
            total_amount: Some(order.total.to_decimal_string()),
            currency: None,
        })
    }

    pub fn get_order(&self, id: &ProviderOrderId) -> MpResult<ProviderOrderState> {
        self.with_order(id, |order| Ok(order.state()))
    }

    /// Only an open order can be canceled (canceling twice is fine).
    pub fn cancel_order(&self, id: &ProviderOrderId) -> MpResult<ProviderOrderState> {
        let (state, changed) = self.with_order(id, |order| match order.status {
            MpStatus::Created => {
                order.status = MpStatus::Canceled;
                Ok((order.state(), true))
            }
            MpStatus::Canceled => Ok((order.state(), false)),
            _ => Err(rejected(409, "cannot_cancel_order")),
        })?;
        if changed {
            self.notify(id);
        }
        Ok(state)
    }

    pub fn refund_order(
        &self,
        id: &ProviderOrderId,
        request: &RefundRequest,
    ) -> MpResult<ProviderOrderState> {
        // Our client refuses a partial refund without the payment's id itself.
        if request.amount.is_some() && request.payment_id.is_none() {
            return Err(ProviderError::InvalidResponse(
                "a partial refund needs the order's payment id".into(),
            ));
        }
        let fingerprint = format!(
            "{id}|{:?}|{:?}",
            request.amount.map(Money::minor_units),
            request.payment_id
        );
        self.tick();
        {
            let mut books = self.books.lock();
            // Forgotten after a day: the same key then makes a new refund.
            let now = self.clock.now();
            books
                .refund_keys
                .retain(|_, first| now < first.at.plus(KEY_KEPT_FOR));
            if let Some(first) = books.refund_keys.get(&request.idempotency_key) {
                return if first.request == fingerprint {
                    Ok(first.answer.clone())
                } else {
                    Err(rejected(409, "idempotency_key_already_used"))
                };
            }
        }
        let refund_id =
            ProviderRefundId::parse(&format!("REF{}", self.ids.next())).map_err(invalid)?;
        let answer = self.with_order(id, |order| {
            if let (Some(asked), Some(_)) = (&request.payment_id, request.amount) {
                if *asked != order.provider_payment_id {
                    return Err(rejected(400, "invalid_transaction_id"));
                }
            }
            make_refund(
                order,
                request.amount,
                refund_id,
                Some(&request.idempotency_key),
                self.settling(),
            )?;
            Ok(order.state())
        })?;
        self.books.lock().refund_keys.insert(
            request.idempotency_key.clone(),
            KeyUse {
                request: fingerprint,
                answer: answer.clone(),
                at: self.clock.now(),
            },
        );
        self.notify(id);
        Ok(answer)
    }

    // --- What the customer and the operator do -------------------------------

    /// The customer pays an open order; `late`: whatever its state, as when
    /// the payment races our cancel or expiry (never once refunded).
    pub fn pay(&self, id: &ProviderOrderId, late: bool) -> bool {
        let paid = self.with_order(id, |order| {
            let payable = match order.status {
                MpStatus::Created => true,
                MpStatus::Canceled | MpStatus::Expired | MpStatus::Failed => {
                    late && order.refunds.is_empty()
                }
                _ => false,
            };
            if payable {
                order.status = MpStatus::Processed;
                order.paid = true;
            }
            Ok(payable)
        });
        let paid = paid.unwrap_or(false);
        if paid {
            self.notify(id);
        }
        paid
    }

    /// The card is rejected, or the QR code expires at Mercado Pago.
    pub fn end_unpaid(&self, id: &ProviderOrderId, status: MpStatus) -> bool {
        let ended = self
            .with_order(id, |order| {
                Ok(order.status == MpStatus::Created && {
                    order.status = status;
                    true
                })
            })
            .unwrap_or(false);
        if ended {
            self.notify(id);
        }
        ended
    }

    /// An operator refunds in Mercado Pago's dashboard: `amount`, or all that remains.
    pub fn dashboard_refund(&self, id: &ProviderOrderId, amount: Option<i64>) -> bool {
        let Ok(refund_id) = ProviderRefundId::parse(&format!("REF{}", self.ids.next())) else {
            return false;
        };
        let made = self
            .with_order(id, |order| {
                let amount = amount
                    .map(|a| Money::new(a, order.total.currency()))
                    .transpose()
                    .map_err(|_| rejected(400, "invalid_refund_amount"))?;
                make_refund(order, amount, refund_id, None, self.settling())
            })
            .is_ok();
        if made {
            self.notify(id);
        }
        made
    }

    /// When a refund made now settles; None: at once.
    fn settling(&self) -> Option<Timestamp> {
        self.refund_settle.map(|after| self.clock.now().plus(after))
    }

    pub fn set_refund_window(&self, id: &ProviderOrderId, open: bool) {
        let _ = self.with_order(id, |order| {
            order.refund_window_open = open;
            Ok(())
        });
    }

    pub fn open_every_refund_window(&self) {
        for order in self.books.lock().orders.values_mut() {
            order.refund_window_open = true;
        }
    }
}

/// The mock's rules for a refund: a paid order, inside its window, at most
/// what remains; the last one makes the order `refunded`.
/// `settles_at`: None, processed at once; else processing until then.
fn make_refund(
    order: &mut MpOrder,
    amount: Option<Money>,
    id: ProviderRefundId,
    key: Option<&String>,
    settles_at: Option<Timestamp>,
) -> MpResult<()> {
    if order.status != MpStatus::Processed {
        return Err(rejected(409, "cannot_refund_order"));
    }
    if order.processing() {
        return Err(ProviderError::Busy("refund_in_progress".into()));
    }
    if !order.refund_window_open {
        return Err(refused(
            400,
            "in_store_payment_refund_order",
            Refusal::RefundPeriodExpired,
        ));
    }
    let remaining = order.total.minor_units() - order.taken();
    let asked = amount.map_or(remaining, Money::minor_units);
    if remaining == 0 || asked > remaining {
        return Err(refused(
            400,
            "refund_amount_exceeds",
            Refusal::AmountAboveRemaining,
        ));
    }
    if asked <= 0 {
        return Err(rejected(400, "invalid_refund_amount"));
    }
    let (status, at) = match settles_at {
        Some(at) => (ProviderRefundStatus::Processing, at),
        None => (ProviderRefundStatus::Processed, order.created_at),
    };
    order.refunds.push(MpRefund {
        id,
        amount: asked,
        key: key.cloned(),
        status,
        settles_at: at,
    });
    if order.refunded() == order.total.minor_units() {
        order.status = MpStatus::Refunded;
    }
    Ok(())
}

fn invalid(error: payments::domain::DomainError) -> ProviderError {
    ProviderError::InvalidResponse(error.to_string())
}
