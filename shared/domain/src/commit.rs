//! The commit step: a cart becomes an order exactly once.
//!
//! The fast path reads the cart (with its order, if any) once and sends one atomic write, a
//! `CommitPlan`, whose conditions re-check everything the cart's price was built on: the cart
//! version, stock and price of each SKU, the destination's tax rates and the shipping terms,
//! each discount code's terms and remaining redemptions, the order number's uniqueness. The
//! store either applies all of it or says which conditions failed; only then does the slow
//! path read the catalog, to tell the customer exactly what changed.

use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use crate::cart::{Cart, CartOwner, CartState, DiscountState};
use crate::catalog::DiscountDefinition;
use crate::error::{ChangedLine, Error, FieldErrors, PriceChange, StockShortage};
use crate::idempotency::{self, Begin, IdempotencyKey, IdempotencyRecord, StoredResponse, Ticket};
use crate::identity::Caller;
use crate::money::Money;
use crate::order::{CommitAction, Order};
use crate::order_number::OrderNumber;
use crate::payment::{self, PaymentState};
use crate::ports::CommitError;
use crate::service::{conflict, Storefront};
use crate::values::{CartId, CountryCode, Email, ShippingMethodId, Sku, TaxCategory};

/// How long a `save_order` order holds its stock and codes while awaiting payment.
pub const SAVED_ORDER_HOLD: Duration = Duration::minutes(30);

/// How often a generated order number is redrawn after a collision.
const ORDER_NUMBER_ATTEMPTS: usize = 3;

/// How often a commit re-reads a cart that changed under it without a version change.
const MAX_REFRESHES: usize = 3;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateOrderInput {
    pub cart_id: String,
    pub cart_version: u64,
    #[serde(default)]
    pub order_number: Option<String>,
    #[serde(default)]
    pub action: Option<CommitAction>,
}

/// What `POST /orders` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderResponse {
    pub status: u16,
    pub body: String,
    /// True when this repeats an earlier commit's answer.
    pub replayed: bool,
    /// The order committed or replayed (`None` for a replay of a stored answer).
    pub order_number: Option<String>,
}

impl OrderResponse {
    fn created(body: String, order: &Order) -> Self {
        OrderResponse {
            status: 201,
            body,
            replayed: false,
            order_number: Some(order.order_number.to_string()),
        }
    }

    fn replay(body: String, order: Option<&Order>) -> Self {
        OrderResponse {
            status: 200,
            body,
            replayed: true,
            order_number: order.map(|o| o.order_number.to_string()),
        }
    }
}

/// Stock taken for one SKU, valid only while its price and tax category are as snapshotted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price: Money,
    pub tax_category: TaxCategory,
}

/// The pricing configuration the cart was priced with, as far as this order depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingExpectation {
    pub country: CountryCode,
    pub tax_rates: BTreeMap<TaxCategory, u32>,
    pub shipping_method: ShippingMethodId,
    pub shipping_price: Money,
    pub shipping_free_above: Option<Money>,
    /// Subtotal less discount, to be at least the configured minimum order value.
    pub goods_value: Money,
}

/// Everything one commit writes, and every condition it writes under.
#[derive(Debug, Clone)]
pub struct CommitPlan {
    pub order: Order,
    pub expected_cart_version: u64,
    /// The payments the order snapshots are all the cart has: none landed since the read.
    pub expected_payment_revision: u64,
    pub reservations: Vec<Reservation>,
    /// Codes to redeem once each, valid only with these terms, unexpired, with redemptions left.
    pub redemptions: Vec<DiscountDefinition>,
    pub pricing: PricingExpectation,
    /// For guests: this email must not belong to a registered customer.
    pub guest_email: Option<Email>,
    /// The completed idempotency record, written in the same transaction.
    pub idempotency: Option<IdempotencyRecord>,
    pub now: OffsetDateTime,
}

