use super::*;

#[tokio::test]
async fn a_plain_write_on_a_held_item_fails_with_transaction_conflict_exception() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let (pause, holding) = held(&emulator, &client, vec![bump(&table, "X")]).await;

    let put = client
        .put_item()
        .table_name(&table)
        .set_item(Some(item("X", 10)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let PutItemError::TransactionConflictException(conflict) = put else {
        panic!("expected TransactionConflictException, got {put:?}");
    };
    assert_eq!(conflict.message.as_deref(), Some(CONFLICT_MESSAGE));
    let update = client
        .update_item()
        .table_name(&table)
        .set_key(Some(key("X")))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("v"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        update,
        UpdateItemError::TransactionConflictException(_)
    ));
    let delete = client
        .delete_item()
        .table_name(&table)
        .set_key(Some(key("X")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        delete,
        DeleteItemError::TransactionConflictException(_)
    ));

    // Reads are not blocked (the last committed value: none yet).
    let read = client
        .get_item()
        .table_name(&table)
        .set_key(Some(key("X")))
        .consistent_read(true)
        .send()
        .await
        .expect("a read passes");
    assert!(read.item.is_none());
    // A write on another item is admitted (it waits behind the pause like the transaction).
    let other = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(item("Y", 10)))
                .send()
                .await
        })
    };
    pause.parked(2).await;

    pause.resume();
    holding
        .await
        .expect("joined")
        .expect("the transaction commits");
    other
        .await
        .expect("joined")
        .expect("a free item is written");
    assert_eq!(counter(&table, "X").await, Some(1));
    let stats = emulator.stats();
    assert_eq!((stats.writes, stats.write_conflicts), (4, 3));
    assert_eq!(stats.hottest(1)[0].conflicts, 3);
}

#[tokio::test]
async fn after_the_hold_ends_the_item_is_free_again() {
    let hold = Duration::from_millis(1000);
    let emulator = start(Settings::default().hold(hold)).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let sent = Instant::now();
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("commits");
    // Still held after the answer, for the hold time.
    assert!(emulator.is_held(&table, &json_key("X")));
    let error = transact(&client, vec![bump(&table, "X")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["TransactionConflict"]);

    while emulator.is_held(&table, &json_key("X")) {
        assert!(sent.elapsed() < hold * 10, "the hold never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It ended no sooner than the hold time after the answer (itself after `sent`).
    assert!(sent.elapsed() >= hold);
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("free again");
    assert_eq!(counter(&table, "X").await, Some(2));
}

#[tokio::test]
async fn held_from_acceptance_an_item_is_free_after_the_hold_even_while_its_transaction_is_upstream(
) {
    let hold = Duration::from_millis(200);
    let emulator = start(
        Settings::default()
            .hold(hold)
            .hold_from(HoldFrom::Acceptance),
    )
    .await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let accepted = Instant::now();
    // The first transaction stays "with DynamoDB Local" (parked) for as long as the test likes.
    let (pause, first) = held(&emulator, &client, vec![bump(&table, "X")]).await;
    assert!(emulator.is_held(&table, &json_key("X")));
    while emulator.is_held(&table, &json_key("X")) {
        assert!(accepted.elapsed() < hold * 25, "the hold never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(accepted.elapsed() >= hold);
    // Its answer is still outstanding, yet a second transaction on X is admitted.
    assert!(!first.is_finished());
    let second = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move { transact(&client, vec![bump(&table, "X")]).await })
    };
    pause.parked(2).await;
    pause.resume();
    first.await.expect("joins").expect("commits");
    second.await.expect("joins").expect("commits");
    assert_eq!(counter(&table, "X").await, Some(2));
    assert_eq!(emulator.stats().transactions_cancelled_conflict, 0);
}

#[tokio::test]
async fn a_transactional_read_of_a_held_item_is_cancelled() {
    // No hold after the answer: each step starts from free items.
    let emulator = start(Settings::default().hold(Duration::ZERO)).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;
    let get = |pk: &str| {
        let get = Get::builder()
            .table_name(&table)
            .set_key(Some(key(pk)))
            .build()
            .expect("get");
        TransactGetItem::builder().get(get).build()
    };

    let (pause, holding) = held(&emulator, &client, vec![bump(&table, "X")]).await;
    let error = client
        .transact_get_items()
        .transact_items(get("Y"))
        .transact_items(get("X"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let TransactGetItemsError::TransactionCanceledException(cancelled) = error else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let reasons = cancelled.cancellation_reasons.unwrap_or_default();
    assert_eq!(codes(&reasons), ["None", "TransactionConflict"]);
    pause.resume();
    holding.await.expect("joined").expect("commits");

    // A write that lands while the read is with DynamoDB cancels the read too.
    let pause = emulator.pause();
    let reading = {
        let client = client.clone();
        let items = vec![get("X"), get("Y")];
        tokio::spawn(async move {
            client
                .transact_get_items()
                .set_transact_items(Some(items))
                .send()
                .await
        })
    };
    pause.parked(1).await;
    let writing = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(item("Y", 10)))
                .send()
                .await
        })
    };
    pause.parked(2).await;
    pause.resume();
    writing.await.expect("joined").expect("the write passes");
    let error = reading
        .await
        .expect("joined")
        .unwrap_err()
        .into_service_error();
    let TransactGetItemsError::TransactionCanceledException(cancelled) = error else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let reasons = cancelled.cancellation_reasons.unwrap_or_default();
    assert_eq!(codes(&reasons), ["None", "TransactionConflict"]);

    let read = client
        .transact_get_items()
        .transact_items(get("X"))
        .transact_items(get("Y"))
        .send()
        .await
        .expect("nothing overlaps now");
    assert_eq!(read.responses.unwrap_or_default().len(), 2);
    let stats = emulator.stats();
    assert_eq!(
        (stats.transact_gets, stats.transact_gets_cancelled_conflict),
        (3, 2)
    );
}
