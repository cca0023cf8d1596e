//! In-memory adapters for the local stack and fast tests. Safe under concurrent
//! use: every operation holds one lock for its whole read-check-write.

mod publisher;
mod store;

pub use publisher::{MemoryPublisher, PublishedEvent};
pub use store::MemoryStore;
