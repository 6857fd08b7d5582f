//! The sweeper's queues: carts and orders due for its attention.

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::model::error::StoreError;
use crate::model::values::CartId;

/// The sweeper's two queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepKind {
    /// Saved orders whose hold ended, and cancelled orders still holding money.
    Orders,
    /// Active carts holding money that never became an order.
    Carts,
    /// Carts whose reservation's hold ended (by each hold stored beside the stock).
    Holds,
}

/// One page of the sweeper's work.
#[derive(Debug, Clone, Default)]
pub struct SweepPage {
    pub carts: Vec<CartId>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<String>,
}

/// The sweeper's queues: carts and orders due for its attention.
#[async_trait]
pub trait SweepStore: Send + Sync + 'static {
    /// The carts whose order (`SweepKind::Orders`: `Order::sweep_at`) or whose own payments
    /// (`SweepKind::Carts`: `Cart::holding_since`) are due at or before `due_by`, a page at a
    /// time from `cursor` (an opaque `SweepPage::next`).
    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError>;
}
