//! One history: a world (store, Mercado Pago, topic, clock), actors running
//! the real use cases against it, and a seeded script of what happens next:
//! which actor makes its next port call, which is killed, what the customer,
//! the operator and the clock do, which webhook arrives, and which faults
//! strike. Then quiescence: faults cleared, every actor and delivery done,
//! sweeper and relay run as the clock moves on, until nothing changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use payments::adapters::memory::MemoryStore;
use payments::app::{
    ApplyNotification, CancelPayment, CreatePayment, CreatePaymentCommand, RefundCommand,
    RefundPayment, RelayEvents, SweepOverduePayments, VerifiedNotification,
};
use payments::domain::{
    CallerId, Currency, IdempotencyKey, Item, Items, Money, OrderId, PaymentId, PaymentStatus,
    PointsOfSale, PosId, ProviderOrderId, Sku, Timestamp, Title,
};
use payments::ports::{Clock, PaymentStore, Ports};

use crate::executor::{ActorFuture, Answer, Executor, Gates, Slice};
use crate::faults::{Dice, Faults, Rates};
use crate::mercadopago::{MercadoPago, MpStatus};
use crate::ports::{Journal, SimProvider, SimStore, SimTopic, Wiring};
use crate::system::{SimClock, SimIds};

/// The template's function timeouts: 60 s for the scheduled functions,
/// 20 s for the others.
fn lambda_timeout(actor: &str) -> Duration {
    if actor.starts_with("sweeper") || actor.starts_with("relay") {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(20)
    }
}

/// How long a QR code stays payable, here and at Mercado Pago.
pub const EXPIRY: Duration = Duration::from_secs(15 * 60);
/// The schedule of the sweeper and the relay on AWS.
pub const SCHEDULE: Duration = Duration::from_secs(60);

/// A create request a kiosk may send again.
#[derive(Clone)]
struct CreateAsk {
    order: usize,
    other_body: bool,
    key: Option<String>,
}

/// A refund request a caller may send again.
#[derive(Clone)]
struct RefundAsk {
    payment: PaymentId,
    amount: Option<i64>,
    key: String,
}

/// Everything one history is made of; `World` is what the invariants read.
pub struct World {
    pub store: Arc<MemoryStore>,
    pub mercadopago: Arc<MercadoPago>,
    pub topic: Arc<SimTopic>,
    pub clock: Arc<SimClock>,
    pub journal: Journal,
    pub answers: Vec<Answer>,
    /// Status moves no state machine allows, seen between two steps.
    pub backwards: Vec<String>,
}

pub struct History {
    dice: Dice,
    faults: Faults,
    ports: Ports,
    executor: Executor,
    world: World,
    seen: BTreeMap<PaymentId, PaymentStatus>,
    creates: Vec<CreateAsk>,
    refunds: Vec<RefundAsk>,
    deliveries: Vec<ProviderOrderId>,
    orders: usize,
    keys: usize,
    /// When each running actor's Lambda times out (random histories only:
    /// a scripted one runs its actors as its test says). An actor past it
    /// is stopped at its next gate, as Lambda stops a function: this is
    /// what makes a claim's lease (longer than any function lives) hold.
    deadlines: Option<BTreeMap<usize, Timestamp>>,
}

impl History {
    pub fn new(seed: u64) -> Self {
        let dice = Dice::new(seed);
        // Some histories run clean, some on a flaky world.
        let level = [0.0, 0.02, 0.08, 0.2];
        let rates = Rates {
            provider: *dice.pick(&level).unwrap_or(&0.0),
            store: *dice.pick(&level[..3]).unwrap_or(&0.0),
            sns: *dice.pick(&level).unwrap_or(&0.0),
            after_applied: 0.5,
        };
        // Mercado Pago refunds asynchronously; some histories see it answer
        // a refund already processed, as the mock's `--refund-settle-ms 0`.
        let settle = [
            None,
            Some(Duration::from_secs(20)),
            Some(Duration::from_secs(90)),
        ];
        let refund_settle = *dice.pick(&settle).unwrap_or(&None);
        let mut history = Self::with_rates(dice, rates, refund_settle);
        history.deadlines = Some(BTreeMap::new());
        history
    }

    /// A world without faults whose steps a test chooses itself; refunds
    /// are processed at once.
    pub fn scripted() -> Self {
        Self::with_rates(Dice::new(0), Rates::default(), None)
    }

    /// A scripted world whose refunds stay processing for `settle`.
    pub fn scripted_with_refund_settle(settle: Duration) -> Self {
        Self::with_rates(Dice::new(0), Rates::default(), Some(settle))
    }

