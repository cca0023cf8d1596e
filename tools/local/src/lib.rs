//! The whole payments service in one process: the same handlers the Lambdas
//! run, an in-memory store and publisher, and the embedded Mercado Pago mock.
//! Used by `cargo run -p payments-local` and by the acceptance tests.

mod connection;
mod metrics;
mod routes;

pub use metrics::KeptMetrics;
pub use routes::LocalRoute;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use connection::GuardedListener;
use mercadopago_mock::{MockConfig, MockServer};
use payments::adapters::memory::{MemoryPublisher, MemoryStore};
use payments::adapters::mercadopago::{
    AccessToken, MercadoPagoConfig, MercadoPagoWebhook, RetryPolicy, SignaturePolicy, WebhookSecret,
};
use payments::adapters::secrets::Secret;
use payments::app::{
    correlation, CancelPayment, CreatePayment, PaymentQueries, RedeliverEvent, RefundPayment,
    RelayEvents, SweepOverduePayments,
};
use payments::compose::{self, InitError};
use payments::config::{parse_points_of_sale, ConfigError};
use payments::domain::{CorrelationId, PointsOfSale};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The secret the embedded mock signs with unless `MP_WEBHOOK_SECRET` is set.
pub use mercadopago_mock::DEFAULT_WEBHOOK_SECRET;
pub const LOCAL_ACCESS_TOKEN: &str = "TEST-local-access-token";
/// The local stack's points of sale (`MP_POS_IDS` overrides them), the
/// first the default: two kiosks of one shop.
pub const LOCAL_POS_IDS: &str = "LOCALPOS001,LOCALPOS002";

#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub mock_port: u16,
    pub webhook_secret: String,
    pub payment_expiry: Duration,
    pub mp_timeout: Duration,
    pub mp_retry: RetryPolicy,
    /// Print each published event as a JSON line on stdout.
    pub print_events: bool,
    /// How often the event relay and the payment sweeper run, as the schedule
    /// does on AWS; `None` leaves them off.
    pub scheduled_every: Option<Duration>,
    /// The process's metrics, served at `GET /local/metrics` (the binary
    /// installs them; `None` serves empty maps).
    pub kept_metrics: Option<KeptMetrics>,
    /// A connection with no bytes in either direction for this long is closed.
    /// Longer than any request can take (Mercado Pago's timeout and retries).
    pub idle_timeout: Duration,
    /// How long the mock's refunds stay `processing` before they settle
    /// (Mercado Pago refunds asynchronously); zero settles them at once.
    pub refund_settle: Duration,
    /// Where payments may be made (`MP_POS_IDS`); `None`: `LOCAL_POS_IDS`.
    pub points_of_sale: Option<PointsOfSale>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            port: 3000,
            mock_port: 3001,
            webhook_secret: DEFAULT_WEBHOOK_SECRET.into(),
            payment_expiry: Duration::from_secs(15 * 60),
            mp_timeout: Duration::from_secs(5),
            mp_retry: RetryPolicy::default(),
            print_events: true,
            scheduled_every: Some(Duration::from_secs(60)),
            kept_metrics: None,
            idle_timeout: Duration::from_secs(60),
            refund_settle: mercadopago_mock::DEFAULT_REFUND_SETTLE,
            points_of_sale: None,
        }
    }
}

impl LocalConfig {
    /// The points of sale it serves: the ones given, else `LOCAL_POS_IDS`.
    pub fn points_of_sale(&self) -> Result<PointsOfSale, ConfigError> {
        match &self.points_of_sale {
            Some(given) => Ok(given.clone()),
            None => parse_points_of_sale(LOCAL_POS_IDS).map_err(|message| ConfigError::Invalid {
                name: "MP_POS_IDS",
                message,
            }),
        }
    }
}

