//! The pricing engine: turns a cart's snapshotted prices, discounts, shipping and tax rates
//! into line and cart totals. Pure and deterministic.
//!
//! Prices are net of tax. In order:
//! 1. line subtotal = unit price × quantity; cart subtotal = Σ line subtotals.
//! 2. Each applicable discount code, in the order added, takes its amount from what is left of
//!    the subtotal: percentage = remaining × rate, rounded half away from zero; fixed =
//!    min(value, remaining). The cart discount is spread over lines in proportion to their
//!    subtotals, largest remainder first (ties to the earlier line), so lines sum exactly.
//! 3. Shipping is the method's price, or zero when subtotal − discount ≥ its `freeAbove`.
//! 4. Tax per line = (line subtotal − line discount) × the line's rate; tax on shipping =
//!    shipping × the shipping category's rate; each rounded half away from zero on its own.
//! 5. total = subtotal − discount + shipping + tax.

use serde::{Deserialize, Serialize};

use crate::model::money::{Currency, Money, MoneyError};

/// The amounts a cart or order shows its customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub subtotal: Money,
    pub discount: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
}

impl Totals {
    pub fn zero(currency: Currency) -> Self {
        let zero = Money::zero(currency);
        Totals {
            subtotal: zero,
            discount: zero,
            shipping: zero,
            tax: zero,
            total: zero,
        }
    }
}

/// One line as the engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct PricedLineInput {
    pub unit_price: Money,
    pub quantity: u32,
    /// Basis points, `None` while the cart has no destination country.
    pub tax_rate: Option<u32>,
}

/// A discount as the engine sees it (already checked for applicability).
#[derive(Debug, Clone, Copy)]
pub enum DiscountRule {
    Percentage(u32),
    Fixed(Money),
}

#[derive(Debug, Clone, Copy)]
pub struct ShippingInput {
    pub price: Money,
    pub free_above: Option<Money>,
    pub tax_rate: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<PricedLine>,
    /// The amount each discount rule took, in input order.
    pub discounts: Vec<Money>,
    pub shipping: Money,
    pub shipping_tax: Money,
    pub totals: Totals,
}

pub fn price(
    currency: Currency,
    lines: &[PricedLineInput],
    discounts: &[DiscountRule],
    shipping: Option<ShippingInput>,
) -> Result<Priced, MoneyError> {
    let zero = Money::zero(currency);
    let line_subtotals = lines
        .iter()
        .map(|l| l.unit_price.checked_mul(l.quantity as i64))
        .collect::<Result<Vec<_>, _>>()?;
    let subtotal = line_subtotals
        .iter()
        .try_fold(zero, |acc, &m| acc.checked_add(m))?;

    let mut remaining = subtotal;
    let mut discount_amounts = Vec::with_capacity(discounts.len());
    for rule in discounts {
        let amount = match *rule {
            DiscountRule::Percentage(bp) => remaining.basis_points(bp)?,
            DiscountRule::Fixed(value) => value.min(remaining),
        }
        .min(remaining);
        remaining = remaining.checked_sub(amount)?;
        discount_amounts.push(amount);
    }
    let discount = subtotal.checked_sub(remaining)?;
    let line_discounts = spread(discount, &line_subtotals)?;

    let mut priced_lines = Vec::with_capacity(lines.len());
    let mut tax = zero;
    for ((line, &line_subtotal), &line_discount) in
        lines.iter().zip(&line_subtotals).zip(&line_discounts)
    {
        let net = line_subtotal.checked_sub(line_discount)?;
        let line_tax = match line.tax_rate {
            Some(rate) => net.basis_points(rate)?,
            None => zero,
        };
        tax = tax.checked_add(line_tax)?;
        priced_lines.push(PricedLine {
            subtotal: line_subtotal,
            discount: line_discount,
            tax: line_tax,
            total: net.checked_add(line_tax)?,
        });
    }

    let (shipping_amount, shipping_tax) = match shipping {
        None => (zero, zero),
        Some(method) => {
            let free = method
                .free_above
                .is_some_and(|threshold| remaining.cent_amount >= threshold.cent_amount);
            let amount = if free { zero } else { method.price };
            let tax = match method.tax_rate {
                Some(rate) => amount.basis_points(rate)?,
                None => zero,
            };
            (amount, tax)
        }
    };
    tax = tax.checked_add(shipping_tax)?;
    let total = remaining.checked_add(shipping_amount)?.checked_add(tax)?;
    Ok(Priced {
        lines: priced_lines,
        discounts: discount_amounts,
        shipping: shipping_amount,
        shipping_tax,
        totals: Totals {
            subtotal,
            discount,
            shipping: shipping_amount,
            tax,
            total,
        },
    })
}

/// Splits `amount` over `weights` proportionally, by the largest-remainder method, so the
/// parts always add up to `amount` exactly.
fn spread(amount: Money, weights: &[Money]) -> Result<Vec<Money>, MoneyError> {
    let currency = amount.currency();
    let total_weight: i128 = weights.iter().map(|w| w.cent_amount as i128).sum();
    if total_weight == 0 || amount.is_zero() {
        return Ok(vec![Money::zero(currency); weights.len()]);
    }
    let target = amount.cent_amount as i128;
    let mut parts: Vec<(i128, i128)> = weights
        .iter()
        .map(|w| {
            let exact = target * w.cent_amount as i128;
            (exact / total_weight, exact % total_weight)
        })
        .collect();
    let mut left = target - parts.iter().map(|(q, _)| q).sum::<i128>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| parts[b].1.cmp(&parts[a].1).then(a.cmp(&b)));
    for index in order {
        if left == 0 {
            break;
        }
        parts[index].0 += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|(cents, _)| {
            i64::try_from(cents)
                .map(|c| Money::new(c, currency))
                .map_err(|_| MoneyError::Overflow)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EUR: Currency = Currency::EUR;

    fn eur(cents: i64) -> Money {
        Money::new(cents, EUR)
    }

    fn line(cents: i64, quantity: u32, rate: u32) -> PricedLineInput {
        PricedLineInput {
            unit_price: eur(cents),
            quantity,
            tax_rate: Some(rate),
        }
    }

    #[test]
    fn spreading_always_adds_up() {
        let parts = spread(eur(100), &[eur(1), eur(1), eur(1)]).unwrap();
        assert_eq!(parts, vec![eur(34), eur(33), eur(33)]);
        let parts = spread(eur(7), &[eur(1000), eur(0), eur(3000)]).unwrap();
        assert_eq!(parts.iter().map(|m| m.cent_amount).sum::<i64>(), 7);
        assert_eq!(parts[1], eur(0));
    }

    #[test]
    fn an_empty_cart_costs_nothing() {
        let priced = price(EUR, &[], &[DiscountRule::Percentage(1000)], None).unwrap();
        assert_eq!(priced.totals, Totals::zero(EUR));
    }

    #[test]
    fn discount_larger_than_the_subtotal_stops_at_zero() {
        let priced = price(
            EUR,
            &[line(500, 1, 1900)],
            &[DiscountRule::Fixed(eur(900))],
            None,
        )
        .unwrap();
        assert_eq!(priced.totals.discount, eur(500));
        assert_eq!(priced.totals.total, eur(0));
    }
}