    fn with_rates(dice: Dice, rates: Rates, refund_settle: Option<Duration>) -> Self {
        let faults = Faults::new(dice.clone(), rates);
        let journal = Journal::default();
        journal.note(format!(
            "faults: provider {:.2}, store {:.2}, sns {:.2}; refunds settle {}",
            rates.provider,
            rates.store,
            rates.sns,
            refund_settle.map_or("at once".to_owned(), |d| format!("after {}s", d.as_secs()))
        ));
        let gates = Arc::new(Gates::default());
        let wiring = Wiring {
            gates: gates.clone(),
            faults: faults.clone(),
            journal: journal.clone(),
        };
        let clock = Arc::new(SimClock::new());
        let ids = Arc::new(SimIds::default());
        let store = Arc::new(MemoryStore::new());
        let mercadopago = Arc::new(MercadoPago::new(
            clock.clone(),
            ids.clone(),
            EXPIRY,
            refund_settle,
        ));
        let topic = Arc::new(SimTopic {
            delivered: Mutex::new(Vec::new()),
            wiring: wiring.clone(),
        });
        let gated: Arc<dyn PaymentStore> = Arc::new(SimStore {
            inner: store.clone(),
            wiring: wiring.clone(),
        });
        let ports = Ports::new(gated, clock.clone(), ids)
            .with_provider(Arc::new(SimProvider {
                mercadopago: mercadopago.clone(),
                wiring,
            }))
            .with_publisher(topic.clone());
        let orders = 1 + dice.below(2);
        let dice = dice.clone();
        Self {
            dice,
            faults,
            ports,
            executor: Executor::new(gates),
            world: World {
                store,
                mercadopago,
                topic,
                clock,
                journal,
                answers: Vec::new(),
                backwards: Vec::new(),
            },
            seen: BTreeMap::new(),
            creates: Vec::new(),
            refunds: Vec::new(),
            deliveries: Vec::new(),
            orders,
            keys: 0,
            deadlines: None,
        }
    }

    /// Plays `steps` random steps, then drives the world to quiescence.
    pub fn play(mut self, steps: usize) -> World {
        for _ in 0..steps {
            self.step();
            self.observe();
        }
        self.quiesce();
        self.world
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The actor's next slice: through its gate, to the next one or its end.
    pub fn step_actor(&mut self, actor: usize) {
        self.run_slice(actor);
    }

    /// The port call an actor waits to make; None once it has finished.
    pub fn waiting_at(&self, actor: usize) -> Option<&'static str> {
        self.executor.waiting_at(actor)
    }

    /// Whether the actor has not ended yet (it may not have started).
    pub fn is_running(&self, actor: usize) -> bool {
        self.executor.ids().contains(&actor)
    }

    pub fn kill(&mut self, actor: usize) {
        self.executor.kill(actor);
    }

    pub fn run_to_end(&mut self, actor: usize) {
        while self.executor.ids().contains(&actor) {
            self.run_slice(actor);
        }
    }

    /// A create of order `order` with key `key`, its id.
    pub fn spawn_create(&mut self, order: usize, key: Option<&str>) -> usize {
        self.spawn_create_ask(CreateAsk {
            order,
            other_body: false,
            key: key.map(str::to_owned),
        })
    }

    pub fn spawn_refund(&mut self, payment: &PaymentId, amount: Option<i64>, key: &str) -> usize {
        self.spawn_refund_ask(RefundAsk {
            payment: payment.clone(),
            amount,
            key: key.to_owned(),
        })
    }

    /// Everything Mercado Pago notified, delivered one by one to the end.
    pub fn deliver_notifications(&mut self) {
        let notified = self.world.mercadopago.take_notifications();
        self.deliveries.extend(notified);
        self.deliver_all();
    }

    /// A sweeper run to its end, after the clock moved on by `after`.
    pub fn sweep_after(&mut self, after: Duration) {
        self.world.clock.advance(after);
        self.world.mercadopago.tick();
        let id = self.spawn_sweeper();
        self.run_to_end(id);
    }

    /// Starts an actor; the journal names it.
    fn spawn(&mut self, name: String, future: ActorFuture) -> usize {
        let timeout = lambda_timeout(&name);
        let id = self.executor.spawn(name, future);
        self.note(format!("spawn {}", self.executor.name(id)));
        let deadline = self.world.clock.now().plus(timeout);
        if let Some(deadlines) = &mut self.deadlines {
            deadlines.insert(id, deadline);
        }
        id
    }

