//! Sale-proof (rule 12), under DynamoDB's own transaction-conflict rule: each scenario sets the
//! scene on DynamoDB Local directly, then races through the contention emulator
//! (`tools/ddb-contention`), which holds every transaction's items for its round trip plus a
//! hold time and cancels what overlaps them, as DynamoDB does. DynamoDB Local alone never
//! conflicts, so these run on the DynamoDB backend only.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use checkout_domain::model::limits::Limits;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{order_request, ready_actions, App, Backend, CartRef, Client, TestResponse};
use ddb_contention::Settings;
use http::StatusCode;

/// A transaction's items stay held for its round trip plus this (DynamoDB's hold, measured
/// by the bench).
const HOLD: Duration = Duration::from_millis(20);

async fn product(app: &App, sku: &str, stock: u32, shards: u32) {
    app.admin()
        .put(
            &format!("/admin/products/{sku}"),
            json!({"name": sku, "prices": {"EUR": 1000}, "stock": stock,
                   "taxCategory": "standard", "stockShards": shards}),
        )
        .await
        .assert_status(StatusCode::OK);
}

/// A guest cart ready to order `quantity` of `sku`, paid in full, with an email of its own
/// (orders by one email check one customer record: they share an item).
async fn paid_cart(app: &App, sku: &str, quantity: u32) -> (Client, CartRef) {
    paid_cart_with(app, sku, quantity, None).await
}

/// [`paid_cart`], with the discount code `code` when given.
async fn paid_cart_with(
    app: &App,
    sku: &str,
    quantity: u32,
    code: Option<&str>,
) -> (Client, CartRef) {
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = ready_actions(&[(sku, quantity)]);
    let list = actions.as_array_mut().unwrap();
    list.push(json!({"action": "setGuestDetails",
        "email": format!("buyer-{}@example.com", cart.id), "name": "Ada Lovelace",
        "phone": "+49 30 1234567"}));
    if let Some(code) = code {
        list.push(json!({"action": "addDiscountCode", "code": code}));
    }
    guest
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    (guest, cart)
}

/// Commits every cart at once through `through`; a `Contended` answer is tried again, as a
/// client told `Retry-After` would. The final answers.
async fn commit_all(through: &App, carts: Vec<(Client, CartRef)>) -> Vec<TestResponse> {
    let tasks: Vec<_> = carts
        .into_iter()
        .map(|(client, cart)| {
            let client = client.on(through);
            tokio::spawn(async move {
                loop {
                    let answer = client.post("/orders", order_request(&cart)).await;
                    if answer.body["code"] != "Contended" {
                        return answer;
                    }
                    assert!(answer.headers.contains_key("retry-after"));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn created(answers: &[TestResponse]) -> usize {
    answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count()
}

type RawItem = HashMap<String, AttributeValue>;

/// The items of the app's table whose `pk` starts with `prefix` and `sk` is `sk`, read
/// behind the store's back.
async fn raw_items(app: &App, prefix: &str, sk: &str) -> Vec<RawItem> {
    let dynamo = app.dynamo.as_ref().expect("a DynamoDB backend");
    let page = dynamo
        .client()
        .scan()
        .table_name(dynamo.table())
        .filter_expression("begins_with(pk, :prefix) AND sk = :sk")
        .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()))
        .expression_attribute_values(":sk", AttributeValue::S(sk.into()))
        .send()
        .await
        .expect("scan the table");
    assert!(page.last_evaluated_key().is_none(), "one page");
    page.items().to_vec()
}

fn key_of(item: &RawItem) -> RawItem {
    let mut key = item.clone();
    key.retain(|name, _| name == "pk" || name == "sk");
    key
}

/// Deletes `item` behind the store's back.
async fn delete_raw(app: &App, item: &RawItem) {
    let dynamo = app.dynamo.as_ref().expect("a DynamoDB backend");
    dynamo
        .client()
        .delete_item()
        .table_name(dynamo.table())
        .set_key(Some(key_of(item)))
        .send()
        .await
        .expect("delete the item");
}

/// Updates `item` with `update` (and `:v` = `value`) behind the store's back.
async fn update_raw(app: &App, item: &RawItem, update: &str, value: Option<AttributeValue>) {
    let dynamo = app.dynamo.as_ref().expect("a DynamoDB backend");
    dynamo
        .client()
        .update_item()
        .table_name(dynamo.table())
        .set_key(Some(key_of(item)))
        .update_expression(update)
        .set_expression_attribute_values(value.map(|v| HashMap::from([(":v".to_string(), v)])))
        .send()
        .await
        .expect("update the item");
}

mod codes;
mod hot_items;
mod stock;
