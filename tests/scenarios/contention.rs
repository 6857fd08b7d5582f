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

/// No item or index partition every order touches: orders that share no SKU, code or customer
/// never conflict, however many commit at once (the pricing configuration is checked through
/// the revision stamped on each product's items, not on one item).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_that_share_nothing_never_conflict() {
    let app = App::start(Backend::DynamoDb).await;
    let mut carts = Vec::new();
    for i in 0..24 {
        let sku = format!("DISJOINT-{i}");
        product(&app, &sku, 5, 1).await;
        carts.push(paid_cart(&app, &sku, 1).await);
    }
    let (through, emulator) = app
        .contended(Settings::default().hold(HOLD), Limits::default())
        .await;
    let answers = commit_all(&through, carts).await;
    assert_eq!(created(&answers), 24);
    let stats = emulator.stats();
    assert!(stats.transactions >= 24, "{stats:?}");
    assert_eq!(
        stats.transactions_cancelled_conflict,
        0,
        "hottest items: {:?}",
        stats.hottest(5)
    );
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

/// The pricing configuration's items as stored: replica 0 (`CONFIG`) and `CONFIG#<k>`.
async fn config_replicas(app: &App) -> Vec<RawItem> {
    raw_items(app, "CONFIG", "PRICING").await
}

fn revision(item: &HashMap<String, AttributeValue>) -> String {
    item["revision"].as_n().expect("a number").clone()
}

/// Every cart request reads the pricing configuration, so no one item may serve all those
/// reads (a partition gives 3,000 strongly consistent reads a second): the configuration
/// is kept on 32 replicas, written in one transaction, and each read takes one at random.
/// A table written before the replicas (replica 0 alone) still reads right.
#[tokio::test]
async fn the_pricing_configuration_is_read_from_replicas_written_together() {
    let app = App::start(Backend::DynamoDb).await;
    let seeded = config_replicas(&app).await;
    assert_eq!(seeded.len(), 32);
    let first = revision(&seeded[0]);
    assert!(seeded.iter().all(|item| revision(item) == first));

    // An administrator's change reaches every replica at once, contents and revision.
    let catalog: Value = checkout_tests::serde_json::from_str(checkout_tests::CATALOG).unwrap();
    let mut config = catalog["config"].clone();
    config["minOrderValue"] = json!({"EUR": 4242});
    let changed = app.admin().put("/admin/config", config).await;
    changed.assert_status(StatusCode::OK);
    let replicas = config_replicas(&app).await;
    assert_eq!(replicas.len(), 32);
    let strip = |item: &HashMap<String, AttributeValue>| {
        let mut item = item.clone();
        item.remove("pk");
        item
    };
    for replica in &replicas {
        assert_eq!(strip(replica), strip(&replicas[0]));
        assert_eq!(revision(replica), changed.body["revision"].to_string());
        assert_ne!(revision(replica), first);
    }

    // Marked one by one behind the store's back, the replicas show that reads spread: 64
    // reads answered by fewer than 8 of 32 replicas has a chance below 1e-30.
    for (k, replica) in replicas.iter().enumerate() {
        let mark = AttributeValue::N((1000 + k).to_string());
        update_raw(&app, replica, "SET revision = :v", Some(mark)).await;
    }
    let mut answered = HashSet::new();
    for _ in 0..64 {
        answered.insert(app.store.config().await.expect("reads").revision);
    }
    assert!(answered.len() >= 8, "answered by {answered:?}");

    // A table from before the replicas: only replica 0, which then answers every read.
    for replica in &replicas {
        if replica["pk"] != AttributeValue::S("CONFIG".into()) {
            delete_raw(&app, replica).await;
        }
    }
    let legacy = revision(&config_replicas(&app).await[0])
        .parse::<u64>()
        .unwrap();
    for _ in 0..16 {
        assert_eq!(app.store.config().await.expect("reads").revision, legacy);
    }
    // The next change writes every replica again.
    app.admin()
        .put("/admin/config", catalog["config"].clone())
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(config_replicas(&app).await.len(), 32);
}

