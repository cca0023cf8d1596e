//! Use cases. Each takes its ports at construction and never reads the environment.

pub mod create_payment;
pub mod error;
pub mod notification;
pub mod outbox;
pub mod queries;
pub mod signature;

pub use create_payment::{CreatePayment, CreatePaymentCommand, Created};
pub use error::AppError;
pub use notification::{ApplyNotification, Notification, NotificationOutcome};
pub use queries::PaymentQueries;
pub use signature::{SignatureError, SignaturePolicy, WebhookSecret};
