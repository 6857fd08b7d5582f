use super::*;

/// Sends one raw JSON 1.0 request, as an SDK would, and returns the status and body.
async fn raw(endpoint: &str, operation: &str, body: serde_json::Value) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
        )
        .header("x-amz-date", "20260101T000000Z")
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.expect("a body"))
}

#[tokio::test]
async fn other_traffic_passes_through_unchanged() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;
    let direct = upstream();
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item("X", 100)))
        .send()
        .await
        .expect("put");

    let requests = [
        (
            "GetItem",
            json!({"TableName": table, "Key": {"pk": {"S": "X"}, "sk": {"S": "ITEM"}}, "ConsistentRead": true}),
        ),
        (
            "Query",
            json!({"TableName": table, "KeyConditionExpression": "pk = :pk",
                          "ExpressionAttributeValues": {":pk": {"S": "X"}}}),
        ),
        ("DescribeTable", json!({"TableName": table})),
        (
            "GetItem",
            json!({"TableName": "no-such-table", "Key": {"pk": {"S": "X"}}}),
        ),
        // An upstream refusal comes back as it was: a failed condition, a bad request.
        (
            "PutItem",
            json!({"TableName": table, "Item": {"pk": {"S": "X"}, "sk": {"S": "ITEM"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}),
        ),
        (
            "TransactWriteItems",
            json!({"TransactItems": [
            {"Update": {"TableName": table, "Key": {"pk": {"S": "X"}, "sk": {"S": "ITEM"}},
                        "UpdateExpression": "SET v = :v", "ConditionExpression": "attribute_not_exists(pk)",
                        "ExpressionAttributeValues": {":v": {"S": "v"}}}}]}),
        ),
        ("PutItem", json!({"TableName": table})),
        ("NoSuchOperation", json!({})),
    ];
    for (operation, body) in requests {
        let expected = raw(&direct, operation, body.clone()).await;
        let through = raw(emulator.endpoint(), operation, body).await;
        assert_eq!(through, expected, "{operation} through the emulator");
    }

    // The same item read back through the SDK both ways.
    let read = |endpoint: String| {
        let table = table.clone();
        async move {
            client_with(&endpoint, RetryConfig::disabled())
                .get_item()
                .table_name(&table)
                .set_key(Some(key("X")))
                .consistent_read(true)
                .send()
                .await
                .expect("get")
                .item
        }
    };
    assert_eq!(
        read(emulator.endpoint().to_string()).await,
        read(direct.clone()).await
    );
    let stats = emulator.stats();
    assert_eq!(stats.conflicts() + stats.throttles, 0);
    // The body DynamoDB refuses (no Item) could not be emulated; everything else was.
    assert_eq!(stats.unemulated, 1);
}

#[tokio::test]
async fn the_key_schema_is_asked_of_dynamodb_when_no_table_traffic_came_through() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    // Created directly on DynamoDB Local, with a key named neither pk nor sk.
    let table = unique("elsewhere");
    client_with(&upstream(), RetryConfig::disabled())
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create the table");
    let row = |extra: &str| {
        HashMap::from([
            ("id".to_string(), AttributeValue::N("7".into())),
            ("v".to_string(), s(extra)),
        ])
    };

    let put = Put::builder()
        .table_name(&table)
        .set_item(Some(row("first")))
        .build()
        .expect("put");
    let (pause, holding) = held(
        &emulator,
        &client,
        vec![TransactWriteItem::builder().put(put).build()],
    )
    .await;
    let error = client
        .put_item()
        .table_name(&table)
        .set_item(Some(row("second")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        error,
        PutItemError::TransactionConflictException(_)
    ));
    pause.resume();
    holding.await.expect("joined").expect("commits");
    let stats = emulator.stats();
    assert_eq!(stats.unemulated, 0);
    assert_eq!(stats.hottest(1)[0].item, format!("{table} id=7"));
}
