//! A merchant's search over every order (`GET /admin/orders`): guests' and customers' alike,
//! each filter the contract names, newest first, a page at a time through opaque cursors, for
//! `orders:read` and `admin` tokens only. On DynamoDB the orders sit in a month's 16 shards of
//! `gsi3`; the pages merge them, go on across months, past DynamoDB's cut pages and past a
//! spent read budget. Every path that writes an order (a cart's commit, a programmatic order,
//! a draft and its processing, a batch, a merchant's change) leaves it findable.

use std::sync::Arc;

use checkout_domain::model::identity::Caller;
use checkout_domain::usecases::order_search::SearchInput;
use checkout_domain::usecases::Storefront;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{
    on_both_stores, order_request, ready_actions, App, Backend, Client, TestResponse,
};
use http::StatusCode;

use crate::gift_cards::{integration, paid_order};

/// A reader's token: `orders:read` only.
fn reader(app: &App) -> Client {
    app.with_scope("erp-reader", "orders:read")
}

/// Support's token: reads and changes orders.
fn support(app: &App) -> Client {
    app.with_scope("support-1", "orders:read orders:write")
}

/// A query parameter's value, percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn search(client: &Client, params: &[(&str, &str)]) -> TestResponse {
    client
        .get(&format!("/admin/orders?{}", query(params)))
        .await
}

fn numbers(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|o| o["orderNumber"].as_str().unwrap().to_string())
        .collect()
}

/// Every order the search lists, following `nextCursor` page by page: no page holds more
/// than `limit`, and no order is listed twice.
async fn all_pages(client: &Client, params: &[(&str, &str)], limit: usize) -> Vec<String> {
    let limit_text = limit.to_string();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let mut with: Vec<(&str, &str)> = params.to_vec();
        with.push(("limit", &limit_text));
        if let Some(cursor) = &cursor {
            with.push(("cursor", cursor));
        }
        let page = search(client, &with).await;
        page.assert_status(StatusCode::OK);
        let found = numbers(&page.body);
        assert!(found.len() <= limit, "{found:?} in a page of {limit}");
        for number in found {
            assert!(!seen.contains(&number), "{number} listed twice");
            seen.push(number);
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return seen,
        }
    }
    panic!("the listing never ended");
}

/// A guest's paid order (two mugs) under `email`, through the cart: its number.
async fn guest_order(app: &App, email: &str) -> String {
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = ready_actions(&[("MUG", 2)]);
    for action in actions.as_array_mut().unwrap() {
        if action["action"] == "setGuestDetails" {
            action["email"] = email.into();
        }
    }
    guest
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    let created = guest.post("/orders", order_request(&cart)).await;
    created.assert_status(StatusCode::CREATED);
    created.body["orderNumber"].as_str().unwrap().to_string()
}

/// A signed-in customer's paid order (`<sub>@example.com`), through the cart: its number.
async fn customer_order(app: &App, sub: &str) -> String {
    let (customer, mut cart) = app.ready_customer_cart(sub).await;
    app.pay(&mut cart, None).await;
    let created = customer.post("/orders", order_request(&cart)).await;
    created.assert_status(StatusCode::CREATED);
    created.body["orderNumber"].as_str().unwrap().to_string()
}

