//! Pricing, end to end through the API, with every expected amount computed by hand in the
//! comment beside it. Rules: net prices; discounts in the order added; tax per line (and on
//! shipping) rounded half away from zero; free shipping from the discounted subtotal.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{address_in, cents, App, Backend, Client};
use http::StatusCode;

/// A cart in `currency` shipping to `country`, after `actions`; returns its JSON.
async fn priced(currency: &str, country: &str, actions: Value) -> Value {
    let app = App::start(Backend::Memory).await;
    let (guest, mut cart) = app.guest_with_cart(currency, country).await;
    let mut all = vec![json!({"action": "setShippingAddress", "address": address_in(country)})];
    all.extend(actions.as_array().unwrap().iter().cloned());
    let response = guest.update(&mut cart, Value::Array(all)).await;
    response.assert_status(StatusCode::OK);
    response.body
}

#[track_caller]
fn assert_totals(cart: &Value, subtotal: i64, discount: i64, shipping: i64, tax: i64, total: i64) {
    let t = &cart["totals"];
    assert_eq!(
        [
            cents(&t["subtotal"]),
            cents(&t["discount"]),
            cents(&t["shipping"]),
            cents(&t["tax"]),
            cents(&t["total"])
        ],
        [subtotal, discount, shipping, tax, total],
        "subtotal, discount, shipping, tax, total of {t:#}"
    );
    assert_eq!(total, subtotal - discount + shipping + tax);
    let line_sum: i64 = cart["lineItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| cents(&l["total"]))
        .sum();
    let shipping_gross = cart
        .get("shippingMethod")
        .map_or(0, |s| cents(&s["amount"]) + cents(&s["tax"]));
    assert_eq!(
        line_sum + shipping_gross,
        total,
        "lines and shipping add up to the total"
    );
}

fn add(sku: &str, quantity: u32) -> Value {
    json!({"action": "addLineItem", "sku": sku, "quantity": quantity})
}

fn ship(method: &str) -> Value {
    json!({"action": "setShippingMethod", "shippingMethodId": method})
}

fn code(code: &str) -> Value {
    json!({"action": "addDiscountCode", "code": code})
}

#[tokio::test]
async fn shipping_is_charged_and_taxed_below_the_free_threshold() {
    // Mug 12.99: tax 2.4681 → 2.47; shipping 4.99, tax 0.9481 → 0.95.
    let cart = priced("EUR", "DE", json!([add("MUG", 1), ship("standard")])).await;
    assert_totals(&cart, 1299, 0, 499, 342, 2140);
    assert_eq!(cents(&cart["shippingMethod"]["tax"]), 95);
}

#[tokio::test]
async fn shipping_is_free_from_the_threshold_on() {
    // Lamp 89.00 ≥ 50.00: free shipping; tax 16.91.
    let cart = priced("EUR", "DE", json!([add("LAMP", 1), ship("standard")])).await;
    assert_totals(&cart, 8900, 0, 0, 1691, 10591);
}

#[tokio::test]
async fn the_free_threshold_applies_to_the_discounted_subtotal() {
    // 2 books 79.98 − 10 % (7.998 → 8.00) = 71.98 ≥ 50 → free. Two pens 7.00 − 0.70 = 6.30
    // < 50 → 4.99. Checked separately: the books, then the pens.
    let books = priced(
        "EUR",
        "DE",
        json!([add("BOOK", 2), ship("standard"), code("TENOFF")]),
    )
    .await;
    // Tax: 71.98 × 7 % = 5.0386 → 5.04.
    assert_totals(&books, 7998, 800, 0, 504, 7702);
    let pens = priced(
        "EUR",
        "DE",
        json!([add("PEN", 2), ship("standard"), code("TENOFF")]),
    )
    .await;
    // Pens 6.30 × 19 % = 1.197 → 1.20; shipping tax 0.95.
    assert_totals(&pens, 700, 70, 499, 215, 1344);
}

#[tokio::test]
async fn a_half_cent_of_tax_rounds_away_from_zero() {
    // Three pens: 10.50 × 19 % = 1.995 → 2.00 (half up), no shipping method yet.
    let cart = priced("EUR", "DE", json!([add("PEN", 3)])).await;
    assert_totals(&cart, 1050, 0, 0, 200, 1250);
}

#[tokio::test]
async fn tax_is_rounded_per_line_not_on_the_sum() {
    // Pen 3.50 × 19 % = 0.665 → 0.67; mug 12.99 × 19 % = 2.4681 → 2.47: 3.14 in all, where
    // rounding the sum (16.49 × 19 % = 3.1331) would give 3.13.
    let cart = priced("EUR", "DE", json!([add("PEN", 1), add("MUG", 1)])).await;
    assert_totals(&cart, 1649, 0, 0, 314, 1963);
}

#[tokio::test]
async fn a_percentage_discount_is_spread_over_lines_by_largest_remainder() {
    // 25.98 + 39.99 = 65.97; 10 % = 6.597 → 6.60. Mug share 2.5991…, book 4.0009…: floors
    // 2.59 + 4.00 leave 0.01 for the larger remainder, the mug: 2.60 / 4.00.
    let cart = priced(
        "EUR",
        "DE",
        json!([
            add("MUG", 2),
            add("BOOK", 1),
            ship("standard"),
            code("TENOFF")
        ]),
    )
    .await;
    let lines = cart["lineItems"].as_array().unwrap();
    assert_eq!(
        [cents(&lines[0]["discount"]), cents(&lines[1]["discount"])],
        [260, 400]
    );
    // Tax: (25.98 − 2.60) × 19 % = 4.4422 → 4.44; (39.99 − 4.00) × 7 % = 2.5193 → 2.52.
    assert_totals(&cart, 6597, 660, 0, 696, 6633);
}

#[tokio::test]
async fn a_fixed_discount_needs_its_minimum_and_currency() {
    // Book 39.99 − 5.00 = 34.99; tax 34.99 × 7 % = 2.4493 → 2.45; shipping 4.99 + 0.95.
    let cart = priced(
        "EUR",
        "DE",
        json!([add("BOOK", 1), ship("standard"), code("FIVE")]),
    )
    .await;
    assert_totals(&cart, 3999, 500, 499, 340, 4338);

    let app = App::start(Backend::Memory).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let below = guest
        .update(&mut cart, json!([add("MUG", 1), code("FIVE")]))
        .await;
    assert!(
        below.assert_problem(StatusCode::CONFLICT, "DiscountCodeNonApplicable")["detail"]
            .as_str()
            .unwrap()
            .contains("30.00 EUR")
    );

    let (gb, mut gb_cart) = app.guest_with_cart("GBP", "GB").await;
    let wrong = gb
        .update(&mut gb_cart, json!([add("BOOK", 2), code("FIVE")]))
        .await;
    assert!(
        wrong.assert_problem(StatusCode::CONFLICT, "DiscountCodeNonApplicable")["detail"]
            .as_str()
            .unwrap()
            .contains("EUR carts")
    );
}

#[tokio::test]
async fn stacked_codes_apply_in_order_to_what_is_left() {
    // 12.99 + 39.99 = 52.98; 10 % = 5.298 → 5.30 leaves 47.68; then 5.00 fixed leaves 42.68.
    // Discount 10.30 spread: mug 2.5254… → 2.53 (larger remainder), book 7.7745… → 7.77.
    // Tax: (12.99 − 2.53) × 19 % = 1.9874 → 1.99; (39.99 − 7.77) × 7 % = 2.2554 → 2.26;
    // 42.68 < 50 so shipping 4.99 + 0.95 tax.
    let cart = priced(
        "EUR",
        "DE",
        json!([
            add("MUG", 1),
            add("BOOK", 1),
            ship("standard"),
            code("TENOFF"),
            code("FIVE")
        ]),
    )
    .await;
    assert_totals(&cart, 5298, 1030, 499, 520, 5287);
    let codes = cart["discountCodes"].as_array().unwrap();
    assert_eq!(
        [cents(&codes[0]["amount"]), cents(&codes[1]["amount"])],
        [530, 500]
    );
}

#[tokio::test]
async fn pounds_and_zero_rated_books() {
    // 2 × 10.99 + 34.99 = 56.97 ≥ 40.00: free UK shipping. Mug 21.98 × 20 % = 4.396 → 4.40;
    // books are zero-rated in GB.
    let cart = priced(
        "GBP",
        "GB",
        json!([add("MUG", 2), add("BOOK", 1), ship("uk")]),
    )
    .await;
    assert_totals(&cart, 5697, 0, 0, 440, 6137);
    assert_eq!(cart["totals"]["total"]["currencyCode"], "GBP");
}

#[tokio::test]
async fn swiss_francs_at_swiss_rates() {
    // Mug 14.90 × 8.1 % = 1.2069 → 1.21; Swiss Post 9.00 × 8.1 % = 0.729 → 0.73.
    let cart = priced("CHF", "CH", json!([add("MUG", 1), ship("ch")])).await;
    assert_totals(&cart, 1490, 0, 900, 194, 2584);
}

#[tokio::test]
async fn a_product_without_a_price_in_the_cart_currency_cannot_be_added() {
    let app = App::start(Backend::Memory).await;
    let (guest, mut cart): (Client, _) = app.guest_with_cart("CHF", "CH").await;
    let response = guest.update(&mut cart, json!([add("BOOK", 1)])).await;
    assert_eq!(response.pointers(), ["/actions/0/sku"]);
    assert!(response.body["detail"]
        .as_str()
        .unwrap()
        .contains("not sold in CHF"));
}

#[tokio::test]
async fn a_discount_larger_than_the_goods_leaves_shipping_and_its_tax() {
    let app = App::start(Backend::Memory).await;
    app.admin()
        .put(
            "/admin/discount-codes/BIG",
            json!({"kind": "fixed", "value": 100000, "currency": "EUR"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let response = guest
        .update(
            &mut cart,
            json!([
                {"action": "setShippingAddress", "address": address_in("DE")},
                add("PEN", 1),
                ship("express"),
                code("BIG")
            ]),
        )
        .await;
    // Pen 3.50 fully discounted; express 12.99 + 2.4681 → 2.47 tax.
    assert_totals(&response.body, 350, 350, 1299, 247, 1546);
}
