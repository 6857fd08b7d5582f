//! Adyen, the second payment provider: its Checkout API, and its standard notifications,
//! read and trusted the way Adyen documents them, and what each event means for one of our
//! payments.
//!
//! * [`signature`]: HTTP Basic credentials on the request, and an HMAC-SHA256 per
//!   notification item over Adyen's colon-joined fields (the hex key of the webhook, two
//!   during a rotation), compared in constant time.
//! * [`notification`]: the JSON body (`notificationItems[].NotificationRequestItem`), bounded,
//!   and each item's meaning as the domain's `PaymentEvent`.
//!
//! * [`client`]: the Checkout API (sessions, stored-method payments, captures, cancels,
//!   refunds) behind the domain's `PaymentProvider` port.

pub mod client;
pub mod notification;
pub mod signature;