#[derive(Debug, Error)]
pub enum LocalError {
    #[error(
        "cannot listen on {addr}: {source}; choose another port with {option}, or 0 for a free one"
    )]
    Bind {
        addr: SocketAddr,
        /// The option (and its variable) that chose the port.
        option: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Init(#[from] InitError),
    #[error("webhook secret must not be empty")]
    EmptySecret,
}

/// The use cases behind the routes, wired once.
pub struct Services {
    pub create: CreatePayment,
    pub queries: PaymentQueries,
    pub cancel: CancelPayment,
    pub refund: RefundPayment,
    pub redeliver: RedeliverEvent,
    pub webhook: MercadoPagoWebhook,
    pub publisher: Arc<MemoryPublisher>,
    pub metrics: KeptMetrics,
    /// The kiosk page, sending the customer's actions to this stack's mock.
    pub kiosk_page: String,
    /// This stack's own web origins: the only pages it serves.
    pub browser_origins: Vec<String>,
}

pub struct LocalStack {
    pub api_addr: SocketAddr,
    pub mock: MockServer,
    pub store: Arc<MemoryStore>,
    pub publisher: Arc<MemoryPublisher>,
    points_of_sale: PointsOfSale,
    jobs: Arc<ScheduledJobs>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The origins of the pages this stack serves (the kiosk page): the only
/// ones either local server takes browser calls from.
fn own_origins(api_addr: SocketAddr) -> Vec<String> {
    vec![
        format!("http://{api_addr}"),
        format!("http://localhost:{}", api_addr.port()),
    ]
}

/// The API's port is `--port`, the mock's `--mock-port`.
const API_PORT_OPTION: &str = "--port (PORT)";
const MOCK_PORT_OPTION: &str = "--mock-port (MOCK_PORT)";

async fn bind(port: u16, option: &'static str) -> Result<TcpListener, LocalError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr)
        .await
        .map_err(|source| LocalError::Bind {
            addr,
            option,
            source,
        })
}

impl LocalStack {
    pub async fn start(config: LocalConfig) -> Result<Self, LocalError> {
        // Checked before anything starts: an empty secret is a mistake.
        WebhookSecret::new(config.webhook_secret.clone()).ok_or(LocalError::EmptySecret)?;
        let points_of_sale = config.points_of_sale().map_err(InitError::from)?;
        let api_listener = bind(config.port, API_PORT_OPTION).await?;
        let api_addr = api_listener
            .local_addr()
            .map_err(|source| LocalError::Bind {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)),
                option: API_PORT_OPTION,
                source,
            })?;
        let notification_url = format!("http://{api_addr}/webhooks/mercadopago");
        let mock_listener = bind(config.mock_port, MOCK_PORT_OPTION).await?;
        let mock = MockServer::serve(
            mock_listener,
            MockConfig {
                // While secrets rotate (`current,previous`), Mercado Pago signs
                // with the current one.
                webhook_secret: config
                    .webhook_secret
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                default_notification_url: Some(notification_url.clone()),
                access_token: Some(LOCAL_ACCESS_TOKEN.into()),
                refund_settle: config.refund_settle,
                // The local account's points of sale: another is refused
                // as Mercado Pago refuses it.
                points_of_sale: Some(
                    points_of_sale
                        .iter()
                        .map(|p| p.as_str().to_owned())
                        .collect(),
                ),
                // The kiosk page, served by this stack, is the one page
                // that may act as the customer from a browser.
                browser_origins: own_origins(api_addr),
            },
        )
        .map_err(|source| LocalError::Bind {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, config.mock_port)),
            option: MOCK_PORT_OPTION,
            source,
        })?;

        let store = Arc::new(MemoryStore::new());
        let publisher = Arc::new(if config.print_events {
            MemoryPublisher::printing()
        } else {
            MemoryPublisher::new()
        });
        let ports = compose::ports(
            store.clone(),
            publisher.clone(),
            MercadoPagoConfig {
                base_url: mock.base_url(),
                access_token: AccessToken::new(LOCAL_ACCESS_TOKEN),
                notification_url: Some(notification_url),
                // Mercado Pago's shortest is 30 s; a test's shorter QR
                // lifetime is ours alone (the sweeper then cancels the order).
                expiration_time: format!("PT{}S", config.payment_expiry.as_secs().max(30)),
                timeout: config.mp_timeout,
                retry: config.mp_retry,
            },
        )?;
        let jobs = Arc::new(ScheduledJobs {
            relay: RelayEvents::new(&ports),
            sweeper: SweepOverduePayments::new(&ports).with_interval(
                config
                    .scheduled_every
                    .unwrap_or(SweepOverduePayments::DEFAULT_INTERVAL),
            ),
        });
        let services = Arc::new(Services {
            create: CreatePayment::new(&ports, config.payment_expiry, points_of_sale.clone()),
            queries: PaymentQueries::new(&ports),
            cancel: CancelPayment::new(&ports),
            refund: RefundPayment::new(&ports),
            redeliver: RedeliverEvent::new(&ports),
            webhook: MercadoPagoWebhook::new(
                &ports,
                SignaturePolicy::Required(Secret::fixed(config.webhook_secret.clone())),
            ),
            publisher: publisher.clone(),
            metrics: config.kept_metrics.clone().unwrap_or_default(),
            kiosk_page: routes::kiosk_page(&mock.base_url(), &points_of_sale),
            browser_origins: own_origins(api_addr),
        });

        let (stop, stopped) = watch::channel(false);
        let app = routes::router(services);
        let mut api_stopped = stopped.clone();
        let mut tasks = vec![tokio::spawn(async move {
            let shutdown = async move {
                let _ = api_stopped.wait_for(|stop| *stop).await;
            };
            let listener = GuardedListener::new(api_listener, config.idle_timeout);
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "local API stopped");
            }
        })];
        if let Some(every) = config.scheduled_every {
            tasks.push(tokio::spawn(run_schedule(every, jobs.clone(), stopped)));
        }
        Ok(Self {
            api_addr,
            mock,
            store,
            publisher,
            points_of_sale,
            jobs,
            stop,
            tasks,
        })
    }

    /// Runs the sweeper, then the relay, once, as a schedule tick would.
    pub async fn run_scheduled_jobs(&self) {
        self.jobs.run().await;
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    pub fn mock_url(&self) -> String {
        self.mock.base_url()
    }

    /// Where payments may be made, the default first.
    pub fn points_of_sale(&self) -> &PointsOfSale {
        &self.points_of_sale
    }

    /// Stops the API, the schedule and the mock, and waits for all of them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.mock.shutdown().await;
    }
}

/// What the every-minute schedules run on AWS.
struct ScheduledJobs {
    relay: RelayEvents,
    sweeper: SweepOverduePayments,
}

impl ScheduledJobs {
    async fn run(&self) {
        // Each run is its own request: what it changes carries a fresh id.
        let run = Some(CorrelationId::generated());
        if let Err(error) = correlation::within(run, self.sweeper.execute()).await {
            tracing::warn!(%error, "local sweeper run failed");
        }
        if let Err(error) = self.relay.execute().await {
            tracing::warn!(%error, "local relay run failed");
        }
    }
}

/// The local stand-in for the every-minute schedules of event-relay and
/// payment-sweeper.
async fn run_schedule(
    every: Duration,
    jobs: Arc<ScheduledJobs>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(every) => {}
        }
        jobs.run().await;
    }
}
