//! The payments service: domain, use cases, ports, adapters and the HTTP edge.
//! Dependencies point inward: `domain` <- `app` (via `ports`) <- `adapters`, `http`.

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod ports;
pub mod telemetry;
