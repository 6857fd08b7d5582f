//! The gift card port: one item per card (`GIFTCARD#<code>`). An administrator's write is a
//! put conditioned on the card being exactly as read (or absent), so it never erases a
//! redemption; redemptions are updates inside an order's commit (see `commit`).

use async_trait::async_trait;

use checkout_domain::model::gift_card::{GiftCard, GiftCardCode};
use checkout_domain::ports::gift_cards::GiftCardStore;
use checkout_domain::StoreError;

use super::codec::to_item;
use super::expr::{condition_held, Expr};
use super::schema::gift_card_key;
use super::DynamoStore;

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
