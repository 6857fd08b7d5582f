//! Gift card administration: `PUT` and `GET /admin/gift-cards/{code}`.

use crate::model::error::Error;
use crate::model::gift_card::{GiftCard, GiftCardCode, GiftCardInput};
use crate::model::identity::Caller;
use crate::ports::gift_cards::GiftCardStore;

/// Gift card administration, over the gift card store.
pub struct GiftCards<'a> {
    pub(crate) cards: &'a dyn GiftCardStore,
}

impl GiftCards<'_> {
    /// Creates a card or sets its balance and currency. The write is conditioned on the card
    /// as read, so a redemption that lands in between is never erased: the answer is then a
    /// 409 `GiftCardChanged` with the balance as it is now.
    pub async fn put_gift_card(
        &self,
        caller: &Caller,
        code: &str,
        input: &GiftCardInput,
    ) -> Result<GiftCard, Error> {
        caller.require_admin()?;
        let card = input.parse(code)?;
        let read = self.cards.gift_card(&card.code).await?;
        if self.cards.write_gift_card(&card, read.as_ref()).await? {
            return Ok(card);
        }
        let now = self.cards.gift_card(&card.code).await?;
        Err(Error::GiftCardChanged {
            code: card.code.to_string(),
            current_balance: now.map_or(0, |c| c.balance),
        })
    }

    pub async fn gift_card(&self, caller: &Caller, code: &str) -> Result<GiftCard, Error> {
        caller.require_admin()?;
        let code = GiftCardCode::parse(code).map_err(|_| Error::NotFound)?;
        self.cards.gift_card(&code).await?.ok_or(Error::NotFound)
    }
}