    fn note(&self, line: impl Into<String>) {
        self.world.journal.note(line);
    }

    fn step(&mut self) {
        let roll = self.dice.below(100);
        match roll {
            0..=39 => self.advance_an_actor(),
            40..=46 => self.kiosk_creates(),
            47..=49 => self.kiosk_cancels(),
            50..=55 => self.caller_refunds(),
            56..=62 => self.customer_acts(),
            63..=65 => self.operator_acts(),
            66..=74 => self.webhook_arrives(),
            75..=77 => {
                self.spawn_sweeper();
            }
            78..=80 => self.spawn_relay(),
            81..=88 => self.time_passes(),
            89..=91 => self.kill_an_actor(),
            _ => self.advance_an_actor(),
        }
        let notified = self.world.mercadopago.take_notifications();
        self.deliveries.extend(notified);
    }

    fn advance_an_actor(&mut self) {
        let ids = self.executor.ids();
        if let Some(&id) = self.dice.pick(&ids) {
            self.run_slice(id);
        }
    }

    fn run_slice(&mut self, id: usize) {
        let name = self.executor.name(id);
        let now = self.world.clock.now();
        let timed_out = self
            .deadlines
            .as_ref()
            .and_then(|deadlines| deadlines.get(&id))
            .is_some_and(|deadline| *deadline < now);
        if timed_out {
            self.note(format!("TIMEOUT {name} (its Lambda's time is up)"));
            self.executor.kill(id);
            return;
        }
        match self.executor.run_slice(id) {
            Some(Slice::AtGate { made: Some(call) }) => self.note(format!("{name} {call}")),
            Some(Slice::AtGate { made: None }) => {}
            Some(Slice::Finished { made, answer }) => {
                let call = made.map_or(String::new(), |c| format!(" {c},"));
                self.note(format!("{name}{call} done: {answer:?}"));
                if let Answer::Redeliver(order) = &answer {
                    self.deliveries.push(order.clone());
                }
                self.world.answers.push(answer);
            }
            None => {}
        }
    }

    fn kill_an_actor(&mut self) {
        let waiting: Vec<usize> = self
            .executor
            .ids()
            .into_iter()
            .filter(|id| self.executor.waiting_at(*id).is_some())
            .collect();
        if let Some(&id) = self.dice.pick(&waiting) {
            let at = self.executor.waiting_at(id).unwrap_or("?");
            self.note(format!("KILL {} before {at}", self.executor.name(id)));
            self.executor.kill(id);
        }
    }

    fn order_id(index: usize) -> Option<OrderId> {
        OrderId::parse(&format!("ord-{index}")).ok()
    }

    /// The amount of an order's payment: 2000 or 3000 (1000 per burger).
    fn command(&self, ask: &CreateAsk) -> Option<CreatePaymentCommand> {
        let quantity = 2 + u32::try_from(ask.order % 2).unwrap_or(0) + u32::from(ask.other_body);
        let unit = Money::new(1000, Currency::Brl).ok()?;
        let amount = Money::new(1000 * i64::from(quantity), Currency::Brl).ok()?;
        let item = Item::new(
            Sku::parse("XB").ok()?,
            Title::parse("X-Burger").ok()?,
            quantity,
            unit,
        )
        .ok()?;
        Some(CreatePaymentCommand {
            created_by: CallerId::local(),
            order_id: Self::order_id(ask.order)?,
            amount,
            items: Items::new(vec![item], amount).ok()?,
            description: None,
            pos_id: None,
        })
    }

    fn new_key(&mut self) -> String {
        self.keys += 1;
        format!("key-{}", self.keys)
    }

    fn kiosk_creates(&mut self) {
        let ask = match self.dice.pick(&self.creates).cloned() {
            // A retry: the same request, with the same key or none.
            Some(previous) if self.dice.chance(0.4) => previous,
            _ => CreateAsk {
                order: self.dice.below(self.orders),
                other_body: self.dice.chance(0.1),
                key: self.dice.chance(0.6).then(|| self.new_key()),
            },
        };
        self.creates.push(ask.clone());
        self.spawn_create_ask(ask);
    }

