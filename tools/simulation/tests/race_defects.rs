//! The defects the simulation found between two actors, or in the sweeper's
//! schedule, each as one scripted history: the same world and real use
//! cases, with the interleaving chosen by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use payments::domain::{PaymentStatus, RefundSource, RefundStatus};
use payments_simulation::executor::Answer;
use payments_simulation::history::History;
use payments_simulation::mercadopago::MpStatus;

mod scripted;
use scripted::{only_payment, order_at_mercado_pago, paid_payment, payments, step_until};

const AN_HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_late_payment_whose_webhook_is_lost_is_found_and_given_back_by_the_sweeper() {
    let mut history = History::scripted();
    let create = history.spawn_create(0, None);
    history.run_to_end(create);
    let payment = only_payment(&history);
    let order = payment.provider().unwrap().order_id.clone();
    let cancel = history.spawn_cancel(payment.id());
    history.run_to_end(cancel);
    assert_eq!(only_payment(&history).status(), PaymentStatus::Canceled);
    // The customer pays in that instant; the notification never arrives.
    assert!(history.world().mercadopago.pay(&order, true));
    history.world().mercadopago.take_notifications();

    history.sweep_after(Duration::from_secs(60));

    assert_eq!(
        order_at_mercado_pago(&history).kept(),
        0,
        "the money is back"
    );
    let payment = only_payment(&history);
    assert_eq!(payment.status(), PaymentStatus::Refunded);
    assert_eq!(payment.amount_refunded(), 2000);
    let refunds = history.world().store.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].source, RefundSource::LatePayment);
}

#[test]
fn an_ended_payment_leaves_the_sweepers_watch_after_its_last_look() {
    let mut history = History::scripted();
    let (payment_id, _) = paid_payment(&mut history);
    for _ in 0..8 {
        history.sweep_after(Duration::from_secs(24 * 3600));
    }
    let payment = history
        .world()
        .store
        .payments()
        .into_iter()
        .find(|p| p.id() == &payment_id)
        .unwrap();
    assert_eq!(payment.due_at(), None, "watched five times, then no more");
    assert_eq!(payment.sweep().attempts, 5);
}

#[test]
fn a_cancel_that_read_the_payment_before_its_order_was_recorded_cancels_that_order() {
    let mut history = History::scripted();
    let create = history.spawn_create(0, None);
    // Mercado Pago made the order; the create has not recorded it yet.
    assert!(step_until(
        &mut history,
        create,
        "store.record_provider_order"
    ));
    let payment = only_payment(&history);
    assert!(payment.provider().is_none());
    let cancel = history.spawn_cancel(payment.id());
    assert!(step_until(&mut history, cancel, "store.commit_transition"));
    history.run_to_end(create);
    history.run_to_end(cancel);

    assert_eq!(only_payment(&history).status(), PaymentStatus::Canceled);
    assert_eq!(
        order_at_mercado_pago(&history).status,
        MpStatus::Canceled,
        "the order nobody will serve can no longer be paid"
    );
}

