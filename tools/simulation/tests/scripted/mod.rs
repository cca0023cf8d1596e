//! What the scripted histories share: reading the world, stepping an actor
//! to a gate, and a paid payment to start from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use payments::domain::{Payment, PaymentId, PaymentStatus, ProviderOrderId};
use payments_simulation::history::History;
use payments_simulation::mercadopago::MpOrder;

pub fn payments(history: &History) -> Vec<Payment> {
    history.world().store.payments()
}

pub fn only_payment(history: &History) -> Payment {
    let payments = payments(history);
    assert_eq!(payments.len(), 1);
    payments[0].clone()
}

pub fn order_at_mercado_pago(history: &History) -> MpOrder {
    history.world().mercadopago.orders()[0].clone()
}

/// Steps `actor` until it waits at `gate`; false if it ended first.
pub fn step_until(history: &mut History, actor: usize, gate: &str) -> bool {
    for _ in 0..200 {
        match history.waiting_at(actor) {
            Some(at) if at == gate => return true,
            _ if history.is_running(actor) => history.step_actor(actor),
            _ => return false,
        }
    }
    panic!("actor {actor} never reached {gate}");
}

/// A payment of 2000 the customer paid, as our store and Mercado Pago hold it.
pub fn paid_payment(history: &mut History) -> (PaymentId, ProviderOrderId) {
    let create = history.spawn_create(0, Some("create-1"));
    history.run_to_end(create);
    let payment = only_payment(history);
    let order = payment.provider().unwrap().order_id.clone();
    assert!(history.world().mercadopago.pay(&order, false));
    history.deliver_notifications();
    assert_eq!(only_payment(history).status(), PaymentStatus::Approved);
    (payment.id().clone(), order)
}
