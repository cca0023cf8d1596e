//! The mock's memory: orders, idempotency keys, fault switches, counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{json, Value};

use crate::validate;
use crate::webhook::{deliver, Delivery};
use crate::MockConfig;

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub id: String,
    pub payment_id: String,
    pub status: String,
    pub status_detail: String,
    pub payment_status: String,
    pub notification_url: Option<String>,
    /// The validated create request, echoed back like MP does.
    pub request: Value,
    pub qr_data: String,
    pub created: String,
    pub updated: String,
    /// Every refund asked so far (processing, processed or failed), oldest first.
    pub refunds: Vec<Refund>,
    /// MP refunds only within a period after payment; `/mock/.../refund-window` closes it.
    pub refund_window_open: bool,
    /// Whether a refund of part of the order is allowed; `/mock/.../partial-refunds` says no.
    pub partial_refunds: bool,
    /// The action of the last event that changed the order (`order.processed`,
    /// `order.refunded`, ...): what a redelivery sends. None: `order.{status}`.
    pub last_action: Option<String>,
}

/// Where a refund stands: MP takes a refund first and settles it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// Taken; its money counts as refunded for what remains refundable.
    Processing,
    /// The money went back to the customer.
    Processed,
    /// It did not happen: its money is refundable again.
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Failed => "failed",
        }
    }
}

/// One refund of the order's payment, in the order's minor units.
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub id: String,
    pub amount: u64,
    pub status: RefundStatus,
    /// Whether settling (or failing) it sends the order's webhook.
    pub notify: bool,
}

impl Order {
    /// Fraction digits of the order's amounts, as its `total_amount` was
    /// written: "25.90" -> 2; "1500" (CLP, no minor unit) -> 0. The create
    /// body names no currency, so its total is the only clue.
    pub fn decimals(&self) -> u32 {
        let total = self.request["total_amount"].as_str().unwrap_or_default();
        if total.contains('.') {
            2
        } else {
            0
        }
    }

    /// The order's total in its minor units (validated at create).
    pub fn total_minor(&self) -> u64 {
        let total = self.request["total_amount"].as_str().unwrap_or_default();
        validate::minor_units(total, self.decimals()).unwrap_or(0)
    }

    fn sum(&self, keep: impl Fn(RefundStatus) -> bool) -> u64 {
        self.refunds
            .iter()
            .filter(|r| keep(r.status))
            .map(|r| r.amount)
            .sum()
    }

    /// Refunded or being refunded: what is no longer refundable.
    pub fn taken_minor(&self) -> u64 {
        self.sum(|s| s != RefundStatus::Failed)
    }

    /// Refunds whose money went back.
    pub fn processed_minor(&self) -> u64 {
        self.sum(|s| s == RefundStatus::Processed)
    }

    /// What is paid and neither refunded nor being refunded.
    pub fn refundable_minor(&self) -> u64 {
        self.total_minor().saturating_sub(self.taken_minor())
    }

    pub fn refund_processing(&self) -> bool {
        self.refunds
            .iter()
            .any(|r| r.status == RefundStatus::Processing)
    }

    pub fn amount(&self, minor: u64) -> String {
        validate::format_minor(minor, self.decimals())
    }

    /// The payment transaction's detail: `accredited` once paid (the
    /// order's own detail is `processed`), else the order's.
    pub fn transaction_detail(&self) -> &str {
        if self.payment_status == "processed" {
            "accredited"
        } else {
            &self.status_detail
        }
    }

    /// Whether the customer paid (refunded orders were paid too).
    pub fn paid(&self) -> bool {
        matches!(self.status.as_str(), "processed" | "refunded")
    }

    /// What a notification about the order's last change says it was.
    pub fn webhook_action(&self) -> String {
        self.last_action
            .clone()
            .unwrap_or_else(|| format!("order.{}", self.status))
    }

