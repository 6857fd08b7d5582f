//! Refunding an order in part or whole, and where the money comes from.

use super::*;

impl MerchantOrders<'_> {
    /// `POST /admin/orders/{n}/refunds`.
    pub async fn refund_order(
        &self,
        caller: &Caller,
        number: &str,
        input: &RefundInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let order = self.stored_order(number).await?;
        let mut errors = FieldErrors::new();
        let reason = plain(&mut errors, "/reason", &input.reason);
        if let Some(amount) = input.amount {
            if amount < 1 {
                errors.push(crate::model::field_error::FieldError::new(
                    "/amount",
                    "must be at least 1 (minor units)",
                ));
            }
        }
        let lines = input
            .line_items
            .as_deref()
            .map(|lines| parse_lines(&order, lines, |id| order.refundable_units(id), &mut errors));
        errors.into_result()?;
        let reason = reason.unwrap_or_default();
        let operation = Operation::Refund(number);
        let refund_id = uuid::Uuid::new_v4().to_string();
        let key = body_key(&input.idempotency_key)?;
        self.once(caller, operation, &key, input, async {
            let view = self
                .refund(
                    number,
                    &actor(caller),
                    &refund_id,
                    input,
                    lines.unwrap_or_default(),
                    &reason,
                )
                .await?;
            Ok(StoredResponse::Refund(Box::new(view)))
        })
        .await
    }

    /// Records the refund's parts as pending in one write conditioned on the order's revision
    /// (so two concurrent refunds never give back more than it holds), then asks the provider
    /// for each and records its answer; a gift card's part is credited in the first write.
    async fn refund(
        &self,
        number: &str,
        actor: &str,
        refund_id: &str,
        input: &RefundInput,
        lines: Vec<LineQuantity>,
        reason: &str,
    ) -> Result<RefundView, Error> {
        let mut backoff = self.env.backoff();
        let (refund, cart_id) = loop {
            let order = self.stored_order(number).await?;
            let refundable = order.refundable();
            let currency = order.currency;
            let amount = match (input.amount, lines.is_empty()) {
                (Some(amount), _) => amount,
                (None, false) => order.lines_value(&lines),
                (None, true) => refundable.cent_amount,
            };
            if amount < 1 || amount > refundable.cent_amount {
                return Err(Error::RefundExceedsCaptured { refundable });
            }
            let mut next = order.clone();
            let (parts, credits) = allocate(
                &mut next,
                refund_id,
                Money::new(amount, currency),
                self.env.now(),
            )?;
            let refund = MerchantRefund {
                id: refund_id.to_string(),
                amount: Money::new(amount, currency),
                line_items: lines.clone(),
                reason: reason.to_string(),
                restock: input.restock.unwrap_or(false) && !lines.is_empty(),
                parts,
                created_at: self.env.now(),
            };
            next.refunds.push(refund.clone());
            next.payments_changed(
                self.env.now(),
                actor,
                "refund",
                format!("{} requested: {reason}", refund.amount),
            );
            let claimed: Vec<String> = refund
                .parts
                .iter()
                .map(|p| p.interaction_id.clone())
                .collect();
            match self
                .payments
                .record_order_payments(&next, order.revision, &claimed, &credits, false)
                .await
            {
                Ok(()) => break (refund, order.details.cart_id),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the order's refund").await?,
            }
        };
        if refund.restock {
            let order = self.stored_order(number).await?;
            for line in &refund.line_items {
                if let Some(sku) = order
                    .line_items
                    .iter()
                    .find(|l| l.id == line.line_item_id)
                    .map(|l| l.sku.clone())
                {
                    self.catalog.restock(&sku, line.quantity).await?;
                }
            }
        }
        // The provider is asked for each pending part now; a crash leaves them pending for
        // the sweeper, which asks again with the same key.
        if let Err(error) = self.settle_order(&cart_id).await {
            tracing::warn!(order = number, %error, "refund recorded; the provider is asked again by the sweeper");
        }
        let order = self.stored_order(number).await?;
        let stored = order
            .refunds
            .iter()
            .find(|r| r.id == refund.id)
            .unwrap_or(&refund);
        Ok(stored.view(&order.payments))
    }

    /// Asks the provider for every pending reversal of the order and records the answers.
    async fn settle_order(&self, cart_id: &crate::model::values::CartId) -> Result<(), Error> {
        let mut asked = Asked::new();
        let mut backoff = self.env.backoff();
        loop {
            let Some(order) = self.carts.cart_and_order(cart_id).await?.1 else {
                return Ok(());
            };
            let mut next = order.clone();
            if !self
                .reversals
                .settle(cart_id, &mut next.payments, &mut asked)
                .await?
            {
                return Ok(());
            }
            next.payments_changed(self.env.now(), SYSTEM, "refund", "the provider answered");
            match self
                .payments
                .record_order_payments(&next, order.revision, &[], &[], false)
                .await
            {
                Ok(()) => return Ok(()),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the refund's answer").await?,
            }
        }
    }
}

/// Where a refund's money comes from: provider payments first (in the order they were made),
/// then gift cards, each giving what it keeps. Each part is a `Refund` transaction on its
/// payment under the refund's own interaction id: pending for the provider, done at once for a
/// gift card (its credit is returned to ride in the same write).
fn allocate(
    order: &mut Order,
    refund_id: &str,
    amount: Money,
    at: time::OffsetDateTime,
) -> Result<(Vec<RefundPart>, Vec<GiftCardCredit>), Error> {
    let total = order.totals.total;
    let mut left = amount.cent_amount;
    let mut parts = Vec::new();
    let mut credits = Vec::new();
    let mut order_of: Vec<usize> = (0..order.payments.len()).collect();
    order_of.sort_by_key(|&i| order.payments[i].is_gift_card());
    for i in order_of {
        if left == 0 {
            break;
        }
        let payment = &mut order.payments[i];
        if !payment::fits(payment, total) {
            continue;
        }
        let take = payment.kept().min(left);
        if take == 0 {
            continue;
        }
        left -= take;
        let interaction_id = merchant_refund_interaction(refund_id, &payment.id);
        let part = Money::new(take, amount.currency());
        let gift_card = payment.is_gift_card();
        payment.transactions.push(Transaction {
            id: uuid::Uuid::new_v4().to_string(),
            kind: TransactionKind::Refund,
            state: if gift_card {
                TransactionState::Success
            } else {
                TransactionState::Pending
            },
            amount: part,
            interaction_id: interaction_id.clone(),
            timestamp: at,
            reason: Some("a merchant's refund".into()),
            provider_id: None,
        });
        if gift_card {
            let code = GiftCardCode::parse(&payment.psp_reference)
                .map_err(|e| Error::internal(format!("a gift card payment without a code: {e}")))?;
            credits.push(GiftCardCredit { code, amount: part });
        }
        parts.push(RefundPart {
            payment_id: payment.id.clone(),
            interaction_id,
            amount: part,
        });
    }
    if left > 0 {
        return Err(Error::RefundExceedsCaptured {
            refundable: Money::new(amount.cent_amount - left, amount.currency()),
        });
    }
    Ok((parts, credits))
}
