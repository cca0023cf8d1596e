//! The mock's memory: orders, idempotency keys, fault switches, counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{json, Value};

use crate::validate;
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
    /// Every refund made so far, oldest first.
    pub refunds: Vec<Refund>,
    /// MP refunds only within 180 days of payment; `/mock/.../refund-window` closes it.
    pub refund_window_open: bool,
    /// The action of the last event that changed the order (`order.processed`,
    /// `order.refunded`, ...): what a redelivery sends. None: `order.{status}`.
    pub last_action: Option<String>,
}

/// One refund of the order's payment, in the order's minor units.
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub id: String,
    pub amount: u64,
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

    pub fn refunded_minor(&self) -> u64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    /// What is paid and not yet refunded.
    pub fn refundable_minor(&self) -> u64 {
        self.total_minor().saturating_sub(self.refunded_minor())
    }

    pub fn amount(&self, minor: u64) -> String {
        validate::format_minor(minor, self.decimals())
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

    pub fn refund_json(&self, refund: &Refund) -> Value {
        json!({
            "id": refund.id,
            "transaction_id": self.payment_id,
            "amount": self.amount(refund.amount),
            "status": "processed",
        })
    }

    pub fn to_json(&self) -> Value {
        let total = self.request["total_amount"].clone();
        let mut transactions = json!({"payments": [{
            "id": self.payment_id,
            "amount": total,
            "status": self.payment_status,
            "status_detail": self.status_detail,
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

/// A refund key's first answer: a repeat with the same order and body gets it
/// again. A refund is recorded under one lock, so a refund key is never seen
/// half-processed (create's 423 cannot arise here).
#[derive(Debug, Clone)]
pub(crate) struct RefundKey {
    pub request_hash: String,
    pub answer: Value,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Faults {
    pub fail_next: u32,
    pub fail_status: u16,
    pub delay_next: u32,
    pub delay: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub orders: HashMap<String, Order>,
    pub keys: HashMap<String, KeyEntry>,
    /// `X-Idempotency-Key`s of `POST /v1/orders/{id}/refund`, apart from create's.
    pub refund_keys: HashMap<String, RefundKey>,
    pub faults: Faults,
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
    pub fail_with: Option<u16>,
}

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

    /// Fail the next `count` API calls with `status`.
    pub fn fail_next(&self, count: u32, status: u16) {
        let mut inner = self.lock();
        inner.faults.fail_next = count;
        inner.faults.fail_status = status;
    }

    /// Delay the next `count` API calls by `delay` before serving them.
    pub fn delay_next(&self, count: u32, delay: Duration) {
        let mut inner = self.lock();
        inner.faults.delay_next = count;
        inner.faults.delay = delay;
    }

    pub fn clear_faults(&self) {
        self.lock().faults = Faults::default();
    }

    /// The status of an order, if it exists.
    /// The order as `GET /v1/orders/{id}` shows it.
    pub fn order_json(&self, id: &str) -> Option<Value> {
        self.lock().orders.get(id).map(Order::to_json)
    }

    pub fn order_status(&self, id: &str) -> Option<String> {
        self.lock().orders.get(id).map(|o| o.status.clone())
    }

    pub(crate) fn next_fault(&self) -> FaultAction {
        self.api_calls.fetch_add(1, Ordering::SeqCst);
        let mut inner = self.lock();
        let faults = &mut inner.faults;
        let delay = take_delay(faults);
        let fail_with = (faults.fail_next > 0).then(|| {
            faults.fail_next -= 1;
            faults.fail_status
        });
        FaultAction { delay, fail_with }
    }
}

fn take_delay(faults: &mut Faults) -> Option<Duration> {
    if faults.delay_next > 0 {
        faults.delay_next -= 1;
        Some(faults.delay)
    } else {
        None
    }
}
