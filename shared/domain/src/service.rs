//! The storefront's use cases over the ports: catalog administration and carts.

use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;

use crate::cart::{
    Cart, CartAction, CartOwner, CartState, CatalogView, CreateCartInput, UpdateCartInput,
};
use crate::catalog::{
    DiscountDefinition, DiscountInput, PricingConfig, PricingConfigInput, Product, ProductInput,
    ProductUpdate, ShippingMethod, StockWrite,
};
use crate::error::{Error, FieldErrors};
use crate::identity::Caller;
use crate::money::{Currency, Money};
use crate::ports::{CartWriteError, ProductWriteError, Store};
use crate::psp::{PaymentProvider, PspError};
use crate::values::{CartId, CountryCode, DiscountCode, SessionToken, Sku};

/// A source of the current time, so expiry can be tested without waiting.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A whole catalog in one document: configuration, products by SKU, discount codes by code.
/// The local server's demo data and test fixtures use this format (see README).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogImport {
    pub config: PricingConfigInput,
    pub products: std::collections::BTreeMap<String, ProductInput>,
    #[serde(default)]
    pub discount_codes: std::collections::BTreeMap<String, DiscountInput>,
}

/// A shipping method as offered for one destination and currency.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingOffer {
    pub id: String,
    pub name: String,
    pub price: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_above: Option<Money>,
}

#[derive(Clone)]
pub struct Storefront {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    psp: Arc<dyn PaymentProvider>,
}

/// The provider of a deployment that takes no payments: every call is refused.
struct NoPaymentProvider;

#[async_trait::async_trait]
impl PaymentProvider for NoPaymentProvider {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn create_intent(
        &self,
        _: &crate::psp::IntentRequest,
    ) -> Result<crate::psp::Intent, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }

    async fn retrieve(&self, _: &str) -> Result<Option<crate::values::CartId>, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }

    async fn cancel(&self, _: &str, _: &str) -> Result<crate::psp::Reversal, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }

    async fn refund(&self, _: &str, _: Money, _: &str) -> Result<crate::psp::Reversal, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }
}

