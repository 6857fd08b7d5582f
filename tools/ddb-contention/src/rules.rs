//! The conflict rule and the throttle, without any I/O: which item is part of an ongoing
//! transaction, who may write it, what it costs, and the counters. The proxy calls it under
//! one lock, with the time passed in, so these rules are tested here without a clock.

#[cfg(test)]
mod tests;
mod throttle;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::request::ItemKey;
use crate::stats::{ItemStats, Stats};
use crate::{HoldFrom, Throttle};

use throttle::Bucket;

/// Why one slot of a transaction (or a plain write) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Part of another ongoing transaction: `TransactionConflict`.
    Conflict,
    /// Over the item's write-unit rate: `ThrottlingError`.
    Throttled,
}

/// One item a write touches and the write units it costs.
#[derive(Debug, Clone)]
pub struct Slot {
    pub key: ItemKey,
    pub units: u64,
}

/// An admitted transaction's or write's claim, returned to [`Core`] when its answer arrives.
#[derive(Debug)]
pub struct Ticket {
    id: u64,
    keys: Vec<ItemKey>,
}

#[derive(Debug)]
struct Holder {
    transaction: u64,
    /// `None` while the transaction's request is with DynamoDB; then the end of its hold.
    until: Option<Instant>,
}

#[derive(Debug)]
struct Read {
    keys: Vec<ItemKey>,
    /// Slots a write touched while the read was with DynamoDB.
    written: Vec<bool>,
}

#[derive(Debug, Default)]
struct Counts {
    requests: u64,
    transactions: u64,
    transactions_cancelled_conflict: u64,
    transactions_cancelled_throttle: u64,
    writes: u64,
    write_conflicts: u64,
    writes_throttled: u64,
    transact_gets: u64,
    transact_gets_cancelled_conflict: u64,
    batch_writes: u64,
    unemulated: u64,
    write_units: u64,
}

/// The emulator's state: holds, in-flight writes and reads, token buckets, counters.
#[derive(Debug)]
pub struct Core {
    hold: Duration,
    hold_from: HoldFrom,
    throttle: Option<Throttle>,
    next_id: u64,
    /// Items that are part of an ongoing write transaction.
    holds: HashMap<ItemKey, Holder>,
    /// Hold ends in the order they were set (the hold is one duration, so also in time order).
    ends: VecDeque<(Instant, ItemKey, u64)>,
    /// Plain writes (and batch writes) with DynamoDB, per item.
    writing: HashMap<ItemKey, u32>,
    /// `TransactGetItems` with DynamoDB, by id.
    reads: HashMap<u64, Read>,
    buckets: HashMap<ItemKey, Bucket>,
    buckets_swept: Option<Instant>,
    counts: Counts,
    items: HashMap<ItemKey, ItemStats>,
}

impl Core {
    pub fn new(hold: Duration, throttle: Option<Throttle>) -> Self {
        Core {
            hold,
            hold_from: HoldFrom::Answer,
            throttle,
            next_id: 0,
            holds: HashMap::new(),
            ends: VecDeque::new(),
            writing: HashMap::new(),
            reads: HashMap::new(),
            buckets: HashMap::new(),
            buckets_swept: None,
            counts: Counts::default(),
            items: HashMap::new(),
        }
    }

