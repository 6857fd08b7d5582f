//! The invariants of stock: (10) reservations' holds, (4) stock conserved.

use checkout_domain::model::order::OrderState;

use super::super::world::World;
use super::{Flags, Observed, Phase};

/// (10) reservations: every hold stored beside the stock is its cart's reservation's,
/// and every reservation's holds are stored; after settling, none is left.
pub(super) async fn holds_match_reservations(
    world: &World,
    observed: &Observed,
    phase: Phase,
    flags: &mut Flags,
) {
    let store = &world.app.store;
    let carts = &observed.carts;
    for (sku, holds) in &observed.holds {
        for hold in holds {
            let named = carts
                .iter()
                .find(|c: &&checkout_domain::model::cart::Cart| c.id == hold.cart_id)
                .and_then(|c| c.reservation.as_ref())
                .is_some_and(|r| r.payment_id == hold.payment_id && r.held(sku).is_some());
            if !named {
                flags.flag(
                    10,
                    Some(hold.cart_id.as_str()),
                    format!(
                        "a hold of {} {sku} its cart's reservation does not name",
                        hold.hold.units
                    ),
                );
            }
            if phase == Phase::Settled {
                flags.flag(
                    10,
                    Some(hold.cart_id.as_str()),
                    format!(
                        "a hold of {} {sku} left after every hold ended",
                        hold.hold.units
                    ),
                );
            }
        }
    }
    for cart in carts {
        let Some(reservation) = &cart.reservation else {
            continue;
        };
        for hold in &reservation.holds {
            let stored = store
                .holds(&hold.sku)
                .await
                .expect("read with faults off")
                .into_iter()
                .any(|h| h.cart_id == cart.id && h.payment_id == reservation.payment_id);
            if !stored {
                flags.flag(
                    10,
                    Some(cart.id.as_str()),
                    format!("its reservation's hold of {} is not stored", hold.sku),
                );
            }
        }
    }
}

/// (4) stock conserved: on the shelf, sold, or held by a reservation.
pub(super) fn stock_conserved(world: &World, observed: &Observed, flags: &mut Flags) {
    for product in &observed.products {
        let sku = product.sku.to_string();
        let reserved = observed.held(&product.sku);
        // What live orders hold: their lines less the units refunds put back on sale.
        let ordered: u64 = observed
            .orders
            .iter()
            .flatten()
            .filter(|o| o.state != OrderState::Cancelled)
            .flat_map(|o| o.units_held())
            .filter(|(sku, _)| *sku == product.sku)
            .map(|(_, units)| u64::from(units))
            .sum();
        let initial = u64::from(world.initial_stock[&sku]);
        if initial != u64::from(product.stock) + ordered + reserved {
            flags.flag(
                4,
                None,
                format!(
                    "{sku}: initial stock {initial} ≠ stock now {} + {ordered} in live orders + {reserved} reserved",
                    product.stock
                ),
            );
        }
    }
}
