//! Repricing a cart: every snapshot refreshed from the catalog, every amount recomputed.

use super::*;

impl Cart {
    /// Refreshes every snapshot from the catalog (prices, names, tax rates, shipping terms,
    /// discount terms) and recomputes all amounts.
    pub fn reprice(&mut self, catalog: &CatalogView, now: OffsetDateTime) -> Result<(), Error> {
        let destination = self.destination().cloned();
        let config = &catalog.config;
        let rate = |category: &TaxCategory| {
            destination
                .as_ref()
                .and_then(|country| config.tax_rate(country, category))
        };
        self.config_revision = config.revision;
        self.stock_hints.clear();
        for line in &mut self.line_items {
            if let Some(product) = catalog.products.get(&line.sku) {
                if let Some(price) = product.price(self.currency) {
                    line.unit_price = price;
                }
                line.name = product.name.clone();
                line.tax_category = product.tax_category.clone();
                line.reserve_on_payment = product.reserve_on_payment;
                self.stock_hints.insert(
                    line.sku.clone(),
                    StockHint {
                        shards: product.stock_shards,
                        in_stock: product.shards_in_stock(),
                    },
                );
            }
            line.tax_rate = rate(&line.tax_category);
        }
        // A method that no longer serves the destination is dropped, not silently kept.
        self.shipping_method = self.shipping_method.take().and_then(|current| {
            let method = config.shipping_method(&current.id)?;
            let country = destination.as_ref()?;
            method.serves(country, self.currency).then(|| ShippingInfo {
                id: method.id.clone(),
                name: method.name.clone(),
                price: Money::new(method.prices[&self.currency], self.currency),
                free_above: method
                    .free_above
                    .get(&self.currency)
                    .map(|&c| Money::new(c, self.currency)),
                tax_category: method.tax_category.clone(),
                tax_rate: rate(&method.tax_category),
                amount: current.amount,
                tax: current.tax,
            })
        });
        let subtotal = self.subtotal().map_err(Error::internal)?;
        for applied in &mut self.discount_codes {
            if let Some(terms) = catalog.discounts.get(&applied.code) {
                applied.terms = terms.clone();
            }
            match applied.terms.check(subtotal, now) {
                Ok(()) => {
                    applied.state = DiscountState::MatchesCart;
                    applied.reason = None;
                }
                Err(reason) => {
                    applied.state = DiscountState::DoesNotMatchCart;
                    applied.reason = Some(reason.to_string());
                }
            }
        }
        self.recompute()
    }

    /// Recomputes amounts from the snapshots alone, without the catalog.
    pub fn recompute(&mut self) -> Result<(), Error> {
        let currency = self.currency;
        let lines: Vec<PricedLineInput> = self
            .line_items
            .iter()
            .map(|l| PricedLineInput {
                unit_price: l.unit_price,
                quantity: l.quantity.get(),
                tax_rate: l.tax_rate,
            })
            .collect();
        let active: Vec<usize> = (0..self.discount_codes.len())
            .filter(|&i| self.discount_codes[i].state == DiscountState::MatchesCart)
            .collect();
        let rules: Vec<DiscountRule> = active
            .iter()
            .map(|&i| match self.discount_codes[i].terms.kind {
                DiscountKind::Percentage { value } => DiscountRule::Percentage(value),
                DiscountKind::Fixed { value, currency } => {
                    DiscountRule::Fixed(Money::new(value, currency))
                }
            })
            .collect();
        let shipping = self.shipping_method.as_ref().map(|s| ShippingInput {
            price: s.price,
            free_above: s.free_above,
            tax_rate: s.tax_rate,
        });
        let priced = pricing::price(currency, &lines, &rules, shipping).map_err(Error::internal)?;
        for (line, amounts) in self.line_items.iter_mut().zip(&priced.lines) {
            line.subtotal = amounts.subtotal;
            line.discount = amounts.discount;
            line.tax = amounts.tax;
            line.total = amounts.total;
        }
        for applied in &mut self.discount_codes {
            applied.amount = Money::zero(currency);
        }
        for (&i, &amount) in active.iter().zip(&priced.discounts) {
            self.discount_codes[i].amount = amount;
        }
        if let Some(shipping) = &mut self.shipping_method {
            shipping.amount = priced.shipping;
            shipping.tax = priced.shipping_tax;
        }
        self.totals = priced.totals;
        Ok(())
    }
}
