//! The refusals of programmatic orders and gift cards as problem+json: a failed command (with
//! the problem that stopped it as its `cause`), payments that do not cover the total, a
//! declined card, a gift card that moved under an administrator's write, too many bodies.

use serde_json::{json, Map};

use checkout_domain::Error;

use super::Problem;

/// The problem of one of the errors above; `domain::problem` sends them here.
pub fn problem(error: &Error) -> Problem {
    let mut extensions = Map::new();
    let (status, code, title, recovery, detail): (u16, &str, &str, Option<&str>, String) =
        match error {
            Error::InsufficientPayment { total, covered } => {
                extensions.insert("total".into(), json!(total));
                extensions.insert("covered".into(), json!(covered));
                (
                    422,
                    "InsufficientPayment",
                    "The payments do not cover the total",
                    Some("pay"),
                    format!("The payments cover {covered} of {total}."),
                )
            }
            Error::PaymentDeclined { reason } => (
                402,
                "PaymentDeclined",
                "The payment was declined",
                Some("pay"),
                format!("The payment method was declined: {reason}."),
            ),
            Error::CommandFailed {
                command,
                index,
                cause,
            } => {
                let cause = super::problem(cause);
                extensions.insert("command".into(), json!(command));
                extensions.insert("index".into(), json!(index));
                extensions.insert("cause".into(), cause.to_json());
                (
                    422,
                    "CommandFailed",
                    "A command of the order failed",
                    Some("fix_request"),
                    format!("Command {index} ({command}) failed: {}", cause.detail),
                )
            }
            Error::GiftCardChanged {
                code,
                current_balance,
            } => {
                extensions.insert("giftCard".into(), json!(code));
                extensions.insert("currentBalance".into(), json!(current_balance));
                (
                    409,
                    "GiftCardChanged",
                    "The gift card changed in the meantime",
                    Some("refetch"),
                    format!(
                        "Gift card '{code}' holds {current_balance} now; send the write again."
                    ),
                )
            }
            Error::TooMany { what, limit } => (
                413,
                "PayloadTooLarge",
                "The request body is too large",
                Some("fix_request"),
                format!("At most {limit} {what} per request."),
            ),
            other => {
                return super::problem(&Error::internal(format!(
                    "not a programmatic error: {other}"
                )))
            }
        };
    Problem {
        extensions,
        ..Problem::simple(status, code, title, recovery, detail)
    }
}
