//! Support at work on orders: cancels, refunds and shipments.

use checkout_tests::serde_json::json;

use crate::interleaving::world::{join_all, World};

impl World {
    /// Support at work on an order: `cancel` it, `refund` part of it (or all), or `ship` its
    /// unshipped lines; each with a fresh idempotency key, sometimes sent twice at once (a
    /// retry racing the first).
    pub(super) async fn merchant(&self, what: &str, cart: usize, part: Option<u64>) {
        let cart = self.ordered_cart(cart);
        let Some(number) = self
            .slot(cart)
            .state
            .lock()
            .unwrap()
            .numbers
            .iter()
            .next()
            .cloned()
        else {
            return self.note(&format!("merchant:{what}"), "no order");
        };
        let support = self.app.with_scope("support", "orders:read orders:write");
        let key = format!(
            "m-{}-{}",
            self.seed,
            self.key_counter
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let (path, body) = match what {
            "cancel" => (
                format!("/admin/orders/{number}/cancel"),
                json!({"idempotencyKey": key, "reason": "support"}),
            ),
            "refund" => {
                let order = support.get(&format!("/admin/orders/{number}")).await;
                let held = order.body["totals"]["total"]["centAmount"]
                    .as_i64()
                    .unwrap_or(0)
                    - order.body["refundedAmount"]["centAmount"]
                        .as_i64()
                        .unwrap_or(0);
                let mut body = json!({"idempotencyKey": key, "reason": "goodwill"});
                if let Some(per_mille) = part {
                    body["amount"] = json!((held * per_mille as i64 / 1000).max(1));
                }
                (format!("/admin/orders/{number}/refunds"), body)
            }
            _ => (
                format!("/admin/orders/{number}/fulfillments"),
                json!({"idempotencyKey": key, "carrier": "DHL", "trackingNumber": "IL1"}),
            ),
        };
        let twice = part.is_some_and(|p| p % 2 == 0);
        let copies = if twice { 2 } else { 1 };
        let answers = join_all(
            (0..copies)
                .map(|_| support.post(&path, body.clone()))
                .collect(),
        )
        .await;
        for answer in &answers {
            self.record(&format!("merchant:{what}"), answer);
        }
    }

    /// A cart with an order: the planned one, or the next that the API answered one for.
    pub(super) fn ordered_cart(&self, cart: usize) -> usize {
        (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .find(|&c| !self.slot(c).state.lock().unwrap().numbers.is_empty())
            .unwrap_or(cart)
    }
}
