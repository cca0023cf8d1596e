//! Each Lambda function's use case, built from the environment once at cold
//! start: DynamoDB and SNS clients from the AWS SDK's own configuration chain
//! (`AWS_ENDPOINT_URL` included), Mercado Pago from `MP_*`. Every variable is
//! read before any client is built, so a missing one fails init at once.

use std::sync::Arc;
use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext, TrustStore};

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::mercadopago::{AccessToken, MercadoPagoWebhook, SignaturePolicy};
use crate::adapters::secrets::{Secret, SsmParameters};
use crate::adapters::sns::SnsPublisher;
use crate::app::{
    CancelPayment, CreatePayment, PaymentQueries, RedeliverEvent, RefundPayment, RelayEvents,
    SweepOverduePayments,
};
use crate::config::{
    allowed_callers_from_env, signature_policy_from_env, table_from_env, topic_from_env,
    ConfigError, Env, ProcessEnv, ProviderSettings, SecretSetting, SignatureSetting, TableSettings,
};
use crate::ports::{Ports, ProviderPort};

use super::tls::TrustRoots;
use super::{mercado_pago_trusting, store_ports, InitError};

/// The AWS SDK's configuration, from what Lambda puts in every function's
/// environment: `AWS_REGION` and the role's credentials in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; `AWS_ENDPOINT_URL` when
/// set (moto, locally). Not the SDK's whole default chain (profiles, SSO,
/// STS, IMDS): a Lambda function never needs it, and it was a tenth of each
/// binary and most of its init. HTTPS is rustls on ring, the crypto the
/// Mercado Pago client uses too, so each binary carries one TLS stack.
/// These variables are the SDK's own, so they are read from the process.
/// Its HTTPS client trusts `roots`' AWS roots.
pub fn sdk_config(roots: &TrustRoots) -> Result<SdkConfig, InitError> {
    let env = ProcessEnv;
    let region = env
        .get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .ok_or(ConfigError::Missing("AWS_REGION"))?;
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls_context(roots)?)
        .build_https();
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .http_client(https);
    Ok(match env.get("AWS_ENDPOINT_URL") {
        Some(url) => config.endpoint_url(url),
        None => config,
    }
    .build())
}

/// The AWS client's trust store: `roots`' AWS roots alone, never the
/// system's too.
fn tls_context(roots: &TrustRoots) -> Result<TlsContext, InitError> {
    let store = roots
        .for_aws()
        .iter()
        .fold(TrustStore::empty(), |store, pem| {
            store.with_pem_certificate(pem.as_bytes())
        });
    TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| InitError::Tls(e.to_string()))
}

/// How long init waits for the pre-warm before going on without it.
const PREWARM_LIMIT: Duration = Duration::from_secs(2);

/// The DynamoDB table's store, with the system clock and ids; its connection
/// opened unless `PREWARM_CONNECTION=false`.
async fn table_ports(aws: &SdkConfig, table: TableSettings) -> Ports<(), ()> {
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), table.name)
        .with_index_shards(table.index_shards);
    if table.prewarm {
        prewarm(&store).await;
    }
    store_ports(Arc::new(store))
}

/// A failed pre-warm only costs the first request its handshake: it is
/// logged, and init goes on.
async fn prewarm(store: &DynamoStore) {
    match tokio::time::timeout(PREWARM_LIMIT, store.open_connection()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "pre-warming the DynamoDB connection failed")
        }
        Err(_) => tracing::warn!(
            limit_ms = PREWARM_LIMIT.as_millis() as u64,
            "pre-warming the DynamoDB connection took too long"
        ),
    }
}

fn sns_topic(aws: &SdkConfig, topic_arn: String) -> Arc<SnsPublisher> {
    Arc::new(SnsPublisher::new(aws_sdk_sns::Client::new(aws), topic_arn))
}

/// The secrets as clients hold them: every SSM parameter among `settings`
/// read in one `GetParameters`; a missing or unreadable one fails init,
/// naming it.
async fn resolve(aws: &SdkConfig, settings: &[&SecretSetting]) -> Result<Vec<Secret>, InitError> {
    let names: Vec<String> = settings
        .iter()
        .filter_map(|setting| match setting {
            SecretSetting::Parameter(name) => Some(name.clone()),
            SecretSetting::Value(_) => None,
        })
        .collect();
    let parameters = match names.is_empty() {
        true => None,
        false => Some(
            SsmParameters::load(aws_sdk_ssm::Client::new(aws), names, SsmParameters::MAX_AGE)
                .await?,
        ),
    };
    Ok(settings
        .iter()
        .map(|setting| match (setting, &parameters) {
            (SecretSetting::Parameter(name), Some(parameters)) => parameters.secret(name),
            (SecretSetting::Value(secret), _) => secret.clone(),
            // Unreachable: a parameter setting always loaded its parameters.
            (SecretSetting::Parameter(_), None) => Secret::fixed(String::new()),
        })
        .collect())
}

fn provider(
    settings: &ProviderSettings,
    token: Secret,
    roots: &TrustRoots,
) -> Result<ProviderPort, InitError> {
    mercado_pago_trusting(
        settings.client_config(AccessToken::from_secret(token)),
        roots,
    )
}

