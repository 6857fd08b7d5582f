use super::*;

/// The three HTTP functions, routed as the HTTP API routes them.
struct Gateway {
    storefront: Router,
    create_order: Router,
    payment_webhook: Router,
}

impl Gateway {
    fn new(app: &App, idp: &IdentityProvider) -> Gateway {
        Gateway {
            storefront: checkout_http::lambda::storefront(app.storefront.clone(), idp.jwks()),
            create_order: checkout_http::lambda::create_order(app.storefront.clone(), idp.jwks()),
            payment_webhook: checkout_http::lambda::payment_webhook(
                app.storefront.clone(),
                &checkout_tests::webhooks(),
            ),
        }
    }

    /// Invokes the function behind `method path` with an HTTP API (payload 2.0) event built on
    /// the no-authorizer sample, as API Gateway invokes it on a route without the JWT
    /// authorizer. Returns the status and JSON body.
    async fn invoke(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut event: Value = serde_json::from_str(include_str!(
            "../../fixtures/aws/example-apigw-v2-request-no-authorizer.json"
        ))
        .unwrap();
        let route = format!("{method} {path}");
        event["routeKey"] = route.clone().into();
        event["requestContext"]["routeKey"] = route.into();
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["method"] = method.into();
        event["requestContext"]["http"]["path"] = path.into();
        for (name, value) in headers {
            event["headers"][*name] = (*value).into();
        }
        if let Some(body) = body {
            event["headers"]["content-type"] = "application/json".into();
            event["headers"]["content-length"] = body.len().to_string().into();
            event["body"] = body.into();
        }
        let request = lambda_http::request::from_str(&event.to_string()).expect("an API event");
        let function = match path {
            "/orders" if method == "POST" => &self.create_order,
            "/webhooks/stripe" | "/webhooks/adyen" => &self.payment_webhook,
            _ => &self.storefront,
        };
        let response = function.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }
}

async fn a_signed_in_customer_orders_through_the_lambda_handlers(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let app = App::start(backend).await;
    let gateway = Gateway::new(&app, &idp);
    let bearer = format!("Bearer {}", token("carol"));
    let auth = [("authorization", bearer.as_str())];

    let (status, cart) = gateway
        .invoke(
            "POST",
            "/carts",
            &auth,
            Some(json!({"currency": "EUR", "country": "DE"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cart:#}");
    assert_eq!(cart["customerId"], "carol");
    let id = cart["id"].as_str().unwrap().to_string();
    let (status, cart) = gateway
        .invoke(
            "POST",
            &format!("/carts/{id}"),
            &auth,
            Some(
                json!({"version": cart["version"], "actions": ready_actions(&[("MUG", 2)])})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart:#}");
    let version = cart["version"].as_u64().unwrap();

    let (status, payment) = gateway
        .invoke(
            "POST",
            &format!("/carts/{id}/payments"),
            &auth,
            Some("{}".into()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{payment:#}");
    let event = app.payment_event(payment["pspReference"].as_str().unwrap(), true);
    let signature = checkout_adapters::stripe::sign(
        event.as_bytes(),
        WEBHOOK_SECRET,
        app.storefront.now().unix_timestamp(),
    );
    let (status, delivered) = gateway
        .invoke(
            "POST",
            "/webhooks/stripe",
            &[("stripe-signature", &signature)],
            Some(event),
        )
        .await;
    assert!(status.is_success(), "{delivered:#}");

    let (status, order) = gateway
        .invoke(
            "POST",
            "/orders",
            &[("authorization", &bearer), ("idempotency-key", "carol-1")],
            Some(json!({"cartId": id, "cartVersion": version}).to_string()),
        )
        .await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{status}: {order:#}"
    );
    assert_eq!(order["customerId"], "carol");
    assert_eq!(order["paymentState"], "Paid");
    let number = order["orderNumber"].as_str().unwrap();

    let (status, read) = gateway
        .invoke("GET", &format!("/orders/{number}"), &auth, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read:#}");
    assert_eq!(read["customerId"], "carol");
    let (status, _) = gateway
        .invoke("GET", &format!("/orders/{number}"), &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a guest sees nothing");
    let (status, problem) = gateway
        .invoke(
            "GET",
            &format!("/orders/{number}"),
            &[("authorization", "Bearer forged")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem:#}");
    assert_eq!(problem["code"], "Unauthorized");
    assert_eq!(
        idp.fetches(),
        2,
        "once per function (execution environment)"
    );
}

/// Adyen's notification through the payment-webhook function as API Gateway invokes it: its
/// Basic credentials are the webhook's to check, never taken for a customer's token.
async fn a_cart_paid_through_adyen_is_ordered_through_the_lambda_handlers(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let app = App::start(backend).await;
    let gateway = Gateway::new(&app, &idp);
    let (guest, cart) = app.ready_guest_cart().await;
    let started = guest
        .post(
            &format!("/carts/{}/payments", cart.id),
            json!({"psp": "adyen"}),
        )
        .await;
    started.assert_status(StatusCode::CREATED);
    let session = started.body["pspReference"].as_str().unwrap();
    let credentials = checkout_adapters::adyen::signature::basic_credentials(
        checkout_tests::ADYEN_USER,
        checkout_tests::ADYEN_PASSWORD,
    );
    let notification = app.adyen_notification(session, true);
    let (status, _) = gateway
        .invoke(
            "POST",
            "/webhooks/adyen",
            &[("authorization", "Basic d3Jvbmc6d3Jvbmc=")],
            Some(notification.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong credentials");
    let (status, _) = gateway
        .invoke(
            "POST",
            "/webhooks/adyen",
            &[("authorization", &credentials)],
            Some(notification),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        app.stored(&cart).await.1.is_some(),
        "the order was committed"
    );
}

on_both_stores!(
    a_cart_paid_through_adyen_is_ordered_through_the_lambda_handlers,
    a_signed_in_customer_orders_through_the_lambda_handlers,
);
