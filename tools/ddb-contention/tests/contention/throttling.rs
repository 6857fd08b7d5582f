use super::*;

#[tokio::test]
async fn throttling_refuses_writes_over_an_items_rate_as_dynamodb_does() {
    // 10 units per minute: nothing refills during the test.
    let throttle = Throttle {
        units: 10,
        per: Duration::from_secs(60),
    };
    // No hold: back-to-back transactions on Z would conflict within it (this test is about
    // the rate alone).
    let emulator = start(Settings::default().hold(Duration::ZERO).throttle(throttle)).await;
    let client = client_with(emulator.endpoint(), RetryConfig::disabled());
    let table = table(&client).await;
    let put_item = |pk: &str, padding: usize| {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item(pk, padding)))
            .send()
    };

    // A small item: 1 unit per write, 10 pass, the 11th is throttled.
    for _ in 0..10 {
        put_item("X", 10).await.expect("within the rate");
    }
    let error = put_item("X", 10).await.unwrap_err().into_service_error();
    let PutItemError::ProvisionedThroughputExceededException(throttled) = error else {
        panic!("expected ProvisionedThroughputExceededException, got {error:?}");
    };
    let reason = &throttled.throttling_reasons()[0];
    assert_eq!(
        reason.reason.as_deref(),
        Some("TableWriteKeyRangeThroughputExceeded")
    );
    assert_eq!(
        reason.resource.as_deref(),
        Some(format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}").as_str())
    );
    // Another item has its own rate.
    put_item("Y", 10).await.expect("another item");

    // A 2.5 KB item costs 3 units a write: three pass (9 units), the fourth does not.
    for _ in 0..3 {
        put_item("BIG", 2500).await.expect("within the rate");
    }
    assert!(put_item("BIG", 2500).await.is_err());

    // In a transaction each item costs 2 units per KB: five pass on Z, the sixth is
    // cancelled with ThrottlingError on Z only, and W is not charged for it.
    for _ in 0..5 {
        transact(&client, vec![bump(&table, "Z")])
            .await
            .expect("within the rate");
    }
    let error = transact(&client, vec![put(&table, "W"), bump(&table, "Z")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["None", "ThrottlingError"]);
    for _ in 0..5 {
        transact(&client, vec![put(&table, "W")])
            .await
            .expect("W has its 10 units");
    }
    assert_eq!(counter(&table, "Z").await, Some(5));

    let stats = emulator.stats();
    assert_eq!(stats.writes_throttled, 2);
    assert_eq!(stats.transactions_cancelled_throttle, 1);
    assert_eq!(stats.throttles, 3);
    assert_eq!(stats.write_units, 10 + 1 + 9 + 5 * 2 + 5 * 2);

    // The SDK retries a throttled write as it retries DynamoDB's: three attempts, all seen.
    let retrying = client_with(
        emulator.endpoint(),
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    let error = retrying
        .put_item()
        .table_name(&table)
        .set_item(Some(item("X", 10)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        error,
        PutItemError::ProvisionedThroughputExceededException(_)
    ));
    assert_eq!(emulator.stats().writes_throttled, 2 + 3);
}