/// A sale's code on every order: a code without a redemption limit is checked on one of its
/// replicas at random and written by no order, so two orders using it (and nothing else in
/// common) are in flight at once. With the code on one item the second would be cancelled
/// for a conflict until its budget ran out and answer `Contended`.
#[tokio::test]
async fn orders_sharing_an_unlimited_code_commit_side_by_side() {
    let app = App::start(Backend::DynamoDb).await;
    app.admin()
        .put(
            "/admin/discount-codes/EVERYONE",
            json!({"kind": "percentage", "value": 1000}),
        )
        .await
        .assert_status(StatusCode::OK);
    product(&app, "FIRST", 5, 1).await;
    product(&app, "SECOND", 5, 1).await;
    let (first, first_cart) = paid_cart_with(&app, "FIRST", 1, Some("EVERYONE")).await;
    let (second, second_cart) = paid_cart_with(&app, "SECOND", 1, Some("EVERYONE")).await;
    let (through, emulator) = app
        .contended(Settings::default().hold(HOLD), Limits::default())
        .await;
    let pause = emulator.pause();
    let first = first.on(&through);
    let first =
        tokio::spawn(async move { first.post("/orders", order_request(&first_cart)).await });
    pause.parked(1).await;
    // The first order's transaction is with DynamoDB, holding its items, code replica included.
    let second = second.on(&through);
    let mut second =
        tokio::spawn(async move { second.post("/orders", order_request(&second_cart)).await });
    tokio::select! {
        _ = pause.parked(2) => {}
        answer = &mut second => panic!("the second order never got in beside the first: {:?}",
            answer.map(|a| a.body)),
    }
    pause.resume();
    first.await.unwrap().assert_status(StatusCode::CREATED);
    second.await.unwrap().assert_status(StatusCode::CREATED);
    for item in &emulator.stats().items {
        assert!(
            item.item.contains("DISCOUNT#EVERYONE"),
            "only a code replica may have met a conflict: {item:?}"
        );
    }
}

/// A limited code spreads its redemptions over its 32 copies like stock over shards: two
/// orders redeeming it (and sharing nothing else) are in flight at once, each counted on a
/// copy with room.
#[tokio::test]
async fn orders_sharing_a_limited_code_commit_side_by_side() {
    let app = App::start(Backend::DynamoDb).await;
    app.admin()
        .put(
            "/admin/discount-codes/FIRST100",
            json!({"kind": "percentage", "value": 1000, "maxRedemptions": 100}),
        )
        .await
        .assert_status(StatusCode::OK);
    product(&app, "FIRST", 5, 1).await;
    product(&app, "SECOND", 5, 1).await;
    let (first, first_cart) = paid_cart_with(&app, "FIRST", 1, Some("FIRST100")).await;
    let (second, second_cart) = paid_cart_with(&app, "SECOND", 1, Some("FIRST100")).await;
    let (through, emulator) = app
        .contended(Settings::default().hold(HOLD), Limits::default())
        .await;
    let pause = emulator.pause();
    let first = first.on(&through);
    let first =
        tokio::spawn(async move { first.post("/orders", order_request(&first_cart)).await });
    pause.parked(1).await;
    // The first order's transaction holds its items, one copy of the code among them; the
    // second redeems on another copy (or, meeting the same one, on another after a retry).
    let second = second.on(&through);
    let mut second =
        tokio::spawn(async move { second.post("/orders", order_request(&second_cart)).await });
    tokio::select! {
        _ = pause.parked(2) => {}
        answer = &mut second => panic!("the second order never got in beside the first: {:?}",
            answer.map(|a| a.body)),
    }
    pause.resume();
    first.await.unwrap().assert_status(StatusCode::CREATED);
    second.await.unwrap().assert_status(StatusCode::CREATED);
    assert_eq!(app.redemptions("FIRST100").await, 2);
    let counted: Vec<i64> = raw_items(&app, "DISCOUNT#FIRST100", "DISCOUNT")
        .await
        .iter()
        .filter_map(|item| item.get("redemptions")?.as_n().ok()?.parse().ok())
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(counted, [1, 1], "one redemption on each of two copies");
}

