//! Mercado Pago: the Orders API (in-person dynamic QR) over reqwest, and its
//! signed webhooks. Its vocabulary (statuses, x-signature, `type=order`) stays here.

mod client;
mod signature;
mod webhook;
mod wire;

pub use client::{AccessToken, MercadoPagoClient, MercadoPagoConfig, RetryPolicy};
pub use signature::{
    manifest, SignatureError, SignaturePolicy, SignedParts, Verified, WebhookSecret,
    REPLAY_WINDOW_MILLIS,
};
pub use webhook::{MercadoPagoWebhook, WebhookDelivery, WebhookError};
pub use wire::outcome_of;
