use super::*;

#[tokio::test]
async fn two_transactions_on_one_item_one_commits_and_the_other_is_cancelled_on_that_slot() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let (pause, first) = held(
        &emulator,
        &client,
        vec![put(&table, "A"), bump(&table, "X")],
    )
    .await;
    let second = transact(
        &client,
        vec![put(&table, "B"), bump(&table, "X"), put(&table, "C")],
    )
    .await
    .expect_err("X is part of the first transaction");
    let reasons = reasons(second);
    assert_eq!(codes(&reasons), ["None", "TransactionConflict", "None"]);
    assert_eq!(reasons[1].message.as_deref(), Some(CONFLICT_MESSAGE));
    assert_eq!(reasons[0].message, None);
    pause.resume();
    first.await.expect("joined").expect("the first commits");

    assert_eq!(counter(&table, "X").await, Some(1));
    assert!(exists(&table, "A").await);
    assert!(!exists(&table, "B").await && !exists(&table, "C").await);
    let stats = emulator.stats();
    assert_eq!(stats.transactions, 2);
    assert_eq!(stats.transactions_cancelled_conflict, 1);
    assert_eq!(stats.hottest(1)[0].item, format!("{table} pk=X sk=ITEM"));
    assert_eq!(stats.hottest(1)[0].conflicts, 1);
    assert_eq!(stats.items.len(), 1);
}

#[tokio::test]
async fn concurrent_transactions_on_one_item_commit_exactly_once() {
    // Held far longer than the test runs: whichever is admitted first holds HOT for all others.
    let emulator = start(Settings::default().hold(Duration::from_secs(600))).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let mut all = JoinSet::new();
    for i in 0..16 {
        let (client, table) = (client.clone(), table.clone());
        all.spawn(async move {
            transact(
                &client,
                vec![put(&table, &format!("P{i}")), bump(&table, "HOT")],
            )
            .await
        });
    }
    let (mut committed, mut cancelled) = (0, 0);
    while let Some(result) = all.join_next().await {
        match result.expect("joined") {
            Ok(()) => committed += 1,
            Err(error) => {
                assert_eq!(codes(&reasons(error)), ["None", "TransactionConflict"]);
                cancelled += 1;
            }
        }
    }
    assert_eq!((committed, cancelled), (1, 15));
    assert_eq!(counter(&table, "HOT").await, Some(1));
    let stats = emulator.stats();
    assert_eq!(stats.transactions_cancelled_conflict, 15);
    assert_eq!(stats.hottest(1)[0].conflicts, 15);
}

#[tokio::test]
async fn transactions_on_disjoint_items_never_conflict() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    for round in 0..3 {
        let mut all = JoinSet::new();
        for i in 0..64 {
            let (client, table) = (client.clone(), table.clone());
            all.spawn(async move {
                let own = format!("R{round}-{i}");
                transact(
                    &client,
                    vec![
                        put(&table, &format!("{own}-order")),
                        bump(&table, &format!("{own}-stock")),
                        check(&table, &format!("{own}-config")),
                    ],
                )
                .await
            });
        }
        while let Some(result) = all.join_next().await {
            result
                .expect("joined")
                .expect("disjoint transactions commit");
        }
    }
    let stats = emulator.stats();
    assert_eq!(stats.transactions, 192);
    assert_eq!(stats.conflicts(), 0);
    assert!(stats.items.is_empty());
    // Three items under 1 KB each, 2 units each in a transaction.
    assert_eq!(stats.write_units, 192 * 3 * 2);
}

#[tokio::test]
async fn a_condition_check_holds_its_item_like_a_write() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    // A transaction that only checks X: X is part of it all the same.
    let (pause, checking) = held(
        &emulator,
        &client,
        vec![check(&table, "X"), put(&table, "A")],
    )
    .await;
    let error = transact(&client, vec![bump(&table, "X")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["TransactionConflict"]);
    pause.resume();
    checking.await.expect("joined").expect("the check passes");

    // And a ConditionCheck on an item another transaction holds is cancelled.
    let (pause, writing) = held(&emulator, &client, vec![bump(&table, "Y")]).await;
    let error = transact(&client, vec![put(&table, "Z"), check(&table, "Y")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["None", "TransactionConflict"]);
    pause.resume();
    writing.await.expect("joined").expect("the write commits");
    assert!(!exists(&table, "Z").await);
    assert_eq!(emulator.stats().transactions_cancelled_conflict, 2);
}
