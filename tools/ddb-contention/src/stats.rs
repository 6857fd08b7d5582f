//! The counters a test or the bench reads: [`crate::Emulator::stats`], or `GET /_stats` on the
//! proxy (the same fields as JSON).

use serde::{Deserialize, Serialize};

/// What the emulator saw and refused since it started (or since the last reset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every request through the proxy, `GET /_stats` excepted.
    pub requests: u64,
    /// `TransactWriteItems` requests seen.
    pub transactions: u64,
    /// ... cancelled with `TransactionConflict` on at least one slot.
    pub transactions_cancelled_conflict: u64,
    /// ... cancelled with `ThrottlingError` on at least one slot.
    pub transactions_cancelled_throttle: u64,
    /// `PutItem`, `UpdateItem` and `DeleteItem` requests seen.
    pub writes: u64,
    /// ... refused with `TransactionConflictException`.
    pub write_conflicts: u64,
    /// ... refused with `ProvisionedThroughputExceededException`.
    pub writes_throttled: u64,
    /// `TransactGetItems` requests seen.
    pub transact_gets: u64,
    /// ... cancelled with `TransactionConflict`.
    pub transact_gets_cancelled_conflict: u64,
    /// `BatchWriteItem` requests seen (forwarded as they are; see the crate docs).
    pub batch_writes: u64,
    /// Throttled requests of both kinds: `transactions_cancelled_throttle + writes_throttled`.
    pub throttles: u64,
    /// Writes forwarded without the rules because their items could not be named (a body
    /// DynamoDB refuses, a table that does not exist, one item twice in a transaction).
    pub unemulated: u64,
    /// Write units of the writes let through, by DynamoDB's size rules (see
    /// [`crate::request::write_units`]).
    pub write_units: u64,
    /// Items part of an ongoing transaction at the time of the snapshot.
    pub held_items: u64,
    /// Per item that was ever refused: most refusals (conflicts + throttles) first.
    pub items: Vec<ItemStats>,
}

/// One item's refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemStats {
    /// `table attr=value …` (see [`crate::request::ItemKey`]).
    pub item: String,
    /// Slots refused for a conflict on this item (transactions, plain writes, transactional
    /// reads).
    pub conflicts: u64,
    /// Requests refused for this item's write rate.
    pub throttles: u64,
}

impl Stats {
    /// Transactions and plain writes refused for a conflict.
    pub fn conflicts(&self) -> u64 {
        self.transactions_cancelled_conflict
            + self.write_conflicts
            + self.transact_gets_cancelled_conflict
    }

    /// The `n` items refused most.
    pub fn hottest(&self, n: usize) -> &[ItemStats] {
        &self.items[..n.min(self.items.len())]
    }
}