/// create-payment: the table and Mercado Pago; it publishes nothing.
pub async fn create_payment(env: &dyn Env) -> Result<CreatePayment, InitError> {
    let table_name = table_from_env(env)?;
    let settings = ProviderSettings::from_env(env)?;
    let callers = allowed_callers_from_env(env)?;
    let roots = TrustRoots::from_env(env)?;
    let aws = sdk_config(&roots)?;
    let wanted = [&settings.access_token];
    let (secrets, table) = tokio::join!(resolve(&aws, &wanted), table_ports(&aws, table_name));
    let token = secrets?.remove(0);
    let ports = table.with_provider(provider(&settings, token, &roots)?);
    Ok(
        CreatePayment::new(&ports, settings.payment_expiry, settings.points_of_sale)
            .admitting(callers),
    )
}

/// get-payment: reads the table, nothing else.
pub async fn payment_queries(env: &dyn Env) -> Result<PaymentQueries, InitError> {
    let table_name = table_from_env(env)?;
    let callers = allowed_callers_from_env(env)?;
    let aws = sdk_config(&TrustRoots::from_env(env)?)?;
    Ok(PaymentQueries::new(&table_ports(&aws, table_name).await).admitting(callers))
}

/// payment-webhook: every port, and the webhook signature policy.
pub async fn mercadopago_webhook(env: &dyn Env) -> Result<MercadoPagoWebhook, InitError> {
    let settings = EveryPortSettings::from_env(env)?;
    let signature = signature_policy_from_env(env)?;
    let (ports, policy) = match &signature {
        SignatureSetting::Unsigned => (settings.build(None).await?.0, SignaturePolicy::Unsigned),
        SignatureSetting::Required(secret) => {
            let (ports, secret) = settings.build(Some(secret)).await?;
            (
                ports,
                SignaturePolicy::Required(secret.unwrap_or_else(|| Secret::fixed(String::new()))),
            )
        }
    };
    Ok(MercadoPagoWebhook::new(&ports, policy))
}

/// cancel-payment: every port (it cancels at Mercado Pago and announces it).
pub async fn cancel_payment(env: &dyn Env) -> Result<CancelPayment, InitError> {
    let settings = EveryPortSettings::from_env(env)?;
    let callers = allowed_callers_from_env(env)?;
    Ok(CancelPayment::new(&settings.build(None).await?.0).admitting(callers))
}

/// refund-payment: every port (it refunds at Mercado Pago and announces it).
pub async fn refund_payment(env: &dyn Env) -> Result<RefundPayment, InitError> {
    Ok(refund_function(env).await?.0)
}

/// refund-payment's two use cases on one set of clients: refunds, and
/// redelivery of a stored event; the same callers may use both.
pub async fn refund_function(env: &dyn Env) -> Result<(RefundPayment, RedeliverEvent), InitError> {
    let settings = EveryPortSettings::from_env(env)?;
    let callers = allowed_callers_from_env(env)?;
    let ports = settings.build(None).await?.0;
    Ok((
        RefundPayment::new(&ports).admitting(callers.clone()),
        RedeliverEvent::new(&ports).admitting(callers),
    ))
}

/// event-relay: the table's outbox and the topic.
pub async fn relay_events(env: &dyn Env) -> Result<RelayEvents, InitError> {
    let table_name = table_from_env(env)?;
    let topic_arn = topic_from_env(env)?;
    let aws = sdk_config(&TrustRoots::from_env(env)?)?;
    Ok(RelayEvents::new(
        &table_ports(&aws, table_name)
            .await
            .with_publisher(sns_topic(&aws, topic_arn)),
    ))
}

/// payment-sweeper: every port.
pub async fn sweep_overdue_payments(env: &dyn Env) -> Result<SweepOverduePayments, InitError> {
    let settings = EveryPortSettings::from_env(env)?;
    Ok(SweepOverduePayments::new(&settings.build(None).await?.0))
}

/// What the functions with every port read: table, topic, Mercado Pago.
struct EveryPortSettings {
    table: TableSettings,
    topic: String,
    provider: ProviderSettings,
    roots: TrustRoots,
}

impl EveryPortSettings {
    fn from_env(env: &dyn Env) -> Result<Self, InitError> {
        Ok(Self {
            table: table_from_env(env)?,
            topic: topic_from_env(env)?,
            provider: ProviderSettings::from_env(env)?,
            roots: TrustRoots::from_env(env)?,
        })
    }

    /// Every port, and `also` resolved in the same `GetParameters`.
    async fn build(
        self,
        also: Option<&SecretSetting>,
    ) -> Result<(Ports, Option<Secret>), InitError> {
        let aws = sdk_config(&self.roots)?;
        let mut wanted = vec![&self.provider.access_token];
        wanted.extend(also);
        let (secrets, table) = tokio::join!(resolve(&aws, &wanted), table_ports(&aws, self.table));
        let mut secrets = secrets?.into_iter();
        let token = secrets
            .next()
            .unwrap_or_else(|| Secret::fixed(String::new()));
        let ports = table
            .with_provider(provider(&self.provider, token, &self.roots)?)
            .with_publisher(sns_topic(&aws, self.topic));
        Ok((ports, secrets.next()))
    }
}
