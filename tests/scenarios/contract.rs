//! The published contract and the served routes agree: every operation in `openapi.yaml` is
//! routed (its answer is never the router's own 404 or 405), and paths outside it are not;
//! the HTTP API in `template.yaml` declares exactly those routes, with API Gateway's JWT
//! authorizer on the routes only signed-in customers use and on no route guests share.

use checkout_tests::serde_json::json;
use checkout_tests::{App, Backend};
use http::{Method, StatusCode};

const OPENAPI: &str = include_str!("../../openapi.yaml");
const TEMPLATE: &str = include_str!("../../template.yaml");

/// `(method, path, behind the JWT authorizer)` of every `HttpApi` event in the template.
fn gateway_routes() -> Vec<(String, String, bool)> {
    let mut routes: Vec<(Option<String>, Option<String>, bool)> = Vec::new();
    for line in TEMPLATE.lines().map(str::trim) {
        if line == "Type: HttpApi" {
            routes.push((None, None, false));
        } else if let Some(route) = routes.last_mut() {
            if let Some(method) = line.strip_prefix("Method: ") {
                route.0 = Some(method.to_string());
            } else if let Some(path) = line.strip_prefix("Path: ") {
                route.1 = Some(path.to_string());
            } else if line == "Authorizer: Jwt" {
                route.2 = true;
            }
        }
    }
    routes
        .into_iter()
        .filter_map(|(method, path, jwt)| Some((method?, path?, jwt)))
        .collect()
}

#[test]
fn the_gateway_routes_are_the_documented_operations() {
    let mut documented: Vec<(String, String)> = operations()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p))
        .collect();
    documented.sort();
    let routes = gateway_routes();
    let mut declared: Vec<(String, String)> = routes
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    declared.sort();
    assert_eq!(declared, documented);
    let mut behind_authorizer: Vec<String> = routes
        .iter()
        .filter(|(_, _, jwt)| *jwt)
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    behind_authorizer.sort();
    assert_eq!(
        behind_authorizer,
        [
            "GET /admin/gift-cards/{code}",
            "GET /admin/orders",
            "GET /admin/orders/{orderNumber}",
            "GET /admin/products/{sku}",
            "GET /orders",
            "POST /admin/orders",
            "POST /admin/orders/batch",
            "POST /admin/orders/{orderNumber}/cancel",
            "POST /admin/orders/{orderNumber}/commands",
            "POST /admin/orders/{orderNumber}/fulfillments",
            "POST /admin/orders/{orderNumber}/fulfillments/{fulfillmentId}/delivered",
            "POST /admin/orders/{orderNumber}/refunds",
            "POST /customers/claim",
            "PUT /admin/config",
            "PUT /admin/discount-codes/{code}",
            "PUT /admin/gift-cards/{code}",
            "PUT /admin/products/{sku}",
        ]
    );
}

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
