//! `checkout-local`: every route in one process, on the embedded store by default or on
//! DynamoDB Local with `CHECKOUT_STORE=dynamodb`. `checkout-local token SUB [admin]` prints a
//! dev token for curl; `checkout-local redrive --from DLQ_URL --to QUEUE_URL` moves a dead-letter
//! queue's messages back to its queue; `checkout-local create-table NAME` makes a DynamoDB table
//! as the template does, with the demo catalog (for functions run with `cargo lambda watch`).

mod outbox;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
mod dev;

use checkout_adapters::adyen_simulator::{self, AdyenSimulator};
use checkout_adapters::psp_simulator::PspSimulator;
use checkout_adapters::{DynamoStore, MemoryStore};
use checkout_domain::model::identity::Caller;
use checkout_domain::ports::Store;
use checkout_domain::usecases::catalog_admin::CatalogImport;
use checkout_domain::usecases::sweeper::SweepBudget;
use checkout_domain::usecases::Storefront;
use checkout_http::adyen_webhook::AdyenWebhook;
use checkout_http::identity::DevTokens;
use checkout_http::routes::{self, Webhooks};
use checkout_http::webhook::WebhookSecrets;

/// The demo catalog, tax rates and shipping methods the local server starts with.
const DEMO_CATALOG: &str = include_str!("../demo.json");

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// What the scheduled `expire-orders` sweeper does in AWS, every 30 seconds here.
fn spawn_sweeper(storefront: Storefront, grace: checkout_domain::usecases::sweeper::Grace) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            every.tick().await;
            match storefront
                .sweeper()
                .sweep(grace, SweepBudget::time(std::time::Duration::from_secs(25)))
                .await
            {
                Ok(report) if report == Default::default() => {}
                Ok(report) => tracing::info!(?report, "sweep"),
                Err(error) => tracing::warn!(%error, "sweep failed"),
            }
        }
    });
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tokens = DevTokens::new(env_or("CHECKOUT_DEV_JWT_SECRET", "dev-secret"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [command, sub, rest @ ..] = args.as_slice() {
        if command == "token" {
            println!("{}", tokens.issue(sub, rest.first().map(String::as_str)));
            return Ok(());
        }
    }
    if let [command, flag_from, from, flag_to, to] = args.as_slice() {
        if command == "redrive" && flag_from == "--from" && flag_to == "--to" {
            let sqs = aws_sdk_sqs::Client::new(&checkout_adapters::aws_config().await);
            let moved = checkout_adapters::sqs::redrive(&sqs, from, to).await?;
            println!("moved {moved} messages from {from} to {to}");
            return Ok(());
        }
    }
    if let [command, table] = args.as_slice() {
        if command == "create-table" {
            // For functions run elsewhere (`scripts/lambda-watch.sh`): the table as the
            // template makes it, with the demo catalog.
            let store = DynamoStore::from_config(&checkout_adapters::aws_config().await, table);
            store.create_table().await?;
            let storefront = Storefront::new(Arc::new(store));
            let demo: CatalogImport = checkout_http::json::from_slice(DEMO_CATALOG.as_bytes())?;
            storefront
                .catalog_admin()
                .import(&Caller::system(), &demo)
                .await?;
            println!("table {table} created, with the demo catalog");
            return Ok(());
        }
    }
    if !args.is_empty() {
        return Err(
            "usage: checkout-local [token SUB [SCOPE] | redrive --from DLQ_URL --to QUEUE_URL | create-table NAME]"
                .into(),
        );
    }
    checkout_adapters::bootstrap::init_tracing();

    let mut dev_routes = axum::Router::new(); // the outbox's, on the embedded store
    let store: Arc<dyn Store> = match env_or("CHECKOUT_STORE", "memory").as_str() {
        "memory" => {
            let store = Arc::new(MemoryStore::new());
            let claim_url = env_or("CLAIM_URL", "http://127.0.0.1:3000/claim");
            dev_routes = outbox::spawn(store.clone(), claim_url)?.routes();
            store
        }
        "dynamodb" => {
            tracing::info!("the outbox runs in process on the embedded store only; with DynamoDB, deploy the relay and subscribers");
            let store = DynamoStore::from_config(
                &checkout_adapters::aws_config().await,
                env_or("CHECKOUT_TABLE", "checkout-local"),
            );
            store.create_table().await?;
            Arc::new(store)
        }
        other => {
            return Err(
                format!("CHECKOUT_STORE must be 'memory' or 'dynamodb', not '{other}'").into(),
            )
        }
    };
    // Both providers, simulated; new payments go to `DEFAULT_PSP` (`stripe`).
    let psp = Arc::new(PspSimulator::new());
    let merchant_account = env_or(
        "CHECKOUT_ADYEN_MERCHANT_ACCOUNT",
        adyen_simulator::DEV_MERCHANT_ACCOUNT,
    );
    let adyen = Arc::new(AdyenSimulator::new(&merchant_account));
    // Metrics are CloudWatch's (lines in a Lambda's log); the local server keeps its output
    // for people.
    let storefront = checkout_adapters::bootstrap::with_providers(
        checkout_adapters::bootstrap::storefront_over(store)?,
        psp.clone(),
        Some(adyen.clone()),
        &checkout_adapters::bootstrap::default_psp()?,
    )?
    .with_metrics(Arc::new(checkout_domain::ports::metrics::NoMetrics));
    let webhooks = Webhooks {
        stripe: WebhookSecrets::parse(&env_or("CHECKOUT_STRIPE_WEBHOOK_SECRET", "whsec_dev")),
        adyen: Some(AdyenWebhook::new(
            adyen_simulator::DEV_WEBHOOK_USER,
            adyen_simulator::DEV_WEBHOOK_PASSWORD,
            &env_or("CHECKOUT_ADYEN_HMAC_KEY", adyen_simulator::DEV_HMAC_KEY),
            &merchant_account,
        )?),
    };
    let demo: CatalogImport = checkout_http::json::from_slice(DEMO_CATALOG.as_bytes())?;
    storefront
        .catalog_admin()
        .import(&Caller::system(), &demo)
        .await?;

    spawn_sweeper(storefront.clone(), checkout_adapters::payment_grace()?);
    let dev = dev::routes(storefront.clone(), psp, adyen, webhooks.clone());
    let app = routes::all(storefront, &webhooks)
        .merge(dev)
        .merge(dev_routes)
        .layer(from_fn_with_state(tokens, DevTokens::middleware));
    let port: u16 = env_or("PORT", "3000").parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