impl Storefront {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    pub fn with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Storefront {
            store,
            clock,
            psp: Arc::new(NoPaymentProvider),
        }
    }

    /// The same storefront, taking payments through `psp`.
    pub fn with_psp(mut self, psp: Arc<dyn PaymentProvider>) -> Self {
        self.psp = psp;
        self
    }

    pub fn psp(&self) -> &dyn PaymentProvider {
        self.psp.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub async fn upsert_product(
        &self,
        caller: &Caller,
        sku: &str,
        input: &ProductInput,
    ) -> Result<Product, Error> {
        caller.require_admin()?;
        let config = self.store.config().await?;
        let update = ProductUpdate::parse(sku, input, &config)?;
        let read = self
            .store
            .products(std::slice::from_ref(&update.terms.sku))
            .await?;
        let write = update.stock.write(read.first());
        self.store
            .write_product(&update.terms, write)
            .await
            .map_err(|e| stock_refusal(&update, write, e))
    }

    pub async fn upsert_discount(
        &self,
        caller: &Caller,
        code: &str,
        input: &DiscountInput,
    ) -> Result<DiscountDefinition, Error> {
        caller.require_admin()?;
        let discount = DiscountDefinition::parse(code, input)?;
        Ok(self.store.put_discount(&discount).await?)
    }

    pub async fn put_config(
        &self,
        caller: &Caller,
        input: &PricingConfigInput,
    ) -> Result<PricingConfig, Error> {
        caller.require_admin()?;
        let config = PricingConfig::parse(input)?;
        self.store.put_config(&config).await?;
        Ok(config)
    }

    /// Loads a catalog document through the same validation as the single admin calls;
    /// the configuration goes first because products are checked against its tax categories.
    pub async fn import(&self, caller: &Caller, catalog: &CatalogImport) -> Result<(), Error> {
        self.put_config(caller, &catalog.config).await?;
        for (sku, product) in &catalog.products {
            self.upsert_product(caller, sku, product).await?;
        }
        for (code, discount) in &catalog.discount_codes {
            self.upsert_discount(caller, code, discount).await?;
        }
        Ok(())
    }

    pub async fn shipping_methods(
        &self,
        country: Option<&str>,
        currency: Option<&str>,
    ) -> Result<Vec<ShippingOffer>, Error> {
        let mut errors = FieldErrors::new();
        let country = errors.check(
            "/country",
            country
                .ok_or("is required".to_string())
                .and_then(CountryCode::parse),
        );
        let currency = errors.check(
            "/currency",
            currency
                .ok_or("is required".to_string())
                .and_then(Currency::parse),
        );
        let (country, currency) = errors.finish(country.zip(currency))?;
        let config = self.store.config().await?;
        Ok(config
            .shipping_methods_for(&country, currency)
            .map(|m: &ShippingMethod| ShippingOffer {
                id: m.id.to_string(),
                name: m.name.to_string(),
                price: Money::new(m.prices[&currency], currency),
                free_above: m
                    .free_above
                    .get(&currency)
                    .map(|&c| Money::new(c, currency)),
            })
            .collect())
    }

    /// Creates a cart for the caller. A guest gets a fresh session token, returned only here.
    pub async fn create_cart(
        &self,
        caller: &Caller,
        input: &CreateCartInput,
    ) -> Result<(Cart, Option<SessionToken>), Error> {
        let (owner, token) = match &caller.customer {
            Some(customer_id) => (
                CartOwner::Customer {
                    customer_id: customer_id.clone(),
                },
                None,
            ),
            None => {
                let token = SessionToken::generate();
                (
                    CartOwner::Guest {
                        session_hash: token.hash(),
                    },
                    Some(token),
                )
            }
        };
        let config = self.store.config().await?;
        let cart = Cart::create(input, owner, &config, self.clock.now())?;
        self.store.insert_cart(&cart).await.map_err(|e| match e {
            CartWriteError::Store(e) => Error::Store(e),
            CartWriteError::Conflict(_) => Error::internal("cart id collision"),
        })?;
        Ok((cart, token))
    }

    /// The caller's cart; anyone else's is `NotFound`.
    pub async fn cart(&self, caller: &Caller, id: &str) -> Result<Cart, Error> {
        let id = CartId::parse(id).map_err(|_| Error::NotFound)?;
        match self.store.cart(&id).await? {
            Some(cart) if caller.owns(&cart.owner) => Ok(cart),
            _ => Err(Error::NotFound),
        }
    }

    /// Applies a client's actions atomically to the version it saw.
    pub async fn update_cart(
        &self,
        caller: &Caller,
        id: &str,
        input: &UpdateCartInput,
    ) -> Result<Cart, Error> {
        let actions = CartAction::parse_all(&input.actions)?;
        let cart = self.cart(caller, id).await?;
        ensure_updatable(&cart, input.version)?;
        let catalog = self
            .catalog_for(
                &cart,
                actions.iter().filter_map(CartAction::sku),
                actions.iter().filter_map(CartAction::code),
            )
            .await?;
        let next = cart.apply(&actions, &catalog, self.clock.now())?;
        match self.store.replace_cart(&next, input.version).await {
            Ok(()) => {
                if next.totals.total != cart.totals.total {
                    self.release_stale_payments(&next).await?;
                    // The cart as stored now, with any reversals recorded.
                    return Ok(self.store.cart(&next.id).await?.unwrap_or(next));
                }
                Ok(next)
            }
            Err(CartWriteError::Store(e)) => Err(Error::Store(e)),
            Err(CartWriteError::Conflict(current)) => Err(match current {
                Some(current) => conflict(&current, input.version),
                None => Error::NotFound,
            }),
        }
    }

    /// Loads what pricing `cart` (plus the SKUs and codes about to be added) needs.
    pub async fn catalog_for<'a>(
        &self,
        cart: &Cart,
        extra_skus: impl Iterator<Item = &'a Sku>,
        extra_codes: impl Iterator<Item = &'a DiscountCode>,
    ) -> Result<CatalogView, Error> {
        let mut skus: Vec<Sku> = cart.skus().cloned().chain(extra_skus.cloned()).collect();
        skus.sort();
        skus.dedup();
        let mut codes: Vec<DiscountCode> =
            cart.codes().cloned().chain(extra_codes.cloned()).collect();
        codes.sort();
        codes.dedup();
        let (products, discounts, config) = futures_join(
            self.store.products(&skus),
            self.store.discounts(&codes),
            self.store.config(),
        )
        .await;
        Ok(CatalogView {
            products: products?
                .into_iter()
                .map(|p| (p.sku.clone(), p))
                .collect::<HashMap<_, _>>(),
            discounts: discounts?
                .into_iter()
                .map(|d| (d.code.clone(), d))
                .collect(),
            config: config?,
        })
    }
}

/// Runs three independent reads concurrently without pulling in an executor-specific join.
async fn futures_join<A, B, C>(
    a: impl std::future::Future<Output = A>,
    b: impl std::future::Future<Output = B>,
    c: impl std::future::Future<Output = C>,
) -> (A, B, C) {
    let (mut a, mut b, mut c) = (std::pin::pin!(a), std::pin::pin!(b), std::pin::pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    std::future::poll_fn(|cx| {
        use std::task::Poll;
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(v) = c.as_mut().poll(cx) {
                rc = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() && rc.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap(), rc.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// The refusal for a product write whose stock condition failed.
fn stock_refusal(update: &ProductUpdate, write: StockWrite, error: ProductWriteError) -> Error {
    let current_stock = match error {
        ProductWriteError::Store(e) => return Error::Store(e),
        ProductWriteError::StockConflict { current } => current.unwrap_or(0),
    };
    let sku = update.terms.sku.to_string();
    match write {
        StockWrite::Add(stock_delta) => Error::StockOutOfRange {
            sku,
            current_stock,
            stock_delta,
        },
        _ => Error::StockChanged { sku, current_stock },
    }
}

/// The refusal for a cart that is not (or no longer) at `expected` and `Active`.
pub fn conflict(current: &Cart, expected: u64) -> Error {
    match (&current.state, &current.order_number) {
        (CartState::Ordered, Some(number)) => Error::CartAlreadyOrdered {
            order_number: number.clone(),
        },
        _ => Error::ConcurrentModification {
            expected,
            current_version: current.version,
        },
    }
}

fn ensure_updatable(cart: &Cart, expected: u64) -> Result<(), Error> {
    if cart.state != CartState::Active || cart.version != expected {
        return Err(conflict(cart, expected));
    }
    Ok(())
}
