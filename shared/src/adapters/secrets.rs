//! Secrets that may change without a deploy. In AWS they are SSM Parameter
//! Store SecureString parameters, read at init with one `GetParameters` and
//! re-read at most every five minutes after; locally and in tests they are
//! plain values from the environment. `Debug` never shows a value.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ssm::error::DisplayErrorContext;
use secrecy::SecretString;
use thiserror::Error;
use tokio::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("SSM parameter {0} is missing")]
    Missing(String),
    #[error("SSM parameters could not be read ({names}): {reason}")]
    Unreadable { names: String, reason: String },
}

/// A secret as a client holds it: fixed, or an SSM parameter kept fresh.
#[derive(Clone)]
pub enum Secret {
    Fixed(SecretString),
    Parameter {
        name: String,
        parameters: Arc<SsmParameters>,
    },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(_) => f.write_str("Secret::Fixed(<redacted>)"),
            Self::Parameter { name, .. } => write!(f, "Secret::Parameter({name})"),
        }
    }
}

impl Secret {
    pub fn fixed(value: impl Into<String>) -> Self {
        Self::Fixed(SecretString::from(value.into()))
    }

    /// The value now: a parameter older than its refresh interval is read
    /// again first; if that read fails, the last value read stays in use.
    pub async fn current(&self) -> SecretString {
        match self {
            Self::Fixed(value) => value.clone(),
            Self::Parameter { name, parameters } => parameters.value(name).await,
        }
    }
}

/// SecureString parameters read together, one `GetParameters` at a time.
pub struct SsmParameters {
    client: aws_sdk_ssm::Client,
    names: Vec<String>,
    max_age: Duration,
    cache: Mutex<Cached>,
}

struct Cached {
    values: HashMap<String, SecretString>,
    read_at: Instant,
}

impl SsmParameters {
    /// How long a value read is used before it is read again.
    pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);

    /// Reads every parameter now: a missing or unreadable one fails, naming it.
    pub async fn load(
        client: aws_sdk_ssm::Client,
        names: Vec<String>,
        max_age: Duration,
    ) -> Result<Arc<Self>, SecretError> {
        let values = read(&client, &names).await?;
        Ok(Arc::new(Self {
            client,
            names,
            max_age,
            cache: Mutex::new(Cached {
                values,
                read_at: Instant::now(),
            }),
        }))
    }

    /// `name` as a secret kept fresh from these parameters.
    pub fn secret(self: &Arc<Self>, name: &str) -> Secret {
        Secret::Parameter {
            name: name.to_owned(),
            parameters: self.clone(),
        }
    }

    async fn value(&self, name: &str) -> SecretString {
        let mut cache = self.cache.lock().await;
        if cache.read_at.elapsed() >= self.max_age {
            match read(&self.client, &self.names).await {
                Ok(values) => cache.values = values,
                Err(error) => {
                    tracing::warn!(%error, "could not re-read the SSM parameters; the last values stay in use")
                }
            }
            // Either way, do not ask again on every call while SSM is down.
            cache.read_at = Instant::now();
        }
        cache
            .values
            .get(name)
            .cloned()
            .unwrap_or_else(|| SecretString::from(String::new()))
    }
}

async fn read(
    client: &aws_sdk_ssm::Client,
    names: &[String],
) -> Result<HashMap<String, SecretString>, SecretError> {
    let output = client
        .get_parameters()
        .set_names(Some(names.to_vec()))
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| SecretError::Unreadable {
            names: names.join(", "),
            reason: DisplayErrorContext(&e).to_string(),
        })?;
    if let Some(missing) = output.invalid_parameters().first() {
        return Err(SecretError::Missing(missing.clone()));
    }
    let mut values = HashMap::new();
    for parameter in output.parameters() {
        if let (Some(name), Some(value)) = (parameter.name(), parameter.value()) {
            values.insert(name.to_owned(), SecretString::from(value.to_owned()));
        }
    }
    match names.iter().find(|name| !values.contains_key(*name)) {
        Some(missing) => Err(SecretError::Missing(missing.clone())),
        None => Ok(values),
    }
}
