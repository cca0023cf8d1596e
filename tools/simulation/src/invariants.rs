//! The six invariants, checked on a world at quiescence.

use std::collections::{BTreeMap, BTreeSet};

use payments::domain::{Payment, PaymentStatus, Refund, RefundFailure, RefundSource, RefundStatus};
use payments::ports::OutboxEvent;

use crate::executor::Answer;
use crate::history::World;
use crate::mercadopago::{MpOrder, MpStatus};
use payments::ports::ProviderRefundStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: u8,
    pub detail: String,
}

struct Checks(Vec<Violation>);

impl Checks {
    fn fail(&mut self, invariant: u8, detail: impl Into<String>) {
        self.0.push(Violation {
            invariant,
            detail: detail.into(),
        });
    }
}

pub fn check(world: &World) -> Vec<Violation> {
    let mut checks = Checks(Vec::new());
    let payments = world.store.payments();
    let refunds = world.store.refunds();
    let orders: BTreeMap<String, MpOrder> = world
        .mercadopago
        .orders()
        .into_iter()
        .map(|o| (o.payment_id.clone(), o))
        .collect();
    for payment in &payments {
        let theirs: Vec<&Refund> = refunds
            .iter()
            .filter(|r| r.payment_id == *payment.id())
            .collect();
        let order = orders.get(payment.id().as_str());
        money_adds_up(&mut checks, payment, &theirs, order);
        closed_means_given_back(&mut checks, payment, order);
        status_agrees(&mut checks, payment, order);
        nothing_left_pending(&mut checks, payment, &theirs);
    }
    one_payment_keeps_money_per_order(&mut checks, &payments, &orders);
    for line in &world.backwards {
        checks.fail(3, line.clone());
    }
    events_match_records(&mut checks, world, &payments, &refunds);
    keys_answer_the_same(&mut checks, &world.answers);
    checks.0
}

/// 1: what Mercado Pago refunded is what we recorded, each of its refunds
/// once and as what it is (ours under our key, or the dashboard's).
fn money_adds_up(
    checks: &mut Checks,
    payment: &Payment,
    refunds: &[&Refund],
    order: Option<&MpOrder>,
) {
    let id = payment.id();
    let Some(order) = order else {
        if payment.amount_refunded() != 0 {
            checks.fail(
                1,
                format!(
                    "{id}: {} refunded without a Mercado Pago order",
                    payment.amount_refunded()
                ),
            );
        }
        return;
    };
    if order.refunded() != payment.amount_refunded() {
        checks.fail(
            1,
            format!(
                "{id}: Mercado Pago refunded {} but amount_refunded is {}",
                order.refunded(),
                payment.amount_refunded()
            ),
        );
    }
    let processed = order
        .refunds
        .iter()
        .filter(|r| r.status == ProviderRefundStatus::Processed);
    for made in processed {
        // A refund we only recorded (made in the dashboard) asked of Mercado Pago again.
        if let Some(resent) = refunds.iter().find(|r| {
            r.source == RefundSource::Provider && made.key.as_deref() == Some(r.refund_id.as_str())
        }) {
            checks.fail(
                1,
                format!(
                    "{id}: the dashboard's refund {} was sent to Mercado Pago as ours and paid again ({})",
                    resent.refund_id, made.id
                ),
            );
        }
        let recorded: Vec<&&Refund> = refunds
            .iter()
            .filter(|r| {
                r.status == RefundStatus::Succeeded
                    && r.provider_refund_id.as_ref() == Some(&made.id)
            })
            .collect();
        if recorded.len() != 1 {
            checks.fail(
                1,
                format!(
                    "{id}: Mercado Pago refund {} ({}) recorded {} times",
                    made.id,
                    made.amount,
                    recorded.len()
                ),
            );
            continue;
        }
        let by = recorded[0];
        let rightly = match &made.key {
            None => by.source == RefundSource::Provider,
            Some(key) if key.starts_with("late-") => {
                by.source == RefundSource::LatePayment && *key == format!("late-{}", by.refund_id)
            }
            Some(key) => by.source == RefundSource::Api && by.refund_id.as_str() == key,
        };
        if !rightly {
            checks.fail(
                1,
                format!(
                    "{id}: Mercado Pago refund {} made by {} is recorded as {} ({})",
                    made.id,
                    made.key.as_deref().unwrap_or("the dashboard"),
                    by.refund_id,
                    by.source.as_str()
                ),
            );
        }
    }
    for refund in refunds
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
    {
        let made = refund.provider_refund_id.as_ref().is_some_and(|p| {
            order
                .refunds
                .iter()
                .any(|m| m.id == *p && m.status == ProviderRefundStatus::Processed)
        });
        if !made {
            checks.fail(
                1,
                format!(
                    "{id}: refund {} reported succeeded, never made at Mercado Pago",
                    refund.refund_id
                ),
            );
        }
    }
}

