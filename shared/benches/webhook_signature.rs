//! `make bench`: the webhook's signature check (goal: under 5 µs), beside its
//! irreducible part, one HMAC-SHA256 of the manifest.
//!
//! The id is sent uppercase and signed lowercased, as Mercado Pago's docs
//! sign it (the form the check tries first). An id signed as received costs
//! the check a second HMAC; both are measured.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use payments::adapters::mercadopago::{manifest, SignaturePolicy, SignedParts, WebhookSecret};
use payments::adapters::secrets::Secret;
use payments::adapters::system::SystemClock;
use payments::ports::Clock;
use sha2::Sha256;

const SECRET: &str = "bench-webhook-secret-0123456789abcdef";
const DATA_ID: &str = "ORD01JDSAMPLE0000000000000000";
const REQUEST_ID: &str = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";

fn hmac_hex(manifest: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(manifest.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn signature_check(c: &mut Criterion) {
    let now = SystemClock.now();
    let ts = now.unix_millis().to_string();
    let signed = manifest(Some(&DATA_ID.to_lowercase()), Some(REQUEST_ID), &ts);
    let header = format!("ts={ts},v1={}", hmac_hex(&signed));
    let parts = SignedParts {
        data_id: Some(DATA_ID),
        request_id: Some(REQUEST_ID),
        signature_header: Some(&header),
    };
    let as_received = format!(
        "ts={ts},v1={}",
        hmac_hex(&manifest(Some(DATA_ID), Some(REQUEST_ID), &ts))
    );
    let parts_as_received = SignedParts {
        signature_header: Some(&as_received),
        ..parts
    };
    let Some(secret) = WebhookSecret::new(SECRET) else {
        return;
    };
    // The bench is meaningless if the check refuses a genuine signature.
    if secret.verify(parts, now).is_err() || secret.verify(parts_as_received, now).is_err() {
        eprintln!("the bench's signature does not verify");
        std::process::exit(1);
    }
    let policy = SignaturePolicy::Required(Secret::fixed(SECRET.to_owned()));
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };

    let mut group = c.benchmark_group("webhook signature");
    group.bench_function("baseline: one HMAC-SHA256 of the manifest", |b| {
        b.iter(|| hmac_hex(black_box(&signed)))
    });
    group.bench_function("WebhookSecret::verify", |b| {
        b.iter(|| secret.verify(black_box(parts), now))
    });
    group.bench_function("SignaturePolicy::verify (as the webhook runs it)", |b| {
        b.iter(|| runtime.block_on(policy.verify(black_box(parts), now)))
    });
    group.bench_function("SignaturePolicy::verify, id signed as received", |b| {
        b.iter(|| runtime.block_on(policy.verify(black_box(parts_as_received), now)))
    });
    group.finish();
}

criterion_group!(benches, signature_check);
criterion_main!(benches);
