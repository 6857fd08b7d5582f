//! `process_order`, `charge_payments` and the draft: the pipeline's writes. The order is
//! committed by the same single transaction as a cart's (order, number, stock, prices, codes,
//! gift cards); its idempotency key was claimed in flight before the first command (the
//! provider is called before the commit) and is completed with the answer after the last.
//! A capture is recorded on the order under its revision.

use time::OffsetDateTime;

use super::requests::ProgrammaticOrders;
use super::run::{HeldAuthorization, Run};
use crate::model::commit_plan::{plan, CommitPlan, Origin};
use crate::model::error::Error;
use crate::model::gift_card::{GiftCardRedemption, GIFT_CARD_PSP};
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order, OrderState};
use crate::model::order_commands::{apply_payments, PaymentSource};
use crate::model::payment::{
    self, Payment, PaymentState, Transaction, TransactionKind, TransactionState,
};
use crate::ports::payments::PaymentWriteError;
use crate::usecases::commit::{Number, Refusal};

impl ProgrammaticOrders<'_> {
    pub(crate) async fn process_order(&self, run: &mut Run) -> Result<(), Error> {
        // Before anything is held: the commit's own condition on it is for a configuration
        // that moved since the read.
        run.cart.check_minimum_order(&run.config)?;
        let total = run.cart.totals.total;
        let balances = self.balances(&run.request.payments).await?;
        let shares = apply_payments(total, &run.request.payments, &balances);
        let AppliedPayments {
            payments,
            gift_cards,
        } = order_payments(
            run,
            self.psps.default_provider().name(),
            &shares,
            total,
            self.env.now(),
        );
        let covered = payment::secured(&payments, total.currency());
        if covered.cent_amount < total.cent_amount {
            return Err(Error::InsufficientPayment { total, covered });
        }
        // A draft's number is claimed already; a new order's is drawn (again if taken).
        let number = match &run.draft {
            Some(draft) => Number::Requested(draft.order_number.clone()),
            None => Number::Generated,
        };
        let committed = self
            .commit
            .commit_order(number, |number| {
                let now = self.env.now();
                let mut cart = run.cart.clone();
                cart.payments = payments.clone();
                let mut order = Order::from_cart(
                    &cart,
                    number,
                    CommitAction::Checkout,
                    PaymentState::Paid,
                    now,
                    None,
                );
                order.programmatic = Some(run.terms());
                if let Some(draft) = &run.draft {
                    order.id = draft.id.clone();
                    order.revision = draft.revision + 1;
                }
                let mut commit = plan(&cart, order, cart.version, None, now)?;
                commit.origin = Origin::Programmatic {
                    draft_revision: run.draft.as_ref().map(|d| d.revision),
                };
                commit.gift_cards = gift_cards.clone();
                Ok(commit)
            })
            .await?;
        let order = match committed {
            Ok(commit) => Box::new(commit.order),
            Err(refusal) => {
                // An earlier attempt of this request committed; an authorization this
                // attempt made that the order does not hold (the amounts moved) is released.
                let order = programmatic_refusal(refusal, &gift_cards, total)?;
                run.authorized.retain(|held| {
                    !order
                        .payments
                        .iter()
                        .any(|p| p.psp_reference == held.reference)
                });
                self.cancel_authorizations(run).await;
                order
            }
        };
        run.number = order.order_number.clone();
        run.processed = Some(*order);
        Ok(())
    }

    /// Captures every authorization the order holds that is not captured yet, and records
    /// each capture on the order under its revision.
    pub(crate) async fn charge_payments(&self, run: &mut Run) -> Result<(), Error> {
        let Some(order) = run.processed.clone() else {
            return Err(Error::invalid("/commands", "process_order must run first"));
        };
        let mut captured = Vec::new();
        for payment in &order.payments {
            if payment.is_gift_card() || payment.charged() || payment.secured() == 0 {
                continue;
            }
            let amount = Money::new(payment.secured(), order.currency);
            let key = format!("capture:{}", payment.psp_reference);
            let capture = self
                .psps
                .recorded(&payment.psp)?
                .capture(
                    payment.modification_reference(),
                    &order.cart_id,
                    amount,
                    &key,
                )
                .await
                .map_err(Error::internal)?;
            captured.push((payment.psp_reference.clone(), amount, capture));
        }
        let mut current = order;
        let mut backoff = self.env.backoff();
        loop {
            let mut next = current.clone();
            let mut interactions = Vec::new();
            for (reference, amount, capture) in &captured {
                let Some(p) = next
                    .payments
                    .iter_mut()
                    .find(|p| &p.psp_reference == reference)
                else {
                    continue;
                };
                // A capture still processing is recorded under an id of its own, so the
                // provider's report of its outcome (the same charge) lands beside it instead
                // of being taken for a report seen before.
                let interaction_id = match capture.state {
                    TransactionState::Pending => format!("{}:pending", capture.interaction_id),
                    _ => capture.interaction_id.clone(),
                };
                if p.transactions
                    .iter()
                    .any(|t| t.interaction_id == interaction_id)
                {
                    continue;
                }
                p.transactions.push(Transaction {
                    id: uuid::Uuid::new_v4().to_string(),
                    kind: TransactionKind::Charge,
                    state: capture.state,
                    amount: *amount,
                    interaction_id: interaction_id.clone(),
                    timestamp: self.env.now(),
                    reason: None,
                    provider_id: None,
                });
                interactions.push(interaction_id);
            }
            if interactions.is_empty() {
                run.processed = Some(next);
                return Ok(());
            }
            next.payments_changed(
                self.env.now(),
                crate::model::fulfillment::SYSTEM,
                "payment",
                "authorized payments captured",
            );
            match self
                .payments
                .record_order_payments(&next, current.revision, &interactions, &[], false)
                .await
            {
                Ok(()) => {
                    run.processed = Some(next);
                    return Ok(());
                }
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                // The webhook recorded the capture first, the order moved, or contention:
                // read it again.
                Err(_) => {
                    backoff.wait("the order's captures").await?;
                    current = self
                        .orders
                        .order(&current.order_number)
                        .await?
                        .ok_or_else(|| Error::internal("a processed order vanished"))?;
                }
            }
        }
    }

    /// Stores the order as a draft: its number claimed, nothing held.
    pub(crate) async fn save_draft(&self, run: &mut Run) -> Result<Order, Error> {
        if let Some(draft) = &run.draft {
            // Commands that stopped short of processing: the draft as it was.
            return Ok(draft.clone());
        }
        let committed = self
            .commit
            .commit_order(Number::Generated, |number| {
                let now = self.env.now();
                run.number = number;
                let mut order = run.draft_order(now);
                order.revision = 1;
                Ok(CommitPlan {
                    idempotency: None,
                    converted: Vec::new(),
                    order,
                    origin: Origin::Programmatic {
                        draft_revision: None,
                    },
                    expected_cart_version: 0,
                    expected_payment_revision: 0,
                    reservations: Vec::new(),
                    redemptions: Vec::new(),
                    gift_cards: Vec::new(),
                    pricing: None,
                    guest_email: None,
                    saved_order_slot: None,
                    now,
                })
            })
            .await?;
        match committed {
            Ok(commit) => Ok(commit.order),
            Err(Refusal::Moved {
                order: Some(order), ..
            }) => Ok(*order),
            // A retry of a request whose draft is stored already: that draft.
            Err(Refusal::Moved { .. } | Refusal::KeyHeld) => {
                match self.carts.cart_and_order(&run.cart.id).await? {
                    (_, Some(order)) => Ok(order),
                    _ => Err(Error::RequestInProgress { retry_after: 1 }),
                }
            }
            Err(refusal) => programmatic_refusal(refusal, &[], run.cart.totals.total).map(|o| *o),
        }
    }
}

