//! The port trait impls of [`FaultyStore`]: each method delegates to the inner store through
//! `read` or `write`, which decide whether the call fails.

use async_trait::async_trait;
use time::OffsetDateTime;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::catalog::{Product, ProductTerms, ShardedWrite, StockWrite};
use checkout_domain::model::commit_plan::{CommitPlan, Reservation};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::error::StoreError;
use checkout_domain::model::fulfillment::HistoryEntry;
use checkout_domain::model::gift_card::{GiftCard, GiftCardCode, GiftCardCredit};
use checkout_domain::model::idempotency::IdempotencyRecord;
use checkout_domain::model::order::Order;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::pricing_config::PricingConfig;
use checkout_domain::model::reservation::StoredHold;
use checkout_domain::model::values::{CartId, CustomerId, DiscountCode, Email, SessionHash, Sku};
use checkout_domain::ports::carts::{CartStore, CartWriteError};
use checkout_domain::ports::catalog::{CatalogStore, ProductWriteError};
use checkout_domain::ports::gift_cards::GiftCardStore;
use checkout_domain::ports::idempotency::IdempotencyStore;
use checkout_domain::ports::orders::{
    CommitError, CommitRead, KeyRange, OrderFilter, OrderPage, OrderStore,
};
use checkout_domain::ports::payments::{PaymentStore, PaymentWriteError};
use checkout_domain::ports::reservations::{ReleaseError, ReservationStore, ReserveError};
use checkout_domain::ports::sweep::{SweepKind, SweepPage, SweepStore};

use super::FaultyStore;

#[async_trait]
impl GiftCardStore for FaultyStore {
    async fn gift_card(&self, code: &GiftCardCode) -> Result<Option<GiftCard>, StoreError> {
        self.read("gift_card", self.inner.gift_card(code)).await
    }
    async fn write_gift_card(
        &self,
        card: &GiftCard,
        expected: Option<&GiftCard>,
    ) -> Result<bool, StoreError> {
        self.write(
            "write_gift_card",
            self.inner.write_gift_card(card, expected),
        )
        .await
    }
}

#[async_trait]
impl CatalogStore for FaultyStore {
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        self.write("write_product", self.inner.write_product(terms, stock))
            .await
    }
    async fn write_sharded_product(
        &self,
        terms: &ProductTerms,
        write: &ShardedWrite,
    ) -> Result<Product, ProductWriteError> {
        self.write(
            "write_sharded_product",
            self.inner.write_sharded_product(terms, write),
        )
        .await
    }
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.read("products", self.inner.products(skus)).await
    }
    async fn products_recent(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let lagging = self.lagging.lock().unwrap().clone();
        match lagging {
            Some(frozen) => Ok(frozen
                .into_iter()
                .filter(|p| skus.contains(&p.sku))
                .collect()),
            None => {
                self.read("products_recent", self.inner.products_recent(skus))
                    .await
            }
        }
    }
    async fn restock(&self, sku: &Sku, units: u32) -> Result<(), StoreError> {
        self.write("restock", self.inner.restock(sku, units)).await
    }
    async fn mark_sold_out(&self, sku: &Sku, stock_revision: u64) -> Result<(), StoreError> {
        self.write(
            "mark_sold_out",
            self.inner.mark_sold_out(sku, stock_revision),
        )
        .await
    }
    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        self.write("put_discount", self.inner.put_discount(discount))
            .await
    }
    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError> {
        self.read("discounts", self.inner.discounts(codes)).await
    }
    async fn put_config(&self, config: &PricingConfig) -> Result<bool, StoreError> {
        self.write("put_config", self.inner.put_config(config))
            .await
    }
    async fn config(&self) -> Result<PricingConfig, StoreError> {
        self.read("config", self.inner.config()).await
    }
}

#[async_trait]
impl CartStore for FaultyStore {
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError> {
        self.write("insert_cart", self.inner.insert_cart(cart))
            .await
    }
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        self.read("cart", self.inner.cart(id)).await
    }
    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError> {
        self.write(
            "replace_cart",
            self.inner.replace_cart(cart, expected_version),
        )
        .await
    }
    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError> {
        self.read("cart_and_order", self.inner.cart_and_order(id))
            .await
    }
}