#[test]
fn twin_creates_with_one_key_answer_the_same_payment_every_time() {
    let mut history = History::scripted();
    let first = history.spawn_create(0, Some("key-1"));
    history.run_to_end(first);
    let live = only_payment(&history);
    // A finds the live payment of the same request and is about to record
    // it as key-2's answer; B claimed key-2 before that answer was written.
    let a = history.spawn_create(0, Some("key-2"));
    assert!(step_until(
        &mut history,
        a,
        "store.complete_idempotency_key"
    ));
    let b = history.spawn_create(0, Some("key-2"));
    assert!(step_until(&mut history, b, "store.claim_idempotency_key"));
    history.step_actor(b);
    assert_eq!(history.waiting_at(b), Some("store.order_lock"));
    history.run_to_end(a);
    // The kiosk gives up on that payment before B goes on.
    let cancel = history.spawn_cancel(live.id());
    history.run_to_end(cancel);
    history.run_to_end(b);

    let answers: Vec<&String> = history
        .world()
        .answers
        .iter()
        .filter_map(|answer| match answer {
            Answer::Create { key, payment } if key == "key-2" => Some(payment),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        // The same payment, answered the same way (status included).
        answers
            .iter()
            .all(|p| p.starts_with(live.id().as_str()) && *p == answers[0]),
        "key-2 answered one payment: {answers:?}"
    );
    assert_eq!(payments(&history).len(), 1, "no second payment for key-2");
}

#[test]
fn a_whole_refund_after_an_unseen_dashboard_refund_records_what_mercado_pago_made() {
    let mut history = History::scripted();
    let (payment_id, order) = paid_payment(&mut history);
    // An operator refunds 500 in the dashboard; that notification is lost.
    assert!(history
        .world()
        .mercadopago
        .dashboard_refund(&order, Some(500)));
    history.world().mercadopago.take_notifications();
    // The orders service refunds "everything": Mercado Pago gives back what
    // remains, 1500.
    let refund = history.spawn_refund(&payment_id, None, "refund-all");
    history.run_to_end(refund);
    history.deliver_notifications();
    history.sweep_after(AN_HOUR);

    let at_mp = order_at_mercado_pago(&history);
    assert_eq!(at_mp.refunded(), 2000);
    let payment = only_payment(&history);
    assert_eq!(
        payment.amount_refunded(),
        2000,
        "what Mercado Pago gave back"
    );
    assert_eq!(payment.status(), PaymentStatus::Refunded);
    let refunds = history.world().store.refunds();
    let ours = refunds
        .iter()
        .find(|r| r.source == RefundSource::Api)
        .unwrap();
    assert_eq!(ours.status, RefundStatus::Succeeded);
    assert_eq!(ours.amount.minor_units(), 1500);
    let dashboard = refunds
        .iter()
        .find(|r| r.source == RefundSource::Provider)
        .unwrap();
    assert_eq!(dashboard.amount.minor_units(), 500);
}

#[test]
fn a_stale_retry_never_asks_for_a_refund_whose_asker_is_settling_it() {
    let mut history = History::scripted();
    let (payment_id, order) = paid_payment(&mut history);
    history.world().mercadopago.set_refund_window(&order, false);
    let refund = history.spawn_refund(&payment_id, Some(1000), "refund-a");
    assert!(step_until(&mut history, refund, "mp.refund_order"));
    // The sweeper sees the refund pending meanwhile.
    let sweeper = history.spawn_sweeper();
    let sweeper_asks = step_until(&mut history, sweeper, "mp.refund_order");
    // Mercado Pago refuses the caller's ask; the refund is failed, 422.
    history.run_to_end(refund);
    // Later Mercado Pago would take it: a stale ask would now be paid.
    history.world().mercadopago.set_refund_window(&order, true);
    history.run_to_end(sweeper);
    history.deliver_notifications();
    history.sweep_after(AN_HOUR);

    assert!(!sweeper_asks, "the sweeper left the caller's refund alone");
    assert!(
        order_at_mercado_pago(&history).refunds.is_empty(),
        "nothing paid"
    );
    let refunds = history.world().store.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status, RefundStatus::Failed);
    assert_eq!(only_payment(&history).amount_refunded(), 0);
}

#[test]
fn the_sweeper_starts_no_payment_it_could_not_finish_before_its_deadline() {
    let mut history = History::scripted();
    for order in 0..4 {
        let create = history.spawn_create(order, None);
        history.run_to_end(create);
    }
    history.world().clock.advance(Duration::from_secs(16 * 60));
    let start = history.world().clock.elapsed();
    let sweeper = history.spawn_sweeper();
    let mut calls_after_deadline = 0;
    // Mercado Pago is slow: every call takes 20 s of the run's 50 s budget.
    while history.is_running(sweeper) {
        if history
            .waiting_at(sweeper)
            .is_some_and(|gate| gate.starts_with("mp."))
        {
            let elapsed = history.world().clock.elapsed() - start;
            if elapsed >= payments::app::SweepOverduePayments::DEFAULT_BUDGET {
                calls_after_deadline += 1;
            }
            history.world().clock.advance(Duration::from_secs(20));
        }
        history.step_actor(sweeper);
    }
    assert_eq!(calls_after_deadline, 0, "no call started past the deadline");
    let unsettled = payments(&history)
        .iter()
        .filter(|p| p.status() == PaymentStatus::Pending)
        .count();
    assert!(unsettled > 0, "the rest waits for the next run");
    // The next run, with Mercado Pago fast again, settles what is left.
    history.sweep_after(Duration::from_secs(60));
    assert!(payments(&history)
        .iter()
        .all(|p| p.status() == PaymentStatus::Expired));
}

