//! The shop in process: the same router the Lambdas and the local server serve, over the
//! embedded store or a DynamoDB Local table. The bench seeds carts through it and times
//! requests through it (handler cost without the Lambda runtime or a socket).

mod bodies;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use checkout_adapters::psp_simulator::{record_charge, PspSimulator};
use checkout_domain::model::identity::Caller;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::Store;
use checkout_domain::usecases::Storefront;
use checkout_http::identity::DevTokens;
use checkout_http::routes;
use checkout_http::webhook::WebhookSecrets;

pub use bodies::{catalog, catalog_json, order_body, ready_actions, ready_actions_for};

/// The webhook secret the in-process shop and the bench's webhook function share.
pub const WEBHOOK_SECRET: &str = "whsec_bench";

/// Signs the administrator's tokens of a shop with admin routes ([`Shop::over`]).
const ADMIN_SECRET: &str = "bench-admin-secret";

/// A guest cart: its id, version and session token.
#[derive(Debug, Clone)]
pub struct Cart {
    pub id: String,
    pub version: u64,
    pub session: String,
}

/// One answer, timed.
pub struct Answer {
    pub status: StatusCode,
    pub replayed: bool,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    pub body: Value,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct Shop {
    router: Router,
    pub store: Arc<dyn Store>,
    pub storefront: Storefront,
    pub psp: Arc<PspSimulator>,
    /// Bearer tokens are verified (the admin routes work): shops made by [`Shop::over`].
    tokens: Option<DevTokens>,
}

impl Shop {
    /// A shop over `store`, with the catalog imported (`import`: only once per table).
    pub async fn new(store: Arc<dyn Store>, import: bool) -> Shop {
        let psp = Arc::new(PspSimulator::new());
        let storefront = Storefront::new(store.clone())
            .with_psp(psp.clone())
            .with_pause(Arc::new(checkout_adapters::bootstrap::TokioPause));
        if import {
            storefront
                .catalog_admin()
                .import(&Caller::system(), &catalog())
                .await
                .expect("import the catalog");
        }
        let router = routes::all(
            storefront.clone(),
            &routes::Webhooks::stripe_only(WebhookSecrets::parse(WEBHOOK_SECRET)),
        );
        Shop {
            router,
            store,
            storefront,
            psp,
            tokens: None,
        }
    }

    /// A shop over `storefront` (taking payments through `psp`) that also verifies bearer
    /// tokens, as the local server does, so [`Shop::admin`] requests pass. The timed shops
    /// are made by [`Shop::new`]: the same router the Lambdas serve, no extra layer.
    pub fn over(storefront: Storefront, psp: Arc<PspSimulator>) -> Shop {
        let tokens = DevTokens::new(ADMIN_SECRET);
        let router = routes::all(
            storefront.clone(),
            &routes::Webhooks::stripe_only(WebhookSecrets::parse(WEBHOOK_SECRET)),
        )
        .layer(axum::middleware::from_fn_with_state(
            tokens.clone(),
            DevTokens::middleware,
        ));
        Shop {
            router,
            store: storefront.store().clone(),
            storefront,
            psp,
            tokens: Some(tokens),
        }
    }

    /// An administrator's request (a shop made by [`Shop::over`]).
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let token = self
            .tokens
            .as_ref()
            .expect("a shop made by Shop::over")
            .issue("bench-admin", Some("admin"));
        let bearer = format!("Bearer {token}");
        self.send(
            method,
            path,
            &[("authorization", &bearer)],
            body.map(|b| b.to_string()),
        )
        .await
    }

    /// `PUT /admin/products/{sku}`: a product at 10.00 EUR (standard tax) with `stock` units
    /// spread over `shards` items.
    pub async fn put_product(&self, sku: &str, stock: u32, shards: u32) -> Result<(), String> {
        self.put_product_reserving(sku, stock, shards, false).await
    }

    /// [`Shop::put_product`], reserving its units when a payment starts (`reserve`).
    pub async fn put_product_reserving(
        &self,
        sku: &str,
        stock: u32,
        shards: u32,
        reserve: bool,
    ) -> Result<(), String> {
        let answer = self
            .admin(
                Method::PUT,
                &format!("/admin/products/{sku}"),
                Some(json!({"name": sku, "prices": {"EUR": 1000}, "stock": stock,
                    "taxCategory": "standard", "stockShards": shards,
                    "reserveOnPayment": reserve})),
            )
            .await;
        if answer.status != StatusCode::OK {
            return Err(format!(
                "PUT product {sku}: {} {}",
                answer.status, answer.body
            ));
        }
        Ok(())
    }