/// One failed condition of a commit.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// The cart is not `Active` at the expected version (with what is there now).
    Cart {
        current: Option<Box<Cart>>,
        order: Option<Box<Order>>,
    },
    OrderNumberTaken,
    OutOfStock(Vec<StockShortage>),
    /// A product's price or tax category moved since the cart was priced.
    ProductChanged(Sku),
    /// A code's terms changed, it expired, or it ran out of redemptions.
    DiscountUnavailable(String),
    /// Tax rates, shipping terms or the minimum order value no longer fit.
    PricingChanged,
    EmailRegistered,
    /// Our idempotency lock expired and another invocation took the key.
    IdempotencyLost,
}

impl Storefront {
    /// `POST /orders`: commits the caller's cart, at most once per cart and per key.
    /// `locked_until` bounds how long this invocation may hold the idempotency key.
    pub async fn place_order(
        &self,
        caller: &Caller,
        input: &CreateOrderInput,
        key: Option<&str>,
        locked_until: OffsetDateTime,
    ) -> Result<OrderResponse, Error> {
        let key = key.map(IdempotencyKey::parse).transpose()?;
        let (cart_id, order_number) = parse_input(input)?;
        let now = self.now();
        let Some(key) = key else {
            return self
                .commit(caller, &cart_id, input, order_number, None)
                .await;
        };
        let scoped = format!("orders#{}#{}", owner_scope(caller), key.as_str());
        let fingerprint = idempotency::fingerprint("POST /orders", input);
        match idempotency::begin(
            self.store().as_ref(),
            scoped,
            fingerprint,
            now,
            locked_until,
        )
        .await?
        {
            Begin::Replay(stored) => Ok(OrderResponse::replay(stored.body, None)),
            Begin::Proceed(ticket) => {
                let result = self
                    .commit(caller, &cart_id, input, order_number, Some(&ticket))
                    .await;
                if result.is_err() {
                    // A refusal is not remembered: the customer fixes the cart and retries.
                    if let Err(e) = self
                        .store()
                        .release_idempotency(&ticket.key, &ticket.fingerprint)
                        .await
                    {
                        // Only delays the key's reuse until its lock expires.
                        tracing::warn!(error = %e, "releasing an idempotency key failed");
                    }
                }
                result
            }
        }
    }

    async fn commit(
        &self,
        caller: &Caller,
        cart_id: &CartId,
        input: &CreateOrderInput,
        requested_number: Option<OrderNumber>,
        ticket: Option<&Ticket>,
    ) -> Result<OrderResponse, Error> {
        let (cart, existing) = self.store().cart_and_order(cart_id).await?;
        let cart = match cart {
            Some(cart) if caller.owns(&cart.owner) => cart,
            _ => return Err(Error::NotFound),
        };
        if let Some(order) = existing {
            return self.replay_or_refuse(&order, input, ticket).await;
        }
        self.commit_loaded(cart, input, requested_number, ticket)
            .await
    }

