use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::errors::store_error;
use super::feed::FeedLimits;
use super::items::{
    domain, due_item, event_from_item, event_item, get_s, idempotency_record_from_item, keys,
    lock_from_item, n, opt_n, payment_from_item, payment_item, refund_from_item, refund_item,
    refund_key_from_item, refund_key_item, s, DynamoItem, Index, IndexShards,
};
use crate::domain::{
    EventId, Fingerprint, IdempotencyKey, OrderId, Payment, PaymentId, ProviderOrderId, Refund,
    RefundStatus, Timestamp,
};
use crate::ports::{
    DeliveryKey, DueItem, DuePayments, FeedPage, FeedQuery, IdempotencyKeys, IdempotencyRecord,
    IdempotentOutcome, KeyClaim, MadeRefund, OrderCursor, OrderLock, OrderLockState, OrderPage,
    OrderReadLimits, Outbox, OutboxEvent, PaymentCreation, PaymentReads, PaymentTransitions,
    RefundKey, RefundSettlement, Refunds, StoreError, UnreadableItem,
};
use futures_util::future::try_join_all;

pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
    pub(super) shards: IndexShards,
    pub(super) feed: FeedLimits,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            shards: IndexShards::default(),
            feed: FeedLimits::default(),
        }
    }

    pub fn with_index_shards(self, shards: IndexShards) -> Self {
        Self { shards, ..self }
    }

    /// How the event feed reads its index (tests shrink both limits).
    pub fn with_feed_limits(self, feed: FeedLimits) -> Self {
        Self { feed, ..self }
    }

    /// Opens the connection (TCP and TLS, credentials, endpoint) with a
    /// `GetItem` of a key no item has, so the first request pays none of it.
    pub async fn open_connection(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::PREWARM_KEY))
            .key("sk", s(keys::PREWARM_KEY))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_error("GetItem", e))
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<DynamoItem>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(output.item)
    }

    /// A conditional Put inside a transaction; `values` fill the condition's
    /// placeholders. `#status` stands for `status`, a reserved word.
    fn put(
        &self,
        item: DynamoItem,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, StoreError> {
        let values: DynamoItem = values
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(
                condition
                    .contains("#status")
                    .then(|| [("#status".to_owned(), "status".to_owned())].into()),
            )
            // DynamoDB refuses an empty placeholder map.
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("building Put: {e}")))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a query page after page until the last (or until `cap` items:
    /// a filter runs after each page is read, so a page may hold fewer).
    async fn query_pages<T>(
        &self,
        operation: &'static str,
        query: QueryFluentBuilder,
        cap: Option<usize>,
        parse: impl Fn(&DynamoItem) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.query_pages_from(operation, query, None, cap, parse)
            .await
    }

    /// `query_pages`, starting after `start` (a LastEvaluatedKey).
    async fn query_pages_from<T>(
        &self,
        operation: &'static str,
        query: QueryFluentBuilder,
        mut start: Option<DynamoItem>,
        cap: Option<usize>,
        parse: impl Fn(&DynamoItem) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::new();
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error(operation, e))?;
            for item in output.items() {
                found.push(parse(item)?);
            }
            start = output.last_evaluated_key;
            let full = cap.is_some_and(|cap| found.len() >= cap);
            if start.is_none() || full {
                found.truncate(cap.unwrap_or(usize::MAX));
                return Ok(found);
            }
        }
    }

    /// A sparse index read across every shard at once: each shard's first
    /// `limit` (ascending range key), merged by `order`, cut to `limit`; the
    /// first `limit` overall are always among each shard's first `limit`.
    async fn query_every_shard<T>(
        &self,
        operation: &'static str,
        limit: usize,
        query_for: impl Fn(String) -> QueryFluentBuilder,
        parse: impl Fn(&DynamoItem) -> Result<T, StoreError>,
        order: impl Fn(&T, &T) -> std::cmp::Ordering,
    ) -> Result<Vec<T>, StoreError> {
        let limit = limit.clamp(1, 1000);
        let shards = self.shards.all().map(|shard| {
            let query = query_for(shard)
                .scan_index_forward(true)
                .limit(i32::try_from(limit).unwrap_or(1000));
            self.query_pages(operation, query, Some(limit), &parse)
        });
        let mut found: Vec<T> = try_join_all(shards).await?.into_iter().flatten().collect();
        found.sort_by(order);
        found.truncate(limit);
        Ok(found)
    }

    /// A new refund's writes: the payment (guarded by `expected_version`) with
    /// the refund's amount held, the refund and its key (both new).
    fn new_refund_writes(
        &self,
        payment: &Payment,
        expected_version: u64,
        refund: &Refund,
        key: &RefundKey,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(vec![
            self.put(
                payment_item(payment, self.shards),
                "version = :expected",
                &[(":expected", n(expected_version))],
            )?,
            self.put(refund_item(refund), "attribute_not_exists(pk)", &[])?,
            self.put(
                refund_key_item(refund, key),
                "attribute_not_exists(pk)",
                &[],
            )?,
        ])
    }

    /// An update of one event item (its outbox mark, its publish claim).
    fn update_event(&self, event: &OutboxEvent) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::payment_pk(&event.payment_id)))
            .key("sk", s(keys::event_sk(&event.event_id)))
    }

    /// Replaces a payment whose status does not change, if its stored version
    /// is still `expected_version`.
    async fn put_same_status(
        &self,
        payment: &Payment,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(payment_item(payment, self.shards)))
            .condition_expression("version = :expected AND #status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expected", n(expected_version))
            .expression_attribute_values(":status", s(payment.status().as_str()))
            .send()
            .await
            .map_err(|e| store_error("PutItem payment", e))?;
        Ok(())
    }

    /// Sets what a claimed `Idempotency-Key` stands for, inside a transaction.
    fn record_key_outcome(
        &self,
        key: &IdempotencyKey,
        outcome: &IdempotentOutcome,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(keys::idempotency_pk(key)))
            .key("sk", s(keys::IDEMPOTENCY_SK))
            .update_expression("SET payment_id = :payment, newly_created = :new")
            // A key keeps its first answer: a twin that answered first wins.
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(payment_id)")
            .expression_attribute_values(":payment", s(outcome.payment_id.as_str()))
            .expression_attribute_values(":new", AttributeValue::Bool(outcome.newly_created))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("building Update: {e}")))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Moves the order's lock to match the payment's status, if the payment
    /// still holds it.
    fn move_lock(&self, payment: &Payment) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(keys::order_pk(payment.order_id())))
            .key("sk", s(keys::ORDER_SK))
            .update_expression("SET #state = :state, version = version + :one")
            .condition_expression("live_payment_id = :payment")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(
                ":state",
                s(OrderLockState::after(payment.status()).as_str()),
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":payment", s(payment.id().as_str()))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("building Update: {e}")))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| store_error(operation, e))?;
        Ok(())
    }
}