    fn spawn_create_ask(&mut self, ask: CreateAsk) -> usize {
        let Some(command) = self.command(&ask) else {
            return 0;
        };
        let Ok(points_of_sale) =
            PosId::parse("SIMPOS1").and_then(|pos| PointsOfSale::new(vec![pos]))
        else {
            return 0;
        };
        let create = CreatePayment::new(&self.ports, EXPIRY, points_of_sale);
        let key = ask.key.clone();
        let name = format!(
            "create(ord-{}{}{})",
            ask.order,
            if ask.other_body { ", other body" } else { "" },
            key.as_deref().map_or(String::new(), |k| format!(", {k}"))
        );
        let id = self.spawn(
            name,
            Box::pin(async move {
                let parsed = key
                    .as_deref()
                    .and_then(|k| IdempotencyKey::parse(k).ok())
                    .map(|k| k.from_caller(CallerId::local()));
                match create.execute(command, parsed.as_ref()).await {
                    Ok(created) => match key {
                        Some(key) => Answer::Create {
                            key,
                            payment: format!(
                                "{} newly created {}",
                                created.payment.id(),
                                created.newly_created
                            ),
                        },
                        None => Answer::None,
                    },
                    Err(_) => Answer::None,
                }
            }),
        );
        id
    }

    fn payment_ids(&self) -> Vec<PaymentId> {
        self.world
            .store
            .payments()
            .iter()
            .map(|p| p.id().clone())
            .collect()
    }

    fn kiosk_cancels(&mut self) {
        let Some(payment) = self.dice.pick(&self.payment_ids()).cloned() else {
            return;
        };
        self.spawn_cancel(&payment);
    }

    /// A kiosk's cancel of `payment`, its id.
    pub fn spawn_cancel(&mut self, payment: &PaymentId) -> usize {
        let cancel = CancelPayment::new(&self.ports);
        let payment = payment.clone();
        self.spawn(
            format!("cancel({payment})"),
            Box::pin(async move {
                let _ = cancel.execute(&payment, &CallerId::local()).await;
                Answer::None
            }),
        )
    }

    fn caller_refunds(&mut self) {
        let ask = match self.dice.pick(&self.refunds).cloned() {
            Some(previous) if self.dice.chance(0.4) => previous,
            _ => {
                let Some(payment) = self.dice.pick(&self.payment_ids()).cloned() else {
                    return;
                };
                let amount = *self
                    .dice
                    .pick(&[None, Some(1000), Some(1000), Some(500)])
                    .unwrap_or(&None);
                RefundAsk {
                    payment,
                    amount,
                    key: self.new_key(),
                }
            }
        };
        self.refunds.push(ask.clone());
        self.spawn_refund_ask(ask);
    }

    fn spawn_refund_ask(&mut self, ask: RefundAsk) -> usize {
        let Ok(key) = IdempotencyKey::parse(&ask.key) else {
            return 0;
        };
        let refund = RefundPayment::new(&self.ports);
        let command = RefundCommand {
            payment_id: ask.payment.clone(),
            amount: ask.amount,
            reason: None,
            key: key.from_caller(CallerId::local()),
            requested_by: CallerId::local(),
        };
        let id = self.spawn(
            format!("refund({}, {:?}, {})", ask.payment, ask.amount, ask.key),
            Box::pin(async move {
                match refund.execute(command).await {
                    // The answer is the refund and the status it is answered
                    // with: a replay must give both again.
                    Ok(outcome) => Answer::Refund {
                        key: ask.key,
                        refund: format!(
                            "{} answered {}",
                            outcome.refund.refund_id,
                            outcome.answered.as_str()
                        ),
                    },
                    Err(_) => Answer::None,
                }
            }),
        );
        id
    }

    /// Orders whose QR code a kiosk could show: those our store recorded.
    fn mp_orders(&self) -> Vec<ProviderOrderId> {
        self.world
            .store
            .payments()
            .iter()
            .filter_map(|p| p.provider().map(|r| r.order_id.clone()))
            .collect()
    }

    fn customer_acts(&mut self) {
        let Some(order) = self.dice.pick(&self.mp_orders()).cloned() else {
            return;
        };
        let mp = &self.world.mercadopago;
        let (what, done) = match self.dice.below(20) {
            0..=10 => ("pays", mp.pay(&order, false)),
            11..=14 => ("pays late", mp.pay(&order, true)),
            15..=17 => ("is rejected", mp.end_unpaid(&order, MpStatus::Failed)),
            _ => ("lets it expire", mp.end_unpaid(&order, MpStatus::Expired)),
        };
        if done {
            self.note(format!("customer {what} {order}"));
        }
    }