/// Ten paid carts race for a code of four redemptions: four orders carry it, the other six
/// are told it no longer applies, and no copy ever counts past its quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limited_code_is_never_redeemed_past_its_limit() {
    let app = App::start(Backend::DynamoDb).await;
    app.admin()
        .put(
            "/admin/discount-codes/FOUR",
            json!({"kind": "percentage", "value": 1000, "maxRedemptions": 4}),
        )
        .await
        .assert_status(StatusCode::OK);
    product(&app, "PLENTY", 100, 8).await;
    let mut carts = Vec::new();
    for _ in 0..10 {
        carts.push(paid_cart_with(&app, "PLENTY", 1, Some("FOUR")).await);
    }
    let (through, _emulator) = app
        .contended(Settings::default().hold(HOLD), Limits::default())
        .await;
    let commits: Vec<_> = carts
        .into_iter()
        .map(|(guest, cart)| {
            let guest = guest.on(&through);
            // As a storefront does: `Contended` (nothing written) is asked again, a few times.
            tokio::spawn(async move {
                let mut answer = guest.post("/orders", order_request(&cart)).await;
                for _ in 0..20 {
                    if answer.status != StatusCode::SERVICE_UNAVAILABLE {
                        break;
                    }
                    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "Contended");
                    answer = guest.post("/orders", order_request(&cart)).await;
                }
                answer
            })
        })
        .collect();
    let mut created = 0;
    for commit in commits {
        let answer = commit.await.unwrap();
        match answer.status {
            StatusCode::CREATED => created += 1,
            _ => {
                answer.assert_problem(StatusCode::CONFLICT, "DiscountCodeNonApplicable");
            }
        }
    }
    assert_eq!(created, 4);
    assert_eq!(app.redemptions("FOUR").await, 4);
    for item in raw_items(&app, "DISCOUNT#FOUR", "DISCOUNT").await {
        let number = |name: &str| -> i64 {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        assert!(number("redemptions") <= number("quota"), "{item:?}");
    }
}

