//! The error answers DynamoDB gives for contention, byte for byte in the shape of its JSON 1.0
//! protocol (`__type` with the service's namespace, HTTP 400), which the AWS SDKs parse into
//! their typed errors: `TransactionCanceledException { cancellation_reasons }`,
//! `TransactionConflictException`, `ProvisionedThroughputExceededException`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use crate::rules::Refusal;

const NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810";

/// DynamoDB's message for a slot that is part of another ongoing transaction (the API
/// reference's list of cancellation reasons, and `TransactionConflictException`'s message).
pub const CONFLICT_MESSAGE: &str = "Transaction is ongoing for the item";

/// DynamoDB's message when an on-demand table's item or partition is over its rate.
pub const THROTTLE_MESSAGE: &str = "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html";

/// `TransactionCanceledException`: one reason per item in request order, `{"Code": "None"}`
/// for the items that were not the cause, as DynamoDB lists them.
pub fn cancelled(reasons: &[Option<Refusal>]) -> Response {
    let codes: Vec<&str> = reasons.iter().map(|r| code(*r)).collect();
    let reasons: Vec<Value> = reasons
        .iter()
        .map(|reason| match reason {
            None => json!({"Code": "None"}),
            Some(Refusal::Conflict) => {
                json!({"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE})
            }
            Some(Refusal::Throttled) => {
                json!({"Code": "ThrottlingError", "Message": THROTTLE_MESSAGE})
            }
        })
        .collect();
    error(json!({
        "__type": format!("{NAMESPACE}#TransactionCanceledException"),
        "CancellationReasons": reasons,
        "Message": format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    }))
}

fn code(reason: Option<Refusal>) -> &'static str {
    match reason {
        None => "None",
        Some(Refusal::Conflict) => "TransactionConflict",
        Some(Refusal::Throttled) => "ThrottlingError",
    }
}

/// `TransactionConflictException`: a plain write on an item of an ongoing transaction.
pub fn write_conflict() -> Response {
    error(json!({
        "__type": format!("{NAMESPACE}#TransactionConflictException"),
        "message": CONFLICT_MESSAGE,
    }))
}

/// `ProvisionedThroughputExceededException` for a plain write over its item's rate, with the
/// throttling reason DynamoDB gives a hot key (`TableWriteKeyRangeThroughputExceeded`).
pub fn throttled(region: &str, table: &str) -> Response {
    let resource = if table.starts_with("arn:") {
        table.to_string()
    } else {
        format!("arn:aws:dynamodb:{region}:000000000000:table/{table}")
    };
    error(json!({
        "__type": format!("{NAMESPACE}#ProvisionedThroughputExceededException"),
        "message": THROTTLE_MESSAGE,
        "ThrottlingReasons": [{"reason": "TableWriteKeyRangeThroughputExceeded", "resource": resource}],
    }))
}

fn error(body: Value) -> Response {
    static REQUEST: AtomicU64 = AtomicU64::new(0);
    let id = REQUEST.fetch_add(1, Ordering::Relaxed);
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")
        .header("x-amzn-requestid", format!("CONTENTIONEMULATOR{id:034}"))
        .body(Body::from(body.to_string()))
        .expect("a static response")
}

/// The region a request is signed for (`Credential=KEY/DATE/REGION/dynamodb/aws4_request`),
/// for the throttled table's ARN.
pub fn region(authorization: Option<&str>) -> &str {
    authorization
        .and_then(|value| value.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(2))
        .unwrap_or("us-east-1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_the_signature() {
        let header = "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(region(Some(header)), "eu-west-1");
        assert_eq!(region(None), "us-east-1");
    }
}
