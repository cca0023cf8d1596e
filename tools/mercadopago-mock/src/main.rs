//! `cargo run -p mercadopago-mock -- --port 3001 [--secret S] [--notification-url URL] [--access-token T] [--refund-settle-ms MS]`

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
    /// Secret webhooks are signed with.
    #[arg(
        long,
        env = "MP_WEBHOOK_SECRET",
        default_value = DEFAULT_WEBHOOK_SECRET,
        hide_env_values = true
    )]
    secret: String,
    /// Where webhooks go when an order names no notification_url.
    #[arg(long, env = "MP_NOTIFICATION_URL")]
    notification_url: Option<String>,
    /// The only access token the /v1 API accepts (default: any non-empty one).
    #[arg(long, env = "MP_MOCK_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
    /// How long a refund stays `processing` before it settles, in ms (0: at once).
    #[arg(long, env = "MP_MOCK_REFUND_SETTLE_MS", default_value_t = 500)]
    refund_settle_ms: u64,
    /// The account's points of sale, comma-separated: a create naming
    /// another gets 404 `pos_not_found` (default: any is taken).
    #[arg(long, env = "MP_MOCK_POINTS_OF_SALE", value_delimiter = ',')]
    points_of_sale: Option<Vec<String>>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().json().with_target(false).init();
    let args = Args::parse();
    let config = MockConfig {
        webhook_secret: args.secret,
        default_notification_url: args.notification_url,
        // An empty token (e.g. an exported but empty variable) means none.
        access_token: args.access_token.filter(|token| !token.is_empty()),
        refund_settle: Duration::from_millis(args.refund_settle_ms),
        points_of_sale: args.points_of_sale,
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
