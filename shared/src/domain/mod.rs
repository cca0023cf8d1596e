//! Pure types and rules of the payments domain: no I/O, no AWS, HTTP or Mercado Pago types.

pub mod callers;
pub mod error;
pub mod event;
pub mod ids;
pub mod item;
pub mod money;
pub mod payment;
pub mod point_of_sale;
pub mod provider;
pub mod refund;
pub mod status;
pub mod timestamp;

pub use callers::AllowedCallers;
pub use error::DomainError;
pub use event::{EventType, PaymentEvent};
pub use ids::{
    CallerId, CorrelationId, EventId, IdempotencyKey, OrderId, PaymentId, PosId, RefundId,
};
pub use item::{Item, Items, Sku, Title};
pub use money::{Currency, Money};
pub use payment::{
    Description, Fingerprint, NewPayment, Payment, PaymentParts, SweepSchedule, TransitionDetails,
};
pub use point_of_sale::PointsOfSale;
pub use provider::{ProviderOrderId, ProviderPaymentId, ProviderRef, ProviderRefundId};
pub use refund::{AskClaim, Refund, RefundFailure, RefundReason, RefundSource, RefundStatus};
pub use status::PaymentStatus;
pub use timestamp::Timestamp;
