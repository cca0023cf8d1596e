//! The mock's memory: orders, idempotency keys, fault switches, counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{json, Value};

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
}

impl Order {
    pub fn to_json(&self) -> Value {
        let total = self.request["total_amount"].clone();
        json!({
            "id": self.id,
            "type": "qr",
            "processing_mode": "automatic",
            "external_reference": self.request["external_reference"],
            "description": self.request.get("description"),
            "total_amount": total,
            "total_paid_amount": if self.status == "processed" { total.clone() } else { json!("0.00") },
            "expiration_time": self.request.get("expiration_time"),
            "country_code": "BRA",
            "user_id": "1234567890",
            "status": self.status,
            "status_detail": self.status_detail,
            "created_date": self.created,
            "last_updated_date": self.updated,
            "config": self.request["config"],
            "type_response": {"qr_data": self.qr_data},
            "transactions": {"payments": [{
                "id": self.payment_id,
                "amount": total,
                "status": self.payment_status,
                "status_detail": self.status_detail,
            }]},
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
