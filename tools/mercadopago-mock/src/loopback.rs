//! The local servers answer only requests addressed to a loopback host: a
//! page on another site that rebinds its DNS name to 127.0.0.1 (DNS
//! rebinding) reaches the port but names its own host, and is refused.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Whether a `Host` header names this machine: `localhost`, `127.0.0.1`
/// (any of 127/8) or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[::1]` or `[::1]:3000`.
        Some(rest) => match rest.split_once(']') {
            Some((address, "")) => address,
            Some((address, port)) if port.strip_prefix(':').is_some_and(is_port) => address,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        },
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(digits: &str) -> bool {
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u16>().is_ok()
}

/// The request's `Host`, when it is one header of visible ASCII.
pub fn host(headers: &HeaderMap) -> Option<&str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// Whether a request may come from where it says: without `Origin` (not
/// sent by a web page: curl, SDKs, tests) or from one of `allowed`. A page
/// of another site can send a form POST without reading the answer; CORS
/// alone does not stop it doing something.
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) => true,
        (Some(origin), None) => origin
            .to_str()
            .is_ok_and(|origin| allowed.iter().any(|a| a == origin)),
        _ => false,
    }
}

/// Middleware: 421 for a request whose `Host` is not loopback, 403 for one
/// sent by a web page of an origin the mock was not told to serve.
pub async fn only_local_requests(
    State(allowed): State<Arc<Vec<String>>>,
    request: Request,
    next: Next,
) -> Response {
    if !host(request.headers()).is_some_and(is_loopback_host) {
        return refusal(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            "this mock serves only requests addressed to a loopback host (Host: 127.0.0.1, localhost or [::1])",
        );
    }
    if !origin_allowed(request.headers(), &allowed) {
        return refusal(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this mock serves no web page of that origin (see --allow-origin)",
        );
    }
    next.run(request).await
}

fn refusal(status: StatusCode, error: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "message": message, "status": status.as_u16()})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_this_machine_are_loopback_hosts() {
        for local in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:3001",
            "[::1]",
            "[::1]:3000",
            "127.1.2.3:80",
        ] {
            assert!(is_loopback_host(local), "{local}");
        }
        for other in [
            "",
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "127.0.0.1.nip.io:3000",
            "0.0.0.0:3000",
            "192.168.1.10:3000",
            "[::1",
            "[::2]:3000",
            "127.0.0.1:",
            "127.0.0.1:99999",
            "127.0.0.1:3000:1",
            "localhost:http",
        ] {
            assert!(!is_loopback_host(other), "{other}");
        }
    }
}
