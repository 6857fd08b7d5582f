//! A request the rules apply to: its items named, then admitted or refused by
//! [`crate::rules::Core`], forwarded, and its claim given back when the answer is in.

use std::collections::HashSet;
use std::time::Instant;

use axum::body::Bytes;
use axum::response::Response;
use http::request::Parts;

use super::{respond, Answer, Shared};
use crate::request::{self, Operation};
use crate::rules::{Refusal, Slot, Ticket};
use crate::wire;

pub(super) async fn emulate(
    shared: &Shared,
    parts: &Parts,
    body: Bytes,
    operation: Operation,
) -> Response {
    let targets = match &operation {
        Operation::TransactWrite(targets)
        | Operation::TransactGet(targets)
        | Operation::BatchWrite(targets) => targets.as_slice(),
        Operation::Write(target) => std::slice::from_ref(target),
    };
    let keys = shared.keys(parts, targets).await;
    let distinct = keys
        .as_ref()
        .is_some_and(|keys| keys.iter().collect::<HashSet<_>>().len() == keys.len());
    let keys = match keys {
        // DynamoDB refuses a transaction that names one item twice; let it say so.
        Some(keys) if distinct || matches!(operation, Operation::BatchWrite(_)) => keys,
        _ => {
            shared.core().count_unemulated();
            return respond(shared.forward(parts, body).await);
        }
    };
    // Each `Instant::now()` below is taken once the lock is held, so the rules see time
    // move forward.
    match operation {
        Operation::TransactWrite(targets) => {
            let slots: Vec<Slot> = targets
                .iter()
                .zip(keys)
                .map(|(target, key)| Slot {
                    key,
                    units: request::write_units(target.size, true),
                })
                .collect();
            let claim = match shared.core().begin_transaction(Instant::now(), &slots) {
                Ok(ticket) => Claim::new(shared, ticket, Kind::Transaction),
                Err(reasons) => return wire::cancelled(&reasons),
            };
            shared.wait_while_paused().await;
            let answer = shared.forward(parts, body).await;
            let ran = answer.as_ref().is_ok_and(Answer::ran_transaction);
            let _ = claim.finish(ran);
            respond(answer)
        }
        Operation::Write(target) => {
            let slot = Slot {
                key: keys.into_iter().next().expect("one key"),
                units: request::write_units(target.size, false),
            };
            let claim = match shared.core().begin_write(Instant::now(), slot) {
                Ok(ticket) => Claim::new(shared, ticket, Kind::Write),
                Err(Refusal::Conflict) => return wire::write_conflict(),
                Err(Refusal::Throttled) => {
                    let authorization = parts
                        .headers
                        .get(http::header::AUTHORIZATION)
                        .and_then(|value| value.to_str().ok());
                    return wire::throttled(wire::region(authorization), &target.table);
                }
            };
            shared.wait_while_paused().await;
            let answer = shared.forward(parts, body).await;
            let _ = claim.finish(true);
            respond(answer)
        }
        Operation::TransactGet(_) => {
            let claim = match shared.core().begin_transact_get(Instant::now(), keys) {
                Ok(ticket) => Claim::new(shared, ticket, Kind::Read),
                Err(reasons) => return wire::cancelled(&reasons),
            };
            shared.wait_while_paused().await;
            let answer = shared.forward(parts, body).await;
            match claim.finish(true) {
                Ok(()) => respond(answer),
                Err(reasons) => wire::cancelled(&reasons),
            }
        }
        Operation::BatchWrite(_) => {
            let claim = Claim::new(shared, shared.core().begin_batch_write(keys), Kind::Write);
            let answer = shared.forward(parts, body).await;
            let _ = claim.finish(true);
            respond(answer)
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Transaction,
    Write,
    Read,
}

/// What an admitted request claimed, given back when its answer is in, or when the caller
/// went away before (the handler's future dropped): a transaction then keeps its hold, as
/// DynamoDB may have run it.
struct Claim<'a> {
    shared: &'a Shared,
    ticket: Option<Ticket>,
    kind: Kind,
}

impl<'a> Claim<'a> {
    fn new(shared: &'a Shared, ticket: Ticket, kind: Kind) -> Self {
        Claim {
            shared,
            ticket: Some(ticket),
            kind,
        }
    }

    /// Gives the claim back; for a transactional read, whether a write overlapped it.
    fn finish(mut self, ran: bool) -> Result<(), Vec<Option<Refusal>>> {
        let ticket = self.ticket.take().expect("finished once");
        self.give_back(ticket, ran)
    }

    fn give_back(&self, ticket: Ticket, ran: bool) -> Result<(), Vec<Option<Refusal>>> {
        let mut core = self.shared.core();
        match self.kind {
            Kind::Transaction => {
                core.finish_transaction(Instant::now(), ticket, ran);
                Ok(())
            }
            Kind::Write => {
                core.finish_write(ticket);
                Ok(())
            }
            Kind::Read => core.finish_transact_get(ticket),
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let _ = self.give_back(ticket, true);
        }
    }
}