/// 2: money Mercado Pago took for a payment we closed is back.
fn closed_means_given_back(checks: &mut Checks, payment: &Payment, order: Option<&MpOrder>) {
    let Some(order) = order else { return };
    if payment.status() != PaymentStatus::Approved && order.kept() > 0 {
        checks.fail(
            2,
            format!(
                "{}: {} of the customer's money kept at Mercado Pago while the payment is {}",
                payment.id(),
                order.kept(),
                payment.status()
            ),
        );
    }
}

/// 2: an order is paid by at most one payment.
fn one_payment_keeps_money_per_order(
    checks: &mut Checks,
    payments: &[Payment],
    orders: &BTreeMap<String, MpOrder>,
) {
    let mut keeping: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for payment in payments {
        if orders
            .get(payment.id().as_str())
            .is_some_and(|o| o.kept() > 0)
        {
            keeping
                .entry(payment.order_id().to_string())
                .or_default()
                .push(payment.id().to_string());
        }
    }
    for (order, paid) in keeping {
        if paid.len() > 1 {
            checks.fail(
                2,
                format!(
                    "order {order} paid {} times: {}",
                    paid.len(),
                    paid.join(", ")
                ),
            );
        }
    }
}

/// 3: our status says what Mercado Pago's order says.
fn status_agrees(checks: &mut Checks, payment: &Payment, order: Option<&MpOrder>) {
    use PaymentStatus::*;
    let ours = payment.status();
    // No order recorded: no QR code was shown, whatever Mercado Pago made of
    // a create whose answer was lost; nobody can have paid it.
    let shown = payment.provider().is_some();
    let agrees = match order.map(|o| o.status) {
        _ if !shown => {
            matches!(ours, Expired | Canceled | Pending) && order.is_none_or(|o| !o.paid)
        }
        None => false,
        Some(MpStatus::Created) => ours == Pending,
        Some(MpStatus::Processed) => ours == Approved,
        Some(MpStatus::Refunded) => ours == Refunded,
        Some(MpStatus::Canceled) => matches!(ours, Canceled | Expired),
        Some(MpStatus::Expired) => ours == Expired,
        Some(MpStatus::Failed) => ours == Declined,
    };
    if !agrees {
        checks.fail(
            3,
            format!(
                "{} is {ours} but its Mercado Pago order is {}",
                payment.id(),
                order.map_or("missing", |o| o.status.as_str())
            ),
        );
    }
}

/// 5: nothing pending without a person told.
fn nothing_left_pending(checks: &mut Checks, payment: &Payment, refunds: &[&Refund]) {
    if payment.sweep().needs_review {
        return;
    }
    if payment.status() == PaymentStatus::Pending {
        checks.fail(
            5,
            format!("{} left pending, not flagged for review", payment.id()),
        );
    }
    for refund in refunds.iter().filter(|r| r.status == RefundStatus::Pending) {
        checks.fail(
            5,
            format!(
                "{}: refund {} left pending, not flagged for review",
                payment.id(),
                refund.refund_id
            ),
        );
    }
}

