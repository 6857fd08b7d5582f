use super::serde_names::*;
use checkout_domain::model::cart::{CartOwner, CartState};
use checkout_domain::model::idempotency::RecordState;
use checkout_domain::model::order::OrderState;
use checkout_domain::model::values::SessionToken;
use serde_json::{json, Value};

fn serde_form(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("serializes")
}

#[test]
fn every_literal_in_a_condition_is_what_serde_writes() {
    assert_eq!(serde_form(CartState::Active), json!(CART_ACTIVE));
    assert_eq!(serde_form(CartState::Ordered), json!(CART_ORDERED));
    assert_eq!(serde_form(OrderState::Open), json!(ORDER_OPEN));
    assert_eq!(serde_form(OrderState::Draft), json!(ORDER_DRAFT));
    assert_eq!(serde_form(OrderState::Cancelled), json!(ORDER_CANCELLED));
    let in_flight = RecordState::InFlight {
        locked_until: time::OffsetDateTime::UNIX_EPOCH,
    };
    assert_eq!(serde_form(in_flight)["state"], json!(IN_FLIGHT));
    let guest = CartOwner::Guest {
        session_hash: SessionToken::generate().hash(),
    };
    assert_eq!(serde_form(guest)["kind"], json!(GUEST));
}
