//! Refunds under concurrency, on the memory backend and on DynamoDB/SNS in
//! moto: racing refunds never give back more than was paid, and one
//! Idempotency-Key makes one refund, here and at Mercado Pago.

use std::sync::Arc;
use std::time::Duration;

use payments::app::{AppError, RefundCommand};
use payments::domain::{IdempotencyKey, PaymentStatus, RefundStatus};
use payments_tests::backends::Backend;
use payments_tests::on_both_backends;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

const CONCURRENCY: usize = 20;

fn refund(payment: &payments::domain::Payment, amount: i64, key: &str) -> RefundCommand {
    RefundCommand {
        payment_id: payment.id().clone(),
        amount: Some(amount),
        reason: None,
        key: IdempotencyKey::parse(key).unwrap(),
        requested_by: payments::domain::CallerId::anonymous(),
    }
}

async fn concurrent_partial_refunds_never_exceed_the_amount(h: Backend) {
    let paid = h.approved_payment("ord-refund-race", 2590).await;
    let refunds = Arc::new(h.refund());
    let start = Arc::new(Barrier::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for i in 0..CONCURRENCY {
        let (refunds, start, command) = (
            refunds.clone(),
            start.clone(),
            refund(&paid, 200, &format!("race-{i}")),
        );
        tasks.spawn(async move {
            start.wait().await;
            refunds.execute(command).await
        });
    }
    let (mut succeeded, mut too_large) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(outcome) => {
                assert_eq!(outcome.refund.status, RefundStatus::Succeeded);
                succeeded += 1;
            }
            Err(AppError::RefundTooLarge { .. }) => too_large += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // 12 x 200 = 2400 fit in 2590; a 13th would not.
    assert_eq!((succeeded, too_large), (12, CONCURRENCY - 12));
    let stored = h.store.get(paid.id()).await.unwrap().unwrap();
    let recorded = h.store.refunds_of(paid.id()).await.unwrap();
    let given_back: i64 = recorded
        .iter()
        .filter(|r| r.status == RefundStatus::Succeeded)
        .map(|r| r.amount.minor_units())
        .sum();
    assert_eq!(stored.amount_refunded(), given_back);
    assert_eq!(given_back, 2400);
    assert_eq!(recorded.len(), 12, "refused requests recorded nothing");
    assert_eq!(h.refunds_at_provider(&paid), 12);
    assert_eq!(stored.status(), PaymentStatus::Approved);
    h.stop().await;
}

async fn concurrent_identical_refunds_make_one_refund(h: Backend) {
    let paid = h.approved_payment("ord-refund-twins", 2590).await;
    let refunds = Arc::new(h.refund());
    let start = Arc::new(Barrier::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (refunds, start, command) = (
            refunds.clone(),
            start.clone(),
            refund(&paid, 1295, "the-same-key"),
        );
        tasks.spawn(async move {
            start.wait().await;
            refunds.execute(command).await
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.unwrap().expect("every twin gets the refund");
        ids.insert(outcome.refund.refund_id);
    }
    assert_eq!(ids.len(), 1, "one refund in every answer");
    assert_eq!(h.store.refunds_of(paid.id()).await.unwrap().len(), 1);
    assert_eq!(
        h.refunds_at_provider(&paid),
        1,
        "one refund at Mercado Pago"
    );
    let stored = h.store.get(paid.id()).await.unwrap().unwrap();
    assert!(
        stored.amount_refunded() <= 1295,
        "never more than the one refund"
    );
    h.stop().await;
}

/// A refund first answered 202 (Mercado Pago down) is answered 202 again
/// once it settled: a replay gives its key's first status, and shows the
/// refund as it is now.
async fn a_replay_answers_the_first_status_even_after_the_refund_settled(h: Backend) {
    let paid = h.approved_payment("ord-refund-first-answer", 2590).await;
    h.mock.state.fail_next(100, 503);
    let first = h
        .refund()
        .execute(refund(&paid, 1000, "first-answer"))
        .await
        .unwrap();
    assert_eq!(
        (first.answered, first.refund.status, first.replayed),
        (RefundStatus::Pending, RefundStatus::Pending, false)
    );
    h.mock.state.clear_faults();
    h.sweeper_later(Duration::from_secs(3600))
        .execute()
        .await
        .unwrap();
    let again = h
        .refund()
        .execute(refund(&paid, 1000, "first-answer"))
        .await
        .unwrap();
    assert_eq!(again.refund.refund_id, first.refund.refund_id);
    assert_eq!(
        (again.answered, again.refund.status, again.replayed),
        (RefundStatus::Pending, RefundStatus::Succeeded, true)
    );
    assert_eq!(h.refunds_at_provider(&paid), 1);
    h.stop().await;
}

/// A refund Mercado Pago made at once is answered 201, and so is its replay.
async fn a_refund_first_answered_succeeded_replays_as_succeeded(h: Backend) {
    let paid = h.approved_payment("ord-refund-first-201", 2590).await;
    let first = h
        .refund()
        .execute(refund(&paid, 500, "made"))
        .await
        .unwrap();
    assert_eq!(
        (first.answered, first.replayed),
        (RefundStatus::Succeeded, false)
    );
    let again = h
        .refund()
        .execute(refund(&paid, 500, "made"))
        .await
        .unwrap();
    assert_eq!(
        (again.answered, again.replayed),
        (RefundStatus::Succeeded, true)
    );
    h.stop().await;
}

on_both_backends!(Backend =>
    concurrent_partial_refunds_never_exceed_the_amount,
    concurrent_identical_refunds_make_one_refund,
    a_replay_answers_the_first_status_even_after_the_refund_settled,
    a_refund_first_answered_succeeded_replays_as_succeeded,
);
