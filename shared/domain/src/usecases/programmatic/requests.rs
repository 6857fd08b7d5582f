//! Programmatic orders, server to server: `POST /admin/orders` (one order through its
//! commands), `POST /admin/orders/batch` (each body on its own) and
//! `POST /admin/orders/{orderNumber}/commands` (a draft carried on).
//!
//! Idempotency is the `idempotencyKey` of the body, with the semantics of `Idempotency-Key`:
//! the same key and body replay the first answer, another body is a 422, a key in flight a
//! 409. The first answer is stored whether it is an order or a refusal (a failed command);
//! only a failure of the system frees the key. The order's identity (its cart id) is derived
//! from the key, so a retry after a crash finds the order an earlier attempt committed. The
//! order keeps its request's fingerprint, so once the key's record has expired (24 hours)
//! the same body still replays the order and another body is still a 422.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::run::Run;
use crate::model::cart::{CartOwner, CatalogView};
use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::idempotency::{
    IdempotencyKey, IdempotentRequest, Operation, StoredResponse, RETENTION,
};
use crate::model::identity::Caller;
use crate::model::order::{Order, OrderState};
use crate::model::order_commands::{Command, CommandRefusal, PaymentSource};
use crate::model::order_number::OrderNumber;
use crate::model::programmatic_order::{
    parse_commands, CommandsInput, Customer, ProgrammaticOrder, ProgrammaticOrderInput, MAX_BATCH,
};
use crate::model::values::CartId;
use crate::ports::carts::CartStore;
use crate::ports::gift_cards::GiftCardStore;
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::orders::OrderStore;
use crate::ports::payments::PaymentStore;
use crate::usecases::carts::Carts;
use crate::usecases::commit::Commit;
use crate::usecases::env::Env;
use crate::usecases::idempotency::{self, Once, Record};
use crate::usecases::providers::Providers;

/// The scope a token needs for programmatic orders (or `admin`).
pub const ORDERS_WRITE: &str = "orders:write";

/// What a programmatic order request answers.
#[derive(Debug, Clone)]
pub enum AdminAnswer {
    /// An order made now (`POST /admin/orders`: created, or stored as a draft).
    Created(Box<Order>),
    /// The order as it stands (a draft carried on, or commands it went through already).
    Current(Box<Order>),
    /// The first answer to this key, again.
    Replayed(StoredResponse),
}

/// One body of a batch and how it ended.
#[derive(Debug)]
pub struct BatchItem {
    pub index: usize,
    pub outcome: Result<AdminAnswer, Error>,
}

impl AdminAnswer {
    /// What a replay of this answer gets.
    fn stored(&self) -> StoredResponse {
        match self {
            AdminAnswer::Created(order) | AdminAnswer::Current(order) => answer_of(order),
            AdminAnswer::Replayed(stored) => stored.clone(),
        }
    }
}

/// Programmatic orders: over the carts and orders they read and write, the payments recorded
/// on them, the idempotency records of their keys, the gift cards they take from, the
/// providers that authorize and capture, the carts they price with and the commit path.
pub struct ProgrammaticOrders<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) payments: &'a dyn PaymentStore,
    pub(crate) idempotency: &'a dyn IdempotencyStore,
    pub(crate) gift_cards: &'a dyn GiftCardStore,
    pub(crate) psps: &'a Providers,
    pub(crate) pricing: Carts<'a>,
    pub(crate) commit: Commit<'a>,
    pub(crate) env: &'a Env,
}

