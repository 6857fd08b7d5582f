//! A merchant's search over every order (`GET /admin/orders`): guests' and customers' alike,
//! filtered by email, customer, states and creation time, newest first, a page at a time.
//!
//! The order is the history key's (`history_key`: creation time in unix nanoseconds, then
//! the order number), so pages are stable while orders come in: a cursor is the position of
//! the last order listed and the next page lists the keys below it. Without `createdFrom` the
//! search reaches back `SEARCH_MONTHS` calendar months (the current one included).

use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime, Time};

use crate::model::error::{Error, FieldErrors};
use crate::model::fulfillment::ShipmentState;
use crate::model::identity::Caller;
use crate::model::order::OrderState;
use crate::model::payment::PaymentState;
use crate::model::values::{CustomerId, Email};
use crate::ports::clock::Clock;
use crate::ports::orders::OrderStore;
use crate::ports::orders::{decode_position, encode_cursor, KeyRange, OrderFilter, OrderPage};
use crate::usecases::order_queries::{page_limit, DEFAULT_PAGE};

/// How far back a search without `createdFrom` reaches: this many calendar months, the
/// current one included (UTC).
pub const SEARCH_MONTHS: u32 = 24;

/// A search without `createdTo` lists orders up to now and this much later, so an order
/// committed by a process whose clock runs a little ahead is not left out.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// `GET /admin/orders`'s query parameters, as given.
#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    pub email: Option<String>,
    pub customer_id: Option<String>,
    pub state: Option<String>,
    pub payment_state: Option<String>,
    pub shipment_state: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One of an enum's serde names, or the list of them.
fn one_of<T: serde::de::DeserializeOwned>(raw: &str, names: &[&str]) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| format!("must be one of {}", names.join(", ")))
}

fn timestamp(raw: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(raw, &Rfc3339)
        .map_err(|_| "must be an RFC 3339 date-time such as 2026-11-24T00:00:00Z".to_string())
}

/// The first instant of the calendar month (UTC) `months` before the one `at` falls in.
pub fn month_start(at: OffsetDateTime, months: u32) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let index = at.year() * 12 + i32::from(u8::from(at.month())) - 1 - months as i32;
    let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u8 + 1);
    let month = Month::try_from(month).unwrap_or(Month::January);
    Date::from_calendar_date(year, month, 1)
        .map(|date| date.with_time(Time::MIDNIGHT).assume_utc())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A position of a time alone: every key of an earlier nanosecond sorts below it.
fn position(nanos: i128) -> String {
    format!("{:020}", nanos.max(0))
}

/// Searching every order (a merchant's), over the order store.
pub struct OrderSearch<'a> {
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) clock: &'a dyn Clock,
}

