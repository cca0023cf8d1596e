//! Each Lambda function's use case, built from the environment once at cold
//! start: DynamoDB and SNS clients from the AWS SDK's own configuration chain
//! (`AWS_ENDPOINT_URL` included), Mercado Pago from `MP_*`. Every variable is
//! read before any client is built, so a missing one fails init at once.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::mercadopago::{AccessToken, MercadoPagoWebhook, SignaturePolicy};
use crate::adapters::secrets::{Secret, SsmParameters};
use crate::adapters::sns::SnsPublisher;
use crate::app::{
    CancelPayment, CreatePayment, PaymentQueries, RefundPayment, RelayEvents, SweepOverduePayments,
};
use crate::config::{
    signature_policy_from_env, table_from_env, topic_from_env, Env, ProviderSettings,
    SecretSetting, SignatureSetting, TableSettings,
};
use crate::ports::{Ports, ProviderPort};

use super::{mercado_pago, store_ports, InitError};

/// The DynamoDB table's store, with the system clock and ids.
fn table_ports(aws: &SdkConfig, table: TableSettings) -> Ports<(), ()> {
    store_ports(Arc::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(aws), table.name)
            .with_index_shards(table.index_shards),
    ))
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

fn provider(settings: &ProviderSettings, token: Secret) -> Result<ProviderPort, InitError> {
    mercado_pago(settings.client_config(AccessToken::from_secret(token)))
}

/// create-payment: the table and Mercado Pago; it publishes nothing.
pub async fn create_payment(env: &dyn Env) -> Result<CreatePayment, InitError> {
    let table_name = table_from_env(env)?;
    let settings = ProviderSettings::from_env(env)?;
    let aws = aws_config::load_from_env().await;
    let token = resolve(&aws, &[&settings.access_token]).await?.remove(0);
    let ports = table_ports(&aws, table_name).with_provider(provider(&settings, token)?);
    Ok(CreatePayment::new(&ports, settings.payment_expiry))
}

/// get-payment: reads the table, nothing else.
pub async fn payment_queries(env: &dyn Env) -> Result<PaymentQueries, InitError> {
    let table_name = table_from_env(env)?;
    let aws = aws_config::load_from_env().await;
    Ok(PaymentQueries::new(&table_ports(&aws, table_name)))
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
    Ok(CancelPayment::new(&settings.build(None).await?.0))
}

/// refund-payment: every port (it refunds at Mercado Pago and announces it).
pub async fn refund_payment(env: &dyn Env) -> Result<RefundPayment, InitError> {
    let settings = EveryPortSettings::from_env(env)?;
    Ok(RefundPayment::new(&settings.build(None).await?.0))
}

/// event-relay: the table's outbox and the topic.
pub async fn relay_events(env: &dyn Env) -> Result<RelayEvents, InitError> {
    let table_name = table_from_env(env)?;
    let topic_arn = topic_from_env(env)?;
    let aws = aws_config::load_from_env().await;
    Ok(RelayEvents::new(
        &table_ports(&aws, table_name).with_publisher(sns_topic(&aws, topic_arn)),
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
}

impl EveryPortSettings {
    fn from_env(env: &dyn Env) -> Result<Self, InitError> {
        Ok(Self {
            table: table_from_env(env)?,
            topic: topic_from_env(env)?,
            provider: ProviderSettings::from_env(env)?,
        })
    }

    /// Every port, and `also` resolved in the same `GetParameters`.
    async fn build(
        self,
        also: Option<&SecretSetting>,
    ) -> Result<(Ports, Option<Secret>), InitError> {
        let aws = aws_config::load_from_env().await;
        let mut wanted = vec![&self.provider.access_token];
        wanted.extend(also);
        let mut secrets = resolve(&aws, &wanted).await?.into_iter();
        let token = secrets
            .next()
            .unwrap_or_else(|| Secret::fixed(String::new()));
        let ports = table_ports(&aws, self.table)
            .with_provider(provider(&self.provider, token)?)
            .with_publisher(sns_topic(&aws, self.topic));
        Ok((ports, secrets.next()))
    }
}
