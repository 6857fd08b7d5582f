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
//! | `BENCH_ONLY` | a comma list of parts to run (`cold,warm,size,in-process,load`; default all), for tuning |
//! | `BENCH_FUNCTIONS` | a comma list of functions to measure (default all six), for tuning |
//! | `BENCH_COLD_RUNS` | cold starts per function (default 7; 1 with `BENCH_SMOKE=1`) |

mod ddb;
mod emulator;
mod lambda;
mod load;
mod report;
mod shop;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use checkout_adapters::MemoryStore;
use checkout_domain::model::events::order_event;
use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::StoreError;
use checkout_outbox::{SideEffect, Subscriber};
use serde_json::{json, Value};

use crate::emulator::http_event;
use crate::lambda::{Expect, Function};
use crate::shop::{order_body, Shop, WEBHOOK_SECRET};
use crate::stats::summarize;

type Result<T> = std::result::Result<T, String>;

/// How much of everything to do.
#[derive(Clone, Copy)]
struct Sizes {
    cold_runs: usize,
    /// Invocations per function in one process (the RSS figure).
    invocations: usize,
    warm_memory: usize,
    warm_dynamodb: usize,
    usage_samples: usize,
    load_clients: usize,
    load_warmup: Duration,
    load_time: Duration,
}

struct Settings {
    bin_dir: PathBuf,
    /// The peer's Python (`None`: no peer in this run).
    python: Option<PathBuf>,
    peer_dir: PathBuf,
    dynamodb: String,
    sqs: String,
    prices: PathBuf,
    out: PathBuf,
    log_dir: PathBuf,
    sizes: Sizes,
    smoke: bool,
    /// `BENCH_ONLY`, `BENCH_FUNCTIONS` (`None`: all).
    only: Option<Vec<String>>,
    functions: Option<Vec<String>>,
}

fn var(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (run scripts/bench.sh)"))
}

impl Settings {
    fn from_env() -> Result<Settings> {
        let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
        let sizes = if smoke {
            Sizes {
                cold_runs: 1,
                invocations: 5,
                warm_memory: 20,
                warm_dynamodb: 5,
                usage_samples: 1,
                load_clients: 4,
                load_warmup: Duration::from_millis(200),
                load_time: Duration::from_secs(1),
            }
        } else {
            Sizes {
                cold_runs: 7,
                invocations: 50,
                warm_memory: 1000,
                warm_dynamodb: 200,
                usage_samples: 5,
                load_clients: 32,
                load_warmup: Duration::from_secs(2),
                load_time: Duration::from_secs(10),
            }
        };
        let mut sizes = sizes;
        if let Ok(runs) = std::env::var("BENCH_COLD_RUNS") {
            sizes.cold_runs = runs.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!("BENCH_COLD_RUNS must be a positive number, not {runs:?}")
            })?;
        }
        let list = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        Ok(Settings {
            only: list("BENCH_ONLY"),
            functions: list("BENCH_FUNCTIONS"),
            bin_dir: var("BENCH_BIN_DIR")?.into(),
            python: std::env::var_os("BENCH_PYTHON")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            peer_dir: var("BENCH_PEER_DIR")?.into(),
            dynamodb: var("BENCH_DYNAMODB")?,
            sqs: var("BENCH_SQS")?,
            prices: var("BENCH_PRICES")?.into(),
            out: var("BENCH_OUT")?.into(),
            log_dir: var("BENCH_LOG_DIR")?.into(),
            sizes,
            smoke,
        })
    }
}

/// The functions as deployed (`template.yaml`): name, binary, extra settings.
struct Deployment {
    table: String,
    stripe_key_arn: String,
    webhook_secrets_arn: String,
    erp_secret_arn: String,
    email_queue: String,
    erp_queue: String,
    dlq: String,
}

