use super::*;

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