#[async_trait]
impl PaymentReads for DynamoStore {
    async fn get(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.get_item(keys::payment_pk(id), keys::PAYMENT_SK)
            .await?
            .map(|item| payment_from_item(&item))
            .transpose()
    }

    async fn page_by_order(
        &self,
        order_id: &OrderId,
        after: Option<&OrderCursor>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        // The position after the cursor's payment: the index's key and the
        // table's, as DynamoDB gives it back in LastEvaluatedKey.
        let start = after.map(|cursor| {
            HashMap::from([
                ("order_id".to_owned(), s(order_id.as_str())),
                ("created_at".to_owned(), s(cursor.created_at.to_rfc3339())),
                ("pk".to_owned(), s(keys::payment_pk(&cursor.payment_id))),
                ("sk".to_owned(), s(keys::PAYMENT_SK)),
            ])
        });
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(Index::BY_ORDER)
            .key_condition_expression("order_id = :order")
            .expression_attribute_values(":order", s(order_id.as_str()))
            .scan_index_forward(false);
        // One more than the page, to know whether another page follows.
        let mut payments = self
            .query_pages_from(
                "Query by-order",
                query,
                start,
                Some(limit + 1),
                payment_from_item,
            )
            .await?;
        let more = payments.len() > limit;
        payments.truncate(limit);
        let next = more
            .then(|| payments.last().map(OrderCursor::after))
            .flatten();
        Ok(OrderPage { payments, next })
    }