/// What a refused programmatic commit answers: the order an earlier attempt of the same
/// request committed (`Ok`), or the refusal in the pipeline's words.
fn programmatic_refusal(
    refusal: Refusal,
    gift_cards: &[GiftCardRedemption],
    total: Money,
) -> Result<Box<Order>, Error> {
    match refusal {
        Refusal::Moved {
            order: Some(order), ..
        } if order.state != OrderState::Draft => Ok(order),
        // The draft moved on (another request is processing it), or the catalog moved
        // between this request's read and its write: try again.
        Refusal::Moved { .. } | Refusal::KeyHeld | Refusal::TermsChanged => {
            Err(Error::RequestInProgress { retry_after: 1 })
        }
        Refusal::OutOfStock(items) => Err(Error::OutOfStock(items)),
        Refusal::GiftCardBalance(code) => {
            let share: i64 = gift_cards
                .iter()
                .filter(|r| r.code == code)
                .map(|r| r.amount.cent_amount)
                .sum();
            Err(Error::InsufficientPayment {
                total,
                covered: Money::new(total.cent_amount - share, total.currency()),
            })
        }
        Refusal::EmailRegistered => Err(Error::EmailAlreadyRegistered),
        Refusal::NumberTaken => Err(Error::internal("every drawn order number was taken")),
        Refusal::TooManyOpenOrders(_) => Err(Error::internal(
            "a programmatic order took a saved-order slot",
        )),
    }
}

