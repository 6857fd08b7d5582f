//! Recording an order's shipments and their delivery.

use super::*;

impl MerchantOrders<'_> {
    /// `POST /admin/orders/{n}/fulfillments`: a shipment of the lines named (or of every line
    /// not shipped yet).
    pub async fn fulfill_order(
        &self,
        caller: &Caller,
        number: &str,
        input: &FulfillmentInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let order = self.stored_order(number).await?;
        let mut errors = FieldErrors::new();
        let carrier = plain(&mut errors, "/carrier", &input.carrier);
        let tracking = plain(&mut errors, "/trackingNumber", &input.tracking_number);
        if let Some(url) = &input.tracking_url {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 500
                && !url.chars().any(char::is_whitespace);
            if !ok {
                errors.push(crate::model::field_error::FieldError::new(
                    "/trackingUrl",
                    "must be an http(s) URL of at most 500 characters",
                ));
            }
        }
        let unshipped = order.unshipped();
        let lines = input.line_items.as_deref().map(|lines| {
            parse_lines(
                &order,
                lines,
                |id| {
                    unshipped
                        .iter()
                        .find(|(line, _)| line == id)
                        .map_or(0, |(_, left)| *left)
                },
                &mut errors,
            )
        });
        let (carrier, tracking) = errors.finish(carrier.zip(tracking))?;
        let operation = Operation::Fulfill(number);
        let id = uuid::Uuid::new_v4().to_string();
        let key = body_key(&input.idempotency_key)?;
        self.once(caller, operation, &key, input, async {
            let mut backoff = self.env.backoff();
            loop {
                let order = self.stored_order(number).await?;
                ensure_fulfillable(&order)?;
                let lines = match &lines {
                    Some(lines) => lines.clone(),
                    None => order
                        .unshipped()
                        .into_iter()
                        .filter(|(_, left)| *left > 0)
                        .map(|(line_item_id, quantity)| LineQuantity {
                            line_item_id,
                            quantity,
                        })
                        .collect(),
                };
                if lines.is_empty() {
                    return Err(Error::OrderNotFulfillable {
                        why: "every line has shipped",
                    });
                }
                let now = self.env.now();
                let fulfillment = Fulfillment {
                    id: id.clone(),
                    line_items: lines,
                    carrier: carrier.clone(),
                    tracking_number: tracking.clone(),
                    tracking_url: input.tracking_url.clone(),
                    state: FulfillmentState::Shipped,
                    shipped_at: now,
                    delivered_at: None,
                };
                let mut next = order.clone();
                next.fulfillments.push(fulfillment.clone());
                next.shipment_state = next.shipment_state_now();
                next.state = OrderState::Confirmed;
                next.moved_on(
                    now,
                    &actor(caller),
                    "shipped",
                    format!("{} {}", fulfillment.carrier, fulfillment.tracking_number),
                );
                if self
                    .orders
                    .write_fulfillments(&next, order.revision)
                    .await?
                {
                    return Ok(StoredResponse::Fulfillment(Box::new(fulfillment)));
                }
                backoff.wait("the order's shipment").await?;
            }
        })
        .await
    }

    /// `POST /admin/orders/{n}/fulfillments/{id}/delivered`.
    pub async fn mark_delivered(
        &self,
        caller: &Caller,
        number: &str,
        fulfillment_id: &str,
        input: &DeliveredInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let operation = Operation::Delivered(number, fulfillment_id);
        let key = body_key(&input.idempotency_key)?;
        self.once(caller, operation, &key, input, async {
            let mut backoff = self.env.backoff();
            loop {
                let order = self.stored_order(number).await?;
                let Some(index) = order
                    .fulfillments
                    .iter()
                    .position(|f| f.id == fulfillment_id)
                else {
                    return Err(Error::NotFound);
                };
                if order.fulfillments[index].state == FulfillmentState::Delivered {
                    return Ok(StoredResponse::ChangedOrder(Box::new(order.snapshot())));
                }
                let now = self.env.now();
                let mut next = order.clone();
                next.fulfillments[index].state = FulfillmentState::Delivered;
                next.fulfillments[index].delivered_at = Some(now);
                next.shipment_state = next.shipment_state_now();
                if next.shipment_state == ShipmentState::Delivered {
                    next.state = OrderState::Complete;
                }
                next.moved_on(
                    now,
                    &actor(caller),
                    "delivered",
                    format!("shipment {fulfillment_id}"),
                );
                if self
                    .orders
                    .write_fulfillments(&next, order.revision)
                    .await?
                {
                    return Ok(StoredResponse::ChangedOrder(Box::new(next.snapshot())));
                }
                backoff.wait("the order's delivery").await?;
            }
        })
        .await
    }
}

/// Only a paid order that is not cancelled ships.
fn ensure_fulfillable(order: &Order) -> Result<(), Error> {
    match (order.state, order.payment_state) {
        (OrderState::Cancelled | OrderState::Draft, _) => Err(Error::OrderNotFulfillable {
            why: "the order was cancelled or never placed",
        }),
        (_, PaymentState::Paid | PaymentState::PartiallyRefunded) => Ok(()),
        _ => Err(Error::OrderNotFulfillable {
            why: "the order is not paid",
        }),
    }
}
