//! The ledger of the providers' events and their delivery to the webhooks.

use checkout_adapters::adyen;
use checkout_adapters::stripe::{self, Interpretation};
use checkout_domain::model::payment;
use checkout_domain::model::payment_event::PaymentOutcome;
use checkout_domain::model::values::CartId;
use checkout_tests::serde_json::{self, Value};

use crate::interleaving::world::{answer_label, join_all, Delivered, Expect, World};

impl World {
    /// Adds an event to the ledger (what its acknowledgment must leave behind included).
    pub(super) fn add_event(&self, cart: usize, reference: &str, body: String) -> usize {
        if let Ok(notification) = adyen::notification::Notification::parse(body.as_bytes()) {
            return self.add_adyen_event(cart, reference, body, &notification);
        }
        let event: stripe::Event = serde_json::from_str(&body).expect("a Stripe event");
        let cart_id = CartId::parse(&self.slot(cart).id).unwrap();
        let expect = match stripe::interpret_for(&event, Some(cart_id)) {
            Ok(Interpretation::Payment(payment)) => match payment.outcome {
                PaymentOutcome::Refunded { total_refunded, .. } => {
                    Expect::RefundedAtLeast(total_refunded.cent_amount)
                }
                PaymentOutcome::RefundUpdated(refund) => {
                    Expect::RefundState(refund.id, refund.state)
                }
                PaymentOutcome::Failed { .. } => Expect::Failure(payment.interaction_id),
                _ => Expect::Interaction(payment.interaction_id),
            },
            other => panic!("the test builds only payment events, got {other:?}"),
        };
        let mut ledger = self.ledger.lock().unwrap();
        ledger.events.push(Delivered {
            cart,
            reference: reference.to_string(),
            kind: event.kind.clone(),
            body,
            expect,
            acked: false,
            answers: Vec::new(),
        });
        ledger.events.len() - 1
    }

    /// Adds an Adyen notification (one item) to the ledger.
    fn add_adyen_event(
        &self,
        cart: usize,
        reference: &str,
        body: String,
        notification: &adyen::notification::Notification,
    ) -> usize {
        let item = notification.items().next().expect("one item");
        let expect = match item.meaning() {
            Ok(adyen::notification::Meaning::Payment(payment)) => match payment.outcome {
                PaymentOutcome::RefundUpdated(refund) => {
                    Expect::RefundState(refund.id, refund.state)
                }
                PaymentOutcome::Canceled {
                    reversal: Some(id), ..
                } => Expect::RefundState(id, payment::TransactionState::Success),
                PaymentOutcome::Failed { .. } => Expect::Failure(payment.interaction_id),
                _ => Expect::Interaction(payment.interaction_id),
            },
            other => panic!("the test builds only payment notifications, got {other:?}"),
        };
        let mut ledger = self.ledger.lock().unwrap();
        ledger.events.push(Delivered {
            cart,
            reference: reference.to_string(),
            kind: format!("adyen:{}", item.event_code),
            body,
            expect,
            acked: false,
            answers: Vec::new(),
        });
        ledger.events.len() - 1
    }

    pub(super) async fn deliver_copies(&self, entry: usize, copies: u64) {
        let deliveries: Vec<_> = (0..copies).map(|_| self.deliver(entry, 3)).collect();
        join_all(deliveries).await;
    }

    /// Delivers a ledger event as Stripe does: again while the answer is not 2xx, up to
    /// `attempts` times.
    pub(super) async fn deliver(&self, entry: usize, attempts: usize) -> bool {
        let (body, kind) = {
            let ledger = self.ledger.lock().unwrap();
            let event = &ledger.events[entry];
            (event.body.clone(), event.kind.clone())
        };
        let adyen = kind.starts_with("adyen:");
        for _ in 0..attempts {
            let response = if adyen {
                self.app.deliver_adyen(&body).await
            } else {
                self.app.deliver(&body).await
            };
            let mut label = answer_label(&response);
            if adyen && response.status.is_success() {
                label = "200 [accepted]".to_string();
            } else if response.status.is_success() {
                label = match (&response.body["effect"], &response.body["ignored"]) {
                    (Value::Null, Value::Null) if response.body["duplicate"] == true => {
                        "200 duplicate(in flight or seen)".to_string()
                    }
                    (Value::String(effect), _) => format!("200 {effect}"),
                    (Value::Object(effect), _) => format!(
                        "200 {}",
                        effect.keys().next().map(String::as_str).unwrap_or("?")
                    ),
                    (_, Value::String(why)) => format!("200 ignored: {why}"),
                    _ => "200".to_string(),
                };
            }
            self.note(&format!("webhook {kind}"), &label);
            let cart = {
                let mut ledger = self.ledger.lock().unwrap();
                let event = &mut ledger.events[entry];
                event.answers.push(label);
                event.acked |= response.status.is_success();
                event.cart
            };
            if response.status.is_success() {
                if let Some(number) = response.body["effect"]["ordered"].as_str() {
                    self.slot(cart)
                        .state
                        .lock()
                        .unwrap()
                        .numbers
                        .insert(number.to_string());
                }
                return true;
            }
            tokio::task::yield_now().await;
        }
        false
    }
}
