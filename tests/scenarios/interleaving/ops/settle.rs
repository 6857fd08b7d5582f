//! Settling: faults off, every event delivered until acknowledged, the providers' own
//! reports, and housekeeping past every hold.

use checkout_domain::model::payment;

use super::housekeeping;
use crate::interleaving::rng::Rng;
use crate::interleaving::world::{join_all, PspSide, World};
use crate::interleaving::SETTLE_ADVANCE;

impl World {
    /// Adyen reports the success of every modification it has not reported on yet; returns
    /// how many reports were never acknowledged.
    async fn report_adyen_modifications(&self) -> usize {
        let mut unacked = 0;
        let unreported = {
            let mut reported = self.adyen_reported.lock().unwrap();
            let unreported = self.unreported_modifications(&reported);
            for (_, _, modification) in &unreported {
                reported.insert(modification.clone(), true);
            }
            unreported
        };
        for (cart, session, modification) in unreported {
            let entry = self
                .report_modification(cart, &session, &modification, true)
                .await;
            if !self.ledger.lock().unwrap().events[entry].acked {
                unacked += usize::from(!self.deliver(entry, 5).await);
            }
        }
        unacked
    }

    pub(crate) async fn settle(&self, rng: &mut Rng) -> usize {
        self.faults.set_enabled(false);
        // The PSP finishes every refund still pending (and makes new ones at once), and says
        // so; a refund that failed is for the sweeper to ask anew.
        self.app.psp.answer_refunds_pending(false);
        let pending: Vec<(usize, String)> = self
            .slots
            .iter()
            .enumerate()
            .flat_map(|(cart, slot)| {
                let intents = slot.state.lock().unwrap().intents.clone();
                intents
                    .into_iter()
                    .map(move |intent| (cart, intent.reference))
            })
            .collect();
        for (cart, reference) in pending {
            for id in self.app.psp.refund_ids(&reference) {
                if self.app.psp.refund_state(&id) != Some(payment::TransactionState::Pending) {
                    continue;
                }
                if let Some(body) = self
                    .app
                    .psp
                    .settle_refund(&id, payment::TransactionState::Success)
                {
                    let entry = self.add_event(cart, &reference, body);
                    self.slot(cart)
                        .state
                        .lock()
                        .unwrap()
                        .intents
                        .iter_mut()
                        .filter(|i| i.reference == reference)
                        .for_each(|i| i.events.push(entry));
                }
            }
        }
        // Stripe retries every event until it is acknowledged; here every event the PSP
        // produced is delivered once more (retried while the answer is not 2xx).
        let mut order: Vec<usize> = (0..self.ledger.lock().unwrap().events.len()).collect();
        rng.shuffle(&mut order);
        let mut unacked = 0;
        for chunk in order.chunks(16) {
            let deliveries: Vec<_> = chunk.iter().map(|&e| self.deliver(e, 5)).collect();
            unacked += join_all(deliveries).await.iter().filter(|ok| !**ok).count();
        }
        // The PSP's own events for the reversals the system asked for.
        let mut echoes = Vec::new();
        for (cart, slot) in self.slots.iter().enumerate() {
            let mut state = slot.state.lock().unwrap();
            for intent in state.intents.iter_mut() {
                // What Stripe refunded, the dashboard's refunds included.
                let reversed = self.app.psp.reversed(&intent.reference);
                let body = match &intent.side {
                    PspSide::Captured { charge } if reversed.refunded > 0 => {
                        Some(self.app.refunded_event(
                            &intent.reference,
                            charge,
                            reversed.refunded,
                            &format!("evt_refund_echo_{}", intent.reference),
                        ))
                    }
                    PspSide::Authorized | PspSide::Open if reversed.cancelled => {
                        Some(self.app.canceled_event(&intent.reference))
                    }
                    _ => None,
                };
                if let Some(body) = body {
                    let entry = self.add_event(cart, &intent.reference, body);
                    intent.events.push(entry);
                    echoes.push(entry);
                }
            }
        }
        for chunk in echoes.chunks(16) {
            let deliveries: Vec<_> = chunk.iter().map(|&e| self.deliver(e, 5)).collect();
            unacked += join_all(deliveries).await.iter().filter(|ok| !**ok).count();
        }
        // Adyen reports every modification it received: each succeeds now.
        unacked += self.report_adyen_modifications().await;
        // Past every hold and grace period; housekeeping runs (twice: a second pass finds
        // what the first left, if anything).
        self.app.advance(SETTLE_ADVANCE);
        for _ in 0..2 {
            if let Err(e) = housekeeping(&self.app).await {
                self.note(
                    "settle housekeeping",
                    checkout_http::problem::problem(&e).code,
                );
            }
        }
        // And the ones housekeeping asked for (a reversal asked anew after one failed).
        unacked += self.report_adyen_modifications().await;
        unacked
    }
}
