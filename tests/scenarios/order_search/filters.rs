use super::*;

async fn a_guests_and_a_customers_orders_are_both_found_newest_first(backend: Backend) {
    let app = App::start(backend).await;
    let guest = guest_order(&app, "grace@example.com").await;
    app.advance(time::Duration::seconds(1));
    let customer = customer_order(&app, "alice").await;
    app.advance(time::Duration::seconds(1));
    let programmatic = number_of(&programmatic_order(&app, "p-1", "b2b@example.com").await);

    let listed = search(&reader(&app), &[]).await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(
        numbers(&listed.body),
        [programmatic.as_str(), customer.as_str(), guest.as_str()]
    );
    assert!(listed.body.get("nextCursor").is_none(), "{}", listed.body);
    let first = &listed.body["results"][2];
    assert_eq!(first["state"], "Open");
    assert_eq!(first["paymentState"], "Paid");
    assert_eq!(first["shipmentState"], "Pending");
    assert_eq!(first["customerEmail"], "grace@example.com");
    assert!(first["total"]["centAmount"].as_i64().unwrap() > 0);
    assert!(first["createdAt"].is_string());

    // By email, a guest's and a customer's alike (case does not matter); by customer.
    let by = |params: &'static [(&'static str, &'static str)]| {
        let client = reader(&app);
        async move {
            let page = search(&client, params).await;
            page.assert_status(StatusCode::OK);
            numbers(&page.body)
        }
    };
    assert_eq!(
        by(&[("email", "grace@example.com")]).await,
        [guest.as_str()]
    );
    assert_eq!(
        by(&[("email", "Grace@Example.COM")]).await,
        [guest.as_str()]
    );
    assert_eq!(
        by(&[("email", "alice@example.com")]).await,
        [customer.as_str()]
    );
    assert_eq!(by(&[("customerId", "alice")]).await, [customer.as_str()]);
    assert!(by(&[("customerId", "bob")]).await.is_empty());
    assert!(by(&[("email", "nobody@example.com")]).await.is_empty());
    // An administrator reads it too.
    let page = search(&app.admin(), &[("email", "alice@example.com")]).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(numbers(&page.body), [customer]);
}