impl ProgrammaticOrders<'_> {
    /// `POST /admin/orders`.
    pub async fn create_admin_order(
        &self,
        caller: &Caller,
        input: &ProgrammaticOrderInput,
        locked_until: OffsetDateTime,
    ) -> Result<AdminAnswer, Error> {
        caller.require_scope(ORDERS_WRITE)?;
        self.admin_order(caller, input, locked_until).await
    }

    /// `POST /admin/orders/batch`: every body on its own, in order (a body the edge could
    /// not read is its error).
    pub async fn admin_order_batch(
        &self,
        caller: &Caller,
        bodies: Vec<Result<ProgrammaticOrderInput, Error>>,
        locked_until: OffsetDateTime,
    ) -> Result<Vec<BatchItem>, Error> {
        caller.require_scope(ORDERS_WRITE)?;
        if bodies.len() > MAX_BATCH {
            return Err(Error::TooMany {
                what: "orders",
                limit: MAX_BATCH,
            });
        }
        let mut items = Vec::with_capacity(bodies.len());
        for (index, body) in bodies.into_iter().enumerate() {
            let outcome = match body {
                Ok(input) => self.admin_order(caller, &input, locked_until).await,
                Err(e) => Err(e),
            };
            items.push(BatchItem { index, outcome });
        }
        Ok(items)
    }

    async fn admin_order(
        &self,
        caller: &Caller,
        input: &ProgrammaticOrderInput,
        locked_until: OffsetDateTime,
    ) -> Result<AdminAnswer, Error> {
        let request = input.parse()?;
        let catalog = self.programmatic_catalog(&request).await?;
        let now = self.env.now();
        let idempotent =
            IdempotentRequest::keyed(Operation::ProgrammaticOrder, caller, &request.key, input);
        let digest = Sha256::digest(idempotent.key.as_bytes());
        let request_fingerprint = idempotent.fingerprint.clone();
        let run = async {
            let result = self
                .first_run(caller, request, &catalog, &digest, request_fingerprint, now)
                .await;
            // The first answer (an order, a replay of one, or the command that failed) is
            // kept for replays; any other failure (the system's, or a refusal before any
            // command ran) frees the key, so a retry runs afresh.
            let record = match &result {
                Ok(answer) => Record::Done(Some(answer.stored())),
                Err(e) => CommandRefusal::of(e).map_or(Record::Free, |r| {
                    Record::Done(Some(StoredResponse::CommandFailed(Box::new(r))))
                }),
            };
            (result, record)
        };
        let store = self.idempotency;
        match idempotency::run_once(store, idempotent, now, locked_until, run).await? {
            Once::Ran { value, .. } => value,
            Once::Replayed(Some(stored)) => Ok(AdminAnswer::Replayed(stored)),
            Once::Replayed(None) => Err(Error::internal("an order request stored nothing")),
        }
    }

    /// The first run of a key: the order it makes, or, when an earlier attempt's order
    /// outlived the key's record, that order.
    async fn first_run(
        &self,
        caller: &Caller,
        request: ProgrammaticOrder,
        catalog: &CatalogView,
        digest: &[u8],
        request_fingerprint: String,
        now: OffsetDateTime,
    ) -> Result<AdminAnswer, Error> {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        let cart_id = CartId::parse(
            &uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string(),
        )
        .map_err(Error::internal)?;
        // The order this key made, if any: the key's record is gone (expired, or freed by a
        // failure), but the order, with the request it was made for, lives on.
        let earlier = self.carts.cart_and_order(&cart_id).await?.1;
        if let Some(order) = &earlier {
            let made_for = order
                .programmatic
                .as_ref()
                .and_then(|terms| terms.request_fingerprint.as_deref());
            if made_for.is_some_and(|made_for| made_for != request_fingerprint) {
                return Err(Error::IdempotencyKeyReused);
            }
            // Older than the key's record lives: that record answered this request and
            // expired. The order as it stands is the answer again, and nothing runs.
            if made_for.is_some() && order.created_at + RETENTION <= now {
                return Ok(AdminAnswer::Replayed(answer_of(order)));
            }
        }
        let key_basis = format!("order:{}", hex::encode(&digest[..16]));
        let mut run = Run::build(
            request,
            cart_id,
            OrderNumber::generate(now),
            key_basis,
            catalog,
            now,
        )?;
        run.request_fingerprint = Some(request_fingerprint);
        run.created_by = Some(crate::usecases::merchant_orders::actor(caller));
        self.resume_or_run(&mut run, earlier)
            .await
            .map(|order| AdminAnswer::Created(Box::new(order)))
    }

    /// Runs the pipeline, or, when an earlier attempt with this key committed its order
    /// (and then failed for a passing reason), carries that order on from there: the
    /// commands up to `process_order` happened already and are not run again.
    async fn resume_or_run(&self, run: &mut Run, earlier: Option<Order>) -> Result<Order, Error> {
        if let Some(order) = earlier {
            if order.state != OrderState::Draft {
                run.processed = Some(order);
            }
        }
        self.run_commands(run).await
    }

    /// `POST /admin/orders/{orderNumber}/commands`: carries a draft on.
    pub async fn admin_order_commands(
        &self,
        caller: &Caller,
        number: &str,
        input: &CommandsInput,
    ) -> Result<AdminAnswer, Error> {
        caller.require_scope(ORDERS_WRITE)?;
        let commands = parse_commands(&input.commands, "/commands").map_err(Error::Invalid)?;
        let number = OrderNumber::parse(number).map_err(|_| Error::NotFound)?;
        let order = self.orders.order(&number).await?.ok_or(Error::NotFound)?;
        let Some(terms) = order.programmatic.clone() else {
            return Err(Error::NotFound);
        };
        if order.state != OrderState::Draft {
            // A retry of commands that ran: the order as it is.
            if commands
                .iter()
                .all(|c| terms.commands.iter().any(|r| &r.name == c))
            {
                return Ok(AdminAnswer::Current(Box::new(order)));
            }
            let first = commands.first().copied().unwrap_or(Command::ProcessOrder);
            return Err(Error::CommandFailed {
                command: first.name(),
                index: 0,
                cause: Box::new(Error::invalid(
                    "/commands",
                    "the order is processed already",
                )),
            });
        }
        let request = ProgrammaticOrder {
            key: IdempotencyKey::parse(&order.id).map_err(Error::internal)?,
            currency: order.currency,
            lines: order
                .line_items
                .iter()
                .map(|l| (l.sku.clone(), l.quantity))
                .collect(),
            customer: Customer {
                email: order.customer_email.clone(),
                first_name: terms.first_name.clone(),
                last_name: terms.last_name.clone(),
                customer_id: match &order.owner {
                    CartOwner::Customer { customer_id } => Some(customer_id.clone()),
                    CartOwner::Guest { .. } => None,
                },
            },
            shipping_address: order.shipping_address.clone(),
            billing_address: order.billing_address.clone(),
            shipping_method_id: terms
                .shipping_method_id
                .clone()
                .or_else(|| order.shipping_info.as_ref().map(|s| s.id.clone())),
            discount_codes: order
                .discount_codes
                .iter()
                .map(|d| d.code.clone())
                .collect(),
            payments: terms.payments.clone(),
            send_receipt: terms.send_receipt,
            commands,
        };
        let catalog = self.programmatic_catalog(&request).await?;
        let key_basis = format!("order:{}:r{}", order.id, order.revision);
        let mut run = Run::build(
            request,
            order.cart_id.clone(),
            order.order_number.clone(),
            key_basis,
            &catalog,
            self.env.now(),
        )?;
        run.cart.owner = order.owner.clone();
        run.request_fingerprint = terms.request_fingerprint.clone();
        run.created_by = terms.created_by.clone();
        run.draft = Some(order);
        let order = self.run_commands(&mut run).await?;
        Ok(AdminAnswer::Current(Box::new(order)))
    }

    /// The catalog a request is priced with; SKUs it does not know and gift cards that do
    /// not exist in the order's currency are field errors, before anything is written.
    async fn programmatic_catalog(
        &self,
        request: &ProgrammaticOrder,
    ) -> Result<CatalogView, Error> {
        let skus = request.lines.iter().map(|(sku, _)| sku.clone()).collect();
        let catalog = self
            .pricing
            .load_catalog(skus, request.discount_codes.clone())
            .await?;
        let mut errors = FieldErrors::new();
        for (i, (sku, _)) in request.lines.iter().enumerate() {
            match catalog.products.get(sku) {
                None => errors.push(FieldError::new(
                    format!("/lineItems/{i}/sku"),
                    format!("unknown SKU '{sku}'"),
                )),
                Some(p) if p.price(request.currency).is_none() => errors.push(FieldError::new(
                    format!("/lineItems/{i}/sku"),
                    format!("'{sku}' is not sold in {}", request.currency),
                )),
                Some(_) => {}
            }
        }
        for (i, payment) in request.payments.iter().enumerate() {
            let PaymentSource::GiftCard { gift_card, .. } = payment else {
                continue;
            };
            let here = format!("/payments/{i}/giftCard");
            match self.gift_cards.gift_card(gift_card).await? {
                None => errors.push(FieldError::new(here, "unknown gift card")),
                Some(card) if card.currency != request.currency => errors.push(FieldError::new(
                    here,
                    format!(
                        "the card is in {}, the order in {}",
                        card.currency, request.currency
                    ),
                )),
                Some(_) => {}
            }
        }
        errors.into_result()?;
        Ok(catalog)
    }
}

/// What a replay of `order` answers.
fn answer_of(order: &Order) -> StoredResponse {
    StoredResponse::AdminOrder(Box::new(order.snapshot()))
}
