//! Bounds on what one caller may hold (rule 13): each is a setting with the contract's default.

/// Unpaid saved orders one customer may hold at once (`MAX_OPEN_SAVED_ORDERS`).
pub const DEFAULT_MAX_OPEN_SAVED_ORDERS: u32 = 3;

/// How long one request keeps trying a write other writers hold (`CONTENTION_BUDGET_MS`)
/// before it answers `Contended`.
pub const DEFAULT_CONTENTION_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// The bounds a storefront enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Unpaid saved orders a customer holds at once; the next `save_order` is refused with
    /// `TooManyOpenOrders`, by a condition of its commit.
    pub max_open_saved_orders: u32,
    /// How long a request retries writes that meet contention (with backoff).
    pub contention_budget: std::time::Duration,
    /// How long after it was placed a customer may cancel a paid, unshipped order
    /// themselves (`CANCEL_WINDOW_SECONDS`; 0: never, only unpaid saved orders).
    pub cancel_window: time::Duration,
    /// How long a reservation made when a payment starts holds its units
    /// (`RESERVATION_SECONDS`).
    pub reservation: time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_open_saved_orders: DEFAULT_MAX_OPEN_SAVED_ORDERS,
            contention_budget: DEFAULT_CONTENTION_BUDGET,
            cancel_window: time::Duration::ZERO,
            reservation: crate::model::reservation::DEFAULT_RESERVATION,
        }
    }
}
