use super::*;
use serde_json::json;

fn key(pk: &str) -> ItemKey {
    let key = json!({"pk": {"S": pk}});
    ItemKey::new("t", key.as_object().unwrap())
}

fn slot(pk: &str) -> Slot {
    Slot {
        key: key(pk),
        units: 2,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn an_item_of_an_ongoing_transaction_cancels_the_next_on_that_slot_only() {
    let t0 = Instant::now();
    let mut core = Core::new(ms(20), None);
    let first = core.begin_transaction(t0, &[slot("a"), slot("b")]).unwrap();
    let refused = core
        .begin_transaction(t0, &[slot("c"), slot("b"), slot("d")])
        .unwrap_err();
    assert_eq!(refused, [None, Some(Refusal::Conflict), None]);
    // The refused one holds nothing: c and d are free.
    assert!(core.begin_transaction(t0, &[slot("c"), slot("d")]).is_ok());
    core.finish_transaction(t0 + ms(5), first, true);
    // Held until the answer plus the hold time, then free.
    assert!(core.begin_transaction(t0 + ms(24), &[slot("b")]).is_err());
    assert!(core.begin_transaction(t0 + ms(25), &[slot("b")]).is_ok());
    let stats = core.stats(t0);
    assert_eq!(stats.transactions, 5);
    assert_eq!(stats.transactions_cancelled_conflict, 2);
    assert_eq!(stats.items[0].item, "t pk=b");
    assert_eq!(stats.items[0].conflicts, 2);
}

#[test]
fn held_from_acceptance_an_item_is_free_after_the_hold_however_slow_the_answer() {
    let t0 = Instant::now();
    let mut core = Core::new(ms(20), None).hold_from(HoldFrom::Acceptance);
    let slow = core.begin_transaction(t0, &[slot("a")]).unwrap();
    assert!(core.begin_transaction(t0 + ms(19), &[slot("a")]).is_err());
    // Still with DynamoDB Local (queued behind others), but DynamoDB would be done.
    let next = core.begin_transaction(t0 + ms(20), &[slot("a")]).unwrap();
    // The slow one's answer (during the next one's hold) neither ends it nor extends it.
    core.finish_transaction(t0 + ms(30), slow, true);
    assert!(core.is_held(t0 + ms(39), &key("a")));
    assert!(!core.is_held(t0 + ms(40), &key("a")));
    core.finish_transaction(t0 + ms(500), next, true);
    assert!(!core.is_held(t0 + ms(500), &key("a")));
    // A request DynamoDB refused outright gives its items back at once.
    let refused = core.begin_transaction(t0 + ms(600), &[slot("b")]).unwrap();
    core.finish_transaction(t0 + ms(601), refused, false);
    assert!(!core.is_held(t0 + ms(601), &key("b")));
}

#[test]
fn a_plain_write_on_a_held_item_conflicts_and_a_free_one_passes() {
    let t0 = Instant::now();
    let mut core = Core::new(ms(0), None);
    let transaction = core.begin_transaction(t0, &[slot("a")]).unwrap();
    assert_eq!(
        core.begin_write(t0, slot("a")).unwrap_err(),
        Refusal::Conflict
    );
    let write = core.begin_write(t0, slot("b")).unwrap();
    core.finish_write(write);
    // With no hold time the item is free as soon as the answer is in.
    core.finish_transaction(t0, transaction, true);
    assert!(core.begin_write(t0, slot("a")).is_ok());
    assert_eq!(core.stats(t0).write_conflicts, 1);
}

#[test]
fn a_request_dynamodb_refused_outright_releases_at_once() {
    let t0 = Instant::now();
    let mut core = Core::new(ms(1000), None);
    let transaction = core.begin_transaction(t0, &[slot("a")]).unwrap();
    core.finish_transaction(t0, transaction, false);
    assert!(!core.is_held(t0, &key("a")));
}

#[test]
fn a_transactional_read_conflicts_with_writes_before_and_during_it() {
    let t0 = Instant::now();
    let mut core = Core::new(ms(0), None);
    let write = core.begin_write(t0, slot("a")).unwrap();
    assert_eq!(
        core.begin_transact_get(t0, vec![key("b"), key("a")])
            .unwrap_err(),
        [None, Some(Refusal::Conflict)]
    );
    core.finish_write(write);
    let read = core
        .begin_transact_get(t0, vec![key("a"), key("b")])
        .unwrap();
    // A transaction may write b while the read is with DynamoDB; the read then fails.
    let transaction = core.begin_transaction(t0, &[slot("b")]).unwrap();
    assert_eq!(
        core.finish_transact_get(read).unwrap_err(),
        [None, Some(Refusal::Conflict)]
    );
    core.finish_transaction(t0, transaction, true);
    let read = core.begin_transact_get(t0, vec![key("a")]).unwrap();
    assert!(core.finish_transact_get(read).is_ok());
    assert_eq!(core.stats(t0).transact_gets_cancelled_conflict, 2);
}

#[test]
fn the_throttle_refills_at_its_rate_and_a_refused_transaction_costs_nothing() {
    let t0 = Instant::now();
    let throttle = Throttle {
        units: 4,
        per: Duration::from_secs(1),
    };
    let mut core = Core::new(ms(0), Some(throttle));
    let small = |pk| Slot {
        key: key(pk),
        units: 1,
    };
    for _ in 0..4 {
        let write = core.begin_write(t0, small("a")).unwrap();
        core.finish_write(write);
    }
    assert_eq!(
        core.begin_write(t0, small("a")).unwrap_err(),
        Refusal::Throttled
    );
    // One unit back after a quarter second.
    let t1 = t0 + ms(250);
    let refused = core
        .begin_transaction(t1, &[slot("b"), slot("a")])
        .unwrap_err();
    assert_eq!(refused, [None, Some(Refusal::Throttled)]);
    // b was not charged for the refused transaction: its full 4 units remain.
    let transaction = core.begin_transaction(
        t1,
        &[Slot {
            key: key("b"),
            units: 4,
        }],
    );
    assert!(transaction.is_ok());
    assert!(core.begin_write(t1, small("a")).is_ok());
    let stats = core.stats(t0);
    assert_eq!(stats.throttles, 2);
    assert_eq!(stats.write_units, 4 + 4 + 1);
}
