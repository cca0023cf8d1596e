//! Mercado Pago Orders API (in-person dynamic QR) over reqwest.

mod client;
mod wire;

pub use client::{AccessToken, MercadoPagoClient, MercadoPagoConfig, RetryPolicy};
pub use wire::outcome_of;
