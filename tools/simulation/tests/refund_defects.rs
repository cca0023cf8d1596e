//! The refund defects the simulation found, each as one scripted history:
//! the same world and the same real use cases, with the steps chosen by hand
//! instead of by the dice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use payments::domain::{PaymentStatus, RefundSource, RefundStatus};
use payments_simulation::faults::Rates;
use payments_simulation::history::History;

mod scripted;
use scripted::{only_payment, order_at_mercado_pago, paid_payment};

#[test]
fn a_dashboard_refund_is_never_asked_of_mercado_pago_wherever_its_webhook_dies() {
    let mut killed_somewhere = false;
    for kill_after in 0..12 {
        let mut history = History::scripted();
        let (payment_id, order) = paid_payment(&mut history);
        assert!(history
            .world()
            .mercadopago
            .dashboard_refund(&order, Some(1000)));
        history.world().mercadopago.take_notifications();
        let webhook = history.spawn_webhook(order.clone());
        for _ in 0..kill_after {
            history.step_actor(webhook);
        }
        if history.waiting_at(webhook).is_some() {
            killed_somewhere = true;
            history.kill(webhook);
        }
        history.sweep_after(Duration::from_secs(3600));
        // Mercado Pago retries the notification; it finds everything recorded once.
        let again = history.spawn_webhook(order.clone());
        history.run_to_end(again);
        history.sweep_after(Duration::from_secs(3600));

        let at_mp = order_at_mercado_pago(&history);
        assert_eq!(
            at_mp.refunds.len(),
            1,
            "killed after {kill_after} calls: one refund, the dashboard's"
        );
        let payment = only_payment(&history);
        assert_eq!(
            payment.amount_refunded(),
            1000,
            "killed after {kill_after} calls"
        );
        let refunds = history.world().store.refunds();
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0].source, RefundSource::Provider);
        assert_eq!(refunds[0].status, RefundStatus::Succeeded);
        assert_eq!(refunds[0].payment_id, payment_id);
    }
    assert!(killed_somewhere, "the webhook was killed at some gate");
}

#[test]
fn a_refund_left_pending_is_not_taken_for_a_dashboard_refund_of_the_same_amount() {
    let mut history = History::scripted();
    let (payment_id, order) = paid_payment(&mut history);
    // Mercado Pago is down: our refund of 1000 stays pending.
    history.faults().set(Rates {
        provider: 1.0,
        ..Rates::default()
    });
    let refund = history.spawn_refund(&payment_id, Some(1000), "refund-a");
    history.run_to_end(refund);
    history.faults().clear();
    let ours = history.world().store.refunds();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].status, RefundStatus::Pending);
    // An operator refunds the same amount in the dashboard; its webhook comes.
    assert!(history
        .world()
        .mercadopago
        .dashboard_refund(&order, Some(1000)));
    history.deliver_notifications();
    history.sweep_after(Duration::from_secs(3600));
    history.deliver_notifications();

    let at_mp = order_at_mercado_pago(&history);
    assert_eq!(
        at_mp.refunds.len(),
        2,
        "ours was made too, not matched by amount"
    );
    assert_eq!(at_mp.refunded(), 2000);
    let payment = only_payment(&history);
    assert_eq!(payment.amount_refunded(), 2000);
    let refunds = history.world().store.refunds();
    let api = refunds
        .iter()
        .find(|r| r.source == RefundSource::Api)
        .unwrap();
    let made_for_ours = at_mp
        .refunds
        .iter()
        .find(|r| r.key.as_deref() == Some(api.refund_id.as_str()))
        .expect("Mercado Pago made our refund under our key");
    assert_eq!(api.provider_refund_id.as_ref(), Some(&made_for_ours.id));
    let dashboard = refunds
        .iter()
        .find(|r| r.source == RefundSource::Provider)
        .unwrap();
    let made_there = at_mp.refunds.iter().find(|r| r.key.is_none()).unwrap();
    assert_eq!(dashboard.provider_refund_id.as_ref(), Some(&made_there.id));
}

#[test]
fn our_own_refund_is_not_recorded_again_when_the_order_is_read_after_it() {
    let mut history = History::scripted();
    let (payment_id, order) = paid_payment(&mut history);
    let refund = history.spawn_refund(&payment_id, Some(1000), "refund-a");
    history.run_to_end(refund);
    assert_eq!(only_payment(&history).amount_refunded(), 1000);
    // Mercado Pago notifies the refund: the order is read again, listing it.
    history.deliver_notifications();
    let again = history.spawn_webhook(order);
    history.run_to_end(again);

    assert_eq!(order_at_mercado_pago(&history).refunds.len(), 1);
    assert_eq!(only_payment(&history).amount_refunded(), 1000);
    assert_eq!(history.world().store.refunds().len(), 1, "recorded once");
}

#[test]
fn a_late_payment_whose_refund_mercado_pago_refuses_is_kept_for_review_and_given_back_later() {
    let mut history = History::scripted();
    let create = history.spawn_create(0, None);
    history.run_to_end(create);
    let payment = only_payment(&history);
    let order = payment.provider().unwrap().order_id.clone();
    // The QR expires at our side; the customer pays it in that instant, and
    // Mercado Pago will not refund it now.
    history.sweep_after(Duration::from_secs(16 * 60));
    history.deliver_notifications();
    assert_eq!(only_payment(&history).status(), PaymentStatus::Expired);
    assert!(history.world().mercadopago.pay(&order, true));
    history.world().mercadopago.set_refund_window(&order, false);
    history.deliver_notifications();

    let payment = only_payment(&history);
    assert!(payment.sweep().needs_review, "a person is told");
    let refunds = history.world().store.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status, RefundStatus::Pending, "not given up");
    assert_eq!(order_at_mercado_pago(&history).kept(), 2000);

    // Mercado Pago takes it again: the sweeper gives the money back.
    history.world().mercadopago.set_refund_window(&order, true);
    history.sweep_after(Duration::from_secs(3600));
    history.deliver_notifications();
    assert_eq!(order_at_mercado_pago(&history).kept(), 0);
    let payment = only_payment(&history);
    assert_eq!(payment.status(), PaymentStatus::Refunded);
    assert_eq!(payment.amount_refunded(), 2000);
}
