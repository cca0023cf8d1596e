//! One test binary (one link) for every in-process suite. Support code lives in
//! the package's library (`payments_tests`).

mod aws_flow;
mod bad_input;
mod callers;
mod cancel;
mod concurrency_and_failures;
mod contract;
mod docs_match_code;
mod due_index;
mod http_api;
mod http_layer;
mod index_shards;
mod kiosk_page;
mod mercado_pago_fidelity;
mod mercadopago_adapter;
mod never_leak;
mod notification_properties;
mod points_of_sale;
mod prewarm;
mod provider_mismatch;
mod qr_codes;
mod quiet_runs;
mod refund_races;
mod refunds;
mod secrets;
mod store_contract;
mod stream_relay;
mod sweeper_interleavings;
mod template_contract;
mod webhook_security;
