//! Cancelling an order: a merchant's, or its owner's within the contract's rules.

use super::*;

impl MerchantOrders<'_> {
    /// `POST /admin/orders/{n}/cancel`.
    pub async fn cancel_order(
        &self,
        caller: &Caller,
        number: &str,
        input: &CancelInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let mut errors = FieldErrors::new();
        let reason = plain(&mut errors, "/reason", &input.reason);
        let reason = errors.finish(reason)?;
        let operation = Operation::CancelOrder(number);
        let key = body_key(&input.idempotency_key)?;
        self.once(caller, operation, &key, input, async {
            let order = self.cancel(number, &actor(caller), &reason, None).await?;
            Ok(StoredResponse::ChangedOrder(Box::new(order.snapshot())))
        })
        .await
    }

    /// `POST /orders/{n}/cancel`: the owner cancels an unpaid saved order, or a paid,
    /// unshipped one within `CANCEL_WINDOW_SECONDS`.
    pub async fn customer_cancel(
        &self,
        caller: &Caller,
        number: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<Changed, Error> {
        let order = self.queries.order(caller, number).await?;
        let cancel = async {
            let order = self
                .cancel(
                    number,
                    &actor(caller),
                    "the customer cancelled it",
                    Some(&order),
                )
                .await?;
            Ok(StoredResponse::ChangedOrder(Box::new(order.snapshot())))
        };
        match key {
            Some(key) => {
                self.once(
                    caller,
                    Operation::CustomerCancel(number),
                    key,
                    &number,
                    cancel,
                )
                .await
            }
            None => Ok(Changed {
                response: cancel.await?,
                replayed: false,
            }),
        }
    }

    /// Cancels the order in one conditional write (its stock, one-time codes and open-order
    /// slot given back with it), then gives back every payment: provider money through the
    /// two-write reversal (the sweeper finishes it after a crash), gift card shares credited.
    /// `customer`: the order as its owner read it, whose rules apply.
    async fn cancel(
        &self,
        number: &str,
        actor: &str,
        reason: &str,
        customer: Option<&Order>,
    ) -> Result<Order, Error> {
        let mut backoff = self.env.backoff();
        loop {
            let order = self.stored_order(number).await?;
            match order.state {
                OrderState::Cancelled => return Ok(order),
                OrderState::Confirmed | OrderState::Complete => {
                    return Err(Error::OrderAlreadyShipped)
                }
                OrderState::Draft => {
                    return Err(Error::CancellationNotAllowed {
                        why: "a draft holds nothing; it was never placed",
                    })
                }
                OrderState::Open if order.shipment_state != ShipmentState::Pending => {
                    return Err(Error::OrderAlreadyShipped)
                }
                OrderState::Open => {}
            }
            let now = self.env.now();
            if customer.is_some() {
                // A window of 0 (the default) lets customers cancel unpaid orders only.
                let window = self.env.limits.cancel_window;
                let paid_within_window = order.payment_state == PaymentState::Paid
                    && window > time::Duration::ZERO
                    && now - order.created_at <= window;
                if !order.awaiting_payment() && !paid_within_window {
                    return Err(Error::CancellationNotAllowed {
                        why: "only an unpaid order, or a paid one within the cancellation window",
                    });
                }
            }
            let mut cancelled = order.clone();
            cancelled.state = OrderState::Cancelled;
            cancelled.cancelled_at = Some(now);
            cancelled.moved_on(now, actor, "cancelled", reason);
            if !self
                .orders
                .release_order(&cancelled, order.revision)
                .await?
            {
                // A payment, a shipment or another cancel moved it meanwhile: decide again.
                backoff.wait("the order's cancellation").await?;
                continue;
            }
            if cancelled.holds_money() {
                let why = format!("the order was cancelled: {reason}");
                if let Err(error) = self
                    .reversals
                    .give_back_order(&cancelled.cart_id, &why, &|_| true)
                    .await
                {
                    // Recorded as pending or still held: the sweeper finishes it.
                    tracing::warn!(order = %cancelled.order_number, %error, "cancelled; its money goes back with the sweeper");
                }
            }
            return Ok(self.stored_order(number).await.unwrap_or(cancelled));
        }
    }
}
