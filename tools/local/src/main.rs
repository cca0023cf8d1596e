//! `cargo run -p payments-local [-- --port 3000 --mock-port 3001]`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use payments::config::{
    parse_iso8601_duration, parse_payment_expiry, parse_points_of_sale, PointsOfSale,
};
use payments::domain::PosId;
use payments_local::{KeptMetrics, LocalConfig, LocalStack, DEFAULT_WEBHOOK_SECRET, LOCAL_POS_IDS};

/// The whole payments service on one machine: the real handlers, an in-memory
/// store and the embedded Mercado Pago mock, on 127.0.0.1.
///
/// The webhook secret (shared with the mock) comes from MP_WEBHOOK_SECRET, never
/// from a flag, so it does not show in the process list.
#[derive(Parser)]
#[command(name = "payments-local")]
struct Args {
    /// Port of the API (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Port of the Mercado Pago mock (0 picks a free one).
    #[arg(long, env = "MOCK_PORT", default_value_t = 3001)]
    mock_port: u16,
    /// How long a QR code stays payable, as an ISO-8601 duration.
    #[arg(long, env = "PAYMENT_EXPIRY", default_value = "PT15M", value_parser = parse_payment_expiry)]
    payment_expiry: Duration,
    /// How often the event relay and the payment sweeper run (ISO-8601), as
    /// their schedules do on AWS; shorten it for demos and tests (PT1S).
    #[arg(long, env = "SCHEDULE_EVERY", default_value = "PT60S", value_parser = duration)]
    schedule_every: Duration,
    /// How long the mock's refunds stay `processing` before they settle, in
    /// milliseconds, as Mercado Pago's do (0: at once).
    #[arg(long, env = "MP_MOCK_REFUND_SETTLE_MS", default_value_t = 500)]
    refund_settle_ms: u64,
    /// The Mercado Pago points of sale payments may name, comma-separated,
    /// the first the default (a payment without `pos_id` is made there).
    #[arg(long, env = "MP_POS_IDS", default_value = LOCAL_POS_IDS, value_parser = parse_points_of_sale)]
    pos_ids: PointsOfSale,
}

fn duration(raw: &str) -> Result<Duration, String> {
    parse_iso8601_duration(raw).ok_or_else(|| format!("not an ISO-8601 duration: `{raw}`"))
}

impl Args {
    fn into_config(self) -> LocalConfig {
        LocalConfig {
            port: self.port,
            mock_port: self.mock_port,
            webhook_secret: std::env::var("MP_WEBHOOK_SECRET")
                .unwrap_or_else(|_| DEFAULT_WEBHOOK_SECRET.to_owned()),
            payment_expiry: self.payment_expiry,
            scheduled_every: Some(self.schedule_every),
            kept_metrics: KeptMetrics::install(),
            refund_settle: Duration::from_millis(self.refund_settle_ms),
            points_of_sale: Some(self.pos_ids),
            ..LocalConfig::default()
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    payments::telemetry::init_json_logs();
    let config = Args::parse().into_config();
    let secret_origin = if config.webhook_secret == DEFAULT_WEBHOOK_SECRET {
        format!("{DEFAULT_WEBHOOK_SECRET} (local default)")
    } else {
        "from MP_WEBHOOK_SECRET".to_owned()
    };
    let expiry = config.payment_expiry;
    let schedule = config.scheduled_every.unwrap_or_default();
    let refund_settle = config.refund_settle;
    let stack = match LocalStack::start(config).await {
        Ok(stack) => stack,
        Err(error) => {
            eprintln!("payments-local: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Listening for Ctrl-C before the banner says it stops it: a SIGINT
    // sent as soon as the banner is read must not kill the process outright.
    let interrupted = interrupted();
    let api = stack.api_url();
    let points_of_sale = stack
        .points_of_sale()
        .iter()
        .map(PosId::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "payments-local is up\n\
         \x20 API               {api}  (POST /payments, GET /payments/{{id}}, GET /payments?order_id=)\n\
         \x20 webhook           {api}/webhooks/mercadopago\n\
         \x20 kiosk page        {api}/kiosk (order, scan, pay as the customer, watch the events)\n\
         \x20 OpenAPI document  {api}/openapi.yaml (the API contract)\n\
         \x20 events            {api}/local/events (each also printed below as a JSON line)\n\
         \x20 metrics           {api}/local/metrics (what Lambda would send to CloudWatch)\n\
         \x20 Mercado Pago mock {mock}  (POST /mock/orders/{{id}}/pay {{\"outcome\":\"approved\"|\"rejected\"}}, /expire, /mock/faults)\n\
         \x20 points of sale    {points_of_sale} (the first is the default; MP_POS_IDS)\n\
         \x20 webhook secret    {secret_origin}\n\
         \x20 payment expiry    {expiry:?}\n\
         \x20 schedule          event relay + payment sweeper every {schedule:?} (SCHEDULE_EVERY)\n\
         \x20 refunds settle    {refund_settle:?} after Mercado Pago takes them (MP_MOCK_REFUND_SETTLE_MS)\n\
         \x20 store             in memory (lost on exit)\n\
         Ctrl-C stops it.",
        mock = stack.mock_url(),
    );
    if let Err(error) = interrupted.await {
        eprintln!("payments-local: cannot wait for Ctrl-C: {error}");
    }
    eprintln!("payments-local: stopping");
    stack.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C (SIGINT), listened for from this call on: the handler is
/// installed now, not when the future is first awaited.
#[cfg(unix)]
fn interrupted() -> impl std::future::Future<Output = std::io::Result<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let listening = signal(SignalKind::interrupt());
    async move {
        listening?.recv().await;
        Ok(())
    }
}

#[cfg(not(unix))]
fn interrupted() -> impl std::future::Future<Output = std::io::Result<()>> {
    tokio::signal::ctrl_c()
}
