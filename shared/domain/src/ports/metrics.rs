//! Operational counts an operator alarms on (a sweeper that keeps failing, money that could
//! not be recorded). The domain counts; an adapter publishes (CloudWatch's embedded metric
//! format in the functions).

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// A cart or order the sweeper could not finish this time (it tries again next time).
    SweepFailures,
    /// Saved orders the sweeper cancelled because their hold ended unpaid.
    SweepOrdersReleased,
    /// Orders whose money the sweeper gave back (or went on giving back).
    SweepOrdersReversed,
    /// Paid carts never ordered within the grace period whose money the sweeper gave back.
    SweepCartsReversed,
    /// Reservations the sweeper gave back because their hold ended.
    SweepHoldsReleased,
    /// A refund or cancellation the provider refused or that failed later: the money is
    /// outstanding again (retried by the sweeper a few times, then a person's).
    ReversalFailed,
    /// A provider's report that could not be stored (a payment at its transaction bound);
    /// a success among them was given back at the provider.
    UnstorableReport,
    /// Orders committed.
    OrdersCommitted,
    /// Commit attempts another transaction held an item of (or the store throttled).
    CommitConflicts,
    /// Commits tried again after contention.
    CommitRetries,
    /// Requests answered `Contended` (503): contention outlasted the retry budget.
    Contended,
    /// Commits refused `OutOfStock`.
    SoldOut,
    /// Writes other than commits that met contention and were tried again.
    WriteConflicts,
    /// Units reserved when payments started (`reserveOnPayment`).
    UnitsReserved,
    /// Reserved units given back (a failed payment, an edit, a hold that ended).
    UnitsReleased,
}

impl Metric {
    /// The metric's name as published.
    pub fn name(self) -> &'static str {
        match self {
            Metric::SweepFailures => "SweepFailures",
            Metric::SweepOrdersReleased => "SweepOrdersReleased",
            Metric::SweepOrdersReversed => "SweepOrdersReversed",
            Metric::SweepCartsReversed => "SweepCartsReversed",
            Metric::SweepHoldsReleased => "SweepHoldsReleased",
            Metric::ReversalFailed => "ReversalFailed",
            Metric::UnstorableReport => "UnstorableReport",
            Metric::OrdersCommitted => "OrdersCommitted",
            Metric::CommitConflicts => "CommitConflicts",
            Metric::CommitRetries => "CommitRetries",
            Metric::Contended => "Contended",
            Metric::SoldOut => "SoldOut",
            Metric::WriteConflicts => "WriteConflicts",
            Metric::UnitsReserved => "UnitsReserved",
            Metric::UnitsReleased => "UnitsReleased",
        }
    }
}

/// Where counts go.
pub trait Metrics: Send + Sync + 'static {
    fn count(&self, metric: Metric, n: u64);
}

/// Counts nobody publishes (tests that do not look, deployments without metrics).
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn count(&self, _: Metric, _: u64) {}
}
