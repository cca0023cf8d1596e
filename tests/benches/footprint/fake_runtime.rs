//! A loopback stand-in for the Lambda Runtime API (the four routes a
//! `lambda_runtime` client calls). It notes when the function first asks for
//! work, hands it one event at a time, and times each answer from the moment
//! the event left to the moment the answer arrived.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

/// How long the bench waits for a function to poll or answer before calling
/// it stuck.
const PATIENCE: Duration = Duration::from_secs(30);

/// What the function sent back for one event.
pub struct Answer {
    pub at: Instant,
    /// `/response` (true) or `/error` (false).
    pub ok: bool,
    pub body: Bytes,
}

struct Shared {
    /// When each `next` poll arrived.
    polls: mpsc::UnboundedSender<Instant>,
    /// Events waiting to be handed out, one per poll.
    events: Mutex<mpsc::UnboundedReceiver<Value>>,
    /// When each event left.
    handed: mpsc::UnboundedSender<Instant>,
    answers: mpsc::UnboundedSender<Answer>,
}

pub struct FakeRuntime {
    address: SocketAddr,
    server: JoinHandle<()>,
    polls: mpsc::UnboundedReceiver<Instant>,
    events: mpsc::UnboundedSender<Value>,
    handed: mpsc::UnboundedReceiver<Instant>,
    answers: mpsc::UnboundedReceiver<Answer>,
    invocations: u64,
}

impl FakeRuntime {
    /// One fresh server per function process, so a poll left over by a
    /// killed process can never take the next process's event.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (polls_tx, polls) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (handed_tx, handed) = mpsc::unbounded_channel();
        let (answers_tx, answers) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            polls: polls_tx,
            events: Mutex::new(events_rx),
            handed: handed_tx,
            answers: answers_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|state, path, body| answer(state, path, body, true)),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|state, path, body| answer(state, path, body, false)),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address,
            server,
            polls,
            events,
            handed,
            answers,
            invocations: 0,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// When the function first asked for work: the end of its init.
    pub async fn first_poll(&mut self) -> Result<Instant, String> {
        tokio::time::timeout(PATIENCE, self.polls.recv())
            .await
            .map_err(|_| "no poll of the Runtime API".to_owned())?
            .ok_or_else(|| "the fake Runtime API stopped".to_owned())
    }

    /// Hands the function one event and waits for its answer; the duration
    /// runs from the event leaving to the answer arriving.
    pub async fn invoke(&mut self, event: Value) -> Result<(Duration, Answer), String> {
        self.invocations += 1;
        self.events
            .send(event)
            .map_err(|_| "the fake Runtime API stopped".to_owned())?;
        let handed = tokio::time::timeout(PATIENCE, self.handed.recv())
            .await
            .map_err(|_| format!("invocation {}: never polled", self.invocations))?
            .ok_or("the fake Runtime API stopped")?;
        let answer = tokio::time::timeout(PATIENCE, self.answers.recv())
            .await
            .map_err(|_| format!("invocation {}: no answer", self.invocations))?
            .ok_or("the fake Runtime API stopped")?;
        Ok((answer.at.saturating_duration_since(handed), answer))
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let _ = shared.polls.send(Instant::now());
    let event = shared.events.lock().await.recv().await;
    let Some(event) = event else {
        return (StatusCode::GONE, HeaderMap::new(), Vec::new());
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(Duration::from_secs(60))
        .as_millis();
    let mut headers = HeaderMap::new();
    let id = ulid::Ulid::new().to_string();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let _ = shared.handed.send(Instant::now());
    (StatusCode::OK, headers, body)
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
    ok: bool,
) -> StatusCode {
    let _ = shared.answers.send(Answer {
        at: Instant::now(),
        ok,
        body,
    });
    StatusCode::ACCEPTED
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("init failed: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}
