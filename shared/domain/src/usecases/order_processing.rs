//! `process_order`, `charge_payments` and the draft: the pipeline's writes. The order is
//! committed by the same single transaction as a cart's (order, number, stock, prices, codes,
//! gift cards); its idempotency key was claimed in flight before the first command (the
//! provider is called before the commit) and is completed with the answer after the last.
//! A capture is recorded on the order under its revision.

use time::OffsetDateTime;

use crate::model::commit_plan::{plan, CommitPlan, Origin, Rejection};
use crate::model::error::Error;
use crate::model::gift_card::{GiftCardRedemption, GIFT_CARD_PSP};
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order, OrderState};
use crate::model::order_commands::{apply_payments, PaymentSource};
use crate::model::order_number::{self, OrderNumber};
use crate::model::payment::{
    self, Payment, PaymentState, Transaction, TransactionKind, TransactionState, RECORD_ATTEMPTS,
};
use crate::ports::orders::CommitError;
use crate::ports::payments::PaymentWriteError;
use crate::usecases::order_pipeline::Run;
use crate::usecases::storefront::Storefront;

/// What a commit came to.
enum Committed {
    Done,
    /// An earlier attempt of the same request committed this order (a retry after a crash).
    Already(Box<Order>),
}

impl Storefront {
    pub(crate) async fn process_order(&self, run: &mut Run) -> Result<(), Error> {
        // Before anything is held: the commit's own condition on it is for a configuration
        // that moved since the read.
        run.cart.check_minimum_order(&run.config)?;
        let total = run.cart.totals.total;
        let balances = self.balances(&run.request.payments).await?;
        let shares = apply_payments(total, &run.request.payments, &balances);
        let (payments, gift_cards) = order_payments(run, &shares, total, self.now());
        let covered = payment::secured(&payments, total.currency());
        if covered.cent_amount < total.cent_amount {
            return Err(Error::InsufficientPayment { total, covered });
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let now = self.now();
            let mut cart = run.cart.clone();
            cart.payments = payments.clone();
            let mut order = Order::from_cart(
                &cart,
                run.number.clone(),
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
            match self.commit_programmatic(&commit).await {
                Ok(Committed::Done) => {
                    run.processed = Some(commit.order);
                    return Ok(());
                }
                Ok(Committed::Already(order)) => {
                    // An earlier attempt committed; an authorization this attempt made that
                    // the order does not hold (the amounts moved) is released.
                    run.authorized.retain(|(_, reference, _)| {
                        !order.payments.iter().any(|p| &p.psp_reference == reference)
                    });
                    self.cancel_authorizations(run).await;
                    run.processed = Some(*order);
                    return Ok(());
                }
                Err(Error::OrderNumberTaken { .. })
                    if run.draft.is_none() && attempts < order_number::DRAW_ATTEMPTS =>
                {
                    run.number = OrderNumber::generate(self.now());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Commits `plan`, or says which condition refused it.
    async fn commit_programmatic(&self, commit: &CommitPlan) -> Result<Committed, Error> {
        let rejections = match self.store().commit(commit).await {
            Ok(()) => return Ok(Committed::Done),
            Err(CommitError::Store(e)) => return Err(Error::Store(e)),
            Err(CommitError::Rejected(rejections)) => rejections,
        };
        let total = commit.order.totals.total;
        let mut shortages = Vec::new();
        for rejection in rejections {
            match rejection {
                Rejection::Cart {
                    order: Some(order), ..
                } if order.state != OrderState::Draft => return Ok(Committed::Already(order)),
                // The draft moved on (another request is processing it).
                Rejection::Cart { .. } | Rejection::IdempotencyKeyHeld => {
                    return Err(Error::RequestInProgress { retry_after: 1 })
                }
                Rejection::OutOfStock(items) => shortages.extend(items),
                Rejection::GiftCardBalance(code) => {
                    let share: i64 = commit
                        .gift_cards
                        .iter()
                        .filter(|r| r.code == code)
                        .map(|r| r.amount.cent_amount)
                        .sum();
                    return Err(Error::InsufficientPayment {
                        total,
                        covered: Money::new(total.cent_amount - share, total.currency()),
                    });
                }
                Rejection::EmailRegistered => return Err(Error::EmailAlreadyRegistered),
                Rejection::TooManyOpenOrders(_) => {
                    return Err(Error::internal(
                        "a programmatic order took a saved-order slot",
                    ))
                }
                Rejection::OrderNumberTaken => {
                    return Err(Error::OrderNumberTaken {
                        order_number: commit.order.order_number.to_string(),
                    })
                }
                // The catalog moved between this request's read and its write: try again.
                Rejection::ProductChanged(_)
                | Rejection::DiscountUnavailable(_)
                | Rejection::PricingChanged => {
                    return Err(Error::RequestInProgress { retry_after: 1 })
                }
            }
        }
        if shortages.is_empty() {
            return Err(Error::internal("commit rejected without a reason"));
        }
        Err(Error::OutOfStock(shortages))
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
                .psp()
                .capture(&payment.psp_reference, amount, &key)
                .await
                .map_err(Error::internal)?;
            captured.push((payment.psp_reference.clone(), amount, capture));
        }
        let mut current = order;
        for attempt in 1..=RECORD_ATTEMPTS {
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
                    timestamp: self.now(),
                    reason: None,
                    provider_id: None,
                });
                interactions.push(interaction_id);
            }
            if interactions.is_empty() {
                run.processed = Some(next);
                return Ok(());
            }
            next.payment_state = payment::payment_state(&next.payments, next.totals.total);
            next.revision += 1;
            match self
                .store()
                .record_order_payments(&next, current.revision, &interactions, &[], false)
                .await
            {
                Ok(()) => {
                    run.processed = Some(next);
                    return Ok(());
                }
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                // The webhook recorded the capture first, or the order moved: read it again.
                Err(PaymentWriteError::Conflict | PaymentWriteError::DuplicateInteraction(_))
                    if attempt < RECORD_ATTEMPTS =>
                {
                    current = self
                        .store()
                        .order(&current.order_number)
                        .await?
                        .ok_or_else(|| Error::internal("a processed order vanished"))?;
                }
                Err(_) => return Err(Error::RequestInProgress { retry_after: 1 }),
            }
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    /// Stores the order as a draft: its number claimed, nothing held.
    pub(crate) async fn save_draft(&self, run: &mut Run) -> Result<Order, Error> {
        if let Some(draft) = &run.draft {
            // Commands that stopped short of processing: the draft as it was.
            return Ok(draft.clone());
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let now = self.now();
            let mut order = run.draft_order(now);
            order.revision = 1;
            let commit = CommitPlan {
                idempotency: None,
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
            };
            match self.commit_programmatic(&commit).await {
                Ok(Committed::Done) => return Ok(commit.order),
                Ok(Committed::Already(order)) => return Ok(*order),
                Err(Error::OrderNumberTaken { .. }) if attempts < order_number::DRAW_ATTEMPTS => {
                    run.number = OrderNumber::generate(self.now());
                }
                // A retry of a request whose draft is stored already: that draft.
                Err(Error::RequestInProgress { .. }) => {
                    match self.store().cart_and_order(&run.cart.id).await? {
                        (_, Some(order)) => return Ok(order),
                        _ => return Err(Error::RequestInProgress { retry_after: 1 }),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The payments an order takes: each gift card's share as a charge, each card's
/// authorization as it was held.
pub(crate) fn order_payments(
    run: &Run,
    shares: &[Money],
    total: Money,
    now: OffsetDateTime,
) -> (Vec<Payment>, Vec<GiftCardRedemption>) {
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
                if let Some((_, reference, amount)) = run.authorized.iter().find(|a| a.0 == index) {
                    payments.push(Payment {
                        id: uuid::Uuid::new_v4().to_string(),
                        amount_planned: *amount,
                        psp: "stripe".into(),
                        psp_reference: reference.clone(),
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
    (payments, redemptions)
}
