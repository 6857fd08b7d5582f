use super::*;
use checkout_domain::model::field_error::FieldError;
use checkout_domain::StoreError;

#[test]
fn invalid_input_lists_every_pointer() {
    let problem = problem(&Error::Invalid(vec![
        FieldError::new("/currency", "unsupported currency 'XXX'"),
        FieldError::new("/country", "must be an ISO 3166-1 alpha-2 code"),
    ]));
    assert_eq!(problem.status, 400);
    let body = problem.to_json();
    assert_eq!(body["code"], "InvalidInput");
    assert_eq!(body["recovery"], "fix_request");
    assert_eq!(body["errors"][1]["pointer"], "/country");
}

#[test]
fn storage_failures_leak_nothing() {
    let body = problem(&Error::Store(StoreError::new(
        "table arn:aws:... throttled".to_string(),
    )))
    .to_json();
    assert!(!body.to_string().contains("arn:aws"));
    assert_eq!(body["status"], 503);
}

#[test]
fn contention_is_contended_with_a_retry_after() {
    let problem = problem(&Error::Store(StoreError::contended(
        "commit: TransactionConflict on PRODUCT#MUG",
    )));
    assert_eq!(problem.retry_after, Some(1));
    let body = problem.to_json();
    assert_eq!(body["status"], 503);
    assert_eq!(body["code"], "Contended");
    assert_eq!(body["recovery"], "retry_later");
    assert!(!body.to_string().contains("PRODUCT#"));
}

#[test]
fn stock_refusals_carry_the_current_stock() {
    let changed = problem(&Error::StockChanged {
        sku: "MUG".into(),
        current_stock: 7,
    });
    assert_eq!((changed.status, changed.code), (409, "StockChanged"));
    assert_eq!(changed.to_json()["currentStock"], 7);
    assert_eq!(changed.recovery, Some("refetch"));
    let range = problem(&Error::StockOutOfRange {
        sku: "MUG".into(),
        current_stock: 2,
        stock_delta: -3,
    })
    .to_json();
    assert_eq!(range["code"], "StockOutOfRange");
    assert_eq!(range["stockDelta"], -3);
}

#[test]
fn stale_version_carries_the_current_one() {
    let body = problem(&Error::ConcurrentModification {
        expected: 3,
        current_version: 4,
    })
    .to_json();
    assert_eq!(body["currentVersion"], 4);
    assert_eq!(body["recovery"], "refetch_cart");
}
