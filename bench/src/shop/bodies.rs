//! What the bench sends the shop: the demo catalog, the actions that make a cart ready, and
//! the order's body.

use checkout_domain::usecases::catalog_admin::CatalogImport;
use serde_json::{json, Value};

use super::Cart;

/// The local server's demo catalog (`local/demo.json`), as JSON.
pub fn catalog_json() -> Value {
    serde_json::from_str(include_str!("../../../local/demo.json")).expect("demo.json is JSON")
}

/// The demo catalog, with stock no bench run can exhaust.
pub fn catalog() -> CatalogImport {
    let mut demo = catalog_json();
    if let Some(products) = demo["products"].as_object_mut() {
        for product in products.values_mut() {
            product["stock"] = json!(100_000_000);
        }
    }
    checkout_http::json::from_slice(demo.to_string().as_bytes()).expect("a catalog")
}

/// The walk-through's cart: two mugs and a book to a German address, free standard shipping.
pub fn ready_actions() -> Value {
    let address = json!({"firstName": "Ada", "lastName": "Lovelace", "line1": "Hauptstr. 1",
        "city": "Berlin", "postalCode": "10115", "country": "DE"});
    json!([
        {"action": "addLineItem", "sku": "MUG-BLUE", "quantity": 2},
        {"action": "addLineItem", "sku": "BOOK-RUST", "quantity": 1},
        {"action": "setShippingAddress", "address": address},
        {"action": "setBillingAddress", "address": address},
        {"action": "setShippingMethod", "shippingMethodId": "standard"},
        {"action": "setGuestDetails", "email": "ada@example.com", "name": "Ada Lovelace", "phone": "+49 30 1234567"}
    ])
}

/// A cart of `quantity` × `sku` to a German address, standard shipping, for a guest with
/// `email` (orders by one email check one customer record: they would share an item).
pub fn ready_actions_for(sku: &str, quantity: u32, email: &str) -> Value {
    let mut actions = ready_actions();
    let list = actions.as_array_mut().expect("a list");
    list.retain(|a| a["action"] != "addLineItem" && a["action"] != "setGuestDetails");
    list.insert(
        0,
        json!({"action": "addLineItem", "sku": sku, "quantity": quantity}),
    );
    list.push(
        json!({"action": "setGuestDetails", "email": email, "name": "Ada Lovelace",
        "phone": "+49 30 1234567"}),
    );
    actions
}

/// The body of `POST /orders` for a cart at its version.
pub fn order_body(cart: &Cart) -> String {
    json!({"cartId": cart.id, "cartVersion": cart.version}).to_string()
}
