//! The gift card port: one item per card (`GIFTCARD#<code>`). An administrator's write is a
//! put conditioned on the card being exactly as read (or absent), so it never erases a
//! redemption; redemptions are updates inside an order's commit (see `commit`), credits
//! updates inside the payment write that records a refund (see `payments`).

use async_trait::async_trait;

use aws_sdk_dynamodb::types::TransactWriteItem;

use checkout_domain::model::gift_card::{GiftCard, GiftCardCode};
use checkout_domain::model::money::Money;
use checkout_domain::ports::gift_cards::GiftCardStore;
use checkout_domain::StoreError;

use super::codec::to_item;
use super::expr::{condition_held, update, Expr};
use super::schema::gift_card_key;
use super::DynamoStore;

/// Which way money moves on a gift card.
pub(super) enum Movement {
    /// An order takes it: never below zero.
    Redeem,
    /// An order gives it back.
    Credit,
}

/// The update that moves `amount` off or onto the gift card `code`, which must be in the
/// amount's currency: a redemption in an order's commit, a credit with its refund.
pub(super) fn balance_update(
    table: &str,
    code: &GiftCardCode,
    amount: Money,
    movement: Movement,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let (balance, currency) = (e.name("balance"), e.name("currency"));
    let (cents, card_currency) = (
        e.number(amount.cent_amount),
        e.string(amount.currency().code()),
    );
    let (operator, covered) = match movement {
        Movement::Redeem => ("-", format!(" AND {balance} >= {cents}")),
        Movement::Credit => ("+", String::new()),
    };
    update(
        table,
        gift_card_key(code),
        &format!("SET {balance} = {balance} {operator} {cents}"),
        &format!("{currency} = {card_currency}{covered}"),
        e,
    )
}

#[async_trait]
impl GiftCardStore for DynamoStore {
    async fn gift_card(&self, code: &GiftCardCode) -> Result<Option<GiftCard>, StoreError> {
        self.get(gift_card_key(code)).await
    }

    async fn write_gift_card(
        &self,
        card: &GiftCard,
        expected: Option<&GiftCard>,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::default();
        let condition = match expected {
            None => format!("attribute_not_exists({})", e.name("pk")),
            Some(read) => {
                let (balance, currency) = (e.name("balance"), e.name("currency"));
                let (b, c) = (e.number(read.balance), e.string(read.currency.code()));
                format!("{balance} = {b} AND {currency} = {c}")
            }
        };
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(gift_card_key(&card.code), card)?))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        condition_held(result)
    }
}
