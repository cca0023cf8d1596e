//! The use cases wired to one backend, memory or AWS-on-moto, with the Mercado
//! Pago mock over HTTP, and a view of what subscribers received. Concurrency and
//! fault tests run the same bodies on both (`on_both_backends!`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mercadopago_mock::{MockConfig, MockServer};
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::memory::{MemoryPublisher, MemoryStore};
use payments::adapters::mercadopago::{
    MercadoPagoWebhook, SignaturePolicy, WebhookDelivery, WebhookError,
};
use payments::adapters::secrets::Secret;
use payments::adapters::sns::SnsPublisher;
use payments::adapters::system::SystemClock;
use payments::app::{
    CreatePayment, CreatePaymentCommand, NotificationOutcome, RefundPayment, RelayEvents,
    SweepOverduePayments,
};
use payments::compose;
use payments::domain::{
    CallerId, Currency, Item, Items, Money, OrderId, Payment, ProviderOrderId, Sku, Timestamp,
    Title,
};
use payments::ports::{
    Clock, EventPublisher, OutboxEvent, PaymentProvider, PaymentStore, Ports, PublishError,
};
use serde_json::Value;

use crate::{fixtures, mercadopago, moto, now_millis, WEBHOOK_SECRET};

/// How a test body gets its backend: in memory, or on moto.
#[allow(async_fn_in_trait)] // only this crate's tests call it
pub trait OnBackend: Sized {
    async fn memory() -> Self;
    async fn dynamodb() -> Self;
}

/// A message as a subscriber got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub body: String,
    pub event_type: String,
    pub order_id: String,
    /// The `sequence` and `correlation_id` message attributes (SNS only).
    pub sequence: Option<String>,
    pub correlation_id: Option<String>,
    /// The `redelivered` attribute on SNS, the flag in memory.
    pub redelivered: bool,
}

enum Sink {
    Memory(Arc<MemoryPublisher>),
    Sqs {
        sns: aws_sdk_sns::Client,
        sqs: aws_sdk_sqs::Client,
        topic_arn: String,
        queue_url: String,
        received: Mutex<Vec<Delivered>>,
    },
}

pub struct Backend {
    pub store: Arc<dyn PaymentStore>,
    pub mock: MockServer,
    pub provider: Arc<dyn PaymentProvider>,
    sink: Sink,
    dead_sns: Option<aws_sdk_sns::Client>,
    /// The DynamoDB client and table, on that backend (for stream images).
    pub table: Option<(aws_sdk_dynamodb::Client, String)>,
}

/// The system's clock, `self.0` ahead.
struct LaterClock(Duration);

impl Clock for LaterClock {
    fn now(&self) -> Timestamp {
        SystemClock.now().plus(self.0)
    }
}

/// Stands for a process killed between the commit and the publish.
pub struct CrashingPublisher;

#[async_trait]
impl EventPublisher for CrashingPublisher {
    async fn publish(&self, _event: &OutboxEvent) -> Result<(), PublishError> {
        panic!("process killed between commit and publish");
    }
}

async fn start_mock() -> MockServer {
    MockServer::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        MockConfig {
            webhook_secret: WEBHOOK_SECRET.into(),
            default_notification_url: None,
            access_token: None,
            // Refunds processed in the answer; a test of asynchronous
            // refunds starts its own mock with a delay.
            refund_settle: Duration::ZERO,
            points_of_sale: None,
            browser_origins: Vec::new(),
        },
    )
    .await
    .unwrap()
}

/// The production client against `mock`, with a short timeout.
pub fn provider_for(mock: &MockServer, timeout: Duration) -> Arc<dyn PaymentProvider> {
    compose::mercado_pago(mercadopago::config(mock.base_url(), "TEST-token", timeout)).unwrap()
}

/// A bare store, for the store contract.
impl OnBackend for Arc<dyn PaymentStore> {
    async fn memory() -> Self {
        Arc::new(MemoryStore::new())
    }

    async fn dynamodb() -> Self {
        let config = moto::sdk_config().await;
        let client = aws_sdk_dynamodb::Client::new(&config);
        let table = moto::table_from_template(&client).await;
        Arc::new(DynamoStore::new(client, table))
    }
}

impl OnBackend for Backend {
    async fn memory() -> Backend {
        let mock = start_mock().await;
        Backend {
            // A millisecond per call, as a store across a network would take.
            store: Arc::new(MemoryStore::with_latency(Duration::from_millis(1))),
            provider: provider_for(&mock, Duration::from_secs(2)),
            mock,
            sink: Sink::Memory(Arc::new(MemoryPublisher::new())),
            dead_sns: None,
            table: None,
        }
    }

