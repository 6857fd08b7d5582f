//! The operations a run makes concurrently (`World::run`), and settling.

mod carts;
mod merchant;
mod psp;
mod settle;
mod webhooks;

use checkout_tests::App;

use super::plan::Op;
use super::world::{join_all, World};

impl World {
    pub(super) async fn run(&self, op: Op) {
        match op {
            Op::Edit { cart, edit, stale } => self.edit(cart, edit, stale).await,
            Op::Pay {
                cart,
                part,
                tabs,
                adyen,
            } => {
                let tabs: Vec<_> = (0..tabs).map(|_| self.pay(cart, part, adyen)).collect();
                join_all(tabs).await;
            }
            Op::Psp {
                cart,
                pick,
                kind,
                copies,
            } => self.psp_event(cart, pick, kind, copies).await,
            Op::Redeliver { pick, copies } => {
                let count = self.ledger.lock().unwrap().events.len();
                if count > 0 {
                    self.deliver_copies((pick % count as u64) as usize, copies)
                        .await;
                }
            }
            Op::Commit {
                cart,
                key,
                save,
                stale,
                number,
                retry,
            } => self.commit(cart, key, save, stale, number, retry).await,
            Op::PayOrder { cart, part, adyen } => self.pay_order(cart, part, adyen).await,
            Op::Claim { cart } => self.claim(cart).await,
            Op::Declines { cart, pick, count } => self.declines(cart, pick, count).await,
            Op::RefundOutcome { pick, fail } => self.refund_outcome(pick, fail).await,
            Op::MerchantCancel { cart } => self.merchant("cancel", cart, None).await,
            Op::MerchantRefund { cart, part } => self.merchant("refund", cart, part).await,
            Op::Ship { cart } => self.merchant("ship", cart, None).await,
            Op::Expire { minutes } => {
                self.app.advance(time::Duration::minutes(minutes));
                let label = match housekeeping(&self.app).await {
                    Ok(_) => "ok".to_string(),
                    Err(e) => format!("error {}", checkout_http::problem::problem(&e).code),
                };
                self.note("expire", &label);
            }
        }
    }
}

/// The scheduled housekeeping, as the deployment runs it: the sweeper (expiry of unpaid
/// saved orders, reversal of paid carts never ordered after the grace period, reversals a
/// crash left half done).
async fn housekeeping(
    app: &App,
) -> Result<checkout_domain::usecases::sweeper::SweepReport, checkout_domain::Error> {
    app.storefront
        .sweeper()
        .sweep(
            checkout_domain::usecases::sweeper::DEFAULT_PAYMENT_GRACE,
            checkout_domain::usecases::sweeper::SweepBudget::time(std::time::Duration::from_secs(
                60,
            )),
        )
        .await
}
