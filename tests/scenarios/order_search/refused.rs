use super::*;

async fn bad_filters_and_cursors_are_400s_and_only_readers_may_search(backend: Backend) {
    let app = App::start(backend).await;
    let client = reader(&app);
    let bad_cursor = "bm90IGEgY3Vyc29y"; // base64 of "not a cursor"
    for (params, pointer) in [
        (vec![("email", "not-an-email")], "/email"),
        (vec![("customerId", "")], "/customerId"),
        (vec![("state", "Shipped")], "/state"),
        (vec![("state", "open")], "/state"),
        (vec![("paymentState", "Settled")], "/paymentState"),
        (vec![("shipmentState", "Lost")], "/shipmentState"),
        (vec![("createdFrom", "yesterday")], "/createdFrom"),
        (vec![("createdTo", "2026-13-01T00:00:00Z")], "/createdTo"),
        (
            vec![
                ("createdFrom", "2026-11-02T00:00:00Z"),
                ("createdTo", "2026-11-01T00:00:00Z"),
            ],
            "/createdFrom",
        ),
        (vec![("limit", "0")], "/limit"),
        (vec![("limit", "101")], "/limit"),
        (vec![("limit", "ten")], "/limit"),
        (vec![("cursor", "not base64!")], "/cursor"),
        (vec![("cursor", bad_cursor)], "/cursor"),
        (vec![("cursor", "")], "/cursor"),
        (vec![("sate", "Open")], "/sate"),
        (vec![("state", "Open"), ("state", "Open")], "/state"),
    ] {
        let refused = search(&client, &params).await;
        // A problem+json 400 (`assert_problem` checks the content type too).
        refused.assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
        assert!(
            refused.pointers().contains(&pointer.to_string()),
            "{params:?}: {:?}",
            refused.pointers()
        );
    }
    // A cursor taken from another listing still reads: it is only a position.
    guest_order(&app, "one@example.com").await;
    customer_order(&app, "dave").await;
    let first = search(&client, &[("limit", "1")]).await;
    first.assert_status(StatusCode::OK);
    let next = first.body["nextCursor"].as_str().unwrap().to_string();
    search(&client, &[("cursor", &next), ("state", "Cancelled")])
        .await
        .assert_status(StatusCode::OK);
    // A customer's token is forbidden; no token at all is unauthorized; a writer-only token
    // does not read.
    app.customer("alice")
        .get("/admin/orders")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.customer("alice")
        .get("/admin/orders?limit=0")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.anonymous()
        .get("/admin/orders")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    app.with_scope("warehouse", "orders:write")
        .get("/admin/orders")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
}

on_both_stores!(bad_filters_and_cursors_are_400s_and_only_readers_may_search);
