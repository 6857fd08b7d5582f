//! The published contract and the served routes agree: every operation in `openapi.yaml` is
//! routed (its answer is never the router's own 404 or 405), and paths outside it are not.

use checkout_tests::serde_json::json;
use checkout_tests::{App, Backend};
use http::{Method, StatusCode};

const OPENAPI: &str = include_str!("../../openapi.yaml");

/// `(method, path)` of every operation, read from the `paths:` section's indentation.
fn operations() -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    let mut in_paths = false;
    let mut path = None;
    for line in OPENAPI.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line
            .strip_prefix("  /")
            .and_then(|rest| rest.trim_end().strip_suffix(':'))
        {
            path = Some(format!("/{p}"));
        } else if let Some(method) = line
            .strip_prefix("    ")
            .and_then(|rest| rest.trim_end().strip_suffix(':'))
        {
            if let (Ok(method), Some(path)) = (method.to_uppercase().parse::<Method>(), &path) {
                if ["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                    operations.push((method, path.clone()));
                }
            }
        }
    }
    operations
}

fn is_router_miss(status: StatusCode, body: &checkout_tests::serde_json::Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND
            && body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("No route")))
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = App::start(Backend::Memory).await;
    let operations = operations();
    assert!(
        operations.len() >= 14,
        "the document lists its operations: {operations:?}"
    );
    let client = app.admin();
    for (method, path) in operations {
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "x1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = (method != Method::GET).then(|| axum::body::Body::from(json!({}).to_string()));
        let answer = client.send(method.clone(), &concrete, body).await;
        assert!(
            !is_router_miss(answer.status, &answer.body),
            "{method} {path} is documented but not served: {} {:#}",
            answer.status,
            answer.body
        );
    }
}

#[tokio::test]
async fn undocumented_paths_and_methods_are_not_served() {
    let app = App::start(Backend::Memory).await;
    let client = app.anonymous();
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/admin/products"),
        (Method::DELETE, "/carts/x1"),
        (Method::PUT, "/orders/x1"),
        (Method::GET, "/webhooks/stripe"),
        (Method::GET, "/_dev/emails/unknown"),
    ] {
        let answer = client.send(method.clone(), path, None).await;
        assert!(
            is_router_miss(answer.status, &answer.body),
            "{method} {path}: {}",
            answer.status
        );
        let documented = operations().iter().any(|(m, p)| m == method && p == path);
        assert!(!documented, "{method} {path} is documented");
    }
}
