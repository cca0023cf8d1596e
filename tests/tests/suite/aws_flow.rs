//! The AWS wiring end to end on moto: DynamoDB store (table from template.yaml),
//! SNS publisher, SQS subscriber; Mercado Pago is the mock over HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use mercadopago_mock::{MockConfig, MockServer};
use payments::adapters::dynamodb::DynamoStore;
use payments::adapters::mercadopago::{
    AccessToken, MercadoPagoClient, MercadoPagoConfig, RetryPolicy,
};
use payments::adapters::sns::SnsPublisher;
use payments::adapters::system::{SystemClock, UlidGenerator};
use payments::app::{
    ApplyNotification, CreatePayment, Notification, NotificationOutcome, SignaturePolicy,
    WebhookSecret,
};
use payments::domain::{Currency, Item, Items, Money, OrderId, Sku, Title};
use payments::ports::PaymentStore;
use serde_json::Value;

use crate::moto;
use crate::support::now_millis;

const SECRET: &str = "aws-flow-secret";

struct AwsStack {
    mock: MockServer,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    table: String,
    queue_url: String,
    store: Arc<DynamoStore>,
    create: CreatePayment,
    webhook: ApplyNotification,
}

impl AwsStack {
    async fn start() -> AwsStack {
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
            .queue_name(moto::unique("orders"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();

        let mock = MockServer::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            MockConfig {
                webhook_secret: SECRET.into(),
                default_notification_url: None,
            },
        )
        .await
        .unwrap();
        let provider = Arc::new(
            MercadoPagoClient::new(MercadoPagoConfig {
                base_url: mock.base_url(),
                access_token: AccessToken::new("TEST-token"),
                external_pos_id: "POS001".into(),
                notification_url: None,
                expiration_time: "PT15M".into(),
                timeout: Duration::from_secs(2),
                retry: RetryPolicy::default(),
            })
            .unwrap(),
        );
        let store = Arc::new(DynamoStore::new(dynamodb.clone(), table.clone()));
        let ids = Arc::new(UlidGenerator::default());
        let create = CreatePayment::new(
            store.clone(),
            provider.clone(),
            Arc::new(SystemClock),
            ids.clone(),
            Duration::from_secs(900),
        );
        let webhook = ApplyNotification::new(
            store.clone(),
            provider,
            Arc::new(SnsPublisher::new(sns, topic_arn)),
            Arc::new(SystemClock),
            ids,
            SignaturePolicy::Required(WebhookSecret::new(SECRET).unwrap()),
        );
        AwsStack {
            mock,
            dynamodb,
            sqs,
            table,
            queue_url,
            store,
            create,
            webhook,
        }
    }

    async fn notify(&self, provider_order: &str) -> NotificationOutcome {
        let request_id = "req-aws";
        let signature = mercadopago_mock::signing::signature_header(
            SECRET,
            provider_order,
            request_id,
            now_millis(),
        );
        self.webhook
            .execute(Notification {
                kind: Some("order".into()),
                data_id: Some(provider_order.into()),
                signature: Some(signature),
                request_id: Some(request_id.into()),
            })
            .await
            .unwrap()
    }

    /// The event item's stored body: the exact message SNS must carry.
    async fn stored_event_bodies(&self, payment_id: &str) -> Vec<String> {
        self.dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :event)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("PAYMENT#{payment_id}")))
            .expression_attribute_values(":event", AttributeValue::S("EVENT#".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|item| item["body"].as_s().unwrap().clone())
            .collect()
    }

    /// Drains the subscribed queue (bounded: at most 10 polls).
    async fn received(&self, expected: usize) -> Vec<Value> {
        let mut messages = Vec::new();
        for _ in 0..10 {
            if messages.len() >= expected {
                break;
            }
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            for message in output.messages() {
                messages.push(serde_json::from_str(message.body().unwrap()).unwrap());
            }
        }
        messages
    }
}

fn command(order: &str) -> payments::app::CreatePaymentCommand {
    let amount = Money::new(2590, Currency::Brl).unwrap();
    let item = Item::new(
        Sku::parse("XB").unwrap(),
        Title::parse("X-Burger").unwrap(),
        2,
        Money::new(1295, Currency::Brl).unwrap(),
    )
    .unwrap();
    payments::app::CreatePaymentCommand {
        order_id: OrderId::parse(order).unwrap(),
        amount,
        items: Items::new(vec![item], amount).unwrap(),
        description: None,
    }
}

async fn control(mock: &MockServer, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", mock.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}");
}

#[tokio::test]
async fn approved_declined_and_expired_reach_subscribers_with_exact_bodies_and_attributes() {
    let stack = AwsStack::start().await;
    let mut expected = HashMap::new();
    for (order, action, event_type) in [
        ("ord-sns-approved", "approved", "payment.approved"),
        ("ord-sns-declined", "rejected", "payment.declined"),
        ("ord-sns-expired", "expire", "payment.expired"),
    ] {
        let created = stack.create.execute(command(order), None).await.unwrap();
        let provider_order = created.payment.provider().unwrap().order_id.clone();
        if action == "expire" {
            control(
                &stack.mock,
                &format!("/mock/orders/{provider_order}/expire"),
                Value::Null,
            )
            .await;
        } else {
            control(
                &stack.mock,
                &format!("/mock/orders/{provider_order}/pay"),
                serde_json::json!({"outcome": action}),
            )
            .await;
        }
        let outcome = stack.notify(&provider_order).await;
        assert!(
            matches!(outcome, NotificationOutcome::Applied { .. }),
            "{outcome:?}"
        );
        // A duplicate delivery publishes nothing more.
        assert!(matches!(
            stack.notify(&provider_order).await,
            NotificationOutcome::Unchanged { .. }
        ));
        let bodies = stack
            .stored_event_bodies(created.payment.id().as_str())
            .await;
        assert_eq!(bodies.len(), 1);
        expected.insert(bodies[0].clone(), (event_type, order));
    }

    let messages = stack.received(3).await;
    assert_eq!(messages.len(), 3, "{messages:?}");
    for message in messages {
        let body = message["Message"].as_str().unwrap();
        let (event_type, order) = expected
            .remove(body)
            .unwrap_or_else(|| panic!("unexpected message body {body}"));
        let attributes = &message["MessageAttributes"];
        assert_eq!(attributes["event_type"]["Type"], "String");
        assert_eq!(attributes["event_type"]["Value"], event_type);
        assert_eq!(attributes["order_id"]["Type"], "String");
        assert_eq!(attributes["order_id"]["Value"], order);
        let parsed: Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed["event_type"], event_type);
        assert_eq!(parsed["order_id"], order);
    }
    assert!(expected.is_empty());
    assert!(
        stack.store.pending_events(10).await.unwrap().is_empty(),
        "outbox cleared"
    );
    stack.mock.shutdown().await;
}
