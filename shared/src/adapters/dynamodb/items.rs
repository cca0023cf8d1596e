//! The table layout (docs/storage.md): keys, index names, and item <-> domain mapping.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    AskClaim, CallerId, CorrelationId, Currency, Description, EventId, EventType, Fingerprint,
    Item, Items, Money, OrderId, Payment, PaymentId, PaymentParts, PaymentStatus, PosId,
    ProviderOrderId, ProviderPaymentId, ProviderRef, ProviderRefundId, Refund, RefundFailure,
    RefundId, RefundReason, RefundSource, RefundStatus, Sku, SweepSchedule, Timestamp, Title,
};
use crate::ports::{
    DueItem, IdempotencyRecord, IdempotentOutcome, OrderLock, OrderLockState, OutboxEvent,
    RefundKey, StoreError, UnreadableItem,
};

pub type DynamoItem = HashMap<String, AttributeValue>;

/// Names the code relies on; tests check them against template.yaml.
pub struct Index;

pub const MILLIS_PER_DAY: u64 = 24 * 3600 * 1000;

impl Index {
    pub const BY_ORDER: &'static str = "by-order";
    pub const OUTBOX: &'static str = "outbox";
    pub const DUE: &'static str = "due-at";
    /// Every event, for the feed and for finding one by id: hash `feed`
    /// (`events#{day}#{shard}`: the day its id was made, a shard of its id),
    /// range `event_id` (time-ordered ULIDs).
    pub const EVENTS: &'static str = "events";

    /// The `feed` value of an event: the day (since the Unix epoch) its id
    /// was made, and a shard of the id, so one day's writes spread over
    /// `shards` partitions and an id alone names its partition's day.
    pub fn feed_partition(day: u64, shard: u16) -> String {
        format!("events#{day}#{shard}")
    }

    pub fn day_of(event: &EventId) -> u64 {
        event.unix_millis() / MILLIS_PER_DAY
    }

    /// The sparse `outbox` / `due` hash value of a payment's items:
    /// `pending#{n}`, so a lunch peak's writes spread over `shards` index
    /// partitions instead of piling onto one.
    pub fn pending_shard(payment: &PaymentId, shards: IndexShards) -> String {
        format!("{}{}", Self::PENDING_PREFIX, shards.of(payment))
    }

    /// What every `outbox` / `due` value starts with (the stream filter's prefix).
    pub const PENDING_PREFIX: &'static str = "pending#";
}

/// How many hash values the sparse indexes spread over (`INDEX_SHARDS`,
/// 1..=64, default 8). Only ever raise it: items keep the shard they were
/// written under, and readers query shards `0..count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexShards(u16);

impl Default for IndexShards {
    fn default() -> Self {
        Self(8)
    }
}

impl IndexShards {
    pub const MAX: u16 = 64;

    pub fn new(count: u16) -> Option<Self> {
        (1..=Self::MAX).contains(&count).then_some(Self(count))
    }

    pub fn count(self) -> u16 {
        self.0
    }

    /// A payment's shard: FNV-1a of its id, so it is the same in every
    /// process and release (std's hasher is seeded per process).
    pub fn of(self, payment: &PaymentId) -> u16 {
        self.of_key(payment.as_str())
    }

    /// The shard of any key, as `of`.
    pub fn of_key(self, key: &str) -> u16 {
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        u16::try_from(hash % u64::from(self.0)).unwrap_or(0)
    }

    /// Every hash value a reader must query.
    pub fn all(self) -> impl Iterator<Item = String> {
        (0..self.0).map(|n| format!("{}{n}", Index::PENDING_PREFIX))
    }
}

pub mod keys {
    use crate::domain::{EventId, OrderId, PaymentId};

    pub const PAYMENT_SK: &str = "PAYMENT";
    /// The key the init-time pre-warm reads: no item has it, since every
    /// partition key starts with `PAYMENT#`, `ORDER#`, `IDEMPOTENCY#` or
    /// `PROVIDERORDER#`.
    pub const PREWARM_KEY: &str = "PREWARM";
    pub const ORDER_SK: &str = "ORDER";

