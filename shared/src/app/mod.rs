//! Use cases. Each is built from `Ports` (taking only the roles it uses) and
//! never reads the environment.

pub mod cancel_payment;
pub mod correlation;
pub mod create_payment;
pub mod error;
pub mod metrics;
mod money_at_provider;
pub mod notification;
pub mod outbox;
pub mod queries;
pub mod redeliver;
mod refund_ledger;
pub mod refund_payment;
pub mod relay;
pub mod sweeper;
mod transitions;

pub use cancel_payment::CancelPayment;
pub use create_payment::{CreatePayment, CreatePaymentCommand, Created};
pub use error::AppError;
pub use notification::{ApplyNotification, VerifiedNotification};
pub use queries::{FeedRead, PayableQr, PaymentQueries, EVENTS_KEPT};
pub use redeliver::RedeliverEvent;
pub use refund_payment::{RefundCommand, RefundOutcome, RefundPayment};
pub use relay::{EventsLeftInOutbox, RelayEvents, RelayReport};
pub use sweeper::{SweepOverduePayments, SweepReport};
pub use transitions::NotificationOutcome;