/// A programmatic order of one mug for `email`, processed and charged: its body.
async fn programmatic_order(app: &App, key: &str, email: &str) -> Value {
    let mut body = paid_order(key, 1, json!([{"paymentMethod": "pm_card_visa"}]));
    body["customer"]["email"] = email.into();
    body["sendReceipt"] = false.into();
    let created = integration(app).post("/admin/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["state"], "Open", "{}", created.body);
    created.body
}

fn number_of(order: &Value) -> String {
    order["orderNumber"].as_str().unwrap().to_string()
}

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

/// Many orders over months and shards, paged small: every order once, newest first, every
/// page full but the last.
async fn pages_list_every_order_once_newest_first_across_shards_and_months(backend: Backend) {
    let app = App::start(backend).await;
    let mut created = Vec::new();
    for i in 0..14 {
        let order = programmatic_order(&app, &format!("many-{i}"), "many@example.com").await;
        created.push(number_of(&order));
        // A few orders a day, a new day every third, about a month every seventh.
        app.advance(match i % 7 {
            6 => time::Duration::days(31),
            i if i % 3 == 2 => time::Duration::days(1),
            _ => time::Duration::seconds(1),
        });
    }
    created.reverse();
    for limit in [1, 3, 5, 20] {
        assert_eq!(
            all_pages(&reader(&app), &[], limit).await,
            created,
            "limit {limit}"
        );
    }
    // Full pages but the last, the cursor of the last page absent.
    let client = reader(&app);
    let first = search(&client, &[("limit", "5")]).await;
    assert_eq!(numbers(&first.body), created[..5]);
    let next = first.body["nextCursor"].as_str().unwrap();
    let second = search(&client, &[("limit", "5"), ("cursor", next)]).await;
    assert_eq!(numbers(&second.body), created[5..10]);
    let next = second.body["nextCursor"].as_str().unwrap();
    let third = search(&client, &[("limit", "5"), ("cursor", next)]).await;
    assert_eq!(numbers(&third.body), created[10..]);
    assert!(third.body.get("nextCursor").is_none());
    // A filtered listing pages the same way.
    let mut filtered = all_pages(&client, &[("email", "many@example.com")], 4).await;
    assert_eq!(filtered, created);
    filtered = all_pages(&client, &[("state", "Open"), ("paymentState", "Paid")], 2).await;
    assert_eq!(filtered, created);
}

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

on_both_stores!(
    a_guests_and_a_customers_orders_are_both_found_newest_first,
    each_filter_narrows_the_listing,
    pages_list_every_order_once_newest_first_across_shards_and_months,
    an_order_from_every_write_path_is_found,
    bad_filters_and_cursors_are_400s_and_only_readers_may_search,
);

/// Every page of a search through `storefront`, as the use case answers it: the orders'
/// numbers, each page at most `limit`, and how many pages stopped short of `limit` with a
/// cursor (a spent read budget).
async fn use_case_pages(
    storefront: &Storefront,
    input: SearchInput,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut short = 0;
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = storefront
            .search_orders(
                &Caller::system(),
                &SearchInput {
                    limit: Some(limit.to_string()),
                    cursor: cursor.clone(),
                    ..input.clone()
                },
            )
            .await
            .unwrap();
        assert!(page.orders.len() <= limit);
        seen.extend(page.orders.iter().map(|o| o.order_number.to_string()));
        if page.orders.len() < limit && page.next.is_some() {
            short += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (seen, short),
        }
    }
    panic!("the listing never ended");
}

/// DynamoDB ends a Query page at 1 MB with `LastEvaluatedKey`, however few keys it holds; a
/// search spends a bounded read budget per request. Here every index page is cut after one
/// key and the budget is small: the listing still reaches every order, newest first, only
/// split over more pages, and a filter that turns most orders away still finds its one.
#[tokio::test]
async fn a_search_cut_short_by_dynamodb_or_its_budget_goes_on_where_it_stopped() {
    let app = App::start(Backend::DynamoDb).await;
    let mut created = Vec::new();
    for i in 0..9 {
        let email = match i {
            2 => "needle@example.com",
            _ => "hay@example.com",
        };
        created.push(number_of(
            &programmatic_order(&app, &format!("cut-{i}"), email).await,
        ));
        app.advance(time::Duration::seconds(1));
    }
    created.reverse();
    // The orders were made on the test clock (now, and seconds after); this storefront's
    // clock is the real one, minutes of skew allowed.
    for (page_items, budget) in [(1, 10_000), (1, 20), (3, 40)] {
        let store = app
            .dynamo
            .clone()
            .unwrap()
            .with_query_page_items(page_items)
            .with_search_budget(budget);
        let storefront = Storefront::new(Arc::new(store));
        let (all, short) = use_case_pages(&storefront, SearchInput::default(), 4).await;
        assert_eq!(all, created, "pages of {page_items}, budget {budget}");
        let (needle, needle_short) = use_case_pages(
            &storefront,
            SearchInput {
                email: Some("needle@example.com".into()),
                ..SearchInput::default()
            },
            2,
        )
        .await;
        assert_eq!(
            needle,
            [created[6].as_str()],
            "pages of {page_items}, budget {budget}"
        );
        // A small budget answers short pages with a cursor; the default one never here.
        match budget {
            10_000 => assert_eq!((short, needle_short), (0, 0)),
            _ => assert!(short > 0 && needle_short > 0, "{short}, {needle_short}"),
        }
    }
}
