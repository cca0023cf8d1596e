//! The payment store on one DynamoDB table (docs/storage.md). Every write that can race is
//! conditional; a status change, its event and the order lock move in one
//! TransactWriteItems. Failed conditions come back as `StoreError::Conflict`.

mod errors;
mod feed;
mod items;
mod store;
mod stream;

pub use feed::FeedLimits;
pub use items::{keys, Index, IndexShards};
pub use store::DynamoStore;
pub use stream::{waiting_events, StreamedEvent};
