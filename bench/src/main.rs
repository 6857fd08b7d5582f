//! `checkout-bench`: the measurements behind `scripts/bench.sh` (which builds the release
//! binaries, makes the Python venv and starts DynamoDB Local and moto, then runs this).
//! Prints one table and writes every figure as JSON. Settings come from the environment:
//!
//! | variable | what |
//! |---|---|
//! | `BENCH_BIN_DIR` | the release binaries (`target/release`) |
//! | `BENCH_PYTHON`, `BENCH_PEER_DIR` | the venv's python, and `bench/python`; without `BENCH_PYTHON` the Python peer is skipped (said so in the table) |
//! | `BENCH_DYNAMODB`, `BENCH_SQS` | DynamoDB Local's and moto's endpoints |
//! | `BENCH_PRICES` | the dated AWS price table (`bench/aws-prices.json`) |
//! | `BENCH_OUT`, `BENCH_LOG_DIR` | where the JSON and the functions' logs go |
//! | `BENCH_SMOKE=1` | one cold run and a few warm ones of each, a short load: proves it runs |
//! | `BENCH_ONLY` | a comma list of parts to run (`cold,warm,size,in-process,contention,load`; default all), for tuning |
//! | `BENCH_FUNCTIONS` | a comma list of functions to measure (default all six), for tuning |
//! | `BENCH_COLD_RUNS` | cold starts per function (default 7; 1 with `BENCH_SMOKE=1`) |
//! | `BENCH_HOLD_MS` | the contention emulator's hold, and the model's (default 20) |

mod budgets;
mod capacity;
mod contention;
mod ddb;
mod emulator;
mod events;
mod lambda;
mod latency;
mod load;
mod model;
mod report;
mod sale;
mod settings;
mod shop;
mod stats;

use std::sync::Arc;

use checkout_adapters::MemoryStore;
use checkout_outbox::Subscriber;

use crate::lambda::Expect;
use crate::latency::in_process;
use crate::shop::{Shop, WEBHOOK_SECRET};

pub(crate) type Result<T> = std::result::Result<T, String>;

use crate::events::{bootstrap_size, secret, sqs_queue, zip_level, Events, NoEffect, NoQueue};
use crate::settings::{Deployment, Settings};

/// The reserving drop's `stockShards` (a drop's usual setting).
const RESERVED_DROP_SHARDS: u32 = 8;

#[tokio::main]
async fn main() {
    if let Err(error) = bench().await {
        eprintln!("bench: error: {error}");
        std::process::exit(1);
    }
}

