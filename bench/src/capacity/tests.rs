use serde_json::json;

use super::sizer::{table_of, write_targets};
use super::*;

fn map(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn write(action: Action, before: Option<Value>, after: Option<Value>) -> ItemWrite {
    ItemWrite {
        action,
        key: map(json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}})),
        before: before.map(map),
        after: after.map(map),
    }
}

#[test]
fn items_round_up_per_kb_and_double_in_a_transaction() {
    // 2 + 6 + 2 + 4 + 1 + 1000 = 1015 bytes: one KB.
    let small = json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "d": {"S": "x".repeat(1000)}});
    // 1030 bytes: two.
    let large = json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "d": {"S": "x".repeat(1015)}});
    let put = write(Action::Put, None, Some(small.clone()));
    let grown = write(Action::Update, Some(small.clone()), Some(large.clone()));
    let shrunk = write(Action::Update, Some(large.clone()), Some(small.clone()));
    let check = write(Action::Check, None, None);
    let computed = units(
        &[
            Write {
                operation: "TransactWriteItems".into(),
                transactional: true,
                items: vec![put.clone(), grown, shrunk, check],
            },
            Write {
                operation: "PutItem".into(),
                transactional: false,
                items: vec![put],
            },
        ],
        &[],
    );
    // 2 + 4 + 4 (the larger of before and after) + 2 (a check of a missing item: 1 KB), then 1.
    assert_eq!(computed.table_write_units, 2 + 4 + 4 + 2 + 1);
    assert_eq!(computed.index_total(), 0);
}

#[test]
fn index_writes_follow_the_entry_not_the_item() {
    let keys = |gsi: Option<&str>| {
        let mut item =
            json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "big": {"S": "x".repeat(3000)}});
        if let Some(value) = gsi {
            item["gsi2pk"] = json!({"S": value});
            item["gsi2sk"] = json!({"S": "0001"});
        }
        item
    };
    let enters = write(
        Action::Update,
        Some(keys(None)),
        Some(keys(Some("SWEEP#CART#3"))),
    );
    let leaves = write(
        Action::Update,
        Some(keys(Some("SWEEP#CART#3"))),
        Some(keys(None)),
    );
    let moves = write(
        Action::Update,
        Some(keys(Some("SWEEP#CART#3"))),
        Some(keys(Some("SWEEP#ORDER#3"))),
    );
    let stays = write(
        Action::Update,
        Some(keys(Some("SWEEP#CART#3"))),
        Some(keys(Some("SWEEP#CART#3"))),
    );
    let never = write(Action::Update, Some(keys(None)), Some(keys(None)));
    assert_eq!(index_units(&enters, "gsi2pk", "gsi2sk"), 1);
    assert_eq!(index_units(&leaves, "gsi2pk", "gsi2sk"), 1);
    assert_eq!(index_units(&moves, "gsi2pk", "gsi2sk"), 2);
    assert_eq!(index_units(&stays, "gsi2pk", "gsi2sk"), 0);
    assert_eq!(index_units(&never, "gsi2pk", "gsi2sk"), 0);
    assert_eq!(index_units(&enters, "gsi1pk", "gsi1sk"), 0);
    // The item is 3 KB, its entry under 1: the table takes 3 units per write, the index 1.
    let computed = units(
        &[Write {
            operation: "UpdateItem".into(),
            transactional: false,
            items: vec![enters],
        }],
        &[],
    );
    assert_eq!(
        (
            computed.table_write_units,
            computed.index_write_units["gsi2"]
        ),
        (3, 1)
    );
}

#[test]
fn reads_round_per_4_kb_and_halve_when_eventually_consistent() {
    assert_eq!(read_units(100, true, false), 1.0);
    assert_eq!(read_units(100, false, false), 0.5);
    assert_eq!(read_units(4097, true, false), 2.0);
    assert_eq!(read_units(100, true, true), 2.0);
    let item = |pk: &str| map(json!({"pk": {"S": pk}, "sk": {"S": "X"}}));
    let computed = units(
        &[],
        &[
            Read {
                operation: "BatchGetItem".into(),
                consistent: false,
                items: vec![item("A"), item("B")],
            },
            Read {
                operation: "Query".into(),
                consistent: true,
                items: vec![item("C"), item("D")],
            },
        ],
    );
    // Two items at 0.5 each; a query's items summed, then rounded: 1.
    assert_eq!(computed.read_units, 2.0);
    assert_eq!(computed.reads_by_item["A/X"], 0.5);
}

#[test]
fn targets_of_a_transaction_in_order() {
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "1"}, "x": {"N": "1"}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "B"}, "sk": {"S": "2"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "C"}, "sk": {"S": "3"}}}}]});
    let targets = write_targets("TransactWriteItems", &body);
    assert_eq!(
        targets
            .iter()
            .map(|(a, k)| (*a, key_name(k)))
            .collect::<Vec<_>>(),
        vec![
            (Action::Put, "A/1".into()),
            (Action::Update, "B/2".into()),
            (Action::Check, "C/3".into())
        ]
    );
    assert_eq!(table_of("TransactWriteItems", &body).as_deref(), Some("t"));
    assert_eq!(
        kind(&map(
            json!({"pk": {"S": "PRODUCT#DROP#3"}, "sk": {"S": "STOCK"}})
        )),
        "PRODUCT/STOCK"
    );
}
