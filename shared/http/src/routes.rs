//! The storefront's routes: catalog administration, shipping methods and carts.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::Value;

use crate::cart_body::UpdateCartBody;
use crate::headers::{KeyHeader, IDEMPOTENT_REPLAYED};
use crate::identity::Identity;
use crate::json::Json;
use crate::problem::{ApiError, Transport};
use crate::views::{CartView, OrderView, ProductView, ReplicatedCartView};
use checkout_domain::model::cart::CreateCartInput;
use checkout_domain::model::catalog::ProductInput;
use checkout_domain::model::discount::DiscountInput;
use checkout_domain::model::pricing_config::PricingConfigInput;
use checkout_domain::usecases::checkout::{CreateOrderInput, OrderOutcome};
use checkout_domain::usecases::claims::ClaimInput;
use checkout_domain::usecases::order_queries::LookupInput;
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;

type Result<T> = std::result::Result<T, ApiError>;

pub fn storefront(storefront: Storefront) -> Router {
    Router::new()
        .route("/admin/products/{sku}", get(get_product).put(put_product))
        .route("/admin/discount-codes/{code}", put(put_discount))
        .route("/admin/config", put(put_config))
        .route("/shipping-methods", get(shipping_methods))
        .route("/carts", post(create_cart))
        .route("/carts/{cart_id}", get(get_cart).post(update_cart))
        .route("/carts/{cart_id}/payments", post(create_payment))
        .route("/orders", get(list_orders))
        .route("/orders/lookup", post(lookup_order))
        .route("/orders/{order_number}", get(get_order))
        .route(
            "/orders/{order_number}/payments",
            post(create_order_payment),
        )
        .route("/orders/{order_number}/replicate", post(replicate_order))
        .route("/customers/claim", post(claim_orders))
        .with_state(storefront.clone())
        .merge(crate::admin_orders::routes(storefront.clone()))
        .merge(crate::merchant::routes(storefront))
}

/// `POST /orders`, the commit step, served by its own function.
pub fn create_order(storefront: Storefront) -> Router {
    Router::new()
        .route("/orders", post(place_order))
        .with_state(storefront)
}

/// The payment providers' webhooks a deployment takes: Stripe's always, Adyen's when the
/// deployment has Adyen.
#[derive(Clone)]
pub struct Webhooks {
    pub stripe: crate::webhook::WebhookSecrets,
    pub adyen: Option<crate::adyen_webhook::AdyenWebhook>,
}

impl Webhooks {
    /// Stripe's webhook only.
    pub fn stripe_only(stripe: crate::webhook::WebhookSecrets) -> Self {
        Webhooks {
            stripe,
            adyen: None,
        }
    }

    /// `POST /webhooks/stripe`, and `POST /webhooks/adyen` when configured.
    pub fn routes(&self, storefront: Storefront) -> Router {
        let stripe = crate::webhook::routes(storefront.clone(), self.stripe.clone());
        match &self.adyen {
            Some(adyen) => stripe.merge(crate::adyen_webhook::routes(storefront, adyen.clone())),
            None => stripe,
        }
    }
}

/// Every public route in one router, as the local server serves them.
pub fn all(storefront: Storefront, webhooks: &Webhooks) -> Router {
    with_problem_fallbacks(
        self::storefront(storefront.clone())
            .merge(create_order(storefront.clone()))
            .merge(webhooks.routes(storefront)),
    )
}

/// Wraps a router so that unknown paths and methods answer with problem+json too.
pub fn with_problem_fallbacks(router: Router) -> Router {
    router
        .fallback(|| async { Transport::RouteNotFound })
        .method_not_allowed_fallback(|| async { Transport::MethodNotAllowed })
}