    /// When a transaction's hold starts counting down; [`HoldFrom::Answer`] unless told.
    pub fn hold_from(mut self, hold_from: HoldFrom) -> Self {
        self.hold_from = hold_from;
        self
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn count_request(&mut self) {
        self.counts.requests += 1;
    }

    /// A write forwarded without the rules: its items could not be named (a body DynamoDB
    /// will refuse, an unknown table, one item twice in a transaction).
    pub fn count_unemulated(&mut self) {
        self.counts.unemulated += 1;
    }

    /// Ends the holds whose time is up.
    fn expire(&mut self, now: Instant) {
        while let Some((until, _, _)) = self.ends.front() {
            if *until > now {
                break;
            }
            let (until, key, transaction) = self.ends.pop_front().expect("front exists");
            if let Some(holder) = self.holds.get(&key) {
                if holder.transaction == transaction && holder.until == Some(until) {
                    self.holds.remove(&key);
                }
            }
        }
    }

    fn held(&self, key: &ItemKey) -> bool {
        self.holds.contains_key(key)
    }

    /// Marks the reads with DynamoDB that include `key` as overlapped by a write.
    fn overlap_reads(&mut self, key: &ItemKey) {
        for read in self.reads.values_mut() {
            for (slot, read_key) in read.keys.iter().enumerate() {
                if read_key == key {
                    read.written[slot] = true;
                }
            }
        }
    }

    fn item(&mut self, key: &ItemKey) -> &mut ItemStats {
        self.items.entry(key.clone()).or_insert_with(|| ItemStats {
            item: key.to_string(),
            ..ItemStats::default()
        })
    }

    /// A `TransactWriteItems` arrives: admitted (its items held until [`Core::finish`]) or
    /// refused, with the reason of each refused slot (`None` for the others). A transaction
    /// conflicts when any of its items is part of another ongoing transaction; only then is
    /// the throttle asked, and a refused transaction holds and costs nothing.
    pub fn begin_transaction(
        &mut self,
        now: Instant,
        slots: &[Slot],
    ) -> Result<Ticket, Vec<Option<Refusal>>> {
        self.expire(now);
        self.counts.transactions += 1;
        let conflicts: Vec<bool> = slots.iter().map(|slot| self.held(&slot.key)).collect();
        if conflicts.contains(&true) {
            self.counts.transactions_cancelled_conflict += 1;
            for (slot, _) in slots.iter().zip(&conflicts).filter(|(_, c)| **c) {
                self.item(&slot.key).conflicts += 1;
            }
            return Err(refusals(&conflicts, Refusal::Conflict));
        }
        let throttled = self.take_units(now, slots);
        if throttled.contains(&true) {
            self.counts.transactions_cancelled_throttle += 1;
            for (slot, _) in slots.iter().zip(&throttled).filter(|(_, t)| **t) {
                self.item(&slot.key).throttles += 1;
            }
            return Err(refusals(&throttled, Refusal::Throttled));
        }
        let id = self.id();
        let until = match self.hold_from {
            HoldFrom::Answer => None,
            HoldFrom::Acceptance => Some(now + self.hold),
        };
        for slot in slots {
            self.counts.write_units += slot.units;
            self.holds.insert(
                slot.key.clone(),
                Holder {
                    transaction: id,
                    until,
                },
            );
            if let Some(until) = until {
                self.ends.push_back((until, slot.key.clone(), id));
            }
            self.overlap_reads(&slot.key);
        }
        Ok(Ticket {
            id,
            keys: slots.iter().map(|slot| slot.key.clone()).collect(),
        })
    }

    /// A transaction's answer came back (or its caller went away): its items stay held for
    /// the hold time when DynamoDB ran it (`ran`: it committed or its conditions were
    /// evaluated), and are free at once when DynamoDB refused the request outright. Held
    /// from acceptance, a transaction DynamoDB ran keeps the end it was given then.
    pub fn finish_transaction(&mut self, now: Instant, ticket: Ticket, ran: bool) {
        self.expire(now);
        if ran && self.hold_from == HoldFrom::Acceptance {
            return;
        }
        let until = now + self.hold;
        for key in ticket.keys {
            let Some(holder) = self.holds.get_mut(&key) else {
                continue;
            };
            if holder.transaction != ticket.id {
                continue;
            }
            if ran && !self.hold.is_zero() {
                holder.until = Some(until);
                self.ends.push_back((until, key, ticket.id));
            } else {
                self.holds.remove(&key);
            }
        }
    }

    /// A `PutItem`, `UpdateItem` or `DeleteItem` arrives: refused on an item that is part of an
    /// ongoing transaction (`TransactionConflictException`) or over the item's rate.
    pub fn begin_write(&mut self, now: Instant, slot: Slot) -> Result<Ticket, Refusal> {
        self.expire(now);
        self.counts.writes += 1;
        if self.held(&slot.key) {
            self.counts.write_conflicts += 1;
            self.item(&slot.key).conflicts += 1;
            return Err(Refusal::Conflict);
        }
        if self.take_units(now, std::slice::from_ref(&slot))[0] {
            self.counts.writes_throttled += 1;
            self.item(&slot.key).throttles += 1;
            return Err(Refusal::Throttled);
        }
        self.counts.write_units += slot.units;
        Ok(self.begin_writing(vec![slot.key]))
    }

    /// A `BatchWriteItem` arrives: not refused (DynamoDB documents no conflict for it), but
    /// its items are being written for the transactional reads that overlap it.
    pub fn begin_batch_write(&mut self, keys: Vec<ItemKey>) -> Ticket {
        self.counts.batch_writes += 1;
        self.begin_writing(keys)
    }

    fn begin_writing(&mut self, keys: Vec<ItemKey>) -> Ticket {
        for key in &keys {
            *self.writing.entry(key.clone()).or_default() += 1;
            self.overlap_reads(key);
        }
        Ticket {
            id: self.id(),
            keys,
        }
    }

    pub fn finish_write(&mut self, ticket: Ticket) {
        for key in ticket.keys {
            if let Some(count) = self.writing.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.writing.remove(&key);
                }
            }
        }
    }

    /// A `TransactGetItems` arrives: cancelled when one of its items is part of an ongoing
    /// write transaction or a write with DynamoDB.
    pub fn begin_transact_get(
        &mut self,
        now: Instant,
        keys: Vec<ItemKey>,
    ) -> Result<Ticket, Vec<Option<Refusal>>> {
        self.expire(now);
        self.counts.transact_gets += 1;
        let conflicts: Vec<bool> = keys
            .iter()
            .map(|key| self.held(key) || self.writing.contains_key(key))
            .collect();
        if conflicts.contains(&true) {
            self.cancel_get(&keys, &conflicts);
            return Err(refusals(&conflicts, Refusal::Conflict));
        }
        let id = self.id();
        self.reads.insert(
            id,
            Read {
                written: vec![false; keys.len()],
                keys: keys.clone(),
            },
        );
        Ok(Ticket { id, keys })
    }

    /// A `TransactGetItems` answer came back: cancelled after all when a write touched one of
    /// its items meanwhile.
    pub fn finish_transact_get(&mut self, ticket: Ticket) -> Result<(), Vec<Option<Refusal>>> {
        let Some(read) = self.reads.remove(&ticket.id) else {
            return Ok(());
        };
        if !read.written.contains(&true) {
            return Ok(());
        }
        self.cancel_get(&read.keys, &read.written);
        Err(refusals(&read.written, Refusal::Conflict))
    }

    fn cancel_get(&mut self, keys: &[ItemKey], conflicts: &[bool]) {
        self.counts.transact_gets_cancelled_conflict += 1;
        for (key, _) in keys.iter().zip(conflicts).filter(|(_, c)| **c) {
            self.item(key).conflicts += 1;
        }
    }

    /// Whether `key` is part of an ongoing transaction now.
    pub fn is_held(&mut self, now: Instant, key: &ItemKey) -> bool {
        self.expire(now);
        self.held(key)
    }

    /// The counters, and the items held at `now`.
    pub fn stats(&mut self, now: Instant) -> Stats {
        self.expire(now);
        let c = &self.counts;
        let mut items: Vec<ItemStats> = self.items.values().cloned().collect();
        items.sort_by(|a, b| {
            (b.conflicts + b.throttles)
                .cmp(&(a.conflicts + a.throttles))
                .then_with(|| a.item.cmp(&b.item))
        });
        Stats {
            requests: c.requests,
            transactions: c.transactions,
            transactions_cancelled_conflict: c.transactions_cancelled_conflict,
            transactions_cancelled_throttle: c.transactions_cancelled_throttle,
            writes: c.writes,
            write_conflicts: c.write_conflicts,
            writes_throttled: c.writes_throttled,
            transact_gets: c.transact_gets,
            transact_gets_cancelled_conflict: c.transact_gets_cancelled_conflict,
            batch_writes: c.batch_writes,
            throttles: c.transactions_cancelled_throttle + c.writes_throttled,
            unemulated: c.unemulated,
            write_units: c.write_units,
            held_items: self.holds.len() as u64,
            items,
        }
    }

    /// Zeroes the counters (the holds and buckets stay: they are state, not counts).
    pub fn reset_stats(&mut self) {
        self.counts = Counts::default();
        self.items.clear();
    }
}

fn refusals(refused: &[bool], why: Refusal) -> Vec<Option<Refusal>> {
    refused.iter().map(|r| r.then_some(why)).collect()
}
