//! What the payment providers do: Stripe's events for intents, declines and refunds,
//! and Adyen's reports on the modifications the system asked for.

use std::collections::HashMap;

use checkout_domain::model::payment;
use checkout_tests::serde_json::{self, json, Value};
use checkout_tests::App;

use crate::interleaving::plan::PspKind;
use crate::interleaving::world::{PspSide, World};

impl World {
    /// The PSP does something to one of the cart's intents and tells the webhook, `copies`
    /// times at once; an outcome the PSP cannot produce any more (a new failure after a
    /// success, say) becomes a redelivery of an earlier event of that intent.
    pub(super) async fn psp_event(&self, cart: usize, pick: u64, kind: PspKind, copies: u64) {
        // The PSP acts on payments that exist: the planned cart's, or the next cart's that has any.
        let Some(cart) = (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .find(|&c| !self.slot(c).state.lock().unwrap().intents.is_empty())
        else {
            return self.note("psp", "no intent anywhere");
        };
        let entry = {
            let mut state = self.slot(cart).state.lock().unwrap();
            let index = (pick % state.intents.len() as u64) as usize;
            let intent = &mut state.intents[index];
            let new_body = match (&intent.side, kind) {
                // Adyen: the session's payment authorised (its default: captured by Adyen
                // itself), or refused; no dashboard refunds.
                (PspSide::Open, PspKind::Succeed | PspKind::Authorize) if intent.adyen => {
                    intent.side = PspSide::Authorized;
                    Some(self.app.adyen_notification(&intent.reference, true))
                }
                (PspSide::Open, PspKind::Fail) if intent.adyen => {
                    Some(self.app.adyen_notification(&intent.reference, false))
                }
                (_, _) if intent.adyen => None,
                (PspSide::Open, PspKind::Succeed) => {
                    let body = self.app.payment_event(&intent.reference, true);
                    let charge = serde_json::from_str::<Value>(&body).unwrap()["data"]["object"]
                        ["latest_charge"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    intent.side = PspSide::Captured { charge };
                    Some(body)
                }
                (PspSide::Open, PspKind::Fail) => {
                    Some(self.app.payment_event(&intent.reference, false))
                }
                (PspSide::Open, PspKind::Authorize) => {
                    intent.side = PspSide::Authorized;
                    Some(authorization(&self.app, &intent.reference))
                }
                // The merchant refunds it all in Stripe's dashboard, if nothing was refunded
                // yet (Stripe refuses more than the charge has left, whoever asks).
                (PspSide::Captured { charge }, PspKind::Refund) => {
                    let nothing_refunded = self.app.psp.reversed(&intent.reference).refunded == 0;
                    nothing_refunded
                        .then(|| {
                            self.app
                                .psp
                                .refund_from_dashboard(&intent.reference, intent.amount)
                        })
                        .flatten()
                        .map(|_| {
                            self.ledger
                                .lock()
                                .unwrap()
                                .dashboard_refunds
                                .insert(intent.reference.clone(), intent.amount);
                            self.app.refunded_event(
                                &intent.reference,
                                charge,
                                intent.amount,
                                &format!("evt_dashboard_{}", intent.reference),
                            )
                        })
                }
                _ => None,
            };
            match new_body {
                Some(body) => {
                    let entry = self.add_event(cart, &intent.reference, body);
                    intent.events.push(entry);
                    Some(entry)
                }
                None if intent.events.is_empty() => None,
                None => Some(intent.events[(pick as usize / 7) % intent.events.len()]),
            }
        };
        match entry {
            Some(entry) => self.deliver_copies(entry, copies).await,
            None => self.note("psp", "nothing to report"),
        }
    }

    /// Card testing: `count` declined attempts at one of the cart's intents still open at the
    /// PSP, each its own event, delivered one after another.
    pub(super) async fn declines(&self, cart: usize, pick: u64, count: u64) {
        // An intent still open at the PSP: the planned cart's, or the next cart's that has one.
        let open_in = |c: usize| -> Vec<usize> {
            let state = self.slot(c).state.lock().unwrap();
            (0..state.intents.len())
                .filter(|&i| state.intents[i].side == PspSide::Open)
                .collect()
        };
        let Some((cart, open)) = (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .map(|c| (c, open_in(c)))
            .find(|(_, open)| !open.is_empty())
        else {
            return self.note("declines", "no open intent");
        };
        let entries: Vec<usize> = {
            let mut state = self.slot(cart).state.lock().unwrap();
            let index = open[(pick % open.len() as u64) as usize];
            let intent = &mut state.intents[index];
            (0..count)
                .map(|_| {
                    let body = if intent.adyen {
                        self.app.adyen_notification(&intent.reference, false)
                    } else {
                        self.app.payment_event(&intent.reference, false)
                    };
                    let entry = self.add_event(cart, &intent.reference, body);
                    intent.events.push(entry);
                    entry
                })
                .collect()
        };
        for entry in entries {
            self.deliver(entry, 3).await;
        }
    }

    /// The PSP settles one of its refunds (a pending one succeeds, or fails when `fail`; one
    /// that succeeded fails later when `fail`) and sends `charge.refund.updated`.
    pub(super) async fn refund_outcome(&self, pick: u64, fail: bool) {
        if pick % 2 == 1 && self.adyen_outcome(pick / 2, fail).await {
            return;
        }
        let mut candidates = Vec::new();
        for (cart, slot) in self.slots.iter().enumerate() {
            for intent in &slot.state.lock().unwrap().intents {
                for id in self.app.psp.refund_ids(&intent.reference) {
                    candidates.push((cart, intent.reference.clone(), id));
                }
            }
        }
        if candidates.is_empty() {
            return self.note("refund outcome", "no refund");
        }
        let (cart, reference, id) = candidates[(pick % candidates.len() as u64) as usize].clone();
        // A bank refuses a refund now and then, not every attempt: at most two per payment
        // fail, so the system's retries (five) always end in the money given back.
        let failed_before = self
            .app
            .psp
            .refund_ids(&reference)
            .iter()
            .filter(|id| self.app.psp.refund_state(id) == Some(payment::TransactionState::Failure))
            .count();
        let fail = fail && failed_before < 2;
        let next = match (self.app.psp.refund_state(&id), fail) {
            (Some(payment::TransactionState::Pending), false) => payment::TransactionState::Success,
            (
                Some(payment::TransactionState::Pending | payment::TransactionState::Success),
                true,
            ) => payment::TransactionState::Failure,
            _ => return self.note("refund outcome", "already settled"),
        };
        let Some(body) = self.app.psp.settle_refund(&id, next) else {
            return self.note("refund outcome", "unknown refund");
        };
        let entry = self.add_event(cart, &reference, body);
        self.slot(cart)
            .state
            .lock()
            .unwrap()
            .intents
            .iter_mut()
            .filter(|i| i.reference == reference)
            .for_each(|i| i.events.push(entry));
        self.deliver(entry, 3).await;
    }

    /// The Adyen modifications (captures, cancels, refunds) the system asked for that Adyen
    /// has not reported on (`reported`) yet: cart, session, modification.
    pub(super) fn unreported_modifications(
        &self,
        reported: &HashMap<String, bool>,
    ) -> Vec<(usize, String, String)> {
        let mut found = Vec::new();
        for (cart, slot) in self.slots.iter().enumerate() {
            let intents = slot.state.lock().unwrap().intents.clone();
            for intent in intents.iter().filter(|i| i.adyen) {
                let Some(payment) = self.app.adyen.payment_of(&intent.reference) else {
                    continue;
                };
                for modification in self.app.adyen.modifications_of(&payment) {
                    if !reported.contains_key(&modification) {
                        found.push((cart, intent.reference.clone(), modification));
                    }
                }
            }
        }
        found
    }

    /// Adyen reports the outcome of one modification it received (a failure at most twice per
    /// payment, so the system's retries end in the money given back). Returns whether there
    /// was one to report.
    async fn adyen_outcome(&self, pick: u64, fail: bool) -> bool {
        // Adyen reports each modification's outcome once: which one, and how it ended, is
        // decided under the lock, so two concurrent reports never tell one both ways.
        let decided = {
            let mut reported = self.adyen_reported.lock().unwrap();
            let candidates = self.unreported_modifications(&reported);
            if candidates.is_empty() {
                None
            } else {
                let (cart, session, modification) =
                    candidates[(pick % candidates.len() as u64) as usize].clone();
                let payment = self.app.adyen.payment_of(&session).unwrap_or_default();
                let failed_before = self
                    .app
                    .adyen
                    .modifications_of(&payment)
                    .iter()
                    .filter(|m| reported.get(*m) == Some(&false))
                    .count();
                let succeeded = !(fail && failed_before < 2);
                reported.insert(modification.clone(), succeeded);
                Some((cart, session, modification, succeeded))
            }
        };
        let Some((cart, session, modification, succeeded)) = decided else {
            return false;
        };
        self.report_modification(cart, &session, &modification, succeeded)
            .await;
        true
    }

    /// Adyen's notification of `modification`'s outcome (already in `adyen_reported`),
    /// delivered.
    pub(super) async fn report_modification(
        &self,
        cart: usize,
        session: &str,
        modification: &str,
        succeeded: bool,
    ) -> usize {
        let body = self.app.adyen_notification(modification, succeeded);
        let entry = self.add_event(cart, session, body);
        self.slot(cart)
            .state
            .lock()
            .unwrap()
            .intents
            .iter_mut()
            .filter(|i| i.reference == session)
            .for_each(|i| i.events.push(entry));
        self.deliver(entry, 3).await;
        entry
    }

    /// What Adyen gave back of the session's payment: minor units refunded, and whether a
    /// reversal (cancel or refund of it all) succeeded.
    pub(crate) fn adyen_given_back(&self, session: &str) -> (i64, bool) {
        let Some(payment) = self.app.adyen.payment_of(session) else {
            return (0, false);
        };
        let reported = self.adyen_reported.lock().unwrap();
        let mut refunded = 0;
        let mut reversed = false;
        for modification in self.app.adyen.modifications_of(&payment) {
            if reported.get(&modification) != Some(&true) {
                continue;
            }
            match self.app.adyen.modification(&modification) {
                Some(("refunds", _, amount)) => refunded += amount.cent_amount,
                Some(("reversals", _, _)) => reversed = true,
                _ => {}
            }
        }
        (refunded, reversed)
    }
}

/// The authorization event of the simulator's intent `reference` (manual capture).
fn authorization(app: &App, reference: &str) -> String {
    let mut event: Value = serde_json::from_str(&app.payment_event(reference, true)).unwrap();
    event["type"] = json!("payment_intent.amount_capturable_updated");
    event["data"]["object"]["amount_capturable"] = event["data"]["object"]["amount"].clone();
    event["data"]["object"]["amount_received"] = json!(0);
    event["data"]["object"]["status"] = json!("requires_capture");
    event.to_string()
}