    /// Commits a cart already read (and its access checked) by the caller.
    pub(crate) async fn commit_loaded(
        &self,
        mut cart: Cart,
        input: &CreateOrderInput,
        requested_number: Option<OrderNumber>,
        ticket: Option<&Ticket>,
    ) -> Result<OrderResponse, Error> {
        let action = input.action.unwrap_or(CommitAction::Checkout);
        let mut refreshed = 0;
        let mut number = requested_number
            .clone()
            .unwrap_or_else(|| OrderNumber::generate(self.now()));
        let mut attempts = 0;
        loop {
            if cart.state != CartState::Active || cart.version != input.cart_version {
                return Err(conflict(&cart, input.cart_version));
            }
            let payment_state = check_preconditions(&cart, action)?;
            attempts += 1;
            let now = self.now();
            // A saved order its payments already cover holds nothing: it is paid.
            let expires_at = (action == CommitAction::SaveOrder
                && payment_state != PaymentState::Paid)
                .then(|| now + SAVED_ORDER_HOLD);
            let order = Order::from_cart(
                &cart,
                number.clone(),
                action,
                payment_state,
                now,
                expires_at,
            );
            let body = order.view().to_string();
            let plan = plan(&cart, order, input.cart_version, ticket, &body, now)?;
            let rejections = match self.store().commit(&plan).await {
                Ok(()) => return Ok(OrderResponse::created(body, &plan.order)),
                Err(CommitError::Store(e)) => return Err(Error::Store(e)),
                Err(CommitError::Rejected(rejections)) => rejections,
            };
            match self.explain(&cart, input, ticket, rejections).await? {
                Retry::NewNumber
                    if requested_number.is_none() && attempts < ORDER_NUMBER_ATTEMPTS =>
                {
                    number = OrderNumber::generate(self.now());
                }
                Retry::NewNumber => {
                    return Err(Error::OrderNumberTaken {
                        order_number: number.to_string(),
                    });
                }
                // A payment landed (or the catalog moved without changing this price) between
                // the read and the write: decide again on the cart as it is now.
                Retry::Refreshed(fresh) if refreshed < MAX_REFRESHES => {
                    refreshed += 1;
                    cart = *fresh;
                }
                Retry::Refreshed(_) => return Err(Error::RequestInProgress { retry_after: 1 }),
                Retry::Answer(answer) => return answer,
            }
        }
    }

    /// Turns failed conditions into the customer's answer, reading the catalog only now.
    async fn explain(
        &self,
        cart: &Cart,
        input: &CreateOrderInput,
        ticket: Option<&Ticket>,
        rejections: Vec<Rejection>,
    ) -> Result<Retry, Error> {
        // The cart's own condition decides first: if another request ordered it, replay.
        for rejection in &rejections {
            if let Rejection::Cart { current, order } = rejection {
                if let Some(order) = order {
                    return Ok(Retry::Answer(
                        self.replay_or_refuse(order, input, ticket).await,
                    ));
                }
                let (cart_now, order_now) = match current {
                    Some(current) => (Some(current.as_ref().clone()), None),
                    None => self.store().cart_and_order(&cart.id).await?,
                };
                if let Some(order) = order_now {
                    return Ok(Retry::Answer(
                        self.replay_or_refuse(&order, input, ticket).await,
                    ));
                }
                return Ok(Retry::Answer(Err(match cart_now {
                    Some(now) => conflict(&now, input.cart_version),
                    None => Error::NotFound,
                })));
            }
        }
        let mut shortages = Vec::new();
        let mut prices_moved = false;
        let mut number_taken = false;
        for rejection in rejections {
            match rejection {
                Rejection::OutOfStock(items) => shortages.extend(items),
                Rejection::OrderNumberTaken => number_taken = true,
                Rejection::ProductChanged(_)
                | Rejection::PricingChanged
                | Rejection::DiscountUnavailable(_) => prices_moved = true,
                Rejection::EmailRegistered => {
                    return Ok(Retry::Answer(Err(Error::EmailAlreadyRegistered)))
                }
                Rejection::IdempotencyLost => {
                    return Ok(Retry::Answer(Err(Error::RequestInProgress {
                        retry_after: 1,
                    })))
                }
                Rejection::Cart { .. } => unreachable!("handled above"),
            }
        }
        if !shortages.is_empty() {
            return Ok(Retry::Answer(Err(Error::OutOfStock(shortages))));
        }
        if prices_moved {
            return self.what_changed(cart).await;
        }
        if number_taken {
            return Ok(Retry::NewNumber);
        }
        Err(Error::internal("commit rejected without a reason"))
    }

