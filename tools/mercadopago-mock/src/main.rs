//! `cargo run -p mercadopago-mock -- --port 3001 [--notification-url URL] [--refund-settle-ms MS] [--allow-origin URL]`
//!
//! Secrets come only from the environment, never the command line (where
//! any user of the machine could read them in the process list):
//! `MP_WEBHOOK_SECRET` (what webhooks are signed with) and
//! `MP_MOCK_ACCESS_TOKEN` (the only token the /v1 API accepts).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mercadopago_mock::{MockConfig, MockServer, DEFAULT_WEBHOOK_SECRET};

/// Mercado Pago's Orders API stand-in, on 127.0.0.1.
#[derive(Parser)]
#[command(name = "mercadopago-mock")]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 3001)]
    port: u16,
    /// Where webhooks go when an order names no notification_url.
    #[arg(long, env = "MP_NOTIFICATION_URL")]
    notification_url: Option<String>,
    /// How long a refund stays `processing` before it settles, in ms (0: at once).
    #[arg(long, env = "MP_MOCK_REFUND_SETTLE_MS", default_value_t = 500)]
    refund_settle_ms: u64,
    /// The account's points of sale, comma-separated: a create naming
    /// another gets 404 `pos_not_found` (default: any is taken).
    #[arg(long, env = "MP_MOCK_POINTS_OF_SALE", value_delimiter = ',')]
    points_of_sale: Option<Vec<String>>,
    /// A web origin (`http://127.0.0.1:3000`) whose pages may call the
    /// customer's `/mock/…` endpoints from a browser; repeat for more.
    #[arg(long = "allow-origin")]
    allow_origins: Vec<String>,
}

/// A secret from the environment; unset or empty is none.
fn secret_from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().json().with_target(false).init();
    let args = Args::parse();
    let config = MockConfig {
        webhook_secret: secret_from_env("MP_WEBHOOK_SECRET")
            .unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET.to_owned()),
        default_notification_url: args.notification_url,
        access_token: secret_from_env("MP_MOCK_ACCESS_TOKEN"),
        refund_settle: Duration::from_millis(args.refund_settle_ms),
        points_of_sale: args.points_of_sale,
        browser_origins: args.allow_origins,
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let server = match MockServer::start(addr, config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot listen on {addr}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Mercado Pago mock on {}", server.base_url());
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
