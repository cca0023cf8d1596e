//! `cargo run -p payments-local [-- --port 3000 --mock-port 3001]`

use std::process::ExitCode;

use payments_local::{LocalConfig, LocalStack, DEFAULT_WEBHOOK_SECRET};

fn usage(problem: &str) -> ExitCode {
    eprintln!("{problem}\nusage: payments-local [--port N] [--mock-port N]\n(env: PORT, MOCK_PORT, MP_WEBHOOK_SECRET, PAYMENT_EXPIRY, RUST_LOG)");
    ExitCode::from(2)
}

fn port_from(value: &str, name: &str) -> Result<u16, String> {
    value
        .parse()
        .map_err(|_| format!("{name} must be a port number, got `{value}`"))
}

fn config_from(args: Vec<String>) -> Result<LocalConfig, String> {
    let mut config = LocalConfig::default();
    if let Ok(port) = std::env::var("PORT") {
        config.port = port_from(&port, "PORT")?;
    }
    if let Ok(port) = std::env::var("MOCK_PORT") {
        config.mock_port = port_from(&port, "MOCK_PORT")?;
    }
    if let Ok(secret) = std::env::var("MP_WEBHOOK_SECRET") {
        config.webhook_secret = secret;
    }
    if let Ok(expiry) = std::env::var("PAYMENT_EXPIRY") {
        config.payment_expiry =
            payments::config::parse_iso8601_duration(&expiry).ok_or_else(|| {
                format!("PAYMENT_EXPIRY must be an ISO-8601 duration, got `{expiry}`")
            })?;
    }
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => config.port = port_from(&value, "--port")?,
            "--mock-port" => config.mock_port = port_from(&value, "--mock-port")?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    payments::telemetry::init_json_logs();
    let config = match config_from(std::env::args().skip(1).collect()) {
        Ok(config) => config,
        Err(problem) => return usage(&problem),
    };
    let secret_origin = if config.webhook_secret == DEFAULT_WEBHOOK_SECRET {
        format!("{DEFAULT_WEBHOOK_SECRET} (local default)")
    } else {
        "from MP_WEBHOOK_SECRET".to_owned()
    };
    let expiry = config.payment_expiry;
    let stack = match LocalStack::start(config).await {
        Ok(stack) => stack,
        Err(error) => {
            eprintln!("payments-local: {error}");
            return ExitCode::FAILURE;
        }
    };
    let api = stack.api_url();
    eprintln!(
        "payments-local is up\n\
         \x20 API               {api}  (POST /payments, GET /payments/{{id}}, GET /payments?order_id=)\n\
         \x20 webhook           {api}/webhooks/mercadopago\n\
         \x20 events            {api}/local/events (each also printed below as a JSON line)\n\
         \x20 Mercado Pago mock {mock}  (POST /mock/orders/{{id}}/pay {{\"outcome\":\"approved\"|\"rejected\"}}, /expire, /mock/faults)\n\
         \x20 webhook secret    {secret_origin}\n\
         \x20 payment expiry    {expiry:?}\n\
         \x20 schedule          event relay + payment sweeper every 60s\n\
         \x20 store             in memory (lost on exit)\n\
         Ctrl-C stops it.",
        mock = stack.mock_url(),
    );
    if let Err(error) = tokio::signal::ctrl_c().await {
        eprintln!("payments-local: cannot wait for Ctrl-C: {error}");
    }
    eprintln!("payments-local: stopping");
    stack.shutdown().await;
    ExitCode::SUCCESS
}