    async fn events_of(&self, payment_id: &PaymentId) -> Result<Vec<OutboxEvent>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :events)")
            .expression_attribute_values(":pk", s(keys::payment_pk(payment_id)))
            .expression_attribute_values(":events", s(keys::EVENT_SK_PREFIX))
            .consistent_read(true);
        self.query_pages("Query events", query, None, event_from_item)
            .await
    }

    async fn events_after(&self, query: &FeedQuery) -> Result<FeedPage, StoreError> {
        self.read_feed(query).await
    }

    async fn event(&self, id: &EventId) -> Result<Option<OutboxEvent>, StoreError> {
        // The id names its day; its shard depends on the shard count it was
        // written under, so every shard of that day is asked.
        let day = Index::day_of(id);
        let shards = (0..self.shards.count()).map(|shard| {
            let read = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(Index::EVENTS)
                .key_condition_expression("feed = :feed AND event_id = :id")
                .expression_attribute_values(":feed", s(Index::feed_partition(day, shard)))
                .expression_attribute_values(":id", s(id.as_str()));
            self.query_pages("Query event", read, Some(1), event_from_item)
        });
        Ok(try_join_all(shards).await?.into_iter().flatten().next())
    }

    async fn refunds_of(&self, payment_id: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        // Refund ids are ULIDs: in key order is oldest first.
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :refunds)")
            .expression_attribute_values(":pk", s(keys::payment_pk(payment_id)))
            .expression_attribute_values(":refunds", s(keys::REFUND_SK_PREFIX))
            .consistent_read(true);
        self.query_pages("Query refunds", query, None, refund_from_item)
            .await
    }
}

#[async_trait]
impl PaymentCreation for DynamoStore {
    async fn order_lock(&self, order_id: &OrderId) -> Result<Option<OrderLock>, StoreError> {
        self.get_item(keys::order_pk(order_id), keys::ORDER_SK)
            .await?
            .map(|item| lock_from_item(&item))
            .transpose()
    }

    async fn create_pending(
        &self,
        payment: &Payment,
        expected_lock_version: Option<u64>,
        key: Option<&IdempotencyKey>,
    ) -> Result<(), StoreError> {
        let new_payment = self.put(
            payment_item(payment, self.shards),
            "attribute_not_exists(pk)",
            &[],
        )?;
        let lock_item = DynamoItem::from([
            ("pk".to_owned(), s(keys::order_pk(payment.order_id()))),
            ("sk".to_owned(), s(keys::ORDER_SK)),
            ("live_payment_id".to_owned(), s(payment.id().as_str())),
            ("state".to_owned(), s(OrderLockState::Open.as_str())),
            (
                "version".to_owned(),
                n(expected_lock_version.map_or(1, |v| v + 1)),
            ),
        ]);
        let take_lock = match expected_lock_version {
            None => self.put(lock_item, "attribute_not_exists(pk)", &[])?,
            Some(version) => self.put(
                lock_item,
                "version = :expected",
                &[(":expected", n(version))],
            )?,
        };
        let mut writes = vec![new_payment, take_lock];
        if let Some(key) = key {
            writes.push(self.record_key_outcome(
                key,
                &IdempotentOutcome {
                    payment_id: payment.id().clone(),
                    newly_created: true,
                },
            )?);
        }
        self.transact("create_pending", writes).await
    }

    async fn record_provider_order(
        &self,
        payment: &Payment,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.put_same_status(payment, expected_version).await
    }
}

