use super::*;

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
