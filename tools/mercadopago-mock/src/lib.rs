//! A stand-in for Mercado Pago's Orders API (in-person QR), for tests and the
//! local stack. It speaks MP's HTTP API, honours `X-Idempotency-Key` as MP does
//! (same key + same body: same order; other body: 409; still processing: 423),
//! validates bodies like MP (400, MP's error codes), refunds asynchronously
//! (`processing`, then `processed` or `failed`), and signs webhooks exactly as
//! MP documents. Control endpoints under `/mock/` act as the customer and
//! MP's dashboard, and inject faults.

mod api;
mod control;
pub mod emvco;
pub mod loopback;
mod refund;
pub mod signing;
mod state;
mod validate;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use state::{ControlError, Endpoint, Faults, MockState, RefundStatus};
pub use webhook::Delivery;

/// The secret the mock signs with unless told otherwise; payments-local checks
/// webhooks with the same one.
pub const DEFAULT_WEBHOOK_SECRET: &str = "local-webhook-secret";

/// How long a refund stays `processing` unless told otherwise.
pub const DEFAULT_REFUND_SETTLE: Duration = Duration::from_millis(500);

/// How the mock signs, where it sends webhooks when an order names no URL,
/// which access token its `/v1` API accepts, and how long refunds take.
#[derive(Clone)]
pub struct MockConfig {
    pub webhook_secret: String,
    pub default_notification_url: Option<String>,
    /// Some: `/v1` calls must carry exactly `Authorization: Bearer {token}`
    /// (else 401). None: any non-empty bearer token is accepted.
    pub access_token: Option<String>,
    /// How long a new refund stays `processing` before it is settled
    /// (`processed`, the order updated, its webhook sent). Zero: refunds are
    /// `processed` in the answer itself and an API refund sends no webhook.
    pub refund_settle: Duration,
    /// Some: the account's points of sale; a create naming another
    /// `config.qr.external_pos_id` gets 404 `pos_not_found`, as Mercado Pago
    /// answers. None: any is taken.
    pub points_of_sale: Option<Vec<String>>,
    /// The web origins (`http://127.0.0.1:3000`) whose pages may call the
    /// customer's endpoints (`/mock/…`) from a browser: the local stack's
    /// kiosk page. Empty: no page of another origin may.
    pub browser_origins: Vec<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            webhook_secret: DEFAULT_WEBHOOK_SECRET.into(),
            default_notification_url: None,
            access_token: None,
            refund_settle: DEFAULT_REFUND_SETTLE,
            points_of_sale: None,
            browser_origins: Vec::new(),
        }
    }
}

/// Secrets stay out of logs.
impl std::fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockConfig")
            .field("webhook_secret", &"<redacted>")
            .field("default_notification_url", &self.default_notification_url)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("refund_settle", &self.refund_settle)
            .field("points_of_sale", &self.points_of_sale)
            .field("browser_origins", &self.browser_origins)
            .finish()
    }
}

pub fn router(state: Arc<MockState>) -> Router {
    let mercado_pago = Router::new()
        .route("/v1/orders", post(api::create_order))
        .route("/v1/orders/{id}", get(api::get_order))
        .route("/v1/orders/{id}/cancel", post(api::cancel_order))
        .route("/v1/orders/{id}/refund", post(api::refund_order))
        .route_layer(middleware::from_fn_with_state(state.clone(), api::gate));
    // The local stack's kiosk page acts as the customer through these from
    // the browser; no other origin may, and Mercado Pago's own API stays
    // same-origin.
    let origins: Vec<HeaderValue> = state
        .config
        .browser_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    let customer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE]);
    Router::new()
        .route("/mock/orders", get(control::list_orders))
        .route("/mock/orders/{id}/pay", post(control::pay))
        .route("/mock/orders/{id}/expire", post(control::expire))
        .route("/mock/orders/{id}/notify", post(control::notify))
        .route("/mock/orders/{id}/refund", post(control::dashboard_refund))
        .route(
            "/mock/orders/{id}/refunds/{refund_id}/fail",
            post(control::fail_refund),
        )
        .route(
            "/mock/orders/{id}/refund-window",
            post(control::refund_window),
        )
        .route(
            "/mock/orders/{id}/partial-refunds",
            post(control::partial_refunds),
        )
        .route("/mock/orders/{id}/status", post(control::set_status))
        .route(
            "/mock/next-create-answer",
            post(control::next_create_answer),
        )
        .route(
            "/mock/faults",
            post(control::set_faults).delete(control::clear_faults),
        )
        .route("/mock/stats", get(control::stats))
        .layer(customer)
        .merge(mercado_pago)
        .layer(middleware::from_fn_with_state(
            Arc::new(state.config.browser_origins.clone()),
            loopback::only_local_requests,
        ))
        .with_state(state)
}

/// A running mock; dropping it without `shutdown` leaves it serving until the
/// runtime ends.
pub struct MockServer {
    pub addr: SocketAddr,
    pub state: Arc<MockState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Serves on an already-bound listener (bind 127.0.0.1:0 for a free port).
    pub fn serve(listener: TcpListener, config: MockConfig) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState::new(config));
        let app = router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "mercadopago mock stopped");
            }
        });
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            task,
        })
    }

    pub async fn start(addr: SocketAddr, config: MockConfig) -> std::io::Result<Self> {
        Self::serve(TcpListener::bind(addr).await?, config)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
