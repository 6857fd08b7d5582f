//! The sweeper's port, in memory.

use async_trait::async_trait;

use time::OffsetDateTime;

use checkout_domain::model::values::CartId;
use checkout_domain::ports::sweep::{SweepKind, SweepPage, SweepStore};
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl SweepStore for MemoryStore {
    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError> {
        let state = self.lock();
        let mut due: Vec<(String, CartId)> = match kind {
            SweepKind::Orders => state
                .orders
                .values()
                .filter_map(|o| Some((o.sweep_at()?, o.cart_id.clone())))
                .collect::<Vec<_>>(),
            SweepKind::Carts => state
                .carts
                .values()
                .filter_map(|c| Some((c.holding_since()?, c.id.clone())))
                .collect::<Vec<_>>(),
            SweepKind::Holds => state
                .holds
                .values()
                .map(|h| (h.until, h.cart_id.clone()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
        }
        .into_iter()
        .filter(|(at, _)| *at <= due_by)
        .map(|(at, id)| (format!("{:020}#{id}", at.unix_timestamp().max(0)), id))
        .filter(|(key, _)| cursor.is_none_or(|after| key.as_str() > after))
        .collect();
        due.sort();
        let next = (due.len() > limit).then(|| due[limit - 1].0.clone());
        Ok(SweepPage {
            carts: due.into_iter().take(limit).map(|(_, id)| id).collect(),
            next,
        })
    }
}