/// Each filter the contract names, alone and combined: states after merchants' changes,
/// drafts only when asked for, creation time at both ends inclusive.
async fn each_filter_narrows_the_listing(backend: Backend) {
    let app = App::start(backend).await;
    let open = number_of(&programmatic_order(&app, "open", "open@example.com").await);
    app.advance(time::Duration::days(2));
    let cancelled = number_of(&programmatic_order(&app, "cancel", "cancel@example.com").await);
    support(&app)
        .post(
            &format!("/admin/orders/{cancelled}/cancel"),
            json!({"idempotencyKey": "c1", "reason": "Asked to"}),
        )
        .await
        .assert_status(StatusCode::OK);
    app.advance(time::Duration::days(2));
    let shipped = number_of(&programmatic_order(&app, "ship", "ship@example.com").await);
    support(&app)
        .post(
            &format!("/admin/orders/{shipped}/fulfillments"),
            json!({"idempotencyKey": "s1", "carrier": "DHL", "trackingNumber": "JJD1"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    app.advance(time::Duration::days(2));
    let refunded = number_of(&programmatic_order(&app, "refund", "refund@example.com").await);
    let refund = support(&app)
        .post(
            &format!("/admin/orders/{refunded}/refunds"),
            json!({"idempotencyKey": "r1", "amount": 100, "reason": "Scratched"}),
        )
        .await;
    refund.assert_status(StatusCode::CREATED);
    assert_eq!(refund.body["state"], "Succeeded");
    app.advance(time::Duration::days(2));
    let delivered = number_of(&programmatic_order(&app, "deliver", "deliver@example.com").await);
    let shipment = support(&app)
        .post(
            &format!("/admin/orders/{delivered}/fulfillments"),
            json!({"idempotencyKey": "s2", "carrier": "DHL", "trackingNumber": "JJD2"}),
        )
        .await;
    shipment.assert_status(StatusCode::CREATED);
    let id = shipment.body["id"].as_str().unwrap();
    support(&app)
        .post(
            &format!("/admin/orders/{delivered}/fulfillments/{id}/delivered"),
            json!({"idempotencyKey": "d2"}),
        )
        .await
        .assert_status(StatusCode::OK);
    app.advance(time::Duration::days(2));
    let mut draft_body = paid_order("draft", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    draft_body["commands"] = json!(["calculate_shipping"]);
    draft_body["customer"]["email"] = "draft@example.com".into();
    let draft = integration(&app).post("/admin/orders", draft_body).await;
    draft.assert_status(StatusCode::CREATED);
    assert_eq!(draft.body["state"], "Draft");
    let draft = number_of(&draft.body);

    let client = reader(&app);
    let by = |params: Vec<(&'static str, String)>| {
        let client = client.clone();
        async move {
            let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let page = search(&client, &params).await;
            page.assert_status(StatusCode::OK);
            numbers(&page.body)
        }
    };
    let s = |v: &str| v.to_string();
    // Drafts are not orders placed: listed only when asked for.
    assert_eq!(
        by(vec![]).await,
        [
            delivered.as_str(),
            refunded.as_str(),
            shipped.as_str(),
            cancelled.as_str(),
            open.as_str()
        ]
    );
    assert_eq!(by(vec![("state", s("Draft"))]).await, [draft.as_str()]);
    assert_eq!(
        by(vec![("state", s("Open"))]).await,
        [refunded.as_str(), open.as_str()]
    );
    assert_eq!(
        by(vec![("state", s("Cancelled"))]).await,
        [cancelled.as_str()]
    );
    assert_eq!(
        by(vec![("state", s("Confirmed"))]).await,
        [shipped.as_str()]
    );
    assert_eq!(
        by(vec![("state", s("Complete"))]).await,
        [delivered.as_str()]
    );
    assert_eq!(
        by(vec![("paymentState", s("Refunded"))]).await,
        [cancelled.as_str()]
    );
    assert_eq!(
        by(vec![("paymentState", s("PartiallyRefunded"))]).await,
        [refunded.as_str()]
    );
    assert_eq!(
        by(vec![("paymentState", s("Paid"))]).await,
        [delivered.as_str(), shipped.as_str(), open.as_str()]
    );
    assert_eq!(
        by(vec![("shipmentState", s("Shipped"))]).await,
        [shipped.as_str()]
    );
    assert_eq!(
        by(vec![("shipmentState", s("Delivered"))]).await,
        [delivered.as_str()]
    );
    assert_eq!(
        by(vec![("shipmentState", s("Pending"))]).await,
        [refunded.as_str(), cancelled.as_str(), open.as_str()]
    );
    // Combined with AND.
    assert_eq!(
        by(vec![
            ("paymentState", s("Paid")),
            ("shipmentState", s("Pending"))
        ])
        .await,
        [open.as_str()]
    );
    assert!(by(vec![
        ("email", s("open@example.com")),
        ("state", s("Cancelled"))
    ])
    .await
    .is_empty());
    assert_eq!(
        by(vec![
            ("email", s("draft@example.com")),
            ("state", s("Draft"))
        ])
        .await,
        [draft.as_str()]
    );

    // Creation time, both ends inclusive.
    let all = search(&client, &[]).await;
    let created = |number: &str| -> String {
        all.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["orderNumber"] == number)
            .unwrap()["createdAt"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (at_shipped, at_refunded) = (created(&shipped), created(&refunded));
    assert_eq!(
        by(vec![
            ("createdFrom", at_shipped.clone()),
            ("createdTo", at_refunded.clone())
        ])
        .await,
        [refunded.as_str(), shipped.as_str()]
    );
    assert_eq!(
        by(vec![
            ("createdFrom", at_shipped.clone()),
            ("createdTo", at_shipped.clone())
        ])
        .await,
        [shipped.as_str()]
    );
    assert_eq!(
        by(vec![("createdFrom", at_refunded.clone())]).await,
        [delivered.as_str(), refunded.as_str()]
    );
    assert_eq!(
        by(vec![("createdTo", at_shipped.clone())]).await,
        [shipped.as_str(), cancelled.as_str(), open.as_str()]
    );
}

on_both_stores!(
    a_guests_and_a_customers_orders_are_both_found_newest_first,
    each_filter_narrows_the_listing,
);
