//! `cargo run -p mercadopago-mock -- --port 3001 [--secret S] [--notification-url URL]`

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use mercadopago_mock::{MockConfig, MockServer};

fn usage() -> ExitCode {
    eprintln!("usage: mercadopago-mock [--port N] [--secret S] [--notification-url URL]");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().json().with_target(false).init();
    let mut port: u16 = 3001;
    let mut config = MockConfig {
        webhook_secret: std::env::var("MP_WEBHOOK_SECRET")
            .unwrap_or_else(|_| MockConfig::default().webhook_secret),
        default_notification_url: std::env::var("MP_NOTIFICATION_URL").ok(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            return usage();
        };
        match flag.as_str() {
            "--port" => match value.parse() {
                Ok(p) => port = p,
                Err(_) => return usage(),
            },
            "--secret" => config.webhook_secret = value,
            "--notification-url" => config.default_notification_url = Some(value),
            _ => return usage(),
        }
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
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
