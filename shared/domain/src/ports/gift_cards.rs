//! Gift cards: the ledger's balances. Redemptions are not here: they are conditions of an
//! order's commit (`CommitPlan::gift_cards`), so money leaves a card only with its order.

use async_trait::async_trait;

use crate::model::error::StoreError;
use crate::model::gift_card::{GiftCard, GiftCardCode};

#[async_trait]
pub trait GiftCardStore: Send + Sync + 'static {
    async fn gift_card(&self, code: &GiftCardCode) -> Result<Option<GiftCard>, StoreError>;
    /// Writes `card` iff the stored card is still `expected` (`None`: there is none yet), so
    /// an administrator's write never erases a redemption that landed after the read.
    /// Returns whether it did.
    async fn write_gift_card(
        &self,
        card: &GiftCard,
        expected: Option<&GiftCard>,
    ) -> Result<bool, StoreError>;
}