async fn place_order(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    KeyHeader(key): KeyHeader,
    Json(input): Json<CreateOrderInput>,
) -> Result<Response> {
    let answer = app.checkout().place_order(&caller, &input, key).await?;
    let status = match answer.outcome {
        OrderOutcome::Created => StatusCode::CREATED,
        OrderOutcome::Replayed => StatusCode::OK,
    };
    let mut response = (status, Json(OrderView::from(*answer.order))).into_response();
    if answer.outcome == OrderOutcome::Replayed {
        response.headers_mut().insert(
            IDEMPOTENT_REPLAYED,
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

#[derive(serde::Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list_orders(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    query: std::result::Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>> {
    let Query(query) = query.map_err(|e| Error::invalid("", e.body_text()))?;
    let page = app
        .order_queries()
        .orders(&caller, query.cursor.as_deref(), query.limit.as_deref())
        .await?;
    Ok(Json(serde_json::json!({
        "results": page.orders.iter().map(OrderView::from).collect::<Vec<_>>(),
        "next": page.next,
    })))
}

async fn get_order(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(order_number): Path<String>,
) -> Result<Json<OrderView>> {
    Ok(Json(OrderView::from(
        &app.order_queries().order(&caller, &order_number).await?,
    )))
}

async fn lookup_order(
    State(app): State<Storefront>,
    Json(input): Json<LookupInput>,
) -> Result<Json<OrderView>> {
    Ok(Json(OrderView::from(
        &app.order_queries().lookup(&input).await?,
    )))
}

async fn create_payment(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(cart_id): Path<String>,
    Json(input): Json<checkout_domain::usecases::payments::CreatePaymentInput>,
) -> Result<Response> {
    let payment = app
        .payments()
        .create_payment(&caller, &cart_id, &input)
        .await?;
    Ok((StatusCode::CREATED, Json(payment)).into_response())
}

async fn create_order_payment(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(order_number): Path<String>,
    Json(input): Json<checkout_domain::usecases::payments::CreatePaymentInput>,
) -> Result<Response> {
    let payment = app
        .payments()
        .create_order_payment(&caller, &order_number, &input)
        .await?;
    Ok((StatusCode::CREATED, Json(payment)).into_response())
}

async fn claim_orders(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Json(input): Json<ClaimInput>,
) -> Result<Json<Value>> {
    let claimed = app.claims().claim(&caller, &input).await?;
    Ok(Json(serde_json::json!({ "claimed": claimed })))
}

async fn get_product(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(sku): Path<String>,
) -> Result<Json<ProductView>> {
    let product = app.catalog_admin().product(&caller, &sku).await?;
    let reserved = app.holds().reserved(&product).await?;
    Ok(Json(ProductView::of(product, reserved)))
}

async fn put_product(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(sku): Path<String>,
    Json(input): Json<ProductInput>,
) -> Result<Json<ProductView>> {
    let product = app
        .catalog_admin()
        .upsert_product(&caller, &sku, &input)
        .await?;
    let reserved = app.holds().reserved(&product).await?;
    Ok(Json(ProductView::of(product, reserved)))
}

async fn put_discount(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(code): Path<String>,
    Json(input): Json<DiscountInput>,
) -> Result<Json<checkout_domain::model::discount::DiscountDefinition>> {
    Ok(Json(
        app.catalog_admin()
            .upsert_discount(&caller, &code, &input)
            .await?,
    ))
}

async fn put_config(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Json(input): Json<PricingConfigInput>,
) -> Result<Json<checkout_domain::model::pricing_config::PricingConfig>> {
    Ok(Json(app.catalog_admin().put_config(&caller, &input).await?))
}

#[derive(serde::Deserialize)]
struct ShippingQuery {
    country: Option<String>,
    currency: Option<String>,
}

async fn shipping_methods(
    State(app): State<Storefront>,
    query: std::result::Result<Query<ShippingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>> {
    let Query(query) = query.map_err(|e| Error::invalid("", e.body_text()))?;
    let methods = app
        .catalog_admin()
        .shipping_methods(query.country.as_deref(), query.currency.as_deref())
        .await?;
    Ok(Json(serde_json::json!({ "results": methods })))
}

async fn create_cart(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Json(input): Json<CreateCartInput>,
) -> Result<Response> {
    let (cart, token) = app.carts().create_cart(&caller, &input).await?;
    let mut view = CartView::new(&cart);
    if let Some(token) = &token {
        view = view.with_session(token);
    }
    let location = format!("/carts/{}", cart.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response())
}

async fn get_cart(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(cart_id): Path<String>,
) -> Result<Response> {
    let cart = app.carts().cart(&caller, &cart_id).await?;
    Ok(Json(CartView::new(&cart)).into_response())
}

async fn update_cart(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(cart_id): Path<String>,
    Json(body): Json<UpdateCartBody>,
) -> Result<Response> {
    let cart = app
        .carts()
        .update_cart(&caller, &cart_id, &(&body).into())
        .await?;
    Ok(Json(CartView::new(&cart)).into_response())
}

/// `POST /orders/{orderNumber}/replicate`: 201 with the new cart (and its `Location`); a
/// replayed `Idempotency-Key` answers that cart again, 200 with `Idempotent-Replayed: true`.
async fn replicate_order(
    State(app): State<Storefront>,
    Identity(caller): Identity,
    Path(order_number): Path<String>,
    KeyHeader(key): KeyHeader,
) -> Result<Response> {
    let answer = app
        .replication()
        .replicate_order(&caller, &order_number, key)
        .await?;
    let status = if answer.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/carts/{}", answer.replicated.cart.id);
    let mut response = (
        status,
        [(header::LOCATION, location)],
        Json(ReplicatedCartView::new(&answer.replicated)),
    )
        .into_response();
    if answer.replayed {
        response.headers_mut().insert(
            IDEMPOTENT_REPLAYED,
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