    async fn dynamodb() -> Backend {
        let config = moto::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let table = moto::table_from_template(&dynamodb).await;
        let topic_arn = sns
            .create_topic()
            .name(moto::unique("payments"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let queue_url = sqs
            .create_queue()
            .queue_name(moto::unique("subscriber"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn_name = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(arn_name.clone())
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&arn_name]
            .clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
        // SNS on a closed loopback port: every publish fails to connect.
        let dead_config = aws_sdk_sns::config::Builder::from(&config)
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let mock = start_mock().await;
        Backend {
            store: Arc::new(DynamoStore::new(dynamodb.clone(), table.clone())),
            table: Some((dynamodb, table)),
            provider: provider_for(&mock, Duration::from_secs(2)),
            mock,
            sink: Sink::Sqs {
                sns,
                sqs,
                topic_arn,
                queue_url,
                received: Mutex::new(Vec::new()),
            },
            dead_sns: Some(aws_sdk_sns::Client::from_conf(dead_config)),
        }
    }
}

impl Backend {
    pub fn publisher(&self) -> Arc<dyn EventPublisher> {
        match &self.sink {
            Sink::Memory(publisher) => publisher.clone(),
            Sink::Sqs { sns, topic_arn, .. } => {
                Arc::new(SnsPublisher::new(sns.clone(), topic_arn.clone()))
            }
        }
    }

    /// A publisher whose topic is unreachable.
    pub fn dead_publisher(&self) -> Arc<dyn EventPublisher> {
        match (&self.sink, &self.dead_sns) {
            (Sink::Sqs { topic_arn, .. }, Some(dead)) => {
                Arc::new(SnsPublisher::new(dead.clone(), topic_arn.clone()))
            }
            _ => {
                let failing = MemoryPublisher::new();
                failing.set_failing(true);
                Arc::new(failing)
            }
        }
    }

    /// Every port of this backend, publishing to its topic.
    pub fn ports(&self) -> Ports {
        compose::store_ports(self.store.clone())
            .with_provider(self.provider.clone())
            .with_publisher(self.publisher())
    }

    pub fn create(&self) -> CreatePayment {
        CreatePayment::new(
            &self.ports(),
            Duration::from_secs(900),
            fixtures::points_of_sale(),
        )
    }

    pub fn create_with(
        &self,
        provider: Arc<dyn PaymentProvider>,
        store: Arc<dyn PaymentStore>,
        expiry: Duration,
    ) -> CreatePayment {
        CreatePayment::new(
            &self.ports().with_provider(provider).with_store(store),
            expiry,
            fixtures::points_of_sale(),
        )
    }

    /// The webhook, publishing to `publisher`.
    pub fn webhook(&self, publisher: Arc<dyn EventPublisher>) -> MercadoPagoWebhook {
        MercadoPagoWebhook::new(
            &self.ports().with_publisher(publisher),
            SignaturePolicy::Required(Secret::fixed(WEBHOOK_SECRET)),
        )
    }

    pub fn refund(&self) -> RefundPayment {
        RefundPayment::new(&self.ports())
    }

    /// A payment for `order`, approved at Mercado Pago and here.
    pub async fn approved_payment(&self, order: &str, amount: i64) -> Payment {
        let created = self
            .create()
            .execute(command(order, amount), None)
            .await
            .unwrap();
        let provider_order = created.payment.provider().unwrap().order_id.clone();
        self.settle_at_provider(&provider_order, "approved").await;
        notify(&self.webhook(self.publisher()), &provider_order)
            .await
            .unwrap();
        self.store.get(created.payment.id()).await.unwrap().unwrap()
    }

    /// How many refunds Mercado Pago holds for the payment's order.
    pub fn refunds_at_provider(&self, payment: &Payment) -> usize {
        let order = payment.provider().unwrap().order_id.as_str();
        self.mock.state.order_json(order).unwrap()["transactions"]["refunds"]
            .as_array()
            .map_or(0, Vec::len)
    }

    pub fn relay(&self) -> RelayEvents {
        RelayEvents::new(&self.ports()).with_pages(2, 50)
    }

    /// A relay run `later` than now, as the next scheduled run would be.
    pub fn relay_later(&self, later: Duration) -> RelayEvents {
        let mut ports = self.ports();
        ports.clock = Arc::new(LaterClock(later));
        RelayEvents::new(&ports).with_pages(2, 50)
    }

    pub fn sweeper(&self) -> SweepOverduePayments {
        SweepOverduePayments::new(&self.ports())
    }

    /// A sweeper run `later` than now, as a later scheduled run would be.
    pub fn sweeper_later(&self, later: Duration) -> SweepOverduePayments {
        let mut ports = self.ports();
        ports.clock = Arc::new(LaterClock(later));
        SweepOverduePayments::new(&ports)
    }

    /// Everything subscribers received so far, in arrival order.
    pub async fn delivered(&self) -> Vec<Delivered> {
        match &self.sink {
            Sink::Memory(publisher) => publisher
                .published()
                .into_iter()
                .map(|p| Delivered {
                    body: {
                        crate::asyncapi::assert_valid_event(&p.body);
                        p.body
                    },
                    event_type: p.event_type,
                    order_id: p.order_id,
                    sequence: None,
                    correlation_id: None,
                    redelivered: p.redelivered,
                })
                .collect(),
            Sink::Sqs {
                sqs,
                queue_url,
                received,
                ..
            } => {
                // moto delivers SNS -> SQS during Publish; drain until a poll is empty.
                for _ in 0..20 {
                    let output = sqs
                        .receive_message()
                        .queue_url(queue_url)
                        .max_number_of_messages(10)
                        .send()
                        .await
                        .unwrap();
                    let messages = output.messages();
                    if messages.is_empty() {
                        break;
                    }
                    for message in messages {
                        let envelope: Value =
                            serde_json::from_str(message.body().unwrap()).unwrap();
                        let attribute = |name: &str| {
                            envelope["MessageAttributes"][name]["Value"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let optional = |name: &str| {
                            envelope["MessageAttributes"][name]["Value"]
                                .as_str()
                                .map(str::to_owned)
                        };
                        let body = envelope["Message"].as_str().unwrap().to_owned();
                        crate::asyncapi::assert_valid_event(&body);
                        received.lock().unwrap().push(Delivered {
                            body,
                            event_type: attribute("event_type"),
                            order_id: attribute("order_id"),
                            sequence: optional("sequence"),
                            correlation_id: optional("correlation_id"),
                            redelivered: optional("redelivered").as_deref() == Some("true"),
                        });
                        sqs.delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(message.receipt_handle().unwrap())
                            .send()
                            .await
                            .unwrap();
                    }
                }
                received.lock().unwrap().clone()
            }
        }
    }

    /// Moves the mock's order to its end state without sending a webhook.
    pub async fn settle_at_provider(&self, provider_order: &ProviderOrderId, outcome: &str) {
        let (path, body) = match outcome {
            "expire" => (format!("/mock/orders/{provider_order}/expire"), Value::Null),
            _ => (
                format!("/mock/orders/{provider_order}/pay"),
                crate::local_stack::customer_act(outcome, false),
            ),
        };
        crate::mercadopago::mock_control(&self.mock.base_url(), &path, &body).await;
    }

    pub async fn stop(self) {
        self.mock.shutdown().await;
    }
}

/// A signed `order` notification for `provider_order`, as Mercado Pago sends it.
pub fn notification(provider_order: &str) -> WebhookDelivery {
    let request_id = ulid::Ulid::new().to_string();
    WebhookDelivery {
        kind: Some("order".into()),
        data_id: Some(provider_order.into()),
        signature: Some(mercadopago_mock::signing::signature_header(
            WEBHOOK_SECRET,
            provider_order,
            &request_id,
            now_millis(),
        )),
        request_id: Some(request_id),
    }
}

pub async fn notify(
    webhook: &MercadoPagoWebhook,
    provider_order: &ProviderOrderId,
) -> Result<NotificationOutcome, WebhookError> {
    webhook.receive(notification(provider_order.as_str())).await
}

pub fn command(order: &str, amount: i64) -> CreatePaymentCommand {
    let total = Money::new(amount, Currency::Brl).unwrap();
    let item = Item::new(
        Sku::parse("XB").unwrap(),
        Title::parse("X-Burger").unwrap(),
        1,
        total,
    )
    .unwrap();
    CreatePaymentCommand {
        created_by: CallerId::anonymous(),
        order_id: OrderId::parse(order).unwrap(),
        amount: total,
        items: Items::new(vec![item], total).unwrap(),
        description: None,
        pos_id: None,
    }
}
