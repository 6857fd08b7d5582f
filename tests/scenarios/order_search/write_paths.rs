use super::*;

/// An order made by each path that writes one is found, in the state it is in now.
async fn an_order_from_every_write_path_is_found(backend: Backend) {
    let app = App::start(backend).await;
    let client = reader(&app);
    let found = |params: Vec<(&'static str, String)>| {
        let client = client.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let page = search(&client, &params).await;
            page.assert_status(StatusCode::OK);
            page.body["results"].as_array().unwrap().clone()
        }
    };
    let email = |e: &str| vec![("email", e.to_string())];

    // A guest's and a customer's cart committed.
    let guest = guest_order(&app, "cart-guest@example.com").await;
    let listed = found(email("cart-guest@example.com")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["orderNumber"], guest.as_str());
    let customer = customer_order(&app, "carol").await;
    assert_eq!(
        found(email("carol@example.com")).await[0]["orderNumber"],
        customer.as_str()
    );

    // A programmatic order processed in one request.
    let programmatic = number_of(&programmatic_order(&app, "one-go", "one-go@example.com").await);
    assert_eq!(
        found(email("one-go@example.com")).await[0]["orderNumber"],
        programmatic.as_str()
    );

    // A draft, then processed by its commands: a draft first, an order placed after.
    let mut body = paid_order("later", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    body["commands"] = json!(["calculate_shipping", "calculate_tax_rates"]);
    body["customer"]["email"] = "later@example.com".into();
    let draft = integration(&app).post("/admin/orders", body).await;
    draft.assert_status(StatusCode::CREATED);
    let draft = number_of(&draft.body);
    assert!(found(email("later@example.com")).await.is_empty());
    let drafts = found(vec![
        ("email", "later@example.com".into()),
        ("state", "Draft".into()),
    ])
    .await;
    assert_eq!(drafts[0]["orderNumber"], draft.as_str());
    app.advance(time::Duration::seconds(5));
    integration(&app)
        .post(
            &format!("/admin/orders/{draft}/commands"),
            json!({"commands": ["authorize_payments", "process_order", "charge_payments"]}),
        )
        .await
        .assert_status(StatusCode::OK);
    let processed = found(email("later@example.com")).await;
    assert_eq!(processed.len(), 1, "{processed:?}");
    assert_eq!(processed[0]["orderNumber"], draft.as_str());
    assert_eq!(processed[0]["state"], "Open");
    assert!(found(vec![
        ("email", "later@example.com".into()),
        ("state", "Draft".into())
    ])
    .await
    .is_empty());

    // A batch of programmatic orders.
    let bodies: Vec<Value> = (0..3)
        .map(|i| {
            let mut body = paid_order(
                &format!("batch-{i}"),
                1,
                json!([{"paymentMethod": "pm_card_visa"}]),
            );
            body["customer"]["email"] = "batch@example.com".into();
            body
        })
        .collect();
    let batch = integration(&app)
        .post("/admin/orders/batch", json!({"orders": bodies}))
        .await;
    batch.assert_status(StatusCode::OK);
    let mut made: Vec<String> = batch.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| number_of(&r["order"]))
        .collect();
    let mut listed: Vec<String> = found(email("batch@example.com"))
        .await
        .iter()
        .map(number_of)
        .collect();
    made.sort();
    listed.sort();
    assert_eq!(listed, made);

    // A merchant's change: the order is found in its new state, under its old creation time.
    support(&app)
        .post(
            &format!("/admin/orders/{guest}/cancel"),
            json!({"idempotencyKey": "c1", "reason": "Asked to"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let cancelled = found(vec![
        ("email", "cart-guest@example.com".into()),
        ("state", "Cancelled".into()),
    ])
    .await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["orderNumber"], guest.as_str());
    assert_eq!(cancelled[0]["paymentState"], "Refunded");
    let everything: Vec<String> = all_pages(&client, &[], 2).await;
    assert_eq!(everything.len(), 7, "{everything:?}");
    assert!(everything.contains(&guest) && everything.contains(&customer));
}

on_both_stores!(an_order_from_every_write_path_is_found);
