//! Use cases. Each takes its ports at construction and never reads the environment.

pub mod create_payment;
pub mod error;
pub mod notification;
pub mod outbox;
pub mod queries;
pub mod relay;
pub mod signature;
pub mod sweeper;
mod transitions;

pub use create_payment::{CreatePayment, CreatePaymentCommand, Created};
pub use error::AppError;
pub use notification::{ApplyNotification, Notification};
pub use queries::PaymentQueries;
pub use relay::{RelayEvents, RelayReport};
pub use signature::{SignatureError, SignaturePolicy, WebhookSecret};
pub use sweeper::{SweepOverduePayments, SweepReport};
pub use transitions::NotificationOutcome;
