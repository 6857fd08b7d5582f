//! What an order holds after the sale: units off the shelf, units a refund can still name,
//! what lines cost, what is unshipped, and the money refunded and refundable.

use super::*;

impl Order {
    /// Units of each SKU the order still holds off the shelf: its lines less what refunds
    /// put back in stock (what a cancellation gives back).
    pub fn units_held(&self) -> Vec<(crate::model::values::Sku, u32)> {
        self.line_items
            .iter()
            .map(|line| {
                let restocked: u32 = self
                    .refunds
                    .iter()
                    .filter(|r| r.restock)
                    .flat_map(|r| &r.line_items)
                    .filter(|l| l.line_item_id == line.id)
                    .map(|l| l.quantity)
                    .sum();
                (
                    line.sku.clone(),
                    line.quantity.get().saturating_sub(restocked),
                )
            })
            .filter(|(_, units)| *units > 0)
            .collect()
    }

    /// Units of a line no refund named yet: what a refund by lines can still name.
    pub fn refundable_units(&self, line: &LineItemId) -> u32 {
        let bought = self
            .line_items
            .iter()
            .find(|l| &l.id == line)
            .map_or(0, |l| l.quantity.get());
        let refunded: u32 = self
            .refunds
            .iter()
            .flat_map(|r| &r.line_items)
            .filter(|l| &l.line_item_id == line)
            .map(|l| l.quantity)
            .sum();
        bought.saturating_sub(refunded)
    }

    /// What `lines` of the order cost the customer (each line's total, tax and discount
    /// included, for the units named; rounded down per line).
    pub fn lines_value(&self, lines: &[crate::model::fulfillment::LineQuantity]) -> i64 {
        lines
            .iter()
            .filter_map(|named| {
                let line = self
                    .line_items
                    .iter()
                    .find(|l| l.id == named.line_item_id)?;
                Some(
                    line.total.cent_amount * i64::from(named.quantity)
                        / i64::from(line.quantity.get()),
                )
            })
            .sum()
    }

    /// Units of each line not shipped yet.
    pub fn unshipped(&self) -> Vec<(LineItemId, u32)> {
        self.line_items
            .iter()
            .map(|line| {
                let shipped: u32 = self
                    .fulfillments
                    .iter()
                    .flat_map(|f| &f.line_items)
                    .filter(|l| l.line_item_id == line.id)
                    .map(|l| l.quantity)
                    .sum();
                (line.id.clone(), line.quantity.get().saturating_sub(shipped))
            })
            .collect()
    }

    /// The shipment state its fulfilments make.
    pub fn shipment_state_now(&self) -> ShipmentState {
        if self.fulfillments.is_empty() {
            return ShipmentState::Pending;
        }
        if self.unshipped().iter().any(|(_, left)| *left > 0) {
            return ShipmentState::Partial;
        }
        if self
            .fulfillments
            .iter()
            .all(|f| f.state == FulfillmentState::Delivered)
        {
            ShipmentState::Delivered
        } else {
            ShipmentState::Shipped
        }
    }

    /// Money the order's payments took and gave back since (refunds that landed).
    pub fn refunded_amount(&self) -> Money {
        crate::model::payment::refunded_amount(&self.payments, self.totals.total)
    }

    /// Money a refund can still give back: what the order's payments keep.
    pub fn refundable(&self) -> Money {
        crate::model::payment::fitting(&self.payments, self.totals.total)
    }
}