/// A limited code from before the spread (its count on its own item, no quotas): its next
/// read deals the redemptions left over the copies, and the count stays what it was.
#[tokio::test]
async fn a_limited_code_from_before_the_spread_is_dealt_out_on_its_next_read() {
    let app = App::start(Backend::DynamoDb).await;
    app.admin()
        .put(
            "/admin/discount-codes/LEGACY",
            json!({"kind": "percentage", "value": 1000, "maxRedemptions": 40}),
        )
        .await
        .assert_status(StatusCode::OK);
    // As an older version stored it: three redemptions on the code's own item, no quotas.
    for item in raw_items(&app, "DISCOUNT#LEGACY", "DISCOUNT").await {
        let own = item["pk"] == AttributeValue::S("DISCOUNT#LEGACY".into());
        let count = if own { "3" } else { "0" };
        update_raw(
            &app,
            &item,
            "SET redemptions = :v REMOVE quota",
            Some(AttributeValue::N(count.into())),
        )
        .await;
    }
    assert_eq!(app.redemptions("LEGACY").await, 3, "read as it stood");
    let quotas: i64 = raw_items(&app, "DISCOUNT#LEGACY", "DISCOUNT")
        .await
        .iter()
        .map(|item| item["quota"].as_n().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(quotas, 40, "dealt out: the quotas add up to the limit");
    assert_eq!(app.redemptions("LEGACY").await, 3);
}

/// A code stored before the replicas existed (its own item alone) still prices and commits:
/// the commit's check of a replica that is not there is refused as a changed code, the
/// re-pricing reads the code's own item and writes its replicas, and the order commits as
/// priced.
#[tokio::test]
async fn a_code_from_before_the_replicas_gets_them_and_its_orders_commit() {
    let app = App::start(Backend::DynamoDb).await;
    app.admin()
        .put(
            "/admin/discount-codes/OLDTIMER",
            json!({"kind": "percentage", "value": 1000}),
        )
        .await
        .assert_status(StatusCode::OK);
    product(&app, "VINTAGE", 5, 1).await;
    let (guest, cart) = paid_cart_with(&app, "VINTAGE", 1, Some("OLDTIMER")).await;
    let code_items = || raw_items(&app, "DISCOUNT#OLDTIMER", "DISCOUNT");
    assert_eq!(code_items().await.len(), 32);
    // Back to how an older version stored it: one item, no replicas.
    for item in code_items().await {
        if item["pk"] == AttributeValue::S("DISCOUNT#OLDTIMER".into()) {
            update_raw(&app, &item, "REMOVE replicas", None).await;
        } else {
            delete_raw(&app, &item).await;
        }
    }
    assert_eq!(code_items().await.len(), 1);

    let order = guest.post("/orders", order_request(&cart)).await;
    order.assert_status(StatusCode::CREATED);
    assert_eq!(
        order.body["discountCodes"][0]["code"], "OLDTIMER",
        "{:#}",
        order.body
    );
    let items = code_items().await;
    assert_eq!(items.len(), 32);
    assert!(items.iter().all(|item| item["value"] == items[0]["value"]));
}

/// A drop: one SKU spread over 8 shards, 40 buyers for 20 units at once. Every unit is sold
/// exactly once, the rest are told `OutOfStock`, and the total is what every read shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sharded_drop_sells_every_unit_exactly_once() {
    let app = App::start(Backend::DynamoDb).await;
    product(&app, "DROP", 20, 8).await;
    let mut carts = Vec::new();
    for _ in 0..40 {
        carts.push(paid_cart(&app, "DROP", 1).await);
    }
    let (through, emulator) = app
        .contended(Settings::default().hold(HOLD), Limits::default())
        .await;
    let answers = commit_all(&through, carts).await;
    assert_eq!(created(&answers), 20, "every unit sold");
    for refused in answers.iter().filter(|a| a.status != StatusCode::CREATED) {
        refused.assert_problem(StatusCode::CONFLICT, "OutOfStock");
    }
    let shown = app.admin().get("/admin/products/DROP").await;
    assert_eq!(
        shown.body["stock"], 0,
        "none oversold, none left: {:#}",
        shown.body
    );
    assert_eq!(shown.body["stockShards"], 8);
    assert!(emulator.stats().transactions > 20);
}

/// Changing the shard count keeps the total; restocks, sales and a sold-out mark all read as
/// one total.
#[tokio::test]
async fn shards_keep_the_total_through_resharding_sales_and_restocks() {
    let app = App::start(Backend::DynamoDb).await;
    product(&app, "SPREAD", 10, 1).await;
    let reshard = |shards: u32| {
        json!({"name": "SPREAD", "prices": {"EUR": 1000},
                                       "taxCategory": "standard", "stockShards": shards})
    };
    let admin = app.admin();
    let wide = admin.put("/admin/products/SPREAD", reshard(7)).await;
    assert_eq!(
        (wide.body["stock"].clone(), wide.body["stockShards"].clone()),
        (json!(10), json!(7))
    );
    let (guest, cart) = paid_cart(&app, "SPREAD", 4).await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    let narrow = admin.put("/admin/products/SPREAD", reshard(3)).await;
    assert_eq!(narrow.body["stock"], 6);
    let mut restock = reshard(3);
    restock["stockDelta"] = json!(5);
    assert_eq!(
        admin.put("/admin/products/SPREAD", restock).await.body["stock"],
        11
    );
    let shown = admin.get("/admin/products/SPREAD").await;
    assert_eq!(
        (
            shown.body["stock"].clone(),
            shown.body["stockShards"].clone()
        ),
        (json!(11), json!(3))
    );
}

