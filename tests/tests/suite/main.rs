//! One test binary (one link) for every in-process suite: acceptance flows over
//! HTTP against payments-local, webhook security, bad input, and the Mercado Pago
//! adapter against the mock.

mod acceptance;
mod aws_flow;
mod bad_input;
mod harness;
mod mercadopago_adapter;
mod moto;
mod notification_properties;
mod promises;
mod store_contract;
// Shared with tests/acceptance.rs (cucumber); each binary uses a different part.
#[allow(dead_code)]
mod support;
mod template;
mod template_contract;
mod webhook_security;
