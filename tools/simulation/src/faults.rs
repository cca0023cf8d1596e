//! The history's dice and the faults it rolls for each port call.

use std::sync::Arc;

use parking_lot::Mutex;

/// The history's one PRNG: every random choice, the scheduler's and the
/// faults', is drawn from it in a fixed order, so a seed replays a history.
#[derive(Clone)]
pub struct Dice(Arc<Mutex<fastrand::Rng>>);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(Arc::new(Mutex::new(fastrand::Rng::with_seed(seed))))
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.0.lock().f64() < p
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.0.lock().usize(0..n)
        }
    }

    pub fn pick<'a, T>(&self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    pub fn range(&self, low: u64, high: u64) -> u64 {
        self.0.lock().u64(low..=high)
    }
}

/// How a faulty call goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused or lost before it did anything (5xx, 429, a timeout, throttling).
    Before,
    /// Done, but the answer was lost (a timeout after the other side applied it).
    After,
}

/// Fault rates of one history; all zero once it heads for quiescence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    pub provider: f64,
    pub store: f64,
    pub sns: f64,
    /// Of the faults on calls that write, the share that strike after the
    /// other side applied the call.
    pub after_applied: f64,
}

#[derive(Clone)]
pub struct Faults {
    dice: Dice,
    rates: Arc<Mutex<Rates>>,
}

impl Faults {
    pub fn new(dice: Dice, rates: Rates) -> Self {
        Self {
            dice,
            rates: Arc::new(Mutex::new(rates)),
        }
    }

    pub fn set(&self, rates: Rates) {
        *self.rates.lock() = rates;
    }

    pub fn clear(&self) {
        *self.rates.lock() = Rates::default();
    }

    pub fn rates(&self) -> Rates {
        *self.rates.lock()
    }

    fn roll(&self, rate: f64, writes: bool) -> Option<Fault> {
        if !self.dice.chance(rate) {
            return None;
        }
        Some(if writes && self.dice.chance(self.rates().after_applied) {
            Fault::After
        } else {
            Fault::Before
        })
    }

    pub fn provider(&self, writes: bool) -> Option<Fault> {
        self.roll(self.rates().provider, writes)
    }

    pub fn store(&self, writes: bool) -> Option<Fault> {
        self.roll(self.rates().store, writes)
    }

    pub fn sns(&self) -> Option<Fault> {
        self.roll(self.rates().sns, true)
    }
}