    /// The order's status once its processed refunds are counted: all the
    /// money back is `refunded`; part of it, `processed`/`partially_refunded`.
    pub fn apply_processed_refunds(&mut self) {
        let back = self.processed_minor();
        if back == 0 {
            return;
        }
        if back >= self.total_minor() {
            self.status = "refunded".into();
            self.status_detail = "refunded".into();
            self.payment_status = "refunded".into();
        } else {
            self.status = "processed".into();
            self.status_detail = "partially_refunded".into();
            self.payment_status = "processed".into();
        }
    }

    pub fn refund_json(&self, refund: &Refund) -> Value {
        json!({
            "id": refund.id,
            "transaction_id": self.payment_id,
            "amount": self.amount(refund.amount),
            "status": refund.status.as_str(),
        })
    }

    pub fn to_json(&self) -> Value {
        let total = self.request["total_amount"].clone();
        let mut transactions = json!({"payments": [{
            "id": self.payment_id,
            "amount": total,
            "status": self.payment_status,
            "status_detail": self.transaction_detail(),
        }]});
        if !self.refunds.is_empty() {
            let refunds: Vec<Value> = self.refunds.iter().map(|r| self.refund_json(r)).collect();
            transactions["refunds"] = Value::Array(refunds);
        }
        json!({
            "id": self.id,
            "type": "qr",
            "processing_mode": "automatic",
            "external_reference": self.request["external_reference"],
            "description": self.request.get("description"),
            "total_amount": total,
            "total_paid_amount": if self.paid() { total.clone() } else { json!(self.amount(0)) },
            "expiration_time": self.request.get("expiration_time"),
            "country_code": "BRA",
            "user_id": "1234567890",
            "status": self.status,
            "status_detail": self.status_detail,
            "created_date": self.created,
            "last_updated_date": self.updated,
            "config": self.request["config"],
            "type_response": {"qr_data": self.qr_data},
            "transactions": transactions,
            "items": self.request.get("items"),
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) enum KeyEntry {
    /// A create with this key is still running: a repeat gets 423.
    Processing,
    Done {
        body_hash: String,
        order_id: String,
    },
}

/// A write key's first answer (refund or cancel): a repeat with the same
/// request gets it again. Such a write is recorded under one lock, so its key
/// is never seen half-processed (create's 423 cannot arise here).
#[derive(Debug, Clone)]
pub(crate) struct KeyAnswer {
    pub request_hash: String,
    pub answer: Value,
}

/// A `/v1` endpoint, as the fault switches name it (`"on"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/orders`
    Create,
    /// `GET /v1/orders/{id}`
    Get,
    /// `POST /v1/orders/{id}/cancel`
    Cancel,
    /// `POST /v1/orders/{id}/refund`
    Refund,
}

impl Endpoint {
    /// `create`, `get`, `cancel` or `refund`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "create" => Some(Self::Create),
            "get" => Some(Self::Get),
            "cancel" => Some(Self::Cancel),
            "refund" => Some(Self::Refund),
            _ => None,
        }
    }
}

/// What the fault switches do to the next `/v1` calls.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Fail this many calls (of `on`, else of any endpoint) ...
    pub fail_next: u32,
    /// ... with this status (400..=599) ...
    pub status: u16,
    /// ... and this MP error code (None: the usual one for the status).
    pub code: Option<String>,
    /// A 429's `Retry-After`, in seconds (None: 1).
    pub retry_after: Option<u64>,
    /// Delay this many calls (of `on`, else of any endpoint) by `delay` first.
    pub delay_next: u32,
    pub delay: Duration,
    /// Only calls to this endpoint are faulted and counted down.
    pub on: Option<Endpoint>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub orders: HashMap<String, Order>,
    pub keys: HashMap<String, KeyEntry>,
    /// `X-Idempotency-Key`s of `POST /v1/orders/{id}/refund`, apart from create's.
    pub refund_keys: HashMap<String, KeyAnswer>,
    /// `X-Idempotency-Key`s of `POST /v1/orders/{id}/cancel`.
    pub cancel_keys: HashMap<String, KeyAnswer>,
    pub faults: Faults,
    /// Merged into the next `POST /v1/orders` answer, then forgotten.
    pub next_create_answer: Option<Value>,
}

