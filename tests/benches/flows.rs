//! `make bench`: how many create -> pay -> webhook -> read flows per second the
//! local stack sustains with 32 concurrent clients (memory adapters, the
//! embedded Mercado Pago mock, all over loopback HTTP). A measurement, not a test:
//! it prints figures and asserts only that every flow ended approved.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use payments_local::{LocalConfig, LocalStack};
use serde_json::{json, Value};

const CLIENTS: usize = 32;
const WARM_UP: Duration = Duration::from_secs(2);
const MEASURE: Duration = Duration::from_secs(10);

async fn json_of(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

async fn flow(http: &reqwest::Client, api: &str, mock: &str, order: &str) -> Result<(), String> {
    let body = json!({
        "order_id": order, "amount": 2590, "currency": "BRL",
        "items": [{"sku": "XB", "title": "X-Burger", "quantity": 2, "unit_price": 1295}]
    });
    let created = json_of(http.post(format!("{api}/payments")).json(&body)).await?;
    let payment = created["payment_id"].as_str().ok_or("no payment id")?;
    let provider_order = created["provider"]["order_id"].as_str().ok_or("no order")?;
    // The mock approves and delivers the signed webhook before answering.
    let paid = http
        .post(format!("{mock}/mock/orders/{provider_order}/pay"))
        .json(&json!({"outcome": "approved"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !paid.status().is_success() {
        return Err(format!("pay: {}", paid.status()));
    }
    let read = json_of(http.get(format!("{api}/payments/{payment}"))).await?;
    if read["status"] != "approved" {
        return Err(format!("ended {}", read["status"]));
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let stack = LocalStack::start(LocalConfig {
        port: 0,
        mock_port: 0,
        print_events: false,
        ..LocalConfig::default()
    })
    .await
    .expect("local stack starts");
    let (api, mock) = (stack.api_url(), stack.mock_url());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let started = Instant::now();
    let counter = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, api, mock, counter) = (http.clone(), api.clone(), mock.clone(), counter.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0_u64;
            while started.elapsed() < WARM_UP + MEASURE {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let begun = Instant::now();
                let result = flow(&http, &api, &mock, &format!("bench-{client}-{n}")).await;
                if begun >= started + WARM_UP {
                    match result {
                        Ok(()) => latencies.push(begun.elapsed()),
                        Err(_) => failures += 1,
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for client in clients {
        let (mine, failed) = client.await.expect("client task");
        latencies.extend(mine);
        failures += failed;
    }
    latencies.sort();
    let per_second = latencies.len() as f64 / MEASURE.as_secs_f64();
    println!("flows (create + pay + signed webhook + read), {CLIENTS} concurrent clients, {MEASURE:?} measured after {WARM_UP:?} warm-up");
    println!("  completed      {}", latencies.len());
    println!("  failed         {failures}");
    println!("  throughput     {per_second:.0} flows/s");
    println!(
        "  latency        p50 {:?}  p95 {:?}  p99 {:?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99)
    );
    println!("  events         {}", stack.publisher.published().len());
    stack.shutdown().await;
    assert_eq!(failures, 0, "every measured flow ended approved");
}