impl OrderSearch<'_> {
    /// `GET /admin/orders`: a page of every order matching the filters, newest first.
    pub async fn search_orders(
        &self,
        caller: &Caller,
        input: &SearchInput,
    ) -> Result<OrderPage, Error> {
        caller.require_scope("orders:read")?;
        let mut errors = FieldErrors::new();
        let filter = OrderFilter {
            email: input
                .email
                .as_deref()
                .and_then(|raw| errors.check("/email", Email::parse(raw))),
            customer: input
                .customer_id
                .as_deref()
                .and_then(|raw| errors.check("/customerId", CustomerId::parse(raw))),
            state: input.state.as_deref().and_then(|raw| {
                errors.check::<OrderState>(
                    "/state",
                    one_of(
                        raw,
                        &["Draft", "Open", "Confirmed", "Cancelled", "Complete"],
                    ),
                )
            }),
            payment_state: input.payment_state.as_deref().and_then(|raw| {
                errors.check::<PaymentState>(
                    "/paymentState",
                    one_of(
                        raw,
                        &[
                            "Pending",
                            "Paid",
                            "BalanceDue",
                            "Failed",
                            "PartiallyRefunded",
                            "Refunded",
                        ],
                    ),
                )
            }),
            shipment_state: input.shipment_state.as_deref().and_then(|raw| {
                errors.check::<ShipmentState>(
                    "/shipmentState",
                    one_of(raw, &["Pending", "Partial", "Shipped", "Delivered"]),
                )
            }),
        };
        let from = input
            .created_from
            .as_deref()
            .and_then(|raw| errors.check("/createdFrom", timestamp(raw)));
        let to = input
            .created_to
            .as_deref()
            .and_then(|raw| errors.check("/createdTo", timestamp(raw)));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.check::<()>("/createdFrom", Err("must not be after createdTo"));
            }
        }
        let limit = page_limit(&mut errors, input.limit.as_deref());
        let after = input.cursor.as_deref().and_then(|raw| {
            errors.check(
                "/cursor",
                decode_position(raw).ok_or("is not a cursor from this API"),
            )
        });
        errors.into_result()?;
        let limit = limit.unwrap_or(DEFAULT_PAGE);

        // Both ends inclusive; nothing is created later than now (give or take a clock's
        // skew), and nothing before 1970 (keys are unsigned nanoseconds).
        let latest = self.clock.now() + CLOCK_SKEW;
        let to = to.map_or(latest, |to| to.min(latest));
        let from = from.unwrap_or_else(|| month_start(to, SEARCH_MONTHS - 1));
        let mut range = KeyRange {
            from: position(from.unix_timestamp_nanos()),
            before: position(to.unix_timestamp_nanos() + 1),
        };
        if let Some(after) = after {
            range.before = range.before.min(after);
        }
        if to < OffsetDateTime::UNIX_EPOCH || range.is_empty() {
            return Ok(OrderPage {
                orders: Vec::new(),
                next: None,
            });
        }
        let mut page = self.orders.search_orders(&filter, &range, limit).await?;
        page.next = page.next.as_deref().map(encode_cursor);
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn month_starts_count_back_across_years() {
        let at = datetime!(2026-02-17 13:00 UTC);
        assert_eq!(month_start(at, 0), datetime!(2026-02-01 0:00 UTC));
        assert_eq!(month_start(at, 1), datetime!(2026-01-01 0:00 UTC));
        assert_eq!(month_start(at, 2), datetime!(2025-12-01 0:00 UTC));
        assert_eq!(month_start(at, 23), datetime!(2024-03-01 0:00 UTC));
        // The month is UTC's, whatever the offset given.
        assert_eq!(
            month_start(datetime!(2026-03-01 00:30 +01:00), 0),
            datetime!(2026-02-01 0:00 UTC)
        );
    }

    #[test]
    fn a_position_is_a_time_alone_or_an_order_key() {
        let encode = |raw: &str| encode_cursor(raw);
        assert!(decode_position(&encode("00000001764000000000000000")).is_none());
        assert_eq!(
            decode_position(&encode("01764000000000000000")).as_deref(),
            Some("01764000000000000000")
        );
        assert!(decode_position(&encode("01764000000000000000#20261124-ABC")).is_some());
        assert!(decode_position(&encode("01764000000000000000#")).is_none());
        assert!(decode_position(&encode("0176400000000000000x#20261124-ABC")).is_none());
        assert!(decode_position(&encode("01764000000000000000#a b")).is_none());
        assert!(decode_position("not base64!").is_none());
    }

    #[test]
    fn a_range_knows_the_times_it_spans() {
        let range = KeyRange {
            from: position(100),
            before: position(200),
        };
        assert_eq!((range.first_nanos(), range.last_nanos()), (100, 199));
        assert!(range.contains("00000000000000000100#A-1"));
        assert!(range.contains("00000000000000000199#Z-9"));
        assert!(!range.contains("00000000000000000200#A-1"));
        let range = KeyRange {
            from: position(100),
            before: "00000000000000000150#B-1".into(),
        };
        assert_eq!(range.last_nanos(), 150);
        assert!(range.contains("00000000000000000150#A-1"));
        assert!(!range.contains("00000000000000000150#B-1"));
    }
}
