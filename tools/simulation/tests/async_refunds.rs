//! Mercado Pago refunds asynchronously: what the simulation found once its
//! refunds stayed `processing` and could fail, each as one scripted history.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use payments::domain::{PaymentStatus, ProviderOrderId, RefundFailure, RefundSource, RefundStatus};
use payments::ports::ProviderRefundStatus;
use payments_simulation::history::History;

mod scripted;
use scripted::{only_payment, order_at_mercado_pago, paid_payment};

/// How long Mercado Pago processes a refund in these histories.
const SETTLE: Duration = Duration::from_secs(60);

fn event_types(history: &History) -> Vec<String> {
    history
        .world()
        .store
        .all_events()
        .iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect()
}

/// A payment the kiosk canceled, paid anyway (late) at Mercado Pago, whose
/// notification was delivered: its late refund is asked, and taken.
fn paid_after_its_cancel() -> (History, ProviderOrderId) {
    let mut history = History::scripted_with_refund_settle(SETTLE);
    let create = history.spawn_create(0, Some("create-1"));
    history.run_to_end(create);
    let payment = only_payment(&history);
    let order = payment.provider().unwrap().order_id.clone();
    let cancel = history.spawn_cancel(payment.id());
    history.run_to_end(cancel);
    history.deliver_notifications();
    assert_eq!(only_payment(&history).status(), PaymentStatus::Canceled);
    assert!(history.world().mercadopago.pay(&order, true));
    history.deliver_notifications();
    (history, order)
}

#[test]
fn a_refund_mercado_pago_takes_and_then_fails_is_failed_announced_and_refundable_again() {
    let mut history = History::scripted_with_refund_settle(SETTLE);
    let (payment_id, order) = paid_payment(&mut history);
    let refund = history.spawn_refund(&payment_id, Some(1000), "refund-1");
    history.run_to_end(refund);
    let taken = history.world().store.refunds();
    assert_eq!(
        taken[0].status,
        RefundStatus::Pending,
        "taken, not yet back"
    );
    assert!(taken[0].provider_refund_id.is_some());
    assert_eq!(only_payment(&history).amount_refunded(), 0);

    assert!(history.world().mercadopago.fail_a_refund(&order));
    history.deliver_notifications();

    let failed = history.world().store.refunds();
    assert_eq!(failed[0].status, RefundStatus::Failed);
    assert_eq!(failed[0].failure, Some(RefundFailure::FailedAtProvider));
    let payment = only_payment(&history);
    assert_eq!(payment.refundable(), 2000, "its amount refundable again");
    assert_eq!(
        event_types(&history),
        ["payment.approved", "payment.refund_failed"]
    );

    // Asked again, it is made once Mercado Pago processed it.
    let again = history.spawn_refund(&payment_id, Some(1000), "refund-2");
    history.run_to_end(again);
    history.sweep_after(SETTLE);
    history.deliver_notifications();
    assert_eq!(only_payment(&history).amount_refunded(), 1000);
    assert_eq!(
        event_types(&history),
        [
            "payment.approved",
            "payment.refund_failed",
            "payment.refunded"
        ]
    );
}

#[test]
fn a_late_payment_whose_refund_fails_at_mercado_pago_is_refunded_under_a_new_key() {
    let (mut history, order) = paid_after_its_cancel();
    // The late refund is taken, then fails there.
    assert_eq!(history.world().store.refunds().len(), 1);
    assert!(history.world().mercadopago.fail_a_refund(&order));
    history.deliver_notifications();

    let refunds = history.world().store.refunds();
    assert_eq!(refunds.len(), 2, "a second late refund, under a new key");
    assert_eq!(refunds[0].status, RefundStatus::Failed);
    assert_eq!(refunds[1].source, RefundSource::LatePayment);
    assert!(
        only_payment(&history).sweep().needs_review,
        "a person is told"
    );

    history.sweep_after(SETTLE);
    history.deliver_notifications();
    let payment = only_payment(&history);
    assert_eq!(payment.status(), PaymentStatus::Refunded);
    assert_eq!(payment.amount_refunded(), 2000);
    assert!(!payment.sweep().needs_review, "settled: nothing to review");
    let at_mp = order_at_mercado_pago(&history);
    assert_eq!(at_mp.kept(), 0, "the customer has the money back");
    assert_eq!(
        at_mp.refunds.iter().map(|r| r.status).collect::<Vec<_>>(),
        [
            ProviderRefundStatus::Failed,
            ProviderRefundStatus::Processed
        ]
    );
}

#[test]
fn a_refund_mercado_pago_took_is_settled_by_the_sweeper_when_its_notification_is_lost() {
    let mut history = History::scripted_with_refund_settle(SETTLE);
    let (payment_id, _) = paid_payment(&mut history);
    let refund = history.spawn_refund(&payment_id, Some(1000), "refund-1");
    history.run_to_end(refund);
    // Mercado Pago processes it; its notification never arrives.
    history.world().clock.advance(SETTLE);
    history.world().mercadopago.tick();
    history.world().mercadopago.take_notifications();

    history.sweep_after(Duration::from_secs(3600));

    let refunds = history.world().store.refunds();
    assert_eq!(refunds[0].status, RefundStatus::Succeeded);
    assert_eq!(only_payment(&history).amount_refunded(), 1000);
}

#[test]
fn a_partial_refund_unanswered_for_a_day_is_never_asked_again_under_a_key_mercado_pago_forgot() {
    use payments_simulation::faults::Rates;

    let mut history = History::scripted();
    let (payment_id, _) = paid_payment(&mut history);
    // Mercado Pago makes the refund; its answer is lost.
    history.faults().set(Rates {
        provider: 1.0,
        after_applied: 1.0,
        ..Rates::default()
    });
    let refund = history.spawn_refund(&payment_id, Some(1000), "refund-1");
    history.run_to_end(refund);
    // Then it is down for more than a day: every ask fails before it is made.
    history.faults().set(Rates {
        provider: 1.0,
        after_applied: 0.0,
        ..Rates::default()
    });
    for _ in 0..26 {
        history.sweep_after(Duration::from_secs(3600));
    }
    history.faults().clear();
    for _ in 0..3 {
        history.sweep_after(Duration::from_secs(3600));
        history.deliver_notifications();
    }

    let at_mp = order_at_mercado_pago(&history);
    assert_eq!(
        at_mp.refunds.len(),
        1,
        "the refund was made once: its key, forgotten by Mercado Pago, was not asked again"
    );
    let payment = only_payment(&history);
    assert!(payment.sweep().needs_review, "a person settles it");
}

#[test]
fn a_late_payment_refund_refused_after_one_failed_at_mercado_pago_is_still_asked_again() {
    let (mut history, order) = paid_after_its_cancel();
    // The late refund is taken, then fails; the next is refused (window closed).
    assert!(history.world().mercadopago.fail_a_refund(&order));
    history.world().mercadopago.set_refund_window(&order, false);
    history.deliver_notifications();
    assert_eq!(
        order_at_mercado_pago(&history).kept(),
        2000,
        "the customer's money is still there"
    );
    // The window reopens: the refused refund is asked again and made.
    history.world().mercadopago.set_refund_window(&order, true);
    let mut gap = Duration::from_secs(60);
    for _ in 0..12 {
        history.sweep_after(gap);
        history.deliver_notifications();
        gap *= 2;
    }
    assert_eq!(order_at_mercado_pago(&history).kept(), 0, "given back");
    assert_eq!(only_payment(&history).status(), PaymentStatus::Refunded);
}