#[async_trait]
impl PaymentTransitions for DynamoStore {
    async fn commit_transition(
        &self,
        payment: &Payment,
        expected_version: u64,
        event: &OutboxEvent,
    ) -> Result<(), StoreError> {
        let payment_put = self.put(
            payment_item(payment, self.shards),
            "version = :expected",
            &[(":expected", n(expected_version))],
        )?;
        let event_put = self.put(
            event_item(event, self.shards),
            "attribute_not_exists(pk)",
            &[],
        )?;
        let lock_update = self.move_lock(payment)?;
        self.transact(
            "commit_transition",
            vec![payment_put, event_put, lock_update],
        )
        .await
    }
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        self.query_every_shard(
            "Query outbox",
            limit,
            |shard| {
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(Index::OUTBOX)
                    .key_condition_expression("outbox = :shard")
                    .expression_attribute_values(":shard", s(shard))
            },
            event_from_item,
            |a, b| (a.created_at, &a.event_id).cmp(&(b.created_at, &b.event_id)),
        )
        .await
    }

    async fn mark_published(&self, event: &OutboxEvent) -> Result<(), StoreError> {
        let result = self
            .update_event(event)
            .update_expression("REMOVE outbox")
            // Never create a stub item for an event that is not there.
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| store_error("UpdateItem outbox", e));
        match result {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn claim_publish(
        &self,
        event: &OutboxEvent,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .update_event(event)
            .update_expression("SET publishing_until = :until")
            // Still in the outbox, and nobody else's claim still running.
            .condition_expression(
                "attribute_exists(outbox) AND \
                 (attribute_not_exists(publishing_until) OR publishing_until <= :now)",
            )
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":until", s(until.to_rfc3339()))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem publish claim", e));
        match result {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    async fn release_publish(
        &self,
        event: &OutboxEvent,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .update_event(event)
            .update_expression("REMOVE publishing_until")
            // Only our own claim: one taken over since belongs to another.
            .condition_expression("publishing_until = :mine")
            .expression_attribute_values(":mine", s(until.to_rfc3339()))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem publish release", e));
        match result {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl IdempotencyKeys for DynamoStore {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::idempotency_pk(&claim.key)))
            .item("sk", s(keys::IDEMPOTENCY_SK))
            .item("fingerprint", s(claim.fingerprint.as_str()))
            .item("ttl", n(claim.expires_at.unix_seconds()))
            // TTL deletion lags, so an expired record counts as free.
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(claim.now.unix_seconds()))
            .send()
            .await
            .map_err(|e| store_error("PutItem idempotency key", e));
        match put {
            Ok(_) => Ok(None),
            Err(StoreError::Conflict(_)) => self
                .get_item(keys::idempotency_pk(&claim.key), keys::IDEMPOTENCY_SK)
                .await?
                .map(|item| idempotency_record_from_item(&item))
                .transpose(),
            Err(other) => Err(other),
        }
    }

    async fn complete_idempotency_key(
        &self,
        key: &IdempotencyKey,
        outcome: &IdempotentOutcome,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::idempotency_pk(key)))
            .key("sk", s(keys::IDEMPOTENCY_SK))
            .update_expression("SET payment_id = :payment, newly_created = :new")
            // A key keeps its first answer: a twin that answered first wins.
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(payment_id)")
            .expression_attribute_values(":payment", s(outcome.payment_id.as_str()))
            .expression_attribute_values(
                ":new",
                aws_sdk_dynamodb::types::AttributeValue::Bool(outcome.newly_created),
            )
            .send()
            .await
            .map_err(|e| store_error("UpdateItem idempotency key", e))?;
        Ok(())
    }
}

/// The condition that a refund is under ask claim `number` (`:claim`);
/// refunds stored before claims existed carry none, which is claim 0.
fn claim_is(number: u32) -> &'static str {
    if number == 0 {
        "attribute_not_exists(ask_number)"
    } else {
        "ask_number = :claim"
    }
}

#[async_trait]
impl OrderReadLimits for DynamoStore {
    async fn delivery_processed(
        &self,
        delivery: &DeliveryKey,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // TTL deletion lags: a mark past its time counts as none.
        let item = self
            .get_item(keys::delivery_pk(delivery), keys::DELIVERY_SK)
            .await?;
        Ok(item
            .and_then(|item| opt_n::<i64>(&item, "ttl").ok().flatten())
            .is_some_and(|until| until > now.unix_seconds()))
    }

    async fn mark_delivery_processed(
        &self,
        delivery: &DeliveryKey,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::delivery_pk(delivery)))
            .item("sk", s(keys::DELIVERY_SK))
            .item("ttl", n(until.unix_seconds()))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .send()
            .await
            .map_err(|e| store_error("PutItem delivery processed", e));
        match put {
            // Marked by a concurrent copy of the delivery: as good.
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }

    async fn take_order_read(
        &self,
        order: &ProviderOrderId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::order_read_pk(order)))
            .item("sk", s(keys::ORDER_READ_SK))
            // Seconds, as TTL reads it; TTL deletion lags, so a past one is free.
            .item("ttl", n(until.unix_seconds()))
            .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now.unix_seconds()))
            .send()
            .await
            .map_err(|e| store_error("PutItem order read", e));
        match put {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

#[async_trait]
impl DuePayments for DynamoStore {
    async fn due_payments(&self, now: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        self.query_every_shard(
            "Query due",
            limit,
            |shard| {
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(Index::DUE)
                    .key_condition_expression("due = :shard AND due_at <= :now")
                    .expression_attribute_values(":shard", s(shard))
                    .expression_attribute_values(":now", s(now.to_rfc3339()))
            },
            |item| Ok(due_item(item)),
            |a, b| a.order_key().cmp(&b.order_key()),
        )
        .await
    }

    async fn set_aside(&self, item: &UnreadableItem, until: Timestamp) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&item.key))
            .key("sk", s(keys::PAYMENT_SK))
            .update_expression("SET due_at = :until")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":until", s(until.to_rfc3339()))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem set aside", e))?;
        Ok(())
    }

    async fn reschedule(&self, payment: &Payment, expected_version: u64) -> Result<(), StoreError> {
        self.put_same_status(payment, expected_version).await
    }
}