    fn operator_acts(&mut self) {
        let Some(order) = self.dice.pick(&self.mp_orders()).cloned() else {
            return;
        };
        let mp = &self.world.mercadopago;
        match self.dice.below(5) {
            4 => {
                if mp.fail_a_refund(&order) {
                    self.note(format!("Mercado Pago fails a processing refund of {order}"));
                }
            }
            0 => {
                let open = self.dice.chance(0.5);
                mp.set_refund_window(&order, open);
                self.note(format!(
                    "operator: refund window of {order} {}",
                    if open { "open" } else { "closed" }
                ));
            }
            _ => {
                let amount = *self
                    .dice
                    .pick(&[None, Some(1000), Some(500)])
                    .unwrap_or(&None);
                if mp.dashboard_refund(&order, amount) {
                    self.note(format!(
                        "operator refunds {amount:?} of {order} in the dashboard"
                    ));
                }
            }
        }
    }

    fn webhook_arrives(&mut self) {
        if self.deliveries.is_empty() {
            return;
        }
        let index = self.dice.below(self.deliveries.len());
        let order = if self.dice.chance(0.15) {
            // Delivered, and Mercado Pago will send it again.
            self.deliveries.get(index).cloned()
        } else {
            Some(self.deliveries.remove(index))
        };
        let Some(order) = order else {
            return;
        };
        if self.dice.chance(0.15) {
            self.note(format!("webhook for {order} lost"));
            return;
        }
        self.spawn_webhook(order);
    }

    pub fn spawn_webhook(&mut self, order: ProviderOrderId) -> usize {
        let apply = ApplyNotification::new(&self.ports);
        let id = self.spawn(
            format!("webhook({order})"),
            Box::pin(async move {
                match apply
                    .execute(VerifiedNotification {
                        provider_order_id: order.clone(),
                    })
                    .await
                {
                    Ok(_) => Answer::None,
                    Err(_) => Answer::Redeliver(order),
                }
            }),
        );
        id
    }

    /// A sweeper run (not yet started), its id.
    pub fn spawn_sweeper(&mut self) -> usize {
        let sweeper = SweepOverduePayments::new(&self.ports);
        let id = self.spawn(
            "sweeper".into(),
            Box::pin(async move {
                let _ = sweeper.execute().await;
                Answer::None
            }),
        );
        id
    }

    fn spawn_relay(&mut self) {
        let relay = RelayEvents::new(&self.ports);
        self.spawn(
            "relay".into(),
            Box::pin(async move {
                let _ = relay.execute().await;
                Answer::None
            }),
        );
    }

    fn time_passes(&mut self) {
        // Most moves are seconds, within a function's life (its calls are
        // slow, its peers run meanwhile); the rest outlast every function
        // in flight, which Lambda then stops.
        let by = if self.dice.chance(0.75) {
            Duration::from_secs(self.dice.range(1, 8))
        } else if self.dice.chance(0.4) {
            EXPIRY + SCHEDULE
        } else {
            Duration::from_secs(self.dice.range(20, 180))
        };
        self.world.clock.advance(by);
        self.world.mercadopago.tick();
        self.note(format!("clock +{}s", by.as_secs()));
    }

    /// Records every payment's status; a move the state machine forbids is
    /// kept for invariant 3.
    fn observe(&mut self) {
        for payment in self.world.store.payments() {
            let now = payment.status();
            if let Some(before) = self.seen.insert(payment.id().clone(), now) {
                if before != now && !before.can_become(now) {
                    self.world
                        .backwards
                        .push(format!("{} went {before} -> {now}", payment.id()));
                }
            }
        }
    }

    /// Runs every live actor to its end, in a random order, killing none.
    fn drain_actors(&mut self) {
        let mut budget = 100_000;
        while !self.executor.is_idle() && budget > 0 {
            budget -= 1;
            self.advance_an_actor();
            self.observe();
            let notified = self.world.mercadopago.take_notifications();
            self.deliveries.extend(notified);
        }
    }

    fn deliver_all(&mut self) {
        while !self.deliveries.is_empty() {
            let order = self.deliveries.remove(0);
            self.spawn_webhook(order);
            self.drain_actors();
        }
    }

    /// Faults cleared, everything in flight finished, and the scheduled
    /// functions run while the clock moves past every window they watch.
    fn quiesce(&mut self) {
        self.note("-- quiescence: faults cleared --");
        self.faults.clear();
        self.world.mercadopago.open_every_refund_window();
        self.drain_actors();
        self.deliver_all();
        let minute = SCHEDULE;
        let jumps = [
            1, 1, 2, 5, 15, 30, 60, 120, 240, 480, 960, 1500, 2880, 5760, 11520,
        ];
        for minutes in jumps {
            self.world.clock.advance(minute * minutes);
            self.world.mercadopago.tick();
            self.spawn_sweeper();
            self.drain_actors();
            self.deliver_all();
            self.spawn_relay();
            self.drain_actors();
        }
    }
}
