use super::*;

fn event(i: usize) -> checkout_domain::model::events::OrderEvent {
    checkout_domain::model::events::OrderEvent {
        id: format!("order-{i}:1"),
        kind: checkout_domain::model::events::EventKind::OrderCreated,
        order_id: format!("order-{i}"),
        order_number: format!("N-{i}"),
        sequence: 1,
        order: serde_json::from_value(json!({
            "id": format!("order-{i}"), "orderNumber": "20261124-ABCDEFGH", "cartId": "6f1c0000-0000-4000-8000-000000000001",
            "cartVersion": 1, "action": "checkout", "state": "Open", "paymentState": "Paid",
            "isGuest": true, "currency": "EUR", "lineItems": [], "discountCodes": [],
            "totals": {
                "subtotal": {"centAmount": 0, "currencyCode": "EUR"},
                "discount": {"centAmount": 0, "currencyCode": "EUR"},
                "shipping": {"centAmount": 0, "currencyCode": "EUR"},
                "tax": {"centAmount": 0, "currencyCode": "EUR"},
                "total": {"centAmount": 0, "currencyCode": "EUR"}
            },
            "createdAt": "2026-11-24T10:00:00Z", "revision": 1
        }))
        .expect("a valid order snapshot"),
        refunded: None,
        fulfillment_id: None,
    }
}

#[tokio::test]
async fn the_relay_sends_batches_of_ten_and_retries_exactly_the_refused_entries() {
    let queue = Arc::new(RecordingQueue::default());
    queue.refuse_once.lock().unwrap().push("3".into());
    let events: Vec<_> = (0..12).map(|i| (format!("seq-{i}"), event(i))).collect();
    let failed = relay_to(&queue).publish(&events).await;
    assert!(failed.is_empty());
    let batches = queue.batches.lock().unwrap().clone();
    let ids = |range: std::ops::Range<usize>| range.map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(batches, vec![ids(0..10), vec!["3".to_string()], ids(0..2)]);
}

#[tokio::test]
async fn lambdas_stream_samples_are_no_news_and_an_unreadable_order_record_is_reported() {
    let queue = Arc::new(RecordingQueue::default());
    let relay = relay_to(&queue);
    for sample in [
        include_str!("../../fixtures/aws/example-dynamodb-event.json").to_string(),
        format!(
            r#"{{"Records": [{}]}}"#,
            include_str!(
                "../../fixtures/aws/example-dynamodb-event-record-with-optional-fields.json"
            )
        ),
    ] {
        let event: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_str(&sample).unwrap();
        let response = relay.handle_stream(event).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert!(
        queue.batches.lock().unwrap().is_empty(),
        "no order, no event"
    );

    // An order item that does not read as an order: reported by its sequence number, so it is
    // retried and then set aside by the event source mapping, never skipped silently.
    let poison: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(json!({
        "Records": [{"eventName": "INSERT", "awsRegion": "us-east-1", "eventID": "1",
            "dynamodb": {"SequenceNumber": "42", "SizeBytes": 10,
                "Keys": {"pk": {"S": "CART#c"}, "sk": {"S": "ORDER"}},
                "NewImage": {"pk": {"S": "CART#c"}, "sk": {"S": "ORDER"}, "state": {"N": "7"}}}}]
    }))
    .unwrap();
    let response = relay.handle_stream(poison).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("42")
    );
}
