//! The payments service: domain, use cases, ports, adapters, the HTTP edge and
//! the composition root. Dependencies point inward: `domain` <- `app` (via
//! `ports`) <- `adapters`, `http` <- `compose` (docs/architecture.md).

pub mod adapters;
pub mod app;
pub mod compose;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod telemetry;
pub mod triggers;

#[cfg(test)]
mod arbitrary;