#[async_trait]
impl OrderStore for FaultyStore {
    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        self.write("commit", self.inner.commit(plan)).await
    }
    async fn commit_read(&self, cart: &CartId, key: &str) -> Result<CommitRead, StoreError> {
        self.read("commit_read", self.inner.commit_read(cart, key))
            .await
    }
    async fn order(&self, number: &OrderNumber) -> Result<Option<Order>, StoreError> {
        self.read("order", self.inner.order(number)).await
    }
    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        self.read(
            "customer_orders",
            self.inner.customer_orders(customer, after, limit),
        )
        .await
    }
    async fn search_orders(
        &self,
        filter: &OrderFilter,
        range: &KeyRange,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        self.read(
            "search_orders",
            self.inner.search_orders(filter, range, limit),
        )
        .await
    }
    async fn write_fulfillments(
        &self,
        order: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        self.write(
            "write_fulfillments",
            self.inner.write_fulfillments(order, expected_revision),
        )
        .await
    }
    async fn order_history(&self, cart: &CartId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.read("order_history", self.inner.order_history(cart))
            .await
    }
    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        self.write(
            "release_order",
            self.inner.release_order(cancelled, expected_revision),
        )
        .await
    }
    async fn guest_orders(&self, email: &Email) -> Result<Vec<Order>, StoreError> {
        self.read("guest_orders", self.inner.guest_orders(email))
            .await
    }
    async fn claim_guest_orders(
        &self,
        customer: &CustomerId,
        email: &Email,
        orders: &[Order],
    ) -> Result<Option<Vec<OrderNumber>>, StoreError> {
        self.write(
            "claim_guest_orders",
            self.inner.claim_guest_orders(customer, email, orders),
        )
        .await
    }
    async fn redeem_claim_ticket(
        &self,
        token_hash: &SessionHash,
        email: &Email,
        customer: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.write(
            "redeem_claim_ticket",
            self.inner
                .redeem_claim_ticket(token_hash, email, customer, now),
        )
        .await
    }
}

#[async_trait]
impl PaymentStore for FaultyStore {
    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        self.write(
            "record_cart_payments",
            self.inner
                .record_cart_payments(cart, expected_payment_revision, interactions),
        )
        .await
    }
    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
        credits: &[GiftCardCredit],
        frees_slot: bool,
    ) -> Result<(), PaymentWriteError> {
        self.write(
            "record_order_payments",
            self.inner.record_order_payments(
                order,
                expected_revision,
                interactions,
                credits,
                frees_slot,
            ),
        )
        .await
    }
}

#[async_trait]
impl IdempotencyStore for FaultyStore {
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.write(
            "claim_idempotency",
            self.inner.claim_idempotency(record, now),
        )
        .await
    }
    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<bool, StoreError> {
        self.write(
            "complete_idempotency",
            self.inner.complete_idempotency(record),
        )
        .await
    }
    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        self.write(
            "release_idempotency",
            self.inner.release_idempotency(key, fingerprint),
        )
        .await
    }
}

#[async_trait]
impl SweepStore for FaultyStore {
    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError> {
        self.read(
            "due_for_sweep",
            self.inner.due_for_sweep(kind, due_by, cursor, limit),
        )
        .await
    }
}

#[async_trait]
impl ReservationStore for FaultyStore {
    async fn reserve(
        &self,
        cart: &Cart,
        expected: u64,
        takes: &[Reservation],
        config_revision: u64,
    ) -> Result<(), ReserveError> {
        self.write(
            "reserve",
            self.inner.reserve(cart, expected, takes, config_revision),
        )
        .await
    }

    async fn release(
        &self,
        holds: &[StoredHold],
        cart: Option<(&Cart, u64)>,
    ) -> Result<(), ReleaseError> {
        self.write("release", self.inner.release(holds, cart)).await
    }

    async fn holds(&self, sku: &Sku) -> Result<Vec<StoredHold>, StoreError> {
        self.read("holds", self.inner.holds(sku)).await
    }
}
