//! `POST /orders/{orderNumber}/replicate`: a new `Active` cart from one of the caller's
//! orders, priced now (what is carried over and what is left out: `model::cart_replicate`).
//! It is the storefront's "buy again", and the "cancel the order and create a new cart"
//! path of unpaid orders.
//!
//! Only the order's owner replicates it (a customer, or the guest whose session owns it);
//! anyone else's order, and a draft, is `NotFound`. The cart belongs to the order's owner, so
//! a guest reaches it with the session they already hold. It is built in memory and stored
//! in one write. With an `Idempotency-Key` (scoped to the caller, as on `POST /orders`) a
//! retry answers the first cart again; the cart's id derives from the key and the order, so
//! even a retry after a crash between storing the cart and recording the answer finds that
//! cart instead of making a second one.

use sha2::{Digest, Sha256};

use crate::model::cart::Cart;
use crate::model::cart_replicate::Replicated;
use crate::model::error::Error;
use crate::model::idempotency::{IdempotencyKey, IdempotentRequest, Operation, StoredResponse};
use crate::model::identity::Caller;
use crate::model::order::{Order, OrderState};
use crate::model::values::CartId;
use crate::ports::carts::CartStore;
use crate::ports::carts::CartWriteError;
use crate::ports::idempotency::IdempotencyStore;
use crate::usecases::carts::Carts;
use crate::usecases::env::Env;
use crate::usecases::idempotency;
use crate::usecases::order_queries::OrderQueries;

/// How long a keyed request holds its key while it runs.
const KEY_LOCK: time::Duration = time::Duration::seconds(30);

/// The new cart, and whether this answer repeats an earlier request's (a replayed key).
#[derive(Debug, Clone)]
pub struct Replication {
    pub replicated: Replicated,
    pub replayed: bool,
}

/// Buying an order again: over the carts store the new cart goes to, the idempotency records
/// of its keys, the carts it prices with and the queries that read the order for its owner.
pub struct OrderReplication<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) idempotency: &'a dyn IdempotencyStore,
    pub(crate) pricing: Carts<'a>,
    pub(crate) queries: OrderQueries<'a>,
    pub(crate) env: &'a Env,
}

impl OrderReplication<'_> {
    /// A new cart for the caller with what of their order `number` still applies.
    pub async fn replicate_order(
        &self,
        caller: &Caller,
        number: &str,
        key: Option<IdempotencyKey>,
    ) -> Result<Replication, Error> {
        let order = self.queries.order(caller, number).await?;
        if order.state == OrderState::Draft {
            // Never placed: there is nothing to buy again.
            return Err(Error::NotFound);
        }
        let Some(key) = key else {
            let replicated = self.replicate_into(&order, CartId::new(), false).await?;
            return Ok(Replication {
                replicated,
                replayed: false,
            });
        };
        // What the key is bound to: this order. The same key for another is refused.
        let request = IdempotentRequest::keyed(
            Operation::ReplicateOrder,
            caller,
            &key,
            &order.order_number.to_string(),
        );
        let id = derived_cart_id(&request.key, &order)?;
        let store = self.idempotency;
        let now = self.env.now();
        let work = async {
            let replicated = self.replicate_into(&order, id, true).await?;
            Ok(StoredResponse::ReplicatedCart(Box::new(replicated)))
        };
        match idempotency::once(store, request, now, now + KEY_LOCK, work).await? {
            (StoredResponse::ReplicatedCart(replicated), replayed) => Ok(Replication {
                replicated: *replicated,
                replayed,
            }),
            // Keys are scoped by operation: another operation's record is never found here.
            _ => Err(Error::internal("a replication stored no cart")),
        }
    }

    /// Builds the cart `id` from `order` against the catalog as it is now and stores it in
    /// one write. `keyed`: the id derives from a key, and a cart already under it is an
    /// earlier attempt's with that key, which is the answer again.
    async fn replicate_into(
        &self,
        order: &Order,
        id: CartId,
        keyed: bool,
    ) -> Result<Replicated, Error> {
        let catalog = self
            .pricing
            .load_catalog(
                order.line_items.iter().map(|l| l.sku.clone()).collect(),
                order
                    .discount_codes
                    .iter()
                    .map(|d| d.code.clone())
                    .collect(),
            )
            .await?;
        let replicated = Cart::replicate(order, id, order.owner.clone(), &catalog, self.env.now())?;
        match self.carts.insert_cart(&replicated.cart).await {
            Ok(()) => Ok(replicated),
            // What this attempt would leave out stands for what that one did.
            Err(CartWriteError::Conflict(Some(earlier)))
                if keyed && earlier.owner == order.owner =>
            {
                Ok(Replicated {
                    cart: *earlier,
                    not_replicated: replicated.not_replicated,
                })
            }
            Err(CartWriteError::Conflict(_)) => Err(Error::internal("cart id collision")),
            Err(CartWriteError::Store(e)) => Err(Error::Store(e)),
        }
    }
}

/// The id of the cart a key makes from an order: the same for every retry with that key, for
/// that caller and order only.
fn derived_cart_id(scoped_key: &str, order: &Order) -> Result<CartId, Error> {
    let digest = Sha256::digest(format!("{scoped_key}#{}", order.order_number).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    CartId::parse(
        &uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string(),
    )
    .map_err(Error::internal)
}
