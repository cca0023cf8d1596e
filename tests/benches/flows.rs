//! `make bench`: how many create -> pay -> webhook -> read flows per second the
//! local stack sustains with 32 concurrent clients (memory adapters, the
//! embedded Mercado Pago mock, all over loopback HTTP), beside how many
//! requests per second a bare axum server answers on the same machine with
//! the same clients. A measurement, not a test: it prints figures and asserts
//! only that every flow ended approved.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Json, Router};

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

/// What the clients measured: each finished unit's latency, and failures.
struct Load {
    latencies: Vec<Duration>,
    failures: u64,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / MEASURE.as_secs_f64()
    }

    fn print(&self, what: &str) {
        println!(
            "  {what:<34} {:>8.0}/s  p50 {:>9.2?}  p99 {:>9.2?}  ({} done, {} failed)",
            self.per_second(),
            percentile(&self.latencies, 0.50),
            percentile(&self.latencies, 0.99),
            self.latencies.len(),
            self.failures,
        );
    }
}

/// `CLIENTS` loops running `unit` for `WARM_UP + MEASURE`; only units begun
/// after the warm-up count.
async fn load<F, Fut>(unit: F) -> Load
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let started = Instant::now();
    let counter = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (unit, counter) = (unit.clone(), counter.clone());
        clients.push(tokio::spawn(async move {
            let (mut latencies, mut failures) = (Vec::new(), 0_u64);
            while started.elapsed() < WARM_UP + MEASURE {
                let begun = Instant::now();
                let result = unit(counter.fetch_add(1, Ordering::Relaxed)).await;
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
    let mut all = Load {
        latencies: Vec::new(),
        failures: 0,
    };
    for client in clients {
        if let Ok((latencies, failures)) = client.await {
            all.latencies.extend(latencies);
            all.failures += failures;
        } else {
            all.failures += 1;
        }
    }
    all.latencies.sort();
    all
}

/// The baseline: axum answering a small JSON body, nothing else.
async fn bare_axum() -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = Router::new().route("/", get(|| async { Json(json!({"status": "ok"})) }));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, server))
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

    let flows = {
        let (http, api, mock) = (http.clone(), api.clone(), mock.clone());
        load(move |n| {
            let (http, api, mock) = (http.clone(), api.clone(), mock.clone());
            async move { flow(&http, &api, &mock, &format!("bench-{n}")).await }
        })
        .await
    };
    let events = stack.publisher.published().len();
    stack.shutdown().await;

    let (bare_url, bare_server) = bare_axum().await.expect("bare axum starts");
    let bare = load(move |_| {
        let (http, url) = (http.clone(), bare_url.clone());
        async move {
            let response = http.get(&url).send().await.map_err(|e| e.to_string())?;
            response.bytes().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    })
    .await;
    bare_server.abort();

    println!(
        "\nLocal stack throughput: {CLIENTS} concurrent clients over loopback, \
         {MEASURE:?} measured after {WARM_UP:?} warm-up, same machine"
    );
    flows.print("payment flows (create, pay, webhook, read)");
    bare.print("bare axum requests (GET, small JSON)");
    println!(
        "  a flow is 4 HTTP requests to the stack and the mock, plus the mock's signed \
         webhook and the service's read of the order: {:.1}% of bare axum's request rate in flows",
        100.0 * flows.per_second() / bare.per_second().max(1.0)
    );
    println!("  events published: {events}");
    assert_eq!(flows.failures, 0, "every measured flow ended approved");
}
