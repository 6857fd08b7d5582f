//! What the bench measures, how much of it, and where: its settings from the environment,
//! and each function's environment as `template.yaml` deploys it.

use crate::lambda::Function;
use std::path::PathBuf;
use std::time::Duration;

use crate::Result;

/// How much of everything to do.
#[derive(Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) cold_runs: usize,
    /// Orders placed in process before the cold starts, to warm DynamoDB Local's JVM.
    pub(crate) backend_warmup: usize,
    /// Invocations per function in one process (the RSS figure).
    pub(crate) invocations: usize,
    pub(crate) warm_memory: usize,
    pub(crate) warm_dynamodb: usize,
    pub(crate) usage_samples: usize,
    pub(crate) load_clients: usize,
    pub(crate) load_warmup: Duration,
    pub(crate) load_time: Duration,
}

pub(crate) struct Settings {
    pub(crate) bin_dir: PathBuf,
    /// The peer's Python (`None`: no peer in this run).
    pub(crate) python: Option<PathBuf>,
    pub(crate) peer_dir: PathBuf,
    pub(crate) dynamodb: String,
    pub(crate) sqs: String,
    pub(crate) prices: PathBuf,
    pub(crate) out: PathBuf,
    pub(crate) log_dir: PathBuf,
    pub(crate) sizes: Sizes,
    /// The contention section's scenarios and the emulator's hold (`BENCH_HOLD_MS`).
    pub(crate) contention: crate::contention::Sizes,
    pub(crate) smoke: bool,
    /// `BENCH_ONLY`, `BENCH_FUNCTIONS` (`None`: all).
    pub(crate) only: Option<Vec<String>>,
    pub(crate) functions: Option<Vec<String>>,
}

pub(crate) fn var(name: &str) -> Result<String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (run scripts/bench.sh)"))
}

impl Settings {
    pub(crate) fn from_env() -> Result<Settings> {
        let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|v| v == "1");
        let sizes = if smoke {
            Sizes {
                cold_runs: 1,
                backend_warmup: 2,
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
                backend_warmup: 100,
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
        let hold_ms: u64 = match std::env::var("BENCH_HOLD_MS") {
            Ok(ms) => ms.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!("BENCH_HOLD_MS must be a positive number of milliseconds, not {ms:?}")
            })?,
            // The hold the contention tests use: no published figure for DynamoDB's item
            // lock time was found (docs/capacity.md).
            Err(_) => 20,
        };
        let contention = if smoke {
            crate::contention::Sizes {
                store_orders: 8,
                store_concurrency: 8,
                drop_buyers: 8,
                drop_stock: 5,
                drop_shards: vec![1, 8, 64],
                hold: Duration::from_millis(hold_ms),
            }
        } else {
            crate::contention::Sizes {
                store_orders: 256,
                store_concurrency: 64,
                drop_buyers: 64,
                drop_stock: 40,
                drop_shards: vec![1, 8, 64],
                hold: Duration::from_millis(hold_ms),
            }
        };
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
            contention,
            smoke,
        })
    }
}

/// The functions as deployed (`template.yaml`): name, binary, extra settings.
pub(crate) struct Deployment {
    pub(crate) table: String,
    pub(crate) stripe_key_arn: String,
    pub(crate) webhook_secrets_arn: String,
    pub(crate) erp_secret_arn: String,
    pub(crate) email_queue: String,
    pub(crate) erp_queue: String,
    pub(crate) dlq: String,
}

impl Settings {
    /// Whether this part of the bench runs (`BENCH_ONLY`).
    pub(crate) fn runs(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == part))
    }

    pub(crate) fn base_env(&self, name: &str, table: &str) -> Vec<(String, String)> {
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

    pub(crate) fn rust(
        &self,
        name: &str,
        deployment: &Deployment,
        extra: &[(&str, &str)],
    ) -> Function {
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

    pub(crate) fn peer(&self, deployment: &Deployment) -> Option<Function> {
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
    pub(crate) fn functions(&self, d: &Deployment) -> Vec<Function> {
        let mut all = self.all_functions(d);
        if let Some(names) = &self.functions {
            all.retain(|f| names.contains(&f.name));
        }
        all
    }

    pub(crate) fn all_functions(&self, d: &Deployment) -> Vec<Function> {
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
