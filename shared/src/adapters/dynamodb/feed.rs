//! The event feed's reads of the `events` index: day by day from the
//! cursor's, every shard of a day at once, merged by id; within a read
//! budget, and never past the settle line.

use std::time::Duration;

use futures_util::future::try_join_all;

use super::errors::store_error;
use super::items::{domain, event_from_item, get_s, s, Index, MILLIS_PER_DAY};
use super::store::DynamoStore;
use crate::domain::EventId;
use crate::ports::{FeedPage, FeedQuery, OutboxEvent, StoreError};

/// How the feed reads the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// Only events whose id is at least this old are listed. An id is made
    /// just before the transaction that writes its event, which commits
    /// within its function's timeout (60 s at most) and reaches the
    /// eventually consistent index a moment later: past this line no event
    /// can still appear, so a cursor never passes one.
    pub settle: Duration,
    /// Most index items one read evaluates, over every shard and day: a
    /// rare `type` costs bounded reads, and is answered by a short (maybe
    /// empty) page whose cursor goes on from where reading stopped.
    pub read_budget: usize,
}

impl FeedLimits {
    pub const SETTLE: Duration = Duration::from_secs(120);
    pub const READ_BUDGET: usize = 1000;
}

impl Default for FeedLimits {
    fn default() -> Self {
        Self {
            settle: Self::SETTLE,
            read_budget: Self::READ_BUDGET,
        }
    }
}

/// One shard's read of one day: the events that matched, how far it read
/// (`None`: to the end of the span), how many items it evaluated.
struct ShardRead {
    matched: Vec<OutboxEvent>,
    read_to: Option<EventId>,
    evaluated: usize,
}

impl DynamoStore {
    /// The first `limit` events after `query.after`, up to the settle line;
    /// `next` is where the following page starts, while anything may remain.
    pub(super) async fn read_feed(&self, query: &FeedQuery) -> Result<FeedPage, StoreError> {
        let limits = self.feed;
        let until = u64::try_from(query.until.unix_millis()).unwrap_or(0);
        let settled =
            until.saturating_sub(u64::try_from(limits.settle.as_millis()).unwrap_or(u64::MAX));
        let last = EventId::last_at(settled);
        let wanted = query.limit.saturating_add(1);
        let shards = usize::from(self.shards.count()).max(1);
        // A filter drops items after they were read: read more per request.
        let asked = match query.event_type {
            None => wanted,
            Some(_) => wanted.max(limits.read_budget / shards),
        };
        let mut after = query.after.clone();
        let mut found: Vec<OutboxEvent> = Vec::new();
        let mut evaluated = 0;
        let mut day = Index::day_of(&after);
        let last_day = settled / MILLIS_PER_DAY;
        while day <= last_day && after < last {
            if evaluated >= limits.read_budget {
                // Out of budget: what was found (fewer than asked), going on
                // from how far every shard was read.
                return Ok(FeedPage {
                    events: found,
                    next: Some(after),
                });
            }
            // What is left of the budget, shared by the shards (two each at
            // least, so that every round moves on).
            let per_shard = asked.min((limits.read_budget - evaluated) / shards).max(2);
            let reads = try_join_all((0..self.shards.count()).map(|shard| {
                self.read_shard(
                    query,
                    Index::feed_partition(day, shard),
                    &after,
                    &last,
                    per_shard,
                )
            }))
            .await?;
            // Each request counts, even one that read nothing: the budget
            // bounds the requests too.
            evaluated += reads
                .iter()
                .map(|read| read.evaluated.max(1))
                .sum::<usize>();
            // Every shard of the day was read at least this far.
            let frontier = reads.iter().filter_map(|read| read.read_to.clone()).min();
            let mut matched: Vec<OutboxEvent> = reads
                .into_iter()
                .flat_map(|read| read.matched)
                .filter(|event| event.event_id > after)
                .filter(|event| frontier.as_ref().is_none_or(|f| event.event_id <= *f))
                .collect();
            matched.sort_by(|a, b| a.event_id.cmp(&b.event_id));
            found.extend(matched);
            if found.len() >= wanted {
                found.truncate(query.limit);
                let next = found.last().map(|event| event.event_id.clone());
                return Ok(FeedPage {
                    events: found,
                    next,
                });
            }
            match frontier {
                Some(frontier) => after = frontier,
                // The day is read to its end: on to the next one.
                None => {
                    after = EventId::last_at((day + 1) * MILLIS_PER_DAY - 1).min(last.clone());
                    day += 1;
                }
            }
        }
        Ok(FeedPage {
            events: found,
            next: None,
        })
    }

    /// One request to one shard of one day: its items after `after` up to
    /// `last`, at most `limit` of them evaluated.
    async fn read_shard(
        &self,
        query: &FeedQuery,
        feed: String,
        after: &EventId,
        last: &EventId,
        limit: usize,
    ) -> Result<ShardRead, StoreError> {
        let mut read = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(Index::EVENTS)
            .key_condition_expression("feed = :feed AND event_id BETWEEN :after AND :last")
            .expression_attribute_values(":feed", s(feed))
            .expression_attribute_values(":after", s(after.as_str()))
            .expression_attribute_values(":last", s(last.as_str()))
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        if let Some(event_type) = query.event_type {
            read = read
                .filter_expression("event_type = :type")
                .expression_attribute_values(":type", s(event_type.as_str()));
        }
        let output = read
            .send()
            .await
            .map_err(|e| store_error("Query events", e))?;
        let matched = output
            .items()
            .iter()
            .map(event_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        // Where the read stopped; a page end that does not say is not taken
        // for the shard's end (that would skip what it has not returned).
        let read_to = output
            .last_evaluated_key()
            .map(|key| domain(EventId::parse(get_s(key, "event_id")?)))
            .transpose()?;
        Ok(ShardRead {
            matched,
            read_to,
            evaluated: usize::try_from(output.scanned_count()).unwrap_or(0),
        })
    }
}