    pub fn payment_pk(id: &PaymentId) -> String {
        format!("PAYMENT#{id}")
    }
    pub fn order_pk(id: &OrderId) -> String {
        format!("ORDER#{id}")
    }
    /// Event items sort under their payment.
    pub const EVENT_SK_PREFIX: &str = "EVENT#";

    pub fn event_sk(id: &EventId) -> String {
        format!("{EVENT_SK_PREFIX}{id}")
    }

    pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
    /// Refund items sort under their payment, oldest first (ULID ids).
    pub const REFUND_SK_PREFIX: &str = "REFUND#";

    pub fn refund_sk(id: &crate::domain::RefundId) -> String {
        format!("{REFUND_SK_PREFIX}{id}")
    }
    /// A refund's Idempotency-Key, scoped to its payment.
    pub fn refund_key_sk(key: &crate::domain::IdempotencyKey) -> String {
        format!("REFUNDKEY#{}#{}", key.caller(), key.as_str())
    }

    /// A provider order's read slot for late or unsigned notifications.
    pub fn order_read_pk(id: &crate::domain::ProviderOrderId) -> String {
        format!("PROVIDERORDER#{id}")
    }
    pub const ORDER_READ_SK: &str = "READ";

    /// A signed webhook delivery already processed (by the digest of its
    /// request id and signature).
    pub fn delivery_pk(delivery: &crate::ports::DeliveryKey) -> String {
        format!("DELIVERY#{}", delivery.as_str())
    }
    pub const DELIVERY_SK: &str = "PROCESSED";

    /// Scoped to its caller: the same key from two callers is two items.
    pub fn idempotency_pk(key: &crate::domain::IdempotencyKey) -> String {
        format!("IDEMPOTENCY#{}#{}", key.caller(), key.as_str())
    }
}

/// Events stay in the table for 30 days after they are written.
pub const EVENT_TTL_SECONDS: i64 = crate::app::EVENTS_KEPT.as_secs() as i64;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn payment_item(payment: &Payment, shards: IndexShards) -> DynamoItem {
    let p = payment.parts();
    let mut item = DynamoItem::new();
    item.insert("pk".into(), s(keys::payment_pk(&p.id)));
    item.insert("sk".into(), s(keys::PAYMENT_SK));
    item.insert("payment_id".into(), s(p.id.as_str()));
    item.insert("created_by".into(), s(p.created_by.as_str()));
    item.insert("order_id".into(), s(p.order_id.as_str()));
    item.insert("status".into(), s(p.status.as_str()));
    item.insert("amount".into(), n(p.amount.minor_units()));
    item.insert("currency".into(), s(p.amount.currency().code()));
    let lines = p
        .items
        .as_slice()
        .iter()
        .map(|line| {
            AttributeValue::M(HashMap::from([
                ("sku".to_owned(), s(line.sku().as_str())),
                ("title".to_owned(), s(line.title().as_str())),
                ("quantity".to_owned(), n(line.quantity())),
                ("unit_price".to_owned(), n(line.unit_price().minor_units())),
            ]))
        })
        .collect();
    item.insert("items".into(), AttributeValue::L(lines));
    item.insert("fingerprint".into(), s(p.fingerprint.as_str()));
    if let Some(description) = &p.description {
        item.insert("description".into(), s(description.as_str()));
    }
    if let Some(pos_id) = &p.pos_id {
        item.insert("pos_id".into(), s(pos_id.as_str()));
    }
    if let Some(provider) = &p.provider {
        item.insert("provider_order_id".into(), s(provider.order_id.as_str()));
        if let Some(payment_id) = &provider.payment_id {
            item.insert("provider_payment_id".into(), s(payment_id.as_str()));
        }
    }
    if let Some(qr) = &p.qr_data {
        item.insert("qr_data".into(), s(qr));
    }
    if let Some(caller) = &p.canceled_by {
        item.insert("canceled_by".into(), s(caller.as_str()));
    }
    item.insert("created_at".into(), s(p.created_at.to_rfc3339()));
    item.insert("updated_at".into(), s(p.updated_at.to_rfc3339()));
    item.insert("expires_at".into(), s(p.expires_at.to_rfc3339()));
    if let Some(reason) = &p.decline_reason {
        item.insert("decline_reason".into(), s(reason));
    }
    item.insert("amount_refunded".into(), n(p.amount_refunded));
    item.insert("amount_reserved".into(), n(p.amount_reserved));
    if p.sweep.attempts > 0 {
        item.insert("sweep_attempts".into(), n(p.sweep.attempts));
    }
    if let Some(at) = p.sweep.next_check_at {
        item.insert("next_check_at".into(), s(at.to_rfc3339()));
    }
    if p.sweep.needs_review {
        item.insert("needs_review".into(), AttributeValue::Bool(true));
    }
    if let Some(since) = p.sweep.since {
        item.insert("sweep_since".into(), s(since.to_rfc3339()));
    }
    item.insert("version".into(), n(p.version));
    item.insert("sequence".into(), n(p.sequence));
    // Sparse `due` index: only what the sweeper has to look at is in it.
    if let Some(due_at) = payment.due_at() {
        item.insert("due".into(), s(Index::pending_shard(&p.id, shards)));
        item.insert("due_at".into(), s(due_at.to_rfc3339()));
    }
    item
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(crate) fn get_s<'a>(item: &'a DynamoItem, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| corrupt(&format!("attribute {name} missing or not a string")))
}

