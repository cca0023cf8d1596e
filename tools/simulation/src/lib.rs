//! A deterministic simulation of the payments service: the real use cases,
//! over the in-memory store and a model of Mercado Pago, interleaved at every
//! port call and struck by faults, through many random histories, each
//! reproducible from one seed (docs/simulation.md).

pub mod executor;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod mercadopago;
pub mod ports;
pub mod system;

pub use invariants::Violation;

/// Random steps a history plays before it heads for quiescence.
pub const STEPS: usize = 120;

/// The seed of history `index` of a run seeded with `seed` (splitmix64), so
/// one history replays alone.
pub fn history_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What one history broke, and the steps that led there.
pub struct Outcome {
    pub violations: Vec<Violation>,
    pub steps: Vec<String>,
}

pub fn run_history(seed: u64, index: u64) -> Outcome {
    let world = history::History::new(history_seed(seed, index)).play(STEPS);
    Outcome {
        violations: invariants::check(&world),
        steps: world.journal.lines(),
    }
}