async fn bench() -> Result<()> {
    let settings = Settings::from_env()?;
    let sizes = settings.sizes;
    std::fs::create_dir_all(&settings.log_dir).map_err(|e| e.to_string())?;
    let say = |what: &str| eprintln!("bench: {what}");
    let mut report = report::Report::new(&settings.prices)?;
    if settings.smoke {
        report.smoke();
    }
    report.hold(settings.contention.hold);

    // --- DynamoDB Local: one table for the functions, one for the in-process measurements.
    let config = ddb::sdk_config(&settings.dynamodb).await;
    // Names unique to this run, so it can share backends that outlive it (scripts/test.sh's).
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let name = |what: &str| format!("bench-{run}-{what}");
    let table = name("functions");
    let table = table.as_str();
    let plain = ddb::store(&config, table, None);
    plain.create_table().await.map_err(|e| e.to_string())?;
    let shop = Shop::new(Arc::new(plain.clone()), true).await;
    let events = Events::new(shop.clone(), plain.client(), table).await?;
    // moto: the queues and the secrets the functions read.
    let sqs_config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&settings.sqs)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "bench",
        ))
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&sqs_config);
    let secrets = aws_sdk_secretsmanager::Client::new(&sqs_config);
    let deployment = Deployment {
        table: table.into(),
        stripe_key_arn: secret(&secrets, &name("stripe-key"), "sk_test_bench").await?,
        webhook_secrets_arn: secret(&secrets, &name("stripe-webhook"), WEBHOOK_SECRET).await?,
        erp_secret_arn: secret(&secrets, &name("erp-key"), "bench").await?,
        email_queue: sqs_queue(&sqs, &name("email")).await?,
        erp_queue: sqs_queue(&sqs, &name("erp")).await?,
        dlq: sqs_queue(&sqs, &name("erp-dlq")).await?,
    };
    let functions = settings.functions(&deployment);
    let peer = settings.peer(&deployment);
    if peer.is_none() {
        say("no BENCH_PYTHON: the Python peer is skipped (no ratio)");
        report.peer_skipped();
    }

    // --- Cold starts. create-order and its Python peer alternate, run by run. DynamoDB in AWS
    // is never cold; DynamoDB Local's JVM is, right after it starts: it first serves orders
    // (the commit's read and transaction) so the runs measure the functions.
    if settings.runs("cold") {
        say("warming DynamoDB Local, then cold starts");
        for _ in 0..sizes.backend_warmup {
            let cart = events.shop.paid_cart().await;
            let answer = events
                .shop
                .order(&cart, &uuid::Uuid::new_v4().to_string())
                .await;
            if answer.status != 201 {
                return Err(format!("warm-up order: {} {}", answer.status, answer.body));
            }
        }
    }
    for function in functions.iter().filter(|_| settings.runs("cold")) {
        let mut totals = Vec::new();
        let mut inits = Vec::new();
        let mut cpus = Vec::new();
        let mut peer_totals = Vec::new();
        let mut peer_inits = Vec::new();
        let mut peer_cpus = Vec::new();
        for _ in 0..sizes.cold_runs {
            let mut groups = events.for_function(&function.name, 1).await?;
            let (_, expect, mut list) = groups.remove(0);
            let cold = lambda::cold_start(function, list.remove(0), expect).await?;
            totals.push(cold.total);
            inits.push(cold.init);
            cpus.push(cold.cpu);
            if let (Some(peer), "create-order") = (&peer, function.name.as_str()) {
                let (event, _) = events.new_order().await;
                let cold = lambda::cold_start(peer, event, Expect::Status(201)).await?;
                peer_totals.push(cold.total);
                peer_inits.push(cold.init);
                peer_cpus.push(cold.cpu);
            }
        }
        report.cold(&function.name, &totals, &inits, &cpus);
        if let (Some(peer), false) = (&peer, peer_totals.is_empty()) {
            report.cold(&peer.name, &peer_totals, &peer_inits, &peer_cpus);
        }
    }

    // --- Each function in one process: warm invocations, peak RSS, size.
    if settings.runs("warm") {
        say("warm invocations under the emulator");
    }
    for function in functions
        .iter()
        .chain(peer.as_ref())
        .filter(|_| settings.runs("warm"))
    {
        let groups = events
            .for_function(&function.name, sizes.invocations)
            .await?;
        let run = lambda::run(function, groups).await?;
        report.emulated(&function.name, run);
    }
    for function in functions.iter().filter(|_| settings.runs("size")) {
        let (size, zipped) = bootstrap_size(&settings, &function.name)?;
        report.size(&function.name, size, zipped, zip_level(&settings));
    }

    if settings.runs("in-process") {
        // --- In process: handler cost on both stores, and DynamoDB usage per operation.
        say("in-process latency and DynamoDB usage");
        let memory = Shop::new(Arc::new(MemoryStore::new()), true).await;
        report.in_process("embedded", in_process(&memory, sizes.warm_memory).await?);
        let inproc_table = name("in-process");
        let inproc_table = inproc_table.as_str();
        let inproc = ddb::store(&config, inproc_table, None);
        inproc.create_table().await.map_err(|e| e.to_string())?;
        let inproc_shop = Shop::new(Arc::new(inproc.clone()), true).await;
        report.in_process(
            "DynamoDB Local",
            in_process(&inproc_shop, sizes.warm_dynamodb).await?,
        );

        // Every request of the samples is metered (DynamoDB Local's reported capacity) and
        // sized (the documented rules, from the items' stored images: `capacity`).
        let meter = Arc::new(ddb::Meter::default());
        let sizer = capacity::Sizer::start(&settings.dynamodb).await?;
        capacity::check_layout(inproc.client(), inproc_table).await?;
        let metered = ddb::store_at(
            &config,
            Some(sizer.endpoint()),
            inproc_table,
            Some(meter.clone()),
        );
        let metered_shop = Shop::new(Arc::new(metered.clone()), false).await;
        let admin = Shop::over(metered_shop.storefront.clone(), metered_shop.psp.clone());
        admin.put_product(model::SALE_SKU, 1_000_000, 8).await?;
        admin
            .put_product_reserving(model::RESERVED_SKU, 1_000_000, 8, true)
            .await?;
        let subscriber = Subscriber::new(
            Arc::new(NoEffect),
            Arc::new(metered.clone()),
            Arc::new(NoQueue),
        );
        let forget = || {
            meter.take();
            sizer.take();
        };
        let mut record = |what: &str| {
            report.usage(what, meter.take());
            report.computed(what, sizer.take());
        };
        for _ in 0..sizes.usage_samples {
            let cart = metered_shop.paid_cart().await;
            let key = uuid::Uuid::new_v4().to_string();
            forget();
            let answer = metered_shop.order(&cart, &key).await;
            if answer.status != 201 {
                return Err(format!("metered order: {} {}", answer.status, answer.body));
            }
            record("new order, key");
            let answer = metered_shop.order(&cart, &key).await;
            if answer.status != 200 || !answer.replayed {
                return Err(format!("metered replay: {} {}", answer.status, answer.body));
            }
            record("replay, key");
            let cart = metered_shop.paid_cart().await;
            forget();
            let answer = metered_shop.order_without_key(&cart).await;
            if answer.status != 201 {
                return Err(format!("metered order: {} {}", answer.status, answer.body));
            }
            record("new order, no key");
            let answer = metered_shop.order_without_key(&cart).await;
            if answer.status != 200 {
                return Err(format!("metered replay: {} {}", answer.status, answer.body));
            }
            record("replay, no key");
            let (_, body, signature) = metered_shop.cart_with_intent().await;
            forget();
            let answer = metered_shop.deliver(&body, &signature).await;
            if answer.status != 200 {
                return Err(format!(
                    "metered webhook: {} {}",
                    answer.status, answer.body
                ));
            }
            record("webhook-created order");
            let message: aws_lambda_events::event::sqs::SqsMessage =
                serde_json::from_value(events.sqs()?["Records"][0].clone())
                    .map_err(|e| e.to_string())?;
            forget();
            let outcome = subscriber.process(&message).await;
            if outcome != checkout_outbox::subscriber::Outcome::Done {
                return Err(format!("metered subscriber: {outcome:?}"));
            }
            record("subscriber message");
            // A whole order, every write and read of it: the cart made, filled and made
            // ready in one update, a payment started, the provider's webhook (which commits
            // the order) and the browser's `POST /orders` after it. Once the store's
            // standard cart, once one unit of a SKU spread over 8 shards (a drop's order),
            // once one unit of a SKU reserved when the payment starts.
            for (what, actions) in [
                (model::WHOLE_ORDER, shop::ready_actions()),
                (
                    model::WHOLE_DROP_ORDER,
                    shop::ready_actions_for(
                        model::SALE_SKU,
                        1,
                        &format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple()),
                    ),
                ),
                (
                    model::WHOLE_RESERVED_ORDER,
                    shop::ready_actions_for(
                        model::RESERVED_SKU,
                        1,
                        &format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple()),
                    ),
                ),
            ] {
                forget();
                let (cart, body, signature) = metered_shop.cart_with_intent_for(actions).await;
                let answer = metered_shop.deliver(&body, &signature).await;
                if answer.status != 200 {
                    return Err(format!("{what}: webhook {} {}", answer.status, answer.body));
                }
                let answer = metered_shop
                    .order(&cart, &uuid::Uuid::new_v4().to_string())
                    .await;
                if !answer.status.is_success() {
                    return Err(format!(
                        "{what}: POST /orders {} {}",
                        answer.status, answer.body
                    ));
                }
                record(what);
            }
        }
    }

    if settings.runs("contention") {
        // --- Contention: orders raced through DynamoDB's conflict rule (the emulator).
        let sizes = &settings.contention;
        say(&format!(
            "contention through the emulator (items held {} ms from acceptance)",
            sizes.hold.as_millis()
        ));
        let table = name("contention");
        let contention = contention::Contention::new(&config, &settings.dynamodb, &table).await?;
        report.contention(
            contention
                .store_mix(
                    &run,
                    sizes.store_orders,
                    sizes.store_concurrency,
                    sizes.hold,
                )
                .await?,
        );
        for &shards in &sizes.drop_shards {
            report.contention(
                contention
                    .drop(
                        &run,
                        sizes.drop_buyers,
                        sizes.drop_stock,
                        shards,
                        sizes.hold,
                    )
                    .await?,
            );
        }
        // The drop that charges nobody it cannot serve: reserved when payment starts.
        report.contention(
            contention
                .reserved_drop(
                    &run,
                    sizes.drop_buyers,
                    sizes.drop_stock,
                    RESERVED_DROP_SHARDS,
                    sizes.hold,
                )
                .await?,
        );
    }

    if settings.runs("load") {
        // --- checkout-local under load.
        say("checkout-local throughput");
        let throughput = load::checkout_local(
            &settings.bin_dir.join("checkout-local"),
            &settings.log_dir.join("checkout-local.log"),
            sizes.load_clients,
            sizes.load_warmup,
            sizes.load_time,
        )
        .await?;
        report.throughput(throughput);
    }

    report.finish(&settings.out)?;
    // A figure that misses its budget is reported; an order sold twice, a unit lost or an
    // answer that is neither an order nor `OutOfStock` is a failure, smoke or not.
    if let Some(wrong) = report
        .contention
        .iter()
        .find(|o| !o.sold_exactly_once() || o.units_taken != o.created)
    {
        return Err(format!(
            "contention: {}: {} sold, {} OutOfStock, {} other ({}), stock down by {}, {} oversold, {} unsold",
            wrong.name,
            wrong.created,
            wrong.out_of_stock,
            wrong.failed,
            wrong.first_failure.as_deref().unwrap_or("-"),
            wrong.units_taken,
            wrong.oversold,
            wrong.unsold
        ));
    }
    Ok(())
}