pub struct MockState {
    pub(crate) config: MockConfig,
    inner: Mutex<Inner>,
    orders_created: AtomicU64,
    api_calls: AtomicU64,
    pub(crate) http: reqwest::Client,
}

/// What the fault switches decide for one API call: wait first, then maybe fail.
pub(crate) struct FaultAction {
    pub delay: Option<Duration>,
    pub fail_with: Option<InjectedFailure>,
}

pub(crate) struct InjectedFailure {
    pub status: u16,
    pub code: Option<String>,
    pub retry_after: Option<u64>,
}

/// Why a control call on an order or refund was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// No such order.
    OrderNotFound,
    /// The order has no such refund.
    RefundNotFound,
    /// The refund is not `processing` (its status is given).
    RefundNotProcessing(&'static str),
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OrderNotFound => f.write_str("order not found"),
            Self::RefundNotFound => f.write_str("refund not found"),
            Self::RefundNotProcessing(status) => {
                write!(f, "refund is {status}, not processing")
            }
        }
    }
}

impl std::error::Error for ControlError {}

impl MockState {
    pub fn new(config: MockConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            config,
            inner: Mutex::new(Inner::default()),
            orders_created: AtomicU64::new(0),
            api_calls: AtomicU64::new(0),
            http,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Orders created through `POST /v1/orders` (repeats of a key not counted).
    pub fn orders_created(&self) -> u64 {
        self.orders_created.load(Ordering::SeqCst)
    }

    /// Calls to the `/v1` API, faulted or not.
    pub fn api_calls(&self) -> u64 {
        self.api_calls.load(Ordering::SeqCst)
    }

    pub(crate) fn count_order(&self) {
        self.orders_created.fetch_add(1, Ordering::SeqCst);
    }

    /// Fail the next `count` API calls (any endpoint) with `status`, and MP's
    /// usual code for it.
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut inner = self.lock();
        inner.faults.fail_next = count;
        inner.faults.status = status;
        inner.faults.code = None;
        inner.faults.retry_after = None;
        inner.faults.on = None;
    }

    /// Fail the next `count` calls to `endpoint` with `status` (other
    /// endpoints pass and do not count).
    pub fn fail_next_on(&self, endpoint: Endpoint, count: u32, status: u16) {
        let mut inner = self.lock();
        inner.faults.fail_next = count;
        inner.faults.status = status;
        inner.faults.code = None;
        inner.faults.retry_after = None;
        inner.faults.on = Some(endpoint);
    }

    /// Delay the next `count` API calls by `delay` before serving them.
    pub fn delay_next(&self, count: u32, delay: Duration) {
        let mut inner = self.lock();
        inner.faults.delay_next = count;
        inner.faults.delay = delay;
    }

