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

mod filters;
mod paging;
mod refused;
mod write_paths;