    /// `GET /admin/products/{sku}`: the product with its total stock.
    pub async fn product(&self, sku: &str) -> Result<Value, String> {
        let answer = self
            .admin(Method::GET, &format!("/admin/products/{sku}"), None)
            .await;
        if answer.status != StatusCode::OK {
            return Err(format!(
                "GET product {sku}: {} {}",
                answer.status, answer.body
            ));
        }
        Ok(answer.body)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let started = Instant::now();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let elapsed = started.elapsed();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            replayed,
            retry_after,
            body,
            elapsed,
        }
    }

    /// A new, empty guest cart in euros for Germany.
    pub async fn cart(&self) -> Cart {
        let answer = self
            .send(
                Method::POST,
                "/carts",
                &[],
                Some(json!({"currency": "EUR", "country": "DE"}).to_string()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        Cart {
            id: answer.body["id"].as_str().unwrap().to_string(),
            version: answer.body["version"].as_u64().unwrap(),
            session: answer.body["sessionToken"].as_str().unwrap().to_string(),
        }
    }

    /// The body of a cart update adding one mug, at the cart's version.
    pub fn add_mug(cart: &Cart) -> String {
        json!({"version": cart.version, "actions": [
            {"action": "addLineItem", "sku": "MUG-BLUE", "quantity": 1}]})
        .to_string()
    }

    /// A cart made ready by `actions` in one update (lines, addresses, shipping, guest
    /// details: [`ready_actions`]), not paid.
    pub async fn ready_cart_with(&self, actions: Value) -> Cart {
        let mut cart = self.cart().await;
        let answer = self
            .send(
                Method::POST,
                &format!("/carts/{}", cart.id),
                &[("x-session-id", &cart.session)],
                Some(json!({"version": cart.version, "actions": actions}).to_string()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        cart.version = answer.body["version"].as_u64().unwrap();
        cart
    }

    /// A ready cart paid in full, as the webhook records a charge (the order is not placed).
    pub async fn paid_cart(&self) -> Cart {
        self.paid_cart_with(ready_actions()).await
    }

    /// A cart made ready by `actions`, paid in full as the webhook records a charge.
    pub async fn paid_cart_with(&self, actions: Value) -> Cart {
        let mut cart = self.ready_cart_with(actions).await;
        let id = CartId::parse(&cart.id).unwrap();
        let stored = record_charge(self.store.as_ref(), &id, None, self.storefront.now()).await;
        cart.version = stored.version;
        cart
    }

    /// A ready cart with a payment intent for its total; returns the cart and the signed
    /// Stripe webhook delivery (body, `Stripe-Signature`) of that payment's success.
    pub async fn cart_with_intent(&self) -> (Cart, String, String) {
        self.cart_with_intent_for(ready_actions()).await
    }

    /// [`Shop::cart_with_intent`] for a cart made ready by `actions`.
    pub async fn cart_with_intent_for(&self, actions: Value) -> (Cart, String, String) {
        let cart = self.ready_cart_with(actions).await;
        let answer = self
            .send(
                Method::POST,
                &format!("/carts/{}/payments", cart.id),
                &[("x-session-id", &cart.session)],
                Some("{}".into()),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        let reference = answer.body["pspReference"].as_str().unwrap();
        let (body, signature) = self.success_event(reference).expect("a known intent");
        (cart, body, signature)
    }

    /// `POST /carts/{id}/payments` for everything the cart owes.
    pub async fn start_payment(&self, cart: &Cart) -> Answer {
        self.send(
            Method::POST,
            &format!("/carts/{}/payments", cart.id),
            &[("x-session-id", &cart.session)],
            Some("{}".into()),
        )
        .await
    }

    /// The simulator's signed success event for the intent `reference`: (body, signature).
    pub fn success_event(&self, reference: &str) -> Option<(String, String)> {
        let body = self.psp.event(reference, true)?;
        let signature = checkout_adapters::stripe::sign(
            body.as_bytes(),
            WEBHOOK_SECRET,
            self.storefront.now().unix_timestamp(),
        );
        Some((body, signature))
    }

    /// `POST /orders` for the cart, with an idempotency key.
    pub async fn order(&self, cart: &Cart, key: &str) -> Answer {
        self.send(
            Method::POST,
            "/orders",
            &[("x-session-id", &cart.session), ("idempotency-key", key)],
            Some(order_body(cart)),
        )
        .await
    }

    /// `POST /orders` for the cart, without an idempotency key.
    pub async fn order_without_key(&self, cart: &Cart) -> Answer {
        self.send(
            Method::POST,
            "/orders",
            &[("x-session-id", &cart.session)],
            Some(order_body(cart)),
        )
        .await
    }

    pub async fn deliver(&self, body: &str, signature: &str) -> Answer {
        self.send(
            Method::POST,
            "/webhooks/stripe",
            &[("stripe-signature", signature)],
            Some(body.to_string()),
        )
        .await
    }

    pub async fn update(&self, cart: &Cart) -> Answer {
        self.send(
            Method::POST,
            &format!("/carts/{}", cart.id),
            &[("x-session-id", &cart.session)],
            Some(Shop::add_mug(cart)),
        )
        .await
    }
}