fn opt_s(item: &DynamoItem, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n<T: std::str::FromStr>(item: &DynamoItem, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(&format!("attribute {name} missing or not a number")))
}

pub(crate) fn opt_n<T: std::str::FromStr>(
    item: &DynamoItem,
    name: &str,
) -> Result<Option<T>, StoreError> {
    item.get(name).map(|_| get_n(item, name)).transpose()
}

pub(crate) fn domain<T>(result: Result<T, crate::domain::DomainError>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn payment_from_item(item: &DynamoItem) -> Result<Payment, StoreError> {
    let currency = domain(Currency::parse(get_s(item, "currency")?))?;
    let amount = domain(Money::new(get_n(item, "amount")?, currency))?;
    let lines = item
        .get("items")
        .and_then(|v| v.as_l().ok())
        .ok_or_else(|| corrupt("attribute items missing"))?
        .iter()
        .map(|line| {
            let line = line.as_m().map_err(|_| corrupt("item line is not a map"))?;
            domain(Item::new(
                domain(Sku::parse(get_s(line, "sku")?))?,
                domain(Title::parse(get_s(line, "title")?))?,
                get_n(line, "quantity")?,
                domain(Money::new(get_n(line, "unit_price")?, currency))?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let provider = opt_s(item, "provider_order_id")
        .map(|order_id| {
            Ok::<_, StoreError>(ProviderRef {
                order_id: domain(ProviderOrderId::parse(&order_id))?,
                payment_id: opt_s(item, "provider_payment_id")
                    .map(|id| domain(ProviderPaymentId::parse(&id)))
                    .transpose()?,
            })
        })
        .transpose()?;
    Ok(Payment::restore(PaymentParts {
        id: domain(PaymentId::parse(get_s(item, "payment_id")?))?,
        // Items written before callers were authenticated have none.
        created_by: match opt_s(item, "created_by") {
            Some(caller) => domain(CallerId::parse(&caller))?,
            None => CallerId::anonymous(),
        },
        order_id: domain(OrderId::parse(get_s(item, "order_id")?))?,
        status: domain(PaymentStatus::parse(get_s(item, "status")?))?,
        amount,
        items: domain(Items::new(lines, amount))?,
        description: opt_s(item, "description")
            .map(|d| domain(Description::parse(&d)))
            .transpose()?,
        // Payments written before points of sale were recorded have none.
        pos_id: opt_s(item, "pos_id")
            .map(|pos| domain(PosId::parse(&pos)))
            .transpose()?,
        fingerprint: domain(Fingerprint::parse(get_s(item, "fingerprint")?))?,
        provider,
        qr_data: opt_s(item, "qr_data"),
        created_at: domain(Timestamp::parse(get_s(item, "created_at")?))?,
        updated_at: domain(Timestamp::parse(get_s(item, "updated_at")?))?,
        expires_at: domain(Timestamp::parse(get_s(item, "expires_at")?))?,
        decline_reason: opt_s(item, "decline_reason"),
        canceled_by: opt_s(item, "canceled_by")
            .map(|caller| domain(CallerId::parse(&caller)))
            .transpose()?,
        // Items written before refunds existed have neither.
        amount_refunded: opt_n(item, "amount_refunded")?.unwrap_or(0),
        amount_reserved: opt_n(item, "amount_reserved")?.unwrap_or(0),
        sweep: SweepSchedule {
            attempts: opt_n(item, "sweep_attempts")?.unwrap_or(0),
            next_check_at: opt_s(item, "next_check_at")
                .map(|at| domain(Timestamp::parse(&at)))
                .transpose()?,
            needs_review: item
                .get("needs_review")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            since: opt_s(item, "sweep_since")
                .map(|at| domain(Timestamp::parse(&at)))
                .transpose()?,
        },
        // Payments written before sequences existed: none counted yet.
        sequence: opt_n(item, "sequence")?.unwrap_or(0),
        version: get_n(item, "version")?,
    }))
}

/// An entry of the `due` index: its payment, or what is known of an item
/// that cannot be rebuilt, so the sweeper can set it aside.
pub(crate) fn due_item(item: &DynamoItem) -> DueItem {
    match payment_from_item(item) {
        Ok(payment) => DueItem::Payment(Box::new(payment)),
        Err(error) => DueItem::Unreadable(UnreadableItem {
            key: opt_s(item, "pk").unwrap_or_default(),
            due_at: opt_s(item, "due_at").unwrap_or_default(),
            reason: error.to_string(),
        }),
    }
}

pub(crate) fn lock_from_item(item: &DynamoItem) -> Result<OrderLock, StoreError> {
    let order_id = get_s(item, "pk")?
        .strip_prefix("ORDER#")
        .ok_or_else(|| corrupt("order lock key"))?;
    Ok(OrderLock {
        order_id: domain(OrderId::parse(order_id))?,
        live_payment_id: domain(PaymentId::parse(get_s(item, "live_payment_id")?))?,
        state: OrderLockState::parse(get_s(item, "state")?)
            .ok_or_else(|| corrupt("order lock state"))?,
        version: get_n(item, "version")?,
    })
}

pub(crate) fn event_item(event: &OutboxEvent, shards: IndexShards) -> DynamoItem {
    let mut item = DynamoItem::from([
        ("pk".to_owned(), s(keys::payment_pk(&event.payment_id))),
        ("sk".to_owned(), s(keys::event_sk(&event.event_id))),
        ("event_id".to_owned(), s(event.event_id.as_str())),
        ("event_type".to_owned(), s(event.event_type.as_str())),
        ("payment_id".to_owned(), s(event.payment_id.as_str())),
        ("event_order_id".to_owned(), s(event.order_id.as_str())),
        ("body".to_owned(), s(&event.body)),
        ("created_at".to_owned(), s(event.created_at.to_rfc3339())),
        (
            "outbox".to_owned(),
            s(Index::pending_shard(&event.payment_id, shards)),
        ),
        (
            "ttl".to_owned(),
            n(event.created_at.unix_seconds() + EVENT_TTL_SECONDS),
        ),
        ("sequence".to_owned(), n(event.sequence)),
        (
            "feed".to_owned(),
            s(Index::feed_partition(
                Index::day_of(&event.event_id),
                shards.of_key(event.event_id.as_str()),
            )),
        ),
    ]);
    if let Some(id) = &event.correlation_id {
        item.insert("correlation_id".into(), s(id.as_str()));
    }
    item
}

pub(crate) fn event_from_item(item: &DynamoItem) -> Result<OutboxEvent, StoreError> {
    let event_type =
        EventType::parse(get_s(item, "event_type")?).ok_or_else(|| corrupt("event_type"))?;
    Ok(OutboxEvent {
        event_id: domain(EventId::parse(get_s(item, "event_id")?))?,
        event_type,
        payment_id: domain(PaymentId::parse(get_s(item, "payment_id")?))?,
        order_id: domain(OrderId::parse(get_s(item, "event_order_id")?))?,
        body: get_s(item, "body")?.to_owned(),
        created_at: domain(Timestamp::parse(get_s(item, "created_at")?))?,
        // Events written before sequences existed carry none.
        sequence: opt_n(item, "sequence")?.unwrap_or(0),
        correlation_id: opt_s(item, "correlation_id")
            .map(|id| domain(CorrelationId::parse(&id)))
            .transpose()?,
    })
}

pub(crate) fn idempotency_record_from_item(
    item: &DynamoItem,
) -> Result<IdempotencyRecord, StoreError> {
    let outcome = match opt_s(item, "payment_id") {
        Some(payment_id) => Some(IdempotentOutcome {
            payment_id: domain(PaymentId::parse(&payment_id))?,
            newly_created: item
                .get("newly_created")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
        }),
        None => None,
    };
    Ok(IdempotencyRecord {
        fingerprint: domain(Fingerprint::parse(get_s(item, "fingerprint")?))?,
        outcome,
    })
}

pub(crate) fn refund_item(refund: &Refund) -> DynamoItem {
    let mut item = DynamoItem::from([
        ("pk".to_owned(), s(keys::payment_pk(&refund.payment_id))),
        ("sk".to_owned(), s(keys::refund_sk(&refund.refund_id))),
        ("refund_id".to_owned(), s(refund.refund_id.as_str())),
        ("payment_id".to_owned(), s(refund.payment_id.as_str())),
        ("amount".to_owned(), n(refund.amount.minor_units())),
        ("currency".to_owned(), s(refund.amount.currency().code())),
        ("source".to_owned(), s(refund.source.as_str())),
        ("status".to_owned(), s(refund.status.as_str())),
        ("created_at".to_owned(), s(refund.created_at.to_rfc3339())),
        ("updated_at".to_owned(), s(refund.updated_at.to_rfc3339())),
    ]);
    if let Some(reason) = &refund.reason {
        item.insert("reason".into(), s(reason.as_str()));
    }
    if let Some(id) = &refund.provider_refund_id {
        item.insert("provider_refund_id".into(), s(id.as_str()));
    }
    if let Some(failure) = &refund.failure_reason {
        item.insert("failure_reason".into(), s(failure));
    }
    if let Some(failure) = refund.failure {
        item.insert("failure_kind".into(), s(failure.as_str()));
    }
    if let Some(caller) = &refund.requested_by {
        item.insert("requested_by".into(), s(caller.as_str()));
    }
    item.insert("ask_number".into(), n(refund.ask.number));
    if let Some(until) = refund.ask.until {
        item.insert("ask_until".into(), s(until.to_rfc3339()));
    }
    item
}

pub(crate) fn refund_from_item(item: &DynamoItem) -> Result<Refund, StoreError> {
    let currency = domain(Currency::parse(get_s(item, "currency")?))?;
    Ok(Refund {
        refund_id: domain(RefundId::parse(get_s(item, "refund_id")?))?,
        payment_id: domain(PaymentId::parse(get_s(item, "payment_id")?))?,
        amount: domain(Money::new(get_n(item, "amount")?, currency))?,
        reason: opt_s(item, "reason")
            .map(|r| domain(RefundReason::parse(&r)))
            .transpose()?,
        source: domain(RefundSource::parse(get_s(item, "source")?))?,
        status: domain(RefundStatus::parse(get_s(item, "status")?))?,
        provider_refund_id: opt_s(item, "provider_refund_id")
            .map(|id| domain(ProviderRefundId::parse(&id)))
            .transpose()?,
        failure_reason: opt_s(item, "failure_reason"),
        failure: opt_s(item, "failure_kind")
            .map(|kind| domain(RefundFailure::parse(&kind)))
            .transpose()?,
        created_at: domain(Timestamp::parse(get_s(item, "created_at")?))?,
        updated_at: domain(Timestamp::parse(get_s(item, "updated_at")?))?,
        requested_by: opt_s(item, "requested_by")
            .map(|caller| domain(CallerId::parse(&caller)))
            .transpose()?,
        // Refunds written before claims existed: nobody holds one.
        ask: AskClaim {
            number: opt_n(item, "ask_number")?.unwrap_or(0),
            until: opt_s(item, "ask_until")
                .map(|at| domain(Timestamp::parse(&at)))
                .transpose()?,
        },
    })
}

pub(crate) fn refund_key_item(refund: &Refund, key: &RefundKey) -> DynamoItem {
    DynamoItem::from([
        ("pk".to_owned(), s(keys::payment_pk(&refund.payment_id))),
        ("sk".to_owned(), s(keys::refund_key_sk(&key.key))),
        ("refund_id".to_owned(), s(refund.refund_id.as_str())),
        ("fingerprint".to_owned(), s(key.fingerprint.as_str())),
    ])
}

pub(crate) fn refund_key_from_item(
    item: &DynamoItem,
) -> Result<(RefundId, Fingerprint), StoreError> {
    Ok((
        domain(RefundId::parse(get_s(item, "refund_id")?))?,
        domain(Fingerprint::parse(get_s(item, "fingerprint")?))?,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payments_spread_evenly_and_stay_on_their_shard() {
        let shards = IndexShards::default();
        let mut per_shard = [0_u32; 8];
        for _ in 0..4000 {
            let id = PaymentId::from_ulid(ulid::Ulid::new());
            let shard = shards.of(&id);
            assert_eq!(shards.of(&id), shard, "stable for one id");
            assert_eq!(
                Index::pending_shard(&id, shards),
                format!("pending#{shard}")
            );
            per_shard[usize::from(shard)] += 1;
        }
        // 500 expected per shard; a fair hash stays well inside 350..650.
        assert!(
            per_shard.iter().all(|n| (350..650).contains(n)),
            "{per_shard:?}"
        );
        assert_eq!(shards.all().count(), 8);
    }

    #[test]
    fn a_payment_item_keeps_its_point_of_sale_and_an_older_item_reads_without_one() {
        let payment = crate::domain::payment::tests::sample_payment();
        let item = payment_item(&payment, IndexShards::default());
        assert_eq!(
            item.get("pos_id")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            Some("POS001")
        );
        let read = payment_from_item(&item).unwrap();
        assert_eq!(read.pos_id(), payment.pos_id());
        assert_eq!(read, payment);

        let mut older = item.clone();
        older.remove("pos_id");
        assert_eq!(payment_from_item(&older).unwrap().pos_id(), None);
        let mut garbled = item;
        garbled.insert("pos_id".into(), s("POS-1"));
        assert!(matches!(
            payment_from_item(&garbled),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn the_shard_count_is_bounded() {
        assert_eq!(IndexShards::new(0), None);
        assert_eq!(IndexShards::new(IndexShards::MAX + 1), None);
        assert_eq!(IndexShards::new(1).map(IndexShards::count), Some(1));
        let one = IndexShards::new(1).unwrap();
        assert_eq!(one.of(&PaymentId::from_ulid(ulid::Ulid::new())), 0);
    }
}
