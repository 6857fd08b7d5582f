//! The ERP system, which hears every order event.

use async_trait::async_trait;

use crate::model::events::OrderEvent;
use crate::ports::DeliveryError;

/// How the ERP took an order event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErpReceipt {
    Created,
    /// It had the event already (a redelivery after a crash, or a replay from a DLQ).
    AlreadySynced,
}

/// The ERP system. It hears every order event (creation, payment, cancellation, refund),
/// keyed by order number and sequence so a repeated push is recognized there too.
#[async_trait]
pub trait Erp: Send + Sync + 'static {
    async fn push(&self, event: &OrderEvent) -> Result<ErpReceipt, DeliveryError>;
}
