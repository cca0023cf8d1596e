//! The binaries `make bench` measures, the event each one is given, and the
//! world they run against: a table made from template.yaml and a topic on
//! moto, the Mercado Pago mock, all on loopback.

use std::path::{Path, PathBuf};

use mercadopago_mock::{MockConfig, MockServer};
use payments_tests::moto;
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "bench-webhook-secret";
const ACCESS_TOKEN: &str = "TEST-bench-token";
/// An order Mercado Pago does not know: the webhook verifies the signature,
/// reads the order there, and acknowledges it as ignored.
const UNKNOWN_PROVIDER_ORDER: &str = "ORD01JDSAMPLE0000000000000000";

/// Which event a function gets on each invocation.
#[derive(Clone, Copy)]
pub enum Feed {
    Echo,
    /// A new order each time: table writes and an order at Mercado Pago.
    Create,
    /// The sample as stored in events/.
    Sample(&'static str),
    /// The webhook sample, signed now.
    SignedWebhook,
}

pub struct Subject {
    pub name: &'static str,
    pub feed: Feed,
    /// The HTTP status every answer must carry (HTTP functions), so the
    /// figures are of the path meant: a create that makes an order at
    /// Mercado Pago, a webhook whose signature holds.
    pub status: Option<u64>,
}

/// The baseline first, then the seven functions.
pub const HELLO: &str = "hello-lambda";
pub const SUBJECTS: [Subject; 8] = [
    Subject {
        name: HELLO,
        feed: Feed::Echo,
        status: None,
    },
    Subject {
        name: "create-payment",
        feed: Feed::Create,
        status: Some(201),
    },
    Subject {
        name: "get-payment",
        feed: Feed::Sample("get-payment.json"),
        status: Some(200),
    },
    Subject {
        name: "cancel-payment",
        feed: Feed::Sample("cancel-payment.json"),
        status: Some(404),
    },
    Subject {
        name: "refund-payment",
        feed: Feed::Sample("refund-payment.json"),
        status: Some(404),
    },
    Subject {
        name: "payment-webhook",
        feed: Feed::SignedWebhook,
        status: Some(200),
    },
    Subject {
        name: "event-relay",
        feed: Feed::Sample("event-relay.json"),
        status: None,
    },
    Subject {
        name: "payment-sweeper",
        feed: Feed::Sample("payment-sweeper.json"),
        status: None,
    },
];

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where `make package` (cargo lambda, for this machine's architecture) and
/// the baseline's `cargo build --release --target` put the binaries: the
/// bootstrap in each zip is this file, so the bench runs what is deployed.
pub fn release_binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    target
        .join(format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
        .join("release")
        .join(name)
}

pub struct World {
    pub mock: MockServer,
    aws: aws_config::SdkConfig,
    environment: Vec<(String, String)>,
    samples: Vec<(&'static str, Value)>,
}

impl World {
    pub async fn start() -> Result<Self, String> {
        let aws = moto::sdk_config().await;
        let topic = aws_sdk_sns::Client::new(&aws)
            .create_topic()
            .name(moto::unique("payments"))
            .send()
            .await
            .map_err(|e| format!("moto topic: {e}"))?
            .topic_arn
            .ok_or("moto gave no topic ARN")?;
        let mock = MockServer::start(
            ([127, 0, 0, 1], 0).into(),
            MockConfig {
                webhook_secret: WEBHOOK_SECRET.into(),
                default_notification_url: None,
                access_token: Some(ACCESS_TOKEN.into()),
                ..MockConfig::default()
            },
        )
        .await
        .map_err(|e| format!("mock: {e}"))?;
        let environment = [
            ("PAYMENTS_TOPIC_ARN", topic),
            ("MP_API_BASE_URL", mock.base_url()),
            ("MP_ACCESS_TOKEN", ACCESS_TOKEN.into()),
            ("MP_POS_IDS", "POS001".into()),
            ("MP_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
            ("AWS_ENDPOINT_URL", moto::endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let mut samples = Vec::new();
        for subject in &SUBJECTS {
            let file = match subject.feed {
                Feed::Sample(file) => file,
                Feed::Create => "create-payment.json",
                Feed::SignedWebhook => "payment-webhook.json",
                Feed::Echo => continue,
            };
            let path = workspace().join("events").join(file);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let sample = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
            samples.push((file, sample));
        }
        Ok(Self {
            mock,
            aws,
            environment,
            samples,
        })
    }

    /// An empty table shaped as template.yaml declares it: each function is
    /// measured on its own, so none pays for another's items (moto reads an
    /// index by scanning the table).
    pub async fn fresh_table(&self) -> String {
        moto::table_from_template(&aws_sdk_dynamodb::Client::new(&self.aws)).await
    }

    /// The function's whole environment (nothing inherited from the bench's).
    pub fn environment(&self, function: &str, table: &str, prewarm: bool) -> Vec<(String, String)> {
        let mut environment = self.environment.clone();
        environment.push(("PAYMENTS_TABLE".into(), table.into()));
        environment.push(("AWS_LAMBDA_FUNCTION_NAME".into(), function.into()));
        environment.push(("PREWARM_CONNECTION".into(), prewarm.to_string()));
        environment
    }

    fn sample(&self, file: &str) -> Value {
        self.samples
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, sample)| sample.clone())
            .unwrap_or(Value::Null)
    }

    /// The `n`th event for a function fed `feed`.
    pub fn event(&self, feed: Feed, n: usize) -> Value {
        match feed {
            Feed::Echo => json!({"hello": "world", "n": n}),
            Feed::Sample(file) => self.sample(file),
            Feed::Create => {
                let mut event = self.sample("create-payment.json");
                let order = format!("bench-{}", ulid::Ulid::new()).to_lowercase();
                let body = event["body"]
                    .as_str()
                    .and_then(|body| serde_json::from_str::<Value>(body).ok())
                    .map(|mut body| {
                        body["order_id"] = json!(order);
                        body.to_string()
                    });
                event["body"] = json!(body);
                event
            }
            Feed::SignedWebhook => {
                let mut event = self.sample("payment-webhook.json");
                let request_id = event["headers"]["x-request-id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                event["headers"]["x-signature"] =
                    json!(mercadopago_mock::signing::signature_header(
                        WEBHOOK_SECRET,
                        UNKNOWN_PROVIDER_ORDER,
                        &request_id,
                        payments_tests::now_millis(),
                    ));
                event
            }
        }
    }
}

/// Whether an answer is the function doing what the bench means it to: no
/// error reported, and the expected HTTP status.
pub fn answered_well(subject: &Subject, ok: bool, body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    if !ok {
        return Err(format!("the function reported an error: {text}"));
    }
    let status = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|answer| answer["statusCode"].as_u64());
    match subject.status {
        Some(expected) if status != Some(expected) => {
            Err(format!("answered {status:?}, not {expected}: {text}"))
        }
        _ => Ok(()),
    }
}