/// Buyers who come after the sell-out cost a read, not a transaction: the first buyer to find
/// every shard empty marks the SKU sold out on its own item.
#[tokio::test]
async fn buyers_after_the_sell_out_cause_no_transaction() {
    let app = App::start(Backend::DynamoDb).await;
    product(&app, "GONE", 2, 4).await;
    let first = paid_cart(&app, "GONE", 2).await;
    let late = paid_cart(&app, "GONE", 1).await;
    let (later, mut later_cart) = paid_cart(&app, "GONE", 1).await;
    let (through, emulator) = app
        .contended(Settings::default().hold(HOLD), Limits::default())
        .await;
    assert_eq!(created(&commit_all(&through, vec![first]).await), 1);
    // Priced before the sell-out: its commit finds the shards empty and marks the SKU.
    commit_all(&through, vec![late]).await[0].assert_problem(StatusCode::CONFLICT, "OutOfStock");
    let shown = app.admin().get("/admin/products/GONE").await;
    assert_eq!(
        (shown.body["stock"].clone(), shown.body["soldOut"].clone()),
        (json!(0), json!(true))
    );
    // Priced again after it (any edit reprices): its commit reads the mark and writes nothing.
    later
        .update(
            &mut later_cart,
            json!([{"action": "setGuestDetails", "email": "later@example.com",
                    "name": "Late Buyer", "phone": "+49 30 1234567"}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let before = emulator.stats().transactions;
    commit_all(&through, vec![(later, later_cart)]).await[0]
        .assert_problem(StatusCode::CONFLICT, "OutOfStock");
    assert_eq!(
        emulator.stats().transactions,
        before,
        "no transaction for a sold-out SKU"
    );
    // A new cart cannot even add it; a restock clears the mark.
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(&mut cart, ready_actions(&[("GONE", 1)]))
        .await
        .assert_problem(StatusCode::CONFLICT, "OutOfStock");
    let restock = json!({"name": "GONE", "prices": {"EUR": 1000}, "taxCategory": "standard",
                         "stockDelta": 3});
    let shown = app.admin().put("/admin/products/GONE", restock).await;
    shown.assert_status(StatusCode::OK);
    assert_eq!(
        (shown.body["stock"].clone(), shown.body["soldOut"].clone()),
        (json!(3), json!(false))
    );
}

/// Contention that outlasts the retry budget is a 503 `Contended` with `Retry-After`, never a
/// request "in progress", and nothing is half written: another transaction holds the SKU's
/// one stock item for longer than the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contention_beyond_the_budget_is_contended_and_writes_nothing() {
    let app = App::start(Backend::DynamoDb).await;
    let (holder, holder_cart) = paid_cart(&app, "MUG", 1).await;
    let (buyer, buyer_cart) = paid_cart(&app, "MUG", 1).await;
    let short = Limits {
        contention_budget: Duration::from_millis(300),
        ..Limits::default()
    };
    let (through, emulator) = app.contended(Settings::default().hold(HOLD), short).await;
    let pause = emulator.pause();
    let holder = holder.on(&through);
    let first =
        tokio::spawn(async move { holder.post("/orders", order_request(&holder_cart)).await });
    pause.parked(1).await;
    let refused = buyer
        .on(&through)
        .post("/orders", order_request(&buyer_cart))
        .await;
    assert_eq!(
        refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "Contended")["recovery"],
        "retry_later"
    );
    assert!(refused.headers.contains_key("retry-after"));
    pause.resume();
    first.await.unwrap().assert_status(StatusCode::CREATED);
    // The refused buyer's cart is as it was, and the stock went to the first buyer only.
    let (stored, order) = app.stored(&buyer_cart).await;
    assert!(order.is_none());
    assert_eq!(stored.version, buyer_cart.version);
    assert_eq!(app.stock("MUG").await, 99);
    // Retried once the hold is gone, it commits.
    buyer
        .on(&through)
        .post("/orders", order_request(&buyer_cart))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.stock("MUG").await, 98);
}
