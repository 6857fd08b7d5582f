//! Secrets come from Secrets Manager (moto here), read once when a function starts: the
//! Stripe key, the ERP key, and the webhook secrets, which during a rotation hold two values
//! (`whsec_new,whsec_old`) so events signed with either verify.

use http::{Request, StatusCode};
use tower::ServiceExt;

use checkout_adapters::SecretStore;
use checkout_tests::{local_aws, App, Backend, LocalService};

/// A secret in moto, named uniquely for this test; its ARN.
async fn create_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> String {
    client
        .create_secret()
        .name(format!(
            "checkout-test/{}/{name}",
            uuid::Uuid::new_v4().simple()
        ))
        .secret_string(value)
        .send()
        .await
        .expect("create a secret in moto")
        .arn
        .expect("an ARN")
}

#[tokio::test]
async fn secrets_are_read_from_secrets_manager_and_the_webhook_accepts_both_rotation_secrets() {
    let config = local_aws(LocalService::Moto);
    let client = aws_sdk_secretsmanager::Client::new(config);
    let stripe_key = create_secret(&client, "stripe-secret-key", "sk_test_from_the_store").await;
    let webhook = create_secret(&client, "stripe-webhook", "whsec_new, whsec_old").await;
    let secrets = SecretStore::from_config(config);
    assert_eq!(
        secrets.read(&stripe_key).await.unwrap(),
        "sk_test_from_the_store"
    );
    let missing = secrets
        .read("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")
        .await
        .unwrap_err();
    assert!(missing.contains("nope"), "{missing}");
    assert!(secrets
        .read_env("CHECKOUT_TEST_UNSET_SECRET_ARN")
        .await
        .unwrap_err()
        .contains("CHECKOUT_TEST_UNSET_SECRET_ARN is not set"));

    // The webhook function as it starts: its secrets from the store, then every delivery
    // checked against both.
    let app = App::start(Backend::Memory).await;
    let webhook_secrets =
        checkout_http::webhook::WebhookSecrets::parse(&secrets.read(&webhook).await.unwrap());
    let function = checkout_http::lambda::payment_webhook(
        app.storefront.clone(),
        &checkout_http::routes::Webhooks::stripe_only(webhook_secrets),
    );
    let body = checkout_tests::STRIPE_CHARGE_REFUNDED;
    for (secret, expected) in [
        ("whsec_new", StatusCode::OK),
        ("whsec_old", StatusCode::OK),
        ("whsec_other", StatusCode::BAD_REQUEST),
    ] {
        let signature = checkout_adapters::stripe::sign(
            body.as_bytes(),
            secret,
            app.storefront.now().unix_timestamp(),
        );
        let request = Request::post("/webhooks/stripe")
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let response = function.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), expected, "signed with {secret}");
    }
}