/// 4: the events subscribers got are exactly the changes recorded.
fn events_match_records(
    checks: &mut Checks,
    world: &World,
    payments: &[Payment],
    refunds: &[Refund],
) {
    let waiting = world.store.waiting_events();
    if !waiting.is_empty() {
        checks.fail(4, format!("{} events still in the outbox", waiting.len()));
    }
    let committed = world.store.all_events();
    let delivered: BTreeMap<String, OutboxEvent> = world
        .topic
        .delivered
        .lock()
        .iter()
        .map(|e| (e.event_id.to_string(), e.clone()))
        .collect();
    let committed_ids: BTreeSet<String> =
        committed.iter().map(|e| e.event_id.to_string()).collect();
    for id in delivered.keys().filter(|id| !committed_ids.contains(*id)) {
        checks.fail(4, format!("event {id} published but never recorded"));
    }
    for id in committed_ids
        .iter()
        .filter(|id| !delivered.contains_key(*id))
    {
        checks.fail(4, format!("event {id} recorded but never published"));
    }
    for payment in payments {
        let id = payment.id();
        let events: Vec<&OutboxEvent> = committed.iter().filter(|e| e.payment_id == *id).collect();
        // Numbered 1..n in its payment's history, no gap, none twice, and
        // the body says the same as the attribute.
        let mut numbers: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        numbers.sort_unstable();
        let expected: Vec<u64> = (1..=events.len() as u64).collect();
        if numbers != expected {
            checks.fail(
                4,
                format!("{id}: event sequence {numbers:?}, not 1..={}", events.len()),
            );
        }
        if payment.sequence() != events.len() as u64 {
            checks.fail(
                4,
                format!(
                    "{id} counts {} events but has {}",
                    payment.sequence(),
                    events.len()
                ),
            );
        }
        for event in &events {
            let in_body = serde_json::from_str::<serde_json::Value>(&event.body)
                .ok()
                .and_then(|b| b["sequence"].as_u64());
            if in_body != Some(event.sequence) {
                checks.fail(
                    4,
                    format!("event {} body sequence {in_body:?}", event.event_id),
                );
            }
        }
        let moves: Vec<&str> = events
            .iter()
            .map(|e| e.event_type.as_str())
            .filter(|t| *t != "payment.refunded" && *t != "payment.refund_failed")
            .collect();
        let expected_moves = usize::from(payment.status() != PaymentStatus::Pending);
        if moves.len() != expected_moves {
            checks.fail(
                4,
                format!("{id} is {} with status events {moves:?}", payment.status()),
            );
        }
        let mut announced: BTreeMap<String, usize> = BTreeMap::new();
        for event in events
            .iter()
            .filter(|e| e.event_type.as_str() == "payment.refunded")
        {
            let refund = serde_json::from_str::<serde_json::Value>(&event.body)
                .ok()
                .and_then(|b| b["refund"]["refund_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            *announced.entry(refund).or_default() += 1;
        }
        let succeeded: BTreeSet<String> = refunds
            .iter()
            .filter(|r| r.payment_id == *id && r.status == RefundStatus::Succeeded)
            .map(|r| r.refund_id.to_string())
            .collect();
        for refund in &succeeded {
            if announced.get(refund) != Some(&1) {
                checks.fail(
                    4,
                    format!(
                        "{id}: refund {refund} announced {} times",
                        announced.get(refund).unwrap_or(&0)
                    ),
                );
            }
        }
        for (refund, _) in announced.iter().filter(|(r, _)| !succeeded.contains(*r)) {
            checks.fail(
                4,
                format!("{id}: payment.refunded for {refund}, which did not succeed"),
            );
        }
        // A refund Mercado Pago took and then failed is announced once.
        let failed_there: BTreeSet<String> = refunds
            .iter()
            .filter(|r| {
                r.payment_id == *id
                    && r.status == RefundStatus::Failed
                    && r.failure == Some(RefundFailure::FailedAtProvider)
            })
            .map(|r| r.refund_id.to_string())
            .collect();
        let mut failures: BTreeMap<String, usize> = BTreeMap::new();
        for event in events
            .iter()
            .filter(|e| e.event_type.as_str() == "payment.refund_failed")
        {
            let refund = serde_json::from_str::<serde_json::Value>(&event.body)
                .ok()
                .and_then(|b| b["refund"]["refund_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            *failures.entry(refund).or_default() += 1;
        }
        let announced_failures: BTreeSet<String> = failures.keys().cloned().collect();
        if failures.values().any(|n| *n != 1) || announced_failures != failed_there {
            checks.fail(
                4,
                format!(
                    "{id}: refunds failed at Mercado Pago {failed_there:?}, payment.refund_failed {failures:?}"
                ),
            );
        }
    }
}

/// 6: every Idempotency-Key answered the same each time.
fn keys_answer_the_same(checks: &mut Checks, answers: &[Answer]) {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    for answer in answers {
        let (key, value) = match answer {
            Answer::Create { key, payment } => (format!("create {key}"), payment),
            Answer::Refund { key, refund } => (format!("refund {key}"), refund),
            Answer::None | Answer::Redeliver(_) => continue,
        };
        match first.get(&key) {
            Some(seen) if seen != value => {
                checks.fail(6, format!("{key} answered {seen}, then {value}"));
            }
            Some(_) => {}
            None => {
                first.insert(key, value.clone());
            }
        }
    }
}
