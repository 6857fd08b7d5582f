//! `POST /carts/{id}` bodies: the version and the actions, each action read on its own from
//! its JSON object so that every problem is reported with its exact pointer.

use serde::Deserialize;

use checkout_domain::model::address::AddressInput;
use checkout_domain::model::cart_actions::{ActionInput, CartActionInput, UpdateCartInput};
use checkout_domain::FieldError;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCartBody {
    pub version: u64,
    /// Read one by one, for exact pointers.
    pub actions: Vec<serde_json::Value>,
}

impl From<&UpdateCartBody> for UpdateCartInput {
    fn from(body: &UpdateCartBody) -> Self {
        UpdateCartInput {
            version: body.version,
            actions: body
                .actions
                .iter()
                .enumerate()
                .map(|(index, value)| match read_action(index, value) {
                    Ok(action) => ActionInput::Read(action),
                    Err(why) => ActionInput::Unreadable(why),
                })
                .collect(),
        }
    }
}

/// Declares one fields struct per action and the dispatch from the `action` member to it.
/// Dispatching by hand (not serde's internally tagged enums, which buffer) keeps the JSON
/// pointer of a wrongly typed field exact: `/actions/1/quantity`, not `/actions/1`.
macro_rules! action_inputs {
    ($($name:literal => $variant:ident { $($field:ident : $ty:ty),* }),* $(,)?) => {
        mod action_fields {
            use super::*;
            $(
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                #[allow(non_camel_case_types)]
                pub struct $variant { $(pub $field: $ty),* }
            )*
        }

        /// Every action's name, as clients write it.
        pub const ACTION_NAMES: &[&str] = &[$($name),*];

        /// Reads one action object; errors point below `/actions/{index}`.
        fn read_action(index: usize, value: &serde_json::Value) -> Result<CartActionInput, Vec<FieldError>> {
                let here = format!("/actions/{index}");
                let mut object = match value {
                    serde_json::Value::Object(object) => object.clone(),
                    _ => return Err(vec![FieldError::new(here, "must be an object with an `action` member")]),
                };
                let name = match object.remove("action") {
                    Some(serde_json::Value::String(name)) => name,
                    Some(_) => return Err(vec![FieldError::new(format!("{here}/action"), "must be a string")]),
                    None => return Err(vec![FieldError::new(format!("{here}/action"), "is required")]),
                };
                let fields = serde_json::Value::Object(object);
                match name.as_str() {
                    $($name => {
                        let action_fields::$variant { $($field),* } =
                            crate::json::from_value(fields).map_err(|e| vec![e.under(&here)])?;
                        Ok(CartActionInput::$variant { $($field),* })
                    })*
                    other => Err(vec![FieldError::new(
                        format!("{here}/action"),
                        format!("unknown action '{other}'; expected one of: {}", ACTION_NAMES.join(", ")),
                    )]),
                }
        }
    };
}

action_inputs! {
    "addLineItem" => AddLineItem { sku: String, quantity: i64 },
    "changeLineItemQuantity" => ChangeLineItemQuantity { line_item_id: String, quantity: i64 },
    "removeLineItem" => RemoveLineItem { line_item_id: String },
    "setShippingAddress" => SetShippingAddress { address: AddressInput },
    "setBillingAddress" => SetBillingAddress { address: AddressInput },
    "setShippingMethod" => SetShippingMethod { shipping_method_id: String },
    "addDiscountCode" => AddDiscountCode { code: String },
    "removeDiscountCode" => RemoveDiscountCode { code: String },
    "setCustomerEmail" => SetCustomerEmail { email: String },
    "setGuestDetails" => SetGuestDetails { email: String, name: String, phone: String },
    "recalculate" => Recalculate {},
}