/// What a run's payments come to on its order.
struct AppliedPayments {
    /// Each gift card's share as a charge, each card's authorization as it was held.
    payments: Vec<Payment>,
    /// What the commit takes off each gift card (one per card, its shares summed).
    gift_cards: Vec<GiftCardRedemption>,
}

/// The payments an order takes: each gift card's share as a charge, each card's
/// authorization as it was held (by `psp`, the default provider, which authorized it).
fn order_payments(
    run: &Run,
    psp: &str,
    shares: &[Money],
    total: Money,
    now: OffsetDateTime,
) -> AppliedPayments {
    let mut payments = Vec::new();
    let mut redemptions: Vec<GiftCardRedemption> = Vec::new();
    let transaction = |kind, amount: Money, interaction_id: String| Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state: TransactionState::Success,
        amount,
        interaction_id,
        timestamp: now,
        reason: None,
        provider_id: None,
    };
    for (index, (source, share)) in run.request.payments.iter().zip(shares).enumerate() {
        match source {
            PaymentSource::GiftCard { gift_card, .. } if !share.is_zero() => {
                match redemptions.iter_mut().find(|r| &r.code == gift_card) {
                    Some(r) => {
                        r.amount =
                            Money::new(r.amount.cent_amount + share.cent_amount, total.currency())
                    }
                    None => redemptions.push(GiftCardRedemption {
                        code: gift_card.clone(),
                        amount: *share,
                    }),
                }
                payments.push(Payment {
                    id: uuid::Uuid::new_v4().to_string(),
                    amount_planned: *share,
                    psp: GIFT_CARD_PSP.into(),
                    psp_reference: gift_card.to_string(),
                    provider_payment: None,
                    planned_for_total: Some(total),
                    failures_compacted: 0,
                    transactions: vec![transaction(
                        TransactionKind::Charge,
                        *share,
                        format!("giftcard:{}:{index}", run.cart.id),
                    )],
                });
            }
            PaymentSource::Card { .. } => {
                let held = run.authorized.iter().find(|held| held.payment == index);
                if let Some(HeldAuthorization {
                    reference, amount, ..
                }) = held
                {
                    payments.push(Payment {
                        id: uuid::Uuid::new_v4().to_string(),
                        amount_planned: *amount,
                        psp: psp.to_string(),
                        psp_reference: reference.clone(),
                        provider_payment: None,
                        planned_for_total: Some(total),
                        failures_compacted: 0,
                        transactions: vec![transaction(
                            TransactionKind::Authorization,
                            *amount,
                            payment::authorization_interaction(reference),
                        )],
                    });
                }
            }
            PaymentSource::GiftCard { .. } => {}
        }
    }
    AppliedPayments {
        payments,
        gift_cards: redemptions,
    }
}
