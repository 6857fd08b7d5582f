//! The gift card port, in memory: an administrator's write conditioned on what it read.

use async_trait::async_trait;

use checkout_domain::model::gift_card::{GiftCard, GiftCardCode};
use checkout_domain::ports::gift_cards::GiftCardStore;
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl GiftCardStore for MemoryStore {
    async fn gift_card(&self, code: &GiftCardCode) -> Result<Option<GiftCard>, StoreError> {
        Ok(self.lock().gift_cards.get(code).cloned())
    }

    async fn write_gift_card(
        &self,
        card: &GiftCard,
        expected: Option<&GiftCard>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.gift_cards.get(&card.code) != expected {
            return Ok(false);
        }
        state.gift_cards.insert(card.code.clone(), card.clone());
        Ok(true)
    }
}