#[test]
fn a_late_refund_given_up_after_a_week_is_failed_and_flagged_in_one_write() {
    let mut history = History::scripted();
    let create = history.spawn_create(0, None);
    history.run_to_end(create);
    let payment = only_payment(&history);
    let order = payment.provider().unwrap().order_id.clone();
    history.sweep_after(Duration::from_secs(16 * 60));
    history.deliver_notifications();
    // Paid after it expired, and Mercado Pago will not give it back.
    history.world().mercadopago.set_refund_window(&order, false);
    assert!(history.world().mercadopago.pay(&order, true));
    history.deliver_notifications();
    assert!(only_payment(&history).sweep().needs_review);

    // A week later the sweeper gives up; it dies right after that write.
    history
        .world()
        .clock
        .advance(Duration::from_secs(8 * 24 * 3600));
    let sweeper = history.spawn_sweeper();
    assert!(step_until(&mut history, sweeper, "store.settle_refund"));
    history.step_actor(sweeper);
    history.kill(sweeper);

    let refunds = history.world().store.refunds();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status, RefundStatus::Failed);
    let payment = only_payment(&history);
    assert!(
        payment.sweep().needs_review,
        "still flagged: the money is kept"
    );
    assert_eq!(order_at_mercado_pago(&history).kept(), 2000);

    // An operator gives part of it back by hand: still flagged, 1500 kept.
    history.world().mercadopago.set_refund_window(&order, true);
    assert!(history
        .world()
        .mercadopago
        .dashboard_refund(&order, Some(500)));
    history.deliver_notifications();
    let payment = only_payment(&history);
    assert_eq!(payment.amount_refunded(), 500);
    assert!(payment.sweep().needs_review, "1500 still kept");
}

#[test]
fn a_key_whose_answer_could_not_be_recorded_answers_an_error_not_a_payment() {
    use payments_simulation::faults::Rates;

    let mut history = History::scripted();
    // A first request (key-a) creates the payment and dies before Mercado
    // Pago's order; the kiosk's retry of the same order (key-b) finds it.
    let first = history.spawn_create(0, Some("key-a"));
    assert!(step_until(&mut history, first, "mp.create_order"));
    history.kill(first);
    let retry = history.spawn_create(0, Some("key-b"));
    assert!(step_until(
        &mut history,
        retry,
        "store.complete_idempotency_key"
    ));
    // The store fails as the retry records what key-b stands for.
    history.faults().set(Rates {
        store: 1.0,
        ..Rates::default()
    });
    history.step_actor(retry);
    history.faults().clear();
    history.run_to_end(retry);
    // The customer's card is declined; the kiosk sends key-b again.
    let payment = only_payment(&history);
    let order = payment.provider().unwrap().order_id.clone();
    assert!(history
        .world()
        .mercadopago
        .end_unpaid(&order, MpStatus::Failed));
    history.deliver_notifications();
    let again = history.spawn_create(0, Some("key-b"));
    history.run_to_end(again);

    let answers: Vec<&String> = history
        .world()
        .answers
        .iter()
        .filter_map(|answer| match answer {
            Answer::Create { key, payment } if key == "key-b" => Some(payment),
            _ => None,
        })
        .collect();
    assert!(!answers.is_empty());
    assert!(
        answers.iter().all(|p| *p == answers[0]),
        "key-b answered one payment: {answers:?}"
    );
}
