//! Programmatic orders and gift cards over HTTP: `POST /admin/orders`, its batch and its
//! commands, `PUT`/`GET /admin/gift-cards/{code}`; the order view with its `commands`, and
//! the stored form of an answer for replays.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Router;
use serde_json::{json, Value};

use crate::headers::IDEMPOTENT_REPLAYED;
use crate::identity::{Deadline, Identity};
use crate::json::{from_value, BatchJson, Json};
use crate::problem::{logged_problem, problem, ApiError, HttpError, PROBLEM_JSON};
use crate::views::OrderView;
use checkout_domain::model::gift_card::{GiftCard, GiftCardInput};
use checkout_domain::model::idempotency::StoredResponse;
use checkout_domain::model::order_snapshot::OrderSnapshot;
use checkout_domain::model::programmatic_order::{CommandsInput, ProgrammaticOrderInput};
use checkout_domain::usecases::programmatic::{AdminAnswer, BatchItem, ORDERS_WRITE};
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;

type Result<T> = std::result::Result<T, ApiError>;

pub fn routes(storefront: Storefront) -> Router {
    Router::new()
        .route(
            "/admin/gift-cards/{code}",
            put(put_gift_card).get(get_gift_card),
        )
        .route("/admin/orders", post(create_order))
        .route("/admin/orders/batch", post(batch))
        .route("/admin/orders/{order_number}/commands", post(commands))
        .with_state(storefront)
}

/// The order as an integration sees it: the owner's view, with the commands it went through.
pub fn admin_view(order: &OrderSnapshot) -> Value {
    let mut body = json!(OrderView::from(order.clone()));
    if let (Some(object), Some(terms)) = (body.as_object_mut(), &order.programmatic) {
        object.insert("commands".into(), json!(terms.commands));
        object.insert("sendReceipt".into(), json!(terms.send_receipt));
    }
    body
}

/// An answer's status and body, and whether it repeats the key's first answer (an order's
/// replay is a 200; a failed command's replay is its 422 again).
fn answer(answer: &AdminAnswer) -> (u16, Value, bool) {
    match answer {
        AdminAnswer::Created(order) => (201, admin_view(&order.snapshot()), false),
        AdminAnswer::Current(order) => (200, admin_view(&order.snapshot()), false),
        AdminAnswer::Replayed(StoredResponse::AdminOrder(order)) => (200, admin_view(order), true),
        AdminAnswer::Replayed(StoredResponse::CommandFailed(refusal)) => {
            let problem = problem(&refusal.error());
            (problem.status, problem.to_json(), true)
        }
        AdminAnswer::Replayed(StoredResponse::Order(order))
        | AdminAnswer::Replayed(StoredResponse::ChangedOrder(order)) => {
            (200, json!(OrderView::from(order.as_ref().clone())), true)
        }
        // Keys are scoped by operation: these never answer a programmatic order's key.
        AdminAnswer::Replayed(StoredResponse::Refund(refund)) => (200, json!(refund), true),
        AdminAnswer::Replayed(StoredResponse::Fulfillment(shipment)) => {
            (200, json!(shipment), true)
        }
        AdminAnswer::Replayed(StoredResponse::ReplicatedCart(_)) => (200, json!({}), true),
    }
}

fn respond(outcome: &AdminAnswer) -> Response {
    let (status, body, replayed) = answer(outcome);
    let content_type = if status >= 400 {
        PROBLEM_JSON
    } else {
        "application/json"
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

async fn create_order(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Deadline(deadline): Deadline,
    body: std::result::Result<Json<ProgrammaticOrderInput>, HttpError>,
) -> std::result::Result<Response, HttpError> {
    // Who asks is decided before what they sent: no token is a 401 whatever the body.
    caller.require_scope(ORDERS_WRITE)?;
    let Json(input) = body?;
    let outcome = app
        .programmatic_orders()
        .create_admin_order(&caller, &input, deadline)
        .await?;
    Ok(respond(&outcome))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchInput {
    /// Objects, each read on its own below; anything else is the whole batch's 400 (serde
    /// would read a struct from an array's elements in order).
    orders: Vec<serde_json::Map<String, Value>>,
}

async fn batch(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Deadline(deadline): Deadline,
    input: std::result::Result<BatchJson<BatchInput>, HttpError>,
) -> std::result::Result<Json<Value>, HttpError> {
    caller.require_scope(ORDERS_WRITE)?;
    let BatchJson(input) = input?;
    // Each body is read on its own: a bad one is that body's 400, pointers relative to it.
    let bodies = input
        .orders
        .into_iter()
        .map(|body| from_value(Value::Object(body)).map_err(|e| Error::Invalid(vec![e])))
        .collect();
    let items = app
        .programmatic_orders()
        .admin_order_batch(&caller, bodies, deadline)
        .await?;
    let results: Vec<Value> = items.iter().map(batch_result).collect();
    Ok(Json(json!({ "results": results })))
}

fn batch_result(item: &BatchItem) -> Value {
    let (status, body) = match &item.outcome {
        Ok(outcome) => {
            let (status, body, _) = answer(outcome);
            (status, body)
        }
        Err(error) => {
            // A body's 5xx is answered inside the batch's 200: its cause is logged here.
            let problem = logged_problem(error);
            (problem.status, problem.to_json())
        }
    };
    let member = if status >= 400 { "problem" } else { "order" };
    json!({ "index": item.index, "status": status, member: body })
}

async fn commands(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(order_number): Path<String>,
    input: std::result::Result<Json<CommandsInput>, HttpError>,
) -> std::result::Result<Response, HttpError> {
    caller.require_scope(ORDERS_WRITE)?;
    let Json(input) = input?;
    let outcome = app
        .programmatic_orders()
        .admin_order_commands(&caller, &order_number, &input)
        .await?;
    Ok(respond(&outcome))
}

async fn put_gift_card(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(code): Path<String>,
    Json(input): Json<GiftCardInput>,
) -> Result<Json<GiftCard>> {
    Ok(Json(
        app.gift_cards()
            .put_gift_card(&caller, &code, &input)
            .await?,
    ))
}

async fn get_gift_card(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(code): Path<String>,
) -> Result<Json<GiftCard>> {
    Ok(Json(app.gift_cards().gift_card(&caller, &code).await?))
}
