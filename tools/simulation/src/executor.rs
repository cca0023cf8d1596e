//! A deterministic executor: actors are futures polled one slice at a time.
//! Every port call first passes a gate; an actor at a gate waits until the
//! scheduler picks it, so the scheduler (driven by the seeded PRNG) decides
//! the order of every port call of every actor, and may drop an actor at a
//! gate: its work simply stops there, as a Lambda killed by a timeout or a
//! crash stops between two calls.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// What an actor's caller saw when it finished (for the idempotency check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A create with an `Idempotency-Key`: the payment it answered with.
    Create { key: String, payment: String },
    /// A refund request: the refund it answered with.
    Refund { key: String, refund: String },
    /// A webhook answered with an error: Mercado Pago delivers it again.
    Redeliver(payments::domain::ProviderOrderId),
    /// Nothing to compare (errors, runs of the sweeper, webhooks...).
    None,
}

pub type ActorFuture = Pin<Box<dyn Future<Output = Answer>>>;

#[derive(Default)]
struct GateState {
    /// The actor being polled.
    current: usize,
    /// The actor allowed through its gate on this poll.
    permit: Option<usize>,
    /// Actors waiting at a gate, and the port call behind it.
    waiting: BTreeMap<usize, &'static str>,
}

/// The gates every port call passes; shared by every port of one history.
#[derive(Default)]
pub struct Gates(Mutex<GateState>);

impl Gates {
    /// Waits until the scheduler lets the current actor make `call`.
    pub fn pass(self: &Arc<Self>, call: &'static str) -> Gate {
        Gate {
            gates: self.clone(),
            call,
            actor: None,
        }
    }
}

pub struct Gate {
    gates: Arc<Gates>,
    call: &'static str,
    actor: Option<usize>,
}

impl Future for Gate {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let mut state = self.gates.0.lock();
        match self.actor {
            None => {
                let actor = state.current;
                state.waiting.insert(actor, self.call);
                drop(state);
                self.actor = Some(actor);
                Poll::Pending
            }
            Some(actor) if state.permit == Some(actor) => {
                state.permit = None;
                state.waiting.remove(&actor);
                Poll::Ready(())
            }
            Some(_) => Poll::Pending,
        }
    }
}

struct Actor {
    name: String,
    future: ActorFuture,
}

/// How one slice of an actor ended.
pub enum Slice {
    /// It made `call` (if any) and now waits at its next gate.
    AtGate { made: Option<&'static str> },
    Finished {
        made: Option<&'static str>,
        answer: Answer,
    },
}

pub struct Executor {
    gates: Arc<Gates>,
    actors: BTreeMap<usize, Actor>,
    next_id: usize,
}

impl Executor {
    pub fn new(gates: Arc<Gates>) -> Self {
        Self {
            gates,
            actors: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub fn spawn(&mut self, name: String, future: ActorFuture) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.actors.insert(id, Actor { name, future });
        id
    }

    /// Live actors, by id.
    pub fn ids(&self) -> Vec<usize> {
        self.actors.keys().copied().collect()
    }

    pub fn is_idle(&self) -> bool {
        self.actors.is_empty()
    }

    pub fn name(&self, id: usize) -> String {
        self.actors
            .get(&id)
            .map_or_else(|| format!("#{id}"), |a| format!("{}#{id}", a.name))
    }

    /// The call an actor waits to make, if it has started.
    pub fn waiting_at(&self, id: usize) -> Option<&'static str> {
        self.gates.0.lock().waiting.get(&id).copied()
    }

    /// Drops the actor where it stands: whatever it had not done, it never does.
    pub fn kill(&mut self, id: usize) {
        self.actors.remove(&id);
        self.gates.0.lock().waiting.remove(&id);
    }

    /// Lets the actor through its gate and runs it to its next gate or its
    /// end. None when it is not a live actor. An actor that neither reaches a
    /// gate nor ends within a bound of polls waits on something the model
    /// never provides: it is dropped and reported as stuck.
    pub fn run_slice(&mut self, id: usize) -> Option<Slice> {
        let actor = self.actors.get_mut(&id)?;
        let made = {
            let mut state = self.gates.0.lock();
            state.current = id;
            let made = state.waiting.get(&id).copied();
            state.permit = made.map(|_| id);
            made
        };
        let mut context = Context::from_waker(Waker::noop());
        for _ in 0..10_000 {
            match actor.future.as_mut().poll(&mut context) {
                Poll::Ready(answer) => {
                    self.actors.remove(&id);
                    self.gates.0.lock().waiting.remove(&id);
                    return Some(Slice::Finished { made, answer });
                }
                Poll::Pending => {
                    let state = self.gates.0.lock();
                    if state.permit.is_none() && state.waiting.contains_key(&id) {
                        return Some(Slice::AtGate { made });
                    }
                }
            }
        }
        self.kill(id);
        Some(Slice::Finished {
            made,
            answer: Answer::None,
        })
    }
}
