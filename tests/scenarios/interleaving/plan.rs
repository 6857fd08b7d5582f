//! The operations, generated up front from the seed.

use checkout_tests::faults::{FaultPoint, FaultSpec};

use super::rng::Rng;
use super::{owner_of, SHARED_NUMBERS, SKUS};

#[derive(Debug, Clone)]
pub(super) enum Edit {
    Add { sku: usize, quantity: u64 },
    Change { pick: u64, quantity: u64 },
    Remove { pick: u64 },
    Email { which: u64 },
    Guest { which: u64 },
    Shipping,
    ShippingMethod { express: bool },
    Billing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PspKind {
    /// The customer pays: `payment_intent.succeeded`.
    Succeed,
    /// A declined attempt: `payment_intent.payment_failed`.
    Fail,
    /// Manual capture: `payment_intent.amount_capturable_updated`.
    Authorize,
    /// The merchant refunds the whole charge from the dashboard: `charge.refunded`.
    Refund,
}

#[derive(Debug, Clone)]
pub(super) enum Key {
    None,
    Fresh,
    /// Reuse a key this cart used before, with the same body or a different one.
    Reuse {
        pick: u64,
        same: bool,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    Edit {
        cart: usize,
        edit: Edit,
        /// Use the version this client last saw instead of reading the cart first.
        stale: bool,
    },
    Pay {
        cart: usize,
        /// Per mille of the total (a partial payment); `None`: what the cart owes.
        part: Option<u64>,
        /// 2: two tabs start a payment at once.
        tabs: u64,
        /// Through Adyen (a Checkout session) rather than the default, Stripe.
        adyen: bool,
    },
    Psp {
        cart: usize,
        pick: u64,
        kind: PspKind,
        copies: u64,
    },
    Redeliver {
        pick: u64,
        copies: u64,
    },
    Commit {
        cart: usize,
        key: Key,
        save: bool,
        stale: bool,
        number: Option<u64>,
        /// Retry once on 5xx or `RequestInProgress`, as a browser would.
        retry: bool,
    },
    PayOrder {
        cart: usize,
        part: Option<u64>,
        adyen: bool,
    },
    /// A signed-in customer claims the guest orders of the cart's email with a fresh link.
    Claim {
        cart: usize,
    },
    Expire {
        minutes: i64,
    },
    /// Card testing: a run of declined attempts at one of the cart's open intents, more than
    /// a payment keeps in full.
    Declines {
        cart: usize,
        pick: u64,
        count: u64,
    },
    /// The PSP settles one of the refunds it made: a pending one succeeds (or fails), or one
    /// that succeeded fails later; it tells the webhook.
    RefundOutcome {
        pick: u64,
        fail: bool,
    },
    /// Support cancels an order (of this cart, or the next one that has an order).
    MerchantCancel {
        cart: usize,
    },
    /// Support refunds part of an order (`per mille` of what it still holds), or all of it.
    MerchantRefund {
        cart: usize,
        part: Option<u64>,
    },
    /// The warehouse ships an order's unshipped lines.
    Ship {
        cart: usize,
    },
}

impl Op {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Op::Edit { .. } => "edit",
            Op::Pay { .. } => "pay",
            Op::Psp { kind, .. } => match kind {
                PspKind::Succeed => "webhook:succeeded",
                PspKind::Fail => "webhook:failed",
                PspKind::Authorize => "webhook:authorized",
                PspKind::Refund => "webhook:refunded",
            },
            Op::Redeliver { .. } => "webhook:redeliver",
            Op::Commit { save: true, .. } => "save_order",
            Op::Commit { .. } => "commit",
            Op::PayOrder { .. } => "pay_order",
            Op::Claim { .. } => "claim",
            Op::Expire { .. } => "expire",
            Op::Declines { .. } => "webhook:declines",
            Op::RefundOutcome { .. } => "webhook:refund_updated",
            Op::MerchantCancel { .. } => "merchant:cancel",
            Op::MerchantRefund { .. } => "merchant:refund",
            Op::Ship { .. } => "merchant:ship",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub(super) op: Op,
    pub(super) fault: Option<FaultSpec>,
}

/// The whole workload of one seed: batches of concurrent operations.
pub(super) fn plan(rng: &mut Rng, ops: usize, carts: usize) -> Vec<Vec<Planned>> {
    let mut batches = Vec::new();
    let mut made = 0;
    while made < ops {
        let size = (rng.range(4, 16) as usize).min(ops - made);
        // Most of a batch works on a few carts, so operations on one cart race each other.
        let focus: Vec<usize> = (0..rng.range(1, 3))
            .map(|_| rng.below(carts as u64) as usize)
            .collect();
        let mut batch = Vec::with_capacity(size);
        for _ in 0..size {
            let cart = if rng.chance(650) {
                focus[rng.below(focus.len() as u64) as usize]
            } else {
                rng.below(carts as u64) as usize
            };
            let roll = rng.below(125);
            let op = match roll {
                0..=21 => Op::Edit {
                    cart,
                    stale: rng.chance(150),
                    edit: match rng.below(10) {
                        0..=2 => Edit::Add {
                            sku: rng.below(SKUS.len() as u64) as usize,
                            quantity: rng.range(1, 2),
                        },
                        3 => Edit::Change {
                            pick: rng.next(),
                            quantity: rng.range(1, 3),
                        },
                        4 => Edit::Remove { pick: rng.next() },
                        5 => Edit::Email {
                            which: rng.below(2),
                        },
                        6 => Edit::Guest {
                            which: rng.below(2),
                        },
                        7 => Edit::Shipping,
                        8 => Edit::ShippingMethod {
                            express: rng.chance(500),
                        },
                        _ => Edit::Billing,
                    },
                },
                22..=35 => Op::Pay {
                    cart,
                    part: rng.chance(250).then(|| rng.range(200, 800)),
                    tabs: if rng.chance(150) { 2 } else { 1 },
                    adyen: rng.chance(400),
                },
                36..=59 => Op::Psp {
                    cart,
                    pick: rng.next(),
                    kind: match rng.below(20) {
                        0..=11 => PspKind::Succeed,
                        12..=15 => PspKind::Fail,
                        16..=18 => PspKind::Authorize,
                        _ => PspKind::Refund,
                    },
                    copies: rng.range(1, 3),
                },
                60..=68 => Op::Redeliver {
                    pick: rng.next(),
                    copies: rng.range(1, 3),
                },
                69..=89 => Op::Commit {
                    cart,
                    key: match rng.below(10) {
                        0..=3 => Key::None,
                        4..=7 => Key::Fresh,
                        _ => Key::Reuse {
                            pick: rng.next(),
                            same: rng.chance(750),
                        },
                    },
                    // Customers save orders often (and meet their cap); guests try now and
                    // then (and are refused).
                    save: rng.chance(if owner_of(cart).is_some() { 450 } else { 100 }),
                    stale: rng.chance(150),
                    number: rng.chance(150).then(|| rng.below(2 * SHARED_NUMBERS)),
                    retry: rng.chance(500),
                },
                92..=97 => Op::PayOrder {
                    cart,
                    part: rng.chance(300).then(|| rng.range(200, 800)),
                    adyen: rng.chance(400),
                },
                90..=91 => Op::Claim { cart },
                98..=99 => Op::Expire {
                    minutes: rng.range(1, 40) as i64,
                },
                100..=104 => Op::Declines {
                    cart,
                    pick: rng.next(),
                    count: rng.range(3, 9),
                },
                105..=109 => Op::RefundOutcome {
                    pick: rng.next(),
                    fail: rng.chance(400),
                },
                110..=114 => Op::MerchantCancel { cart },
                115..=119 => Op::MerchantRefund {
                    cart,
                    part: rng.chance(600).then(|| rng.range(100, 700)),
                },
                _ => Op::Ship { cart },
            };
            // Before: the nth store call of the operation fails unwritten; After: its nth
            // write happens and then fails (a crash or timeout between write and answer).
            let fault = rng.chance(150).then(|| {
                if rng.chance(500) {
                    FaultSpec {
                        nth: rng.range(1, 4) as u32,
                        point: FaultPoint::After,
                    }
                } else {
                    FaultSpec {
                        nth: rng.range(1, 8) as u32,
                        point: FaultPoint::Before,
                    }
                }
            });
            batch.push(Planned { op, fault });
        }
        made += batch.len();
        batches.push(batch);
    }
    batches
}