    /// Re-prices the cart against today's catalog and says how the customer's total moved.
    async fn what_changed(&self, cart: &Cart) -> Result<Retry, Error> {
        let catalog = self
            .catalog_for(cart, std::iter::empty(), std::iter::empty())
            .await?;
        let mut fresh = cart.clone();
        fresh.reprice(&catalog, self.now())?;
        let change = price_change(cart, &fresh);
        let goods = fresh
            .totals
            .subtotal
            .checked_sub(fresh.totals.discount)
            .map_err(Error::internal)?;
        if let Some(&minimum) = catalog.config.min_order_value.get(&cart.currency) {
            if goods.cent_amount < minimum {
                return Ok(Retry::Answer(Err(Error::BelowMinimumOrderValue {
                    minimum: Money::new(minimum, cart.currency),
                    total: goods,
                })));
            }
        }
        if let Some(lost) = fresh
            .discount_codes
            .iter()
            .find(|d| d.state == DiscountState::DoesNotMatchCart && cart_code_active(cart, &d.code))
        {
            return Ok(Retry::Answer(Err(Error::DiscountCodeNonApplicable {
                code: lost.code.to_string(),
                reason: lost
                    .reason
                    .clone()
                    .unwrap_or_else(|| "no longer applies".into()),
                change: Some(Box::new(change)),
            })));
        }
        if change.previous != change.current || !change.lines.is_empty() {
            return Ok(Retry::Answer(Err(Error::PriceChanged(Box::new(change)))));
        }
        // Something moved that does not change this customer's price: commit as priced now.
        Ok(Retry::Refreshed(Box::new(fresh)))
    }

    async fn replay_or_refuse(
        &self,
        order: &Order,
        input: &CreateOrderInput,
        ticket: Option<&Ticket>,
    ) -> Result<OrderResponse, Error> {
        if order.cart_version != input.cart_version {
            return Err(Error::CartAlreadyOrdered {
                order_number: order.order_number.to_string(),
            });
        }
        let body = order.view().to_string();
        if let Some(ticket) = ticket {
            let record = ticket.completion(
                StoredResponse {
                    status: 200,
                    body: body.clone(),
                },
                self.now(),
            );
            self.store().complete_idempotency(&record).await?;
        }
        Ok(OrderResponse::replay(body, Some(order)))
    }
}

enum Retry {
    NewNumber,
    Refreshed(Box<Cart>),
    Answer(Result<OrderResponse, Error>),
}

fn parse_input(input: &CreateOrderInput) -> Result<(CartId, Option<OrderNumber>), Error> {
    let mut errors = FieldErrors::new();
    let cart_id = errors.check("/cartId", CartId::parse(&input.cart_id));
    let number = match input.order_number.as_deref() {
        Some(n) => errors
            .check("/orderNumber", OrderNumber::parse(n))
            .map(Some),
        None => Some(None),
    };
    errors.finish(cart_id.zip(number))
}

/// Whose keys these are: a key is only ever replayed to the caller who used it.
fn owner_scope(caller: &Caller) -> String {
    match (&caller.customer, &caller.session) {
        (Some(customer), _) => format!("customer:{customer}"),
        (None, Some(session)) => format!("guest:{}", session.hash()),
        (None, None) => "anonymous".into(),
    }
}

/// Everything an order needs before it may be committed; every gap is named at once.
pub fn check_preconditions(cart: &Cart, action: CommitAction) -> Result<PaymentState, Error> {
    if cart.line_items.is_empty() {
        return Err(Error::EmptyCart);
    }
    let mut missing = Vec::new();
    if cart.shipping_address.is_none() {
        missing.push("shippingAddress");
    }
    if cart.shipping_method.is_none() {
        missing.push("shippingMethod");
    }
    if cart.billing_address.is_none() {
        missing.push("billingAddress");
    }
    match &cart.owner {
        CartOwner::Guest { .. } if cart.guest.is_none() => missing.push("guestDetails"),
        CartOwner::Customer { .. } if cart.customer_email.is_none() => {
            missing.push("customerEmail")
        }
        _ => {}
    }
    if !missing.is_empty() {
        return Err(Error::CartNotReady { missing });
    }
    let total = cart.totals.total;
    match action {
        CommitAction::SaveOrder => Ok(payment::payment_state(&cart.payments, total)),
        // Nothing to pay (a 100 % discount): the order is paid as it is.
        CommitAction::Checkout if total.is_zero() => Ok(PaymentState::Paid),
        CommitAction::Checkout => {
            // Money that is being given back does not pay for anything.
            let secured = payment::available(&cart.payments, cart.currency);
            if secured.is_zero() {
                // A payment that took money and was given back did not fit this cart.
                if let Some(reversed) = cart
                    .payments
                    .iter()
                    .map(payment::Payment::captured)
                    .filter(|&c| c > 0)
                    .max()
                {
                    return Err(Error::PaymentAmountMismatch {
                        authorized: Money::new(reversed, cart.currency),
                        total,
                    });
                }
                let reported = cart.payments.iter().any(|p| !p.transactions.is_empty());
                return Err(
                    if reported && cart.payments.iter().any(|p| p.is_pending()) {
                        Error::PaymentPending
                    } else {
                        Error::PaymentRequired { total }
                    },
                );
            }
            if secured != total {
                return Err(Error::PaymentAmountMismatch {
                    authorized: secured,
                    total,
                });
            }
            Ok(PaymentState::Paid)
        }
    }
}

