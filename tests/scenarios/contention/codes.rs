use super::*;

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