    /// Replaces every fault switch at once (what `POST /mock/faults` does).
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }

    /// The order as `GET /v1/orders/{id}` shows it.
    pub fn order_json(&self, id: &str) -> Option<Value> {
        self.lock().orders.get(id).map(Order::to_json)
    }

    /// The status of an order, if it exists.
    pub fn order_status(&self, id: &str) -> Option<String> {
        self.lock().orders.get(id).map(|o| o.status.clone())
    }

    /// Allows (`true`, the default) or refuses partial refunds of the order:
    /// refused, a refund naming amounts answers 400
    /// `unsupported_partially_refunds`. False when there is no such order.
    pub fn set_partial_refunds(&self, order_id: &str, supported: bool) -> bool {
        match self.lock().orders.get_mut(order_id) {
            Some(order) => {
                order.partial_refunds = supported;
                true
            }
            None => false,
        }
    }

    /// Sets any `status`/`status_detail` on the order (one MP may add later),
    /// leaving the rest as it is. No webhook. False when there is no such order.
    pub fn set_order_status(&self, order_id: &str, status: &str, status_detail: &str) -> bool {
        match self.lock().orders.get_mut(order_id) {
            Some(order) => {
                order.status = status.into();
                order.status_detail = status_detail.into();
                order.updated = crate::api::now_iso();
                order.last_action = Some(format!("order.{status}"));
                true
            }
            None => false,
        }
    }

    /// Merges `patch` (a JSON merge patch: objects merge, `null` removes)
    /// into the answer of the next `POST /v1/orders` that answers 201, and
    /// only that one; the order itself is not changed.
    pub fn set_next_create_answer(&self, patch: Value) {
        self.lock().next_create_answer = Some(patch);
    }

    /// Fails a refund still `processing` at once: it becomes `failed`, its
    /// amount refundable again, the order's status unchanged; then the order's
    /// webhook is sent (as settling would, `order.refunded`) when the refund
    /// was to notify. Returns the order, the refund and the delivery.
    pub async fn fail_refund(
        &self,
        order_id: &str,
        refund_id: &str,
    ) -> Result<(Value, Value, Option<Delivery>), ControlError> {
        let (order, refund, notify) = {
            let mut inner = self.lock();
            let order = inner
                .orders
                .get_mut(order_id)
                .ok_or(ControlError::OrderNotFound)?;
            let refund = order
                .refunds
                .iter_mut()
                .find(|r| r.id == refund_id)
                .ok_or(ControlError::RefundNotFound)?;
            if refund.status != RefundStatus::Processing {
                return Err(ControlError::RefundNotProcessing(refund.status.as_str()));
            }
            refund.status = RefundStatus::Failed;
            let refund = refund.clone();
            order.updated = crate::api::now_iso();
            order.last_action = Some("order.refunded".into());
            let notify = refund.notify;
            (order.clone(), refund, notify)
        };
        let delivery = if notify {
            deliver(self, &order, "order.refunded").await
        } else {
            None
        };
        Ok((order.to_json(), order.refund_json(&refund), delivery))
    }

    /// Settles the order's refunds `ids` that are still `processing`: they
    /// become `processed`, the order `refunded` or `partially_refunded`; then
    /// the order's webhook, when they were to notify. None when none was left
    /// to settle (failed meanwhile, or no such order).
    pub(crate) async fn settle_refunds(&self, order_id: &str, ids: &[String]) -> Option<Value> {
        let (order, notify) = {
            let mut inner = self.lock();
            let order = inner.orders.get_mut(order_id)?;
            let mut settled = false;
            let mut notify = false;
            for refund in order.refunds.iter_mut() {
                if ids.contains(&refund.id) && refund.status == RefundStatus::Processing {
                    refund.status = RefundStatus::Processed;
                    settled = true;
                    notify |= refund.notify;
                }
            }
            if !settled {
                return None;
            }
            order.apply_processed_refunds();
            order.updated = crate::api::now_iso();
            order.last_action = Some("order.refunded".into());
            (order.clone(), notify)
        };
        if notify {
            deliver(self, &order, "order.refunded").await;
        }
        Some(order.to_json())
    }

    /// After `config.refund_settle`, settles the refunds `ids` (see
    /// `settle_refunds`) in the background.
    pub(crate) fn settle_later(self: &Arc<Self>, order_id: String, ids: Vec<String>) {
        let state = Arc::clone(self);
        let delay = self.config.refund_settle;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            state.settle_refunds(&order_id, &ids).await;
        });
    }

    pub(crate) fn next_fault(&self, endpoint: Option<Endpoint>) -> FaultAction {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let mut inner = self.lock();
        let faults = &mut inner.faults;
        if faults.on.is_some() && faults.on != endpoint {
            return FaultAction {
                delay: None,
                fail_with: None,
            };
        }
        let delay = (faults.delay_next > 0).then(|| {
            faults.delay_next -= 1;
            faults.delay
        });
        let fail_with = (faults.fail_next > 0).then(|| {
            faults.fail_next -= 1;
            InjectedFailure {
                status: faults.status,
                code: faults.code.clone(),
                retry_after: faults.retry_after,
            }
        });
        FaultAction { delay, fail_with }
    }
}
