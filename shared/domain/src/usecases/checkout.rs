//! The commit step: a cart becomes an order exactly once.
//!
//! The fast path reads the cart (with its order, if any) once and sends one atomic write, a
//! `CommitPlan`, whose conditions re-check everything the cart's price was built on: the cart
//! version, stock and price of each SKU, the destination's tax rates and the shipping terms,
//! each discount code's terms and remaining redemptions, the order number's uniqueness. The
//! store either applies all of it or says which conditions failed; only then does the slow
//! path read the catalog, to tell the customer exactly what changed.

use crate::model::cart::{Cart, CartState, DiscountState};
use crate::model::commit_plan::{
    cart_code_active, check_preconditions, plan, price_change, CommitPlan, SavedOrderSlot,
    SAVED_ORDER_HOLD,
};
use crate::model::error::{Error, FieldErrors, StockShortage, StoreError};
use crate::model::idempotency::{
    IdempotencyKey, IdempotentRequest, Operation, StoredResponse, Ticket,
};
use crate::model::identity::Caller;
use crate::model::order::{CommitAction, Order};
use crate::model::order_number::OrderNumber;
use crate::model::order_snapshot::OrderSnapshot;
use crate::model::payment::PaymentState;
use crate::model::values::CartId;
use crate::ports::carts::CartStore;
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::orders::OrderStore;
use crate::usecases::carts::Carts;
use crate::usecases::carts::{conflict, ensure_updatable};
use crate::usecases::commit::Commit;
use crate::usecases::commit::{Number, Refusal};
use crate::usecases::env::Env;
use crate::usecases::idempotency::{self, Begin};

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

/// How `POST /orders` ended: an order made now, or the answer of an earlier commit again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOutcome {
    Created,
    /// This repeats an earlier commit's answer (an `Idempotency-Key` seen before, or a cart
    /// already ordered at the version asked for).
    Replayed,
}

/// What `POST /orders` answers: the order, made now or by an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderResponse {
    pub outcome: OrderOutcome,
    pub order: Box<OrderSnapshot>,
}

impl OrderResponse {
    fn created(order: &Order) -> Self {
        OrderResponse {
            outcome: OrderOutcome::Created,
            order: Box::new(order.snapshot()),
        }
    }

    fn replay(order: Box<OrderSnapshot>) -> Self {
        OrderResponse {
            outcome: OrderOutcome::Replayed,
            order,
        }
    }
}

/// `POST /orders` and a paid cart's order: over the carts and orders it reads, the idempotency
/// records its keys claim, the carts it prices with and the commit path.
pub struct Checkout<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) idempotency: &'a dyn IdempotencyStore,
    pub(crate) pricing: Carts<'a>,
    pub(crate) commit: Commit<'a>,
    pub(crate) env: &'a Env,
}