fn plan(
    cart: &Cart,
    order: Order,
    expected_cart_version: u64,
    ticket: Option<&Ticket>,
    body: &str,
    now: OffsetDateTime,
) -> Result<CommitPlan, Error> {
    let country = cart
        .destination()
        .cloned()
        .ok_or_else(|| Error::internal("checked: has an address"))?;
    let shipping = cart
        .shipping_method
        .as_ref()
        .ok_or_else(|| Error::internal("checked: has shipping"))?;
    let mut tax_rates = BTreeMap::new();
    for (category, rate) in cart
        .line_items
        .iter()
        .map(|l| (&l.tax_category, l.tax_rate))
        .chain([(&shipping.tax_category, shipping.tax_rate)])
    {
        let rate =
            rate.ok_or_else(|| Error::internal("a priced cart with a destination has tax rates"))?;
        tax_rates.insert(category.clone(), rate);
    }
    Ok(CommitPlan {
        expected_cart_version,
        expected_payment_revision: cart.payment_revision,
        reservations: cart
            .line_items
            .iter()
            .map(|l| Reservation {
                sku: l.sku.clone(),
                quantity: l.quantity.get(),
                unit_price: l.unit_price,
                tax_category: l.tax_category.clone(),
            })
            .collect(),
        redemptions: order
            .discount_codes
            .iter()
            .map(|d| d.terms.clone())
            .collect(),
        pricing: PricingExpectation {
            country,
            tax_rates,
            shipping_method: shipping.id.clone(),
            shipping_price: shipping.price,
            shipping_free_above: shipping.free_above,
            goods_value: cart
                .totals
                .subtotal
                .checked_sub(cart.totals.discount)
                .map_err(Error::internal)?,
        },
        guest_email: order
            .is_guest()
            .then(|| order.customer_email.clone())
            .flatten(),
        idempotency: ticket.map(|t| {
            t.completion(
                StoredResponse {
                    status: 201,
                    body: body.to_string(),
                },
                now,
            )
        }),
        order,
        now,
    })
}

fn cart_code_active(cart: &Cart, code: &crate::values::DiscountCode) -> bool {
    cart.discount_codes
        .iter()
        .any(|d| &d.code == code && d.state == DiscountState::MatchesCart)
}

fn price_change(before: &Cart, after: &Cart) -> PriceChange {
    let lines = before
        .line_items
        .iter()
        .filter_map(|old| {
            let new = after.line_items.iter().find(|l| l.id == old.id)?;
            (old.unit_price != new.unit_price || old.tax_rate != new.tax_rate).then(|| {
                ChangedLine {
                    sku: old.sku.to_string(),
                    previous_unit_price: old.unit_price,
                    current_unit_price: new.unit_price,
                    previous_tax_rate: old.tax_rate,
                    current_tax_rate: new.tax_rate,
                }
            })
        })
        .collect();
    PriceChange {
        previous: before.totals,
        current: after.totals,
        lines,
    }
}