#[async_trait]
impl Refunds for DynamoStore {
    async fn reserve_refund(
        &self,
        payment: &Payment,
        expected_version: u64,
        refund: &Refund,
        key: &RefundKey,
    ) -> Result<(), StoreError> {
        let writes = self.new_refund_writes(payment, expected_version, refund, key)?;
        self.transact("reserve_refund", writes).await
    }

    async fn settle_refund(&self, settlement: &RefundSettlement<'_>) -> Result<(), StoreError> {
        let claim = settlement.refund.ask.number;
        let mut guard = vec![(":pending", s(RefundStatus::Pending.as_str()))];
        if claim > 0 {
            guard.push((":claim", n(claim)));
        }
        let mut writes = vec![
            self.put(
                refund_item(settlement.refund),
                &format!("#status = :pending AND {}", claim_is(claim)),
                &guard,
            )?,
            self.put(
                payment_item(settlement.payment, self.shards),
                "version = :expected",
                &[(":expected", n(settlement.expected_version))],
            )?,
        ];
        if let Some(event) = settlement.event {
            writes.push(self.put(
                event_item(event, self.shards),
                "attribute_not_exists(pk)",
                &[],
            )?);
        }
        if settlement.move_lock {
            writes.push(self.move_lock(settlement.payment)?);
        }
        self.transact("settle_refund", writes).await
    }

    async fn claim_refund_ask(
        &self,
        claimed: &Refund,
        expected_claim: u32,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::payment_pk(&claimed.payment_id)))
            .key("sk", s(keys::refund_sk(&claimed.refund_id)))
            .condition_expression(format!(
                "#status = :pending AND {}",
                claim_is(expected_claim)
            ))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(RefundStatus::Pending.as_str()))
            .expression_attribute_values(":number", n(claimed.ask.number));
        // Mercado Pago's id, once it took the refund (never removed).
        let (taken, mut update) = match &claimed.provider_refund_id {
            Some(id) => (
                ", provider_refund_id = :taken, updated_at = :updated",
                update
                    .expression_attribute_values(":taken", s(id.as_str()))
                    .expression_attribute_values(":updated", s(claimed.updated_at.to_rfc3339())),
            ),
            None => ("", update),
        };
        update = match claimed.ask.until {
            Some(until) => update
                .update_expression(format!(
                    "SET ask_number = :number, ask_until = :until{taken}"
                ))
                .expression_attribute_values(":until", s(until.to_rfc3339())),
            // Let go: the next asker need not wait.
            None => update
                .update_expression(format!("SET ask_number = :number{taken} REMOVE ask_until")),
        };
        if expected_claim > 0 {
            update = update.expression_attribute_values(":claim", n(expected_claim));
        }
        update
            .send()
            .await
            .map_err(|e| store_error("UpdateItem refund claim", e))?;
        Ok(())
    }

    async fn record_made_refund(&self, made: &MadeRefund<'_>) -> Result<(), StoreError> {
        let mut writes =
            self.new_refund_writes(made.payment, made.expected_version, made.refund, made.key)?;
        writes.push(self.put(
            event_item(made.event, self.shards),
            "attribute_not_exists(pk)",
            &[],
        )?);
        if made.move_lock {
            writes.push(self.move_lock(made.payment)?);
        }
        self.transact("record_made_refund", writes).await
    }

    async fn refund_by_key(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
    ) -> Result<Option<(Refund, Fingerprint)>, StoreError> {
        let Some(item) = self
            .get_item(keys::payment_pk(payment_id), &keys::refund_key_sk(key))
            .await?
        else {
            return Ok(None);
        };
        let (refund_id, fingerprint) = refund_key_from_item(&item)?;
        self.get_item(keys::payment_pk(payment_id), &keys::refund_sk(&refund_id))
            .await?
            .map(|item| Ok((refund_from_item(&item)?, fingerprint)))
            .transpose()
    }

    async fn keep_first_answer(
        &self,
        payment_id: &PaymentId,
        key: &IdempotencyKey,
        answered: RefundStatus,
    ) -> Result<RefundStatus, StoreError> {
        let kept = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::payment_pk(payment_id)))
            .key("sk", s(keys::refund_key_sk(key)))
            // Only on the key's own item, which the reservation wrote.
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET first_answer = if_not_exists(first_answer, :answered)")
            .expression_attribute_values(":answered", s(answered.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| store_error("UpdateItem refund key answer", e))?;
        let item = kept
            .attributes()
            .ok_or_else(|| StoreError::Corrupt("refund key answer not returned".into()))?;
        domain(RefundStatus::parse(get_s(item, "first_answer")?))
    }
}