impl Checkout<'_> {
    /// `POST /orders`: commits the caller's cart, at most once per cart and per key. A keyed
    /// request reads the cart, its order and the key's record at once, and its commit writes
    /// the record in the same transaction iff the key is still free: two round trips for a new
    /// order, one for a replay, and no lock to release or to outlive a crash.
    pub async fn place_order(
        &self,
        caller: &Caller,
        input: &CreateOrderInput,
        key: Option<IdempotencyKey>,
    ) -> Result<OrderResponse, Error> {
        let (cart_id, order_number) = parse_input(input)?;
        // A hold needs an owner (rule 13): an anonymous one is a free way to take stock off sale.
        if input.action == Some(CommitAction::SaveOrder) && caller.customer.is_none() {
            return Err(Error::Unauthorized);
        }
        let Some(key) = key else {
            let (cart, order) = self.carts.cart_and_order(&cart_id).await?;
            return self
                .commit(caller, (cart, order), input, order_number, None)
                .await;
        };
        let request = IdempotentRequest::keyed(Operation::CreateOrder, caller, &key, input);
        let read = self.orders.commit_read(&cart_id, &request.key).await?;
        let ticket = match idempotency::decide(request.clone(), read.record, self.env.now())? {
            Begin::Replay(stored) => return replay(stored),
            Begin::Proceed(ticket) => ticket,
        };
        let result = self
            .commit(
                caller,
                (read.cart, read.order),
                input,
                order_number,
                Some(&ticket),
            )
            .await;
        if let Err(Error::RequestInProgress { .. }) = result {
            // Another request with this key got there first: answer as its record says.
            let record = self.orders.commit_read(&cart_id, &ticket.key).await?.record;
            if let Begin::Replay(stored) = idempotency::decide(request, record, self.env.now())? {
                return replay(stored);
            }
        }
        result
    }

    async fn commit(
        &self,
        caller: &Caller,
        (cart, existing): (Option<Cart>, Option<Order>),
        input: &CreateOrderInput,
        requested_number: Option<OrderNumber>,
        ticket: Option<&Ticket>,
    ) -> Result<OrderResponse, Error> {
        let cart = match cart {
            Some(cart) if caller.owns(&cart.owner) => cart,
            _ => return Err(Error::NotFound),
        };
        if let Some(order) = existing {
            return self.replay_or_refuse(&order, input, ticket).await;
        }
        if cart.state == CartState::Ordered {
            // The read met another commit half-applied (a batch read is not isolated from a
            // transaction): the cart is ordered, its order not yet seen. Read it again.
            return self.answer_for_ordered(&cart.id, input, ticket).await;
        }
        self.commit_loaded(cart, input, requested_number, ticket)
            .await
    }

    /// The answer for a cart some commit ordered: its order replayed (or refused for another
    /// version), or "in progress" while that commit's order is not yet readable.
    async fn answer_for_ordered(
        &self,
        cart_id: &CartId,
        input: &CreateOrderInput,
        ticket: Option<&Ticket>,
    ) -> Result<OrderResponse, Error> {
        match self.carts.cart_and_order(cart_id).await? {
            (_, Some(order)) => self.replay_or_refuse(&order, input, ticket).await,
            (Some(cart), None) if cart.state != CartState::Ordered => {
                Err(conflict(&cart, input.cart_version))
            }
            (Some(_), None) => Err(Error::RequestInProgress { retry_after: 1 }),
            (None, None) => Err(Error::NotFound),
        }
    }

    /// Commits a cart already read (and its access checked) by the caller, through the one
    /// commit path; a refusal becomes the customer's answer here.
    pub(crate) async fn commit_loaded(
        &self,
        mut cart: Cart,
        input: &CreateOrderInput,
        requested_number: Option<OrderNumber>,
        ticket: Option<&Ticket>,
    ) -> Result<OrderResponse, Error> {
        let action = input.action.unwrap_or(CommitAction::Checkout);
        let number = match requested_number {
            Some(n) => Number::Requested(n),
            None => Number::Generated,
        };
        let mut refreshed = 0;
        loop {
            ensure_updatable(&cart, input.cart_version)?;
            let payment_state = check_preconditions(&cart, action)?;
            let refusal = match self
                .commit
                .commit_order(number.clone(), |number| {
                    self.cart_plan(&cart, input, number, action, payment_state, ticket)
                })
                .await?
            {
                Ok(plan) => return Ok(OrderResponse::created(&plan.order)),
                Err(refusal) => refusal,
            };
            if let Refusal::Moved { order: None, .. } = &refusal {
                // Its reservation was given back meanwhile (its hold ended): decided again on
                // the cart as it is now, its lines taken from the shelf if it has them.
                if let Some(now) = self.carts.cart(&cart.id).await? {
                    let released = now.state == CartState::Active
                        && now.version == cart.version
                        && cart.reservation.is_some()
                        && now.reservation != cart.reservation;
                    if released && refreshed < MAX_REFRESHES {
                        refreshed += 1;
                        cart = now;
                        continue;
                    }
                }
            }
            return match refusal {
                // Another request ordered the cart: replay its order (or refuse another
                // version's); a cart that moved otherwise is a conflict.
                Refusal::Moved {
                    order: Some(order), ..
                } => self.replay_or_refuse(&order, input, ticket).await,
                Refusal::Moved {
                    cart: Some(now), ..
                } if now.state != CartState::Ordered => Err(conflict(&now, input.cart_version)),
                Refusal::Moved { .. } => self.answer_for_ordered(&cart.id, input, ticket).await,
                Refusal::KeyHeld => Err(Error::RequestInProgress { retry_after: 1 }),
                Refusal::OutOfStock(items) => Err(Error::OutOfStock(items)),
                Refusal::TermsChanged => match self.what_changed(&cart).await? {
                    // A payment landed, or the catalog moved without changing this price,
                    // between the read and the write: decide again on the cart as it is now.
                    Retry::Refreshed(fresh) if refreshed < MAX_REFRESHES => {
                        refreshed += 1;
                        cart = *fresh;
                        continue;
                    }
                    Retry::Refreshed(_) => Err(Error::Store(StoreError::contended(
                        "the catalog kept moving under the commit",
                    ))),
                    Retry::Answer(answer) => answer,
                },
                Refusal::EmailRegistered => Err(Error::EmailAlreadyRegistered),
                Refusal::TooManyOpenOrders(limit) => Err(Error::TooManyOpenOrders { limit }),
                Refusal::NumberTaken => Err(Error::OrderNumberTaken {
                    order_number: input.order_number.clone().unwrap_or_default(),
                }),
                // A cart's commit takes nothing from gift cards.
                Refusal::GiftCardBalance(code) => {
                    Err(Error::internal(format!("a cart's commit redeemed {code}")))
                }
            };
        }
    }

    /// The commit plan of `cart` as order `number`.
    fn cart_plan(
        &self,
        cart: &Cart,
        input: &CreateOrderInput,
        number: OrderNumber,
        action: CommitAction,
        payment_state: PaymentState,
        ticket: Option<&Ticket>,
    ) -> Result<CommitPlan, Error> {
        let now = self.env.now();
        // A saved order its payments already cover holds nothing: it is paid.
        let expires_at = (action == CommitAction::SaveOrder && payment_state != PaymentState::Paid)
            .then(|| now + SAVED_ORDER_HOLD);
        let order = Order::from_cart(cart, number, action, payment_state, now, expires_at);
        let mut plan = plan(cart, order, input.cart_version, ticket, now)?;
        // A line of a product that reserves when payment starts is sold from the cart's
        // reservation only: once its hold was given back, the units on the shelf are for
        // the buyers who start paying now, and this payment goes back.
        if action == CommitAction::Checkout && !cart.totals.total.is_zero() {
            let unreserved: Vec<StockShortage> = cart
                .line_items
                .iter()
                .filter(|l| l.reserve_on_payment)
                .filter(|l| !plan.converted.iter().any(|h| h.hold.sku == l.sku))
                .map(|l| StockShortage {
                    sku: l.sku.to_string(),
                    name: l.name.to_string(),
                    requested: l.quantity.get(),
                    available: 0,
                })
                .collect();
            if !unreserved.is_empty() {
                return Err(Error::OutOfStock(unreserved));
            }
        }
        plan.saved_order_slot = plan
            .order
            .slot_owner()
            .filter(|_| plan.order.awaiting_payment())
            .map(|customer| SavedOrderSlot {
                customer: customer.clone(),
                limit: self.env.limits.max_open_saved_orders,
            });
        Ok(plan)
    }

    /// The cart priced against today's catalog, when that changes nothing the customer saw;
    /// otherwise the refusal the commit would give (`PriceChanged` with the new summary, ...).
    pub(crate) async fn priced_as_now(&self, cart: Cart) -> Result<Cart, Error> {
        match self.what_changed(&cart).await? {
            Retry::Refreshed(fresh) => Ok(*fresh),
            Retry::Answer(Err(refusal)) => Err(refusal),
            Retry::Answer(Ok(_)) => Err(Error::internal("a re-pricing answered an order")),
        }
    }

    /// Re-prices the cart against today's catalog and says how the customer's total moved.
    async fn what_changed(&self, cart: &Cart) -> Result<Retry, Error> {
        let catalog = self
            .pricing
            .catalog_for(cart, std::iter::empty(), std::iter::empty())
            .await?;
        let mut fresh = cart.clone();
        fresh.reprice(&catalog, self.env.now())?;
        let change = price_change(cart, &fresh);
        if let Err(below) = fresh.check_minimum_order(&catalog.config) {
            return Ok(Retry::Answer(Err(below)));
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
        let order = Box::new(order.snapshot());
        if let Some(ticket) = ticket {
            let store = self.idempotency;
            let response = StoredResponse::Order(order.clone());
            idempotency::complete(store, ticket, Some(response), self.env.now()).await?;
        }
        Ok(OrderResponse::replay(order))
    }
}

enum Retry {
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

/// The answer a stored response gives again.
fn replay(stored: Option<StoredResponse>) -> Result<OrderResponse, Error> {
    match stored {
        Some(StoredResponse::Order(order)) => Ok(OrderResponse::replay(order)),
        // Keys are scoped by operation: another operation's record is never found here.
        _ => Err(Error::internal("an order request stored no order")),
    }
}