impl Settings {
    /// Whether this part of the bench runs (`BENCH_ONLY`).
    fn runs(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == part))
    }

    fn base_env(&self, name: &str, table: &str) -> Vec<(String, String)> {
        let home = self.log_dir.join("home");
        let _ = std::fs::create_dir_all(&home);
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", home.to_str().unwrap_or(".")),
            ("TZ", ":UTC"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_SESSION_TOKEN", "test"),
            ("AWS_ENDPOINT_URL_DYNAMODB", &self.dynamodb),
            ("AWS_ENDPOINT_URL_SQS", &self.sqs),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &self.sqs),
            // Guests only: the JWKS is never fetched.
            ("JWT_ISSUER", "https://issuer.invalid/"),
            ("JWT_AUDIENCE", "checkout-bench"),
            ("JWT_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
            ("TABLE_NAME", table),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn rust(&self, name: &str, deployment: &Deployment, extra: &[(&str, &str)]) -> Function {
        let mut env = self.base_env(name, &deployment.table);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Function {
            name: name.into(),
            program: self.bin_dir.join(name),
            args: Vec::new(),
            cwd: None,
            env,
            erp_endpoint_var: (name == "order-created").then(|| "ERP_ENDPOINT".into()),
            log: self.log_dir.join(format!("{name}.log")),
        }
    }

    fn peer(&self, deployment: &Deployment) -> Option<Function> {
        let python = self.python.clone()?;
        let mut env = self.base_env("create-order-python", &deployment.table);
        env.extend(
            [
                ("LAMBDA_TASK_ROOT", self.peer_dir.to_str().unwrap_or(".")),
                ("_HANDLER", "peer.handler"),
                ("POWERTOOLS_SERVICE_NAME", "checkout"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Some(Function {
            name: "create-order (Python)".into(),
            program: python,
            args: vec!["-m".into(), "awslambdaric".into(), "peer.handler".into()],
            cwd: Some(self.peer_dir.clone()),
            env,
            erp_endpoint_var: None,
            log: self.log_dir.join("create-order-python.log"),
        })
    }

    /// The functions measured (`BENCH_FUNCTIONS`, default all).
    fn functions(&self, d: &Deployment) -> Vec<Function> {
        let mut all = self.all_functions(d);
        if let Some(names) = &self.functions {
            all.retain(|f| names.contains(&f.name));
        }
        all
    }

    fn all_functions(&self, d: &Deployment) -> Vec<Function> {
        let stripe = [
            ("STRIPE_API_BASE", "http://127.0.0.1:9"),
            ("STRIPE_SECRET_KEY_ARN", d.stripe_key_arn.as_str()),
        ];
        vec![
            self.rust("create-order", d, &[]),
            self.rust(
                "payment-webhook",
                d,
                &[
                    stripe[0],
                    stripe[1],
                    ("STRIPE_WEBHOOK_SECRETS_ARN", &d.webhook_secrets_arn),
                ],
            ),
            self.rust("storefront", d, &stripe),
            self.rust("expire-orders", d, &stripe),
            self.rust(
                "outbox-relay",
                d,
                &[
                    ("EMAIL_QUEUE_URL", &d.email_queue),
                    ("ERP_QUEUE_URL", &d.erp_queue),
                ],
            ),
            self.rust(
                "order-created",
                d,
                &[
                    ("CONSUMER", "erp"),
                    ("ERP_SECRET_ARN", &d.erp_secret_arn),
                    ("DLQ_URL", &d.dlq),
                ],
            ),
        ]
    }
}

/// Makes the events each function is invoked with: fresh state per event, so every
/// invocation does its real work (a new order, a new cart update, a first webhook delivery).
struct Events {
    shop: Shop,
    /// A committed order's item, in the stream's DynamoDB JSON.
    order_image: Value,
    order_keys: Value,
    order_event: Value,
}

impl Events {
    async fn new(shop: Shop, client: &aws_sdk_dynamodb::Client, table: &str) -> Result<Events> {
        let cart = shop.paid_cart().await;
        let answer = shop.order(&cart, "image").await;
        if answer.status != 201 {
            return Err(format!("seed order: {} {}", answer.status, answer.body));
        }
        let item = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(format!("CART#{}", cart.id)))
            .key("sk", AttributeValue::S("ORDER".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("read the order: {e}"))?
            .item
            .ok_or("the order item")?;
        let image: serde_dynamo::Item = item.into();
        let order = checkout_adapters::dynamodb::order_from_image(image.clone())
            .map_err(|e| e.to_string())?
            .ok_or("an order image")?;
        let event = order_event(None, Some(&order)).ok_or("an OrderCreated event")?;
        Ok(Events {
            shop,
            order_keys: json!({"pk": {"S": format!("CART#{}", cart.id)}, "sk": {"S": "ORDER"}}),
            order_image: serde_json::to_value(&image).map_err(|e| e.to_string())?,
            order_event: serde_json::to_value(&event).map_err(|e| e.to_string())?,
        })
    }

    async fn new_order(&self) -> (Value, Value) {
        let cart = self.shop.paid_cart().await;
        let key = uuid::Uuid::new_v4().to_string();
        let event = http_event(
            "POST",
            "/orders",
            &[("x-session-id", &cart.session), ("idempotency-key", &key)],
            Some(&order_body(&cart)),
        );
        (event.clone(), event)
    }

    async fn webhook(&self) -> Value {
        let (_, body, signature) = self.shop.cart_with_intent().await;
        http_event(
            "POST",
            "/webhooks/stripe",
            &[("stripe-signature", &signature)],
            Some(&body),
        )
    }

    async fn cart_update(&self) -> Value {
        let cart = self.shop.cart().await;
        http_event(
            "POST",
            &format!("/carts/{}", cart.id),
            &[("x-session-id", &cart.session)],
            Some(&Shop::add_mug(&cart)),
        )
    }

    fn schedule(&self) -> Value {
        json!({"version": "0", "id": uuid::Uuid::new_v4().to_string(),
               "detail-type": "Scheduled Event", "source": "aws.events",
               "account": "000000000000", "time": "2026-11-24T00:00:00Z", "region": "us-east-1",
               "resources": ["arn:aws:events:us-east-1:000000000000:rule/sweep"], "detail": {}})
    }

    fn stream(&self) -> Result<Value> {
        let event = json!({"Records": [{
            "eventID": uuid::Uuid::new_v4().simple().to_string(),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_795_000_000.0,
                "Keys": self.order_keys,
                "NewImage": self.order_image,
                "SequenceNumber": "100000000000000000001",
                "SizeBytes": 2048,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/bench/stream/2026-11-24T00:00:00.000"
        }]});
        serde_json::from_value::<StreamEvent>(event.clone())
            .map_err(|e| format!("the stream event does not parse: {e}"))?;
        Ok(event)
    }

    fn sqs(&self) -> Result<Value> {
        let mut body = self.order_event.clone();
        body["id"] = format!(
            "{}:bench-{}",
            body["orderId"].as_str().unwrap_or(""),
            uuid::Uuid::new_v4()
        )
        .into();
        let event = json!({"Records": [{
            "messageId": uuid::Uuid::new_v4().to_string(),
            "receiptHandle": "bench",
            "body": body.to_string(),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                           "SenderId": "000000000000", "ApproximateFirstReceiveTimestamp": "1795000000000"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:erp",
            "awsRegion": "us-east-1"
        }]});
        serde_json::from_value::<SqsEvent>(event.clone())
            .map_err(|e| format!("the SQS event does not parse: {e}"))?;
        Ok(event)
    }

    /// `n` events for `function`, grouped as they are summarized.
    async fn for_function(
        &self,
        function: &str,
        n: usize,
    ) -> Result<Vec<(String, Expect, Vec<Value>)>> {
        let mut events = Vec::with_capacity(n);
        Ok(match function {
            "create-order" | "create-order (Python)" => {
                let mut replays = Vec::with_capacity(n);
                for _ in 0..n {
                    let (event, replay) = self.new_order().await;
                    events.push(event);
                    replays.push(replay);
                }
                // Powertools replays the stored answer as it was (201); the Rust function
                // answers a replay 200 with `Idempotent-Replayed: true`.
                let replayed = if function == "create-order" { 200 } else { 201 };
                vec![
                    ("new order".into(), Expect::Status(201), events),
                    ("replay".into(), Expect::Status(replayed), replays),
                ]
            }
            "payment-webhook" => {
                for _ in 0..n {
                    events.push(self.webhook().await);
                }
                vec![("webhook (commits)".into(), Expect::Status(200), events)]
            }
            "storefront" => {
                for _ in 0..n {
                    events.push(self.cart_update().await);
                }
                vec![("cart update".into(), Expect::Status(200), events)]
            }
            "expire-orders" => {
                for _ in 0..n {
                    events.push(self.schedule());
                }
                vec![("sweep".into(), Expect::Ok, events)]
            }
            "outbox-relay" => {
                for _ in 0..n {
                    events.push(self.stream()?);
                }
                vec![("stream record".into(), Expect::Ok, events)]
            }
            "order-created" => {
                for _ in 0..n {
                    events.push(self.sqs()?);
                }
                vec![("SQS message".into(), Expect::Ok, events)]
            }
            other => return Err(format!("no events for {other}")),
        })
    }
}

/// A side effect that does nothing (the subscriber's DynamoDB work is what is measured).
struct NoEffect;

#[async_trait::async_trait]
impl SideEffect for NoEffect {
    fn consumer(&self) -> &'static str {
        "erp"
    }
    async fn perform(
        &self,
        _: &checkout_domain::model::events::OrderEvent,
    ) -> std::result::Result<bool, checkout_domain::ports::DeliveryError> {
        Ok(true)
    }
}

struct NoQueue;

#[async_trait::async_trait]
impl EventQueue for NoQueue {
    async fn send(&self, _: &[QueueMessage]) -> std::result::Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
}

async fn sqs_queue(client: &aws_sdk_sqs::Client, name: &str) -> Result<String> {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| {
            format!(
                "create queue {name}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?
        .queue_url
        .ok_or_else(|| "a queue URL".into())
}

/// A Secrets Manager secret in moto; its ARN.
async fn secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
) -> Result<String> {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| {
            format!(
                "create secret {name}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?
        .arn
        .ok_or_else(|| "a secret ARN".into())
}

/// The deflate level of the size figure: Lambda's zip at -9; -1 in the smoke.
fn zip_level(settings: &Settings) -> u32 {
    if settings.smoke {
        1
    } else {
        9
    }
}

/// The bootstrap's size on disk (the release profile strips it) and zipped as Lambda takes it.
fn bootstrap_size(settings: &Settings, name: &str) -> Result<(u64, u64)> {
    let binary = settings.bin_dir.join(name);
    let size = std::fs::metadata(&binary)
        .map_err(|e| format!("{}: {e}", binary.display()))?
        .len();
    let zip = settings.log_dir.join(format!("{name}.zip"));
    let python = settings
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let status = std::process::Command::new(python)
        .args([
            "-c",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=int(sys.argv[3])) as z:\n    z.write(sys.argv[2], 'bootstrap')",
        ])
        .arg(&zip)
        .arg(&binary)
        // The smoke's debug binaries are ~60 MB: a fast level proves the step, -9 measures it.
        .arg(zip_level(settings).to_string())
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("zip {name}"));
    }
    let zipped = std::fs::metadata(&zip).map_err(|e| e.to_string())?.len();
    Ok((size, zipped))
}

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

    // --- Cold starts. create-order and its Python peer alternate, run by run.
    if settings.runs("cold") {
        say("cold starts");
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

        let meter = Arc::new(ddb::Meter::default());
        let metered = ddb::store(&config, inproc_table, Some(meter.clone()));
        let metered_shop = Shop::new(Arc::new(metered.clone()), false).await;
        let subscriber = Subscriber::new(
            Arc::new(NoEffect),
            Arc::new(metered.clone()),
            Arc::new(NoQueue),
        );
        for _ in 0..sizes.usage_samples {
            let cart = metered_shop.paid_cart().await;
            let key = uuid::Uuid::new_v4().to_string();
            meter.take();
            let answer = metered_shop.order(&cart, &key).await;
            if answer.status != 201 {
                return Err(format!("metered order: {} {}", answer.status, answer.body));
            }
            report.usage("new order, key", meter.take());
            let answer = metered_shop.order(&cart, &key).await;
            if answer.status != 200 || !answer.replayed {
                return Err(format!("metered replay: {} {}", answer.status, answer.body));
            }
            report.usage("replay, key", meter.take());
            let cart = metered_shop.paid_cart().await;
            meter.take();
            let answer = metered_shop.order_without_key(&cart).await;
            if answer.status != 201 {
                return Err(format!("metered order: {} {}", answer.status, answer.body));
            }
            report.usage("new order, no key", meter.take());
            let answer = metered_shop.order_without_key(&cart).await;
            if answer.status != 200 {
                return Err(format!("metered replay: {} {}", answer.status, answer.body));
            }
            report.usage("replay, no key", meter.take());
            let (_, body, signature) = metered_shop.cart_with_intent().await;
            meter.take();
            let answer = metered_shop.deliver(&body, &signature).await;
            if answer.status != 200 {
                return Err(format!(
                    "metered webhook: {} {}",
                    answer.status, answer.body
                ));
            }
            report.usage("webhook-created order", meter.take());
            let message: aws_lambda_events::event::sqs::SqsMessage =
                serde_json::from_value(events.sqs()?["Records"][0].clone())
                    .map_err(|e| e.to_string())?;
            meter.take();
            let outcome = subscriber.process(&message).await;
            if outcome != checkout_outbox::subscriber::Outcome::Done {
                return Err(format!("metered subscriber: {outcome:?}"));
            }
            report.usage("subscriber message", meter.take());
        }
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

    report.finish(&settings.out)
}

/// Warm latency through the router, per operation, each on fresh state.
async fn in_process(shop: &Shop, n: usize) -> Result<Vec<(String, stats::Summary)>> {
    let mut carts = Vec::with_capacity(n);
    for _ in 0..n {
        carts.push((shop.paid_cart().await, uuid::Uuid::new_v4().to_string()));
    }
    let (mut new, mut replay) = (Vec::new(), Vec::new());
    for (cart, key) in &carts {
        let answer = shop.order(cart, key).await;
        if answer.status != 201 {
            return Err(format!("order: {} {}", answer.status, answer.body));
        }
        new.push(answer.elapsed);
    }
    for (cart, key) in &carts {
        let answer = shop.order(cart, key).await;
        if answer.status != 200 || !answer.replayed {
            return Err(format!("replay: {} {}", answer.status, answer.body));
        }
        replay.push(answer.elapsed);
    }
    let mut deliveries = Vec::with_capacity(n);
    for _ in 0..n {
        deliveries.push(shop.cart_with_intent().await);
    }
    let mut webhook = Vec::new();
    for (_, body, signature) in &deliveries {
        let answer = shop.deliver(body, signature).await;
        if answer.status != 200 {
            return Err(format!("webhook: {} {}", answer.status, answer.body));
        }
        webhook.push(answer.elapsed);
    }
    let mut fresh = Vec::with_capacity(n);
    for _ in 0..n {
        fresh.push(shop.cart().await);
    }
    let mut update = Vec::new();
    for cart in &fresh {
        let answer = shop.update(cart).await;
        if answer.status != 200 {
            return Err(format!("cart update: {} {}", answer.status, answer.body));
        }
        update.push(answer.elapsed);
    }
    Ok(vec![
        ("create-order: new order".into(), summarize(&new)),
        ("create-order: replay".into(), summarize(&replay)),
        ("webhook (commits the order)".into(), summarize(&webhook)),
        ("cart update".into(), summarize(&update)),
    ])
}
