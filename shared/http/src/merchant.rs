//! Merchant operations over HTTP (after the order exists): the search `GET /admin/orders`,
//! `GET /admin/orders/{n}` with its history, its cancellation, refunds, shipments and their
//! delivery; and the customer's own `POST /orders/{n}/cancel`. A replayed key answers 200
//! with `Idempotent-Replayed: true`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::headers::{KeyHeader, IDEMPOTENT_REPLAYED};
use crate::identity::Identity;
use crate::json::Json;
use crate::problem::ApiError;
use crate::views::OrderView;
use checkout_domain::model::field_error::FieldError;
use checkout_domain::model::idempotency::StoredResponse;
use checkout_domain::model::order::Order;
use checkout_domain::usecases::merchant_orders::{
    CancelInput, Changed, DeliveredInput, FulfillmentInput, RefundInput,
};
use checkout_domain::usecases::order_search::SearchInput;
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(storefront: Storefront) -> Router {
    Router::new()
        .route("/admin/orders", get(search))
        .route("/admin/orders/{order_number}", get(order_with_history))
        .route("/admin/orders/{order_number}/cancel", post(cancel))
        .route("/admin/orders/{order_number}/refunds", post(refund))
        .route("/admin/orders/{order_number}/fulfillments", post(fulfill))
        .route(
            "/admin/orders/{order_number}/fulfillments/{fulfillment_id}/delivered",
            post(delivered),
        )
        .route("/orders/{order_number}/cancel", post(customer_cancel))
        .with_state(storefront)
}

/// A change's answer: `created` for a first answer that made something (a refund, a
/// shipment), 200 otherwise and for every replay.
fn respond(changed: Changed, created: bool) -> Response {
    let body: Value = match &changed.response {
        StoredResponse::ChangedOrder(order)
        | StoredResponse::Order(order)
        | StoredResponse::AdminOrder(order) => json!(OrderView::from(order.as_ref().clone())),
        StoredResponse::Refund(refund) => json!(refund),
        StoredResponse::Fulfillment(shipment) => json!(shipment),
        // Keys are scoped by operation: these never answer an order change's key.
        StoredResponse::CommandFailed(_) | StoredResponse::ReplicatedCart(_) => json!({}),
    };
    let status = if created && !changed.replayed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    if changed.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// One order of a search's page.
fn summary(order: &Order) -> Value {
    let mut summary = json!({
        "orderNumber": order.order_number,
        "state": order.state,
        "paymentState": order.payment_state,
        "shipmentState": order.shipment_state,
        "total": order.totals.total,
        "createdAt": order.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
    });
    if let (Some(object), Some(email)) = (summary.as_object_mut(), &order.customer_email) {
        object.insert("customerEmail".into(), json!(email));
    }
    summary
}

/// The JSON pointer of a query parameter.
fn pointer(name: &str) -> String {
    format!("/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// `GET /admin/orders`: each parameter once, none but the documented ones (a misspelt filter
/// would otherwise list every order).
async fn search(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    query: std::result::Result<
        Query<Vec<(String, String)>>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Json<Value>> {
    // The scope first: a caller without it learns nothing about the parameters.
    caller.require_scope("orders:read")?;
    let Query(pairs) = query.map_err(|e| Error::invalid("", e.body_text()))?;
    let mut input = SearchInput::default();
    let mut errors = Vec::new();
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "email" => &mut input.email,
            "customerId" => &mut input.customer_id,
            "state" => &mut input.state,
            "paymentState" => &mut input.payment_state,
            "shipmentState" => &mut input.shipment_state,
            "createdFrom" => &mut input.created_from,
            "createdTo" => &mut input.created_to,
            "limit" => &mut input.limit,
            "cursor" => &mut input.cursor,
            _ => {
                errors.push(FieldError::new(
                    pointer(&name),
                    "is not a parameter of this search",
                ));
                continue;
            }
        };
        if slot.replace(value).is_some() {
            errors.push(FieldError::new(pointer(&name), "must be given once"));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors).into());
    }
    let page = app.order_search().search_orders(&caller, &input).await?;
    let mut body = json!({"results": page.orders.iter().map(summary).collect::<Vec<_>>()});
    if let (Some(object), Some(next)) = (body.as_object_mut(), page.next) {
        object.insert("nextCursor".into(), json!(next));
    }
    Ok(Json(body))
}

async fn order_with_history(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(number): Path<String>,
) -> Result<Json<Value>> {
    let (order, history) = app
        .merchant_orders()
        .order_with_history(&caller, &number)
        .await?;
    let disputed = order.payments.iter().any(|p| p.disputed());
    let mut body = json!(OrderView::from(order.snapshot()));
    if let Some(object) = body.as_object_mut() {
        object.insert("history".into(), json!(history));
        // A chargeback flags the order for the merchant (its payment lists it).
        object.insert("disputed".into(), json!(disputed));
    }
    Ok(Json(body))
}

async fn cancel(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(number): Path<String>,
    Json(input): Json<CancelInput>,
) -> Result<Response> {
    Ok(respond(
        app.merchant_orders()
            .cancel_order(&caller, &number, &input)
            .await?,
        false,
    ))
}

async fn refund(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(number): Path<String>,
    Json(input): Json<RefundInput>,
) -> Result<Response> {
    Ok(respond(
        app.merchant_orders()
            .refund_order(&caller, &number, &input)
            .await?,
        true,
    ))
}

async fn fulfill(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(number): Path<String>,
    Json(input): Json<FulfillmentInput>,
) -> Result<Response> {
    Ok(respond(
        app.merchant_orders()
            .fulfill_order(&caller, &number, &input)
            .await?,
        true,
    ))
}

async fn delivered(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path((number, fulfillment)): Path<(String, String)>,
    Json(input): Json<DeliveredInput>,
) -> Result<Response> {
    Ok(respond(
        app.merchant_orders()
            .mark_delivered(&caller, &number, &fulfillment, &input)
            .await?,
        false,
    ))
}

async fn customer_cancel(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(number): Path<String>,
    KeyHeader(key): KeyHeader,
) -> Result<Response> {
    Ok(respond(
        app.merchant_orders()
            .customer_cancel(&caller, &number, key.as_ref())
            .await?,
        false,
    ))
}
