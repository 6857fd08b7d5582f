//! Throughput of `checkout-local` on the embedded store: concurrent clients, each placing
//! orders from a fresh cart in a loop (create the cart, make it ready, start a payment, and
//! the simulator's signed webhook, which commits the order), for a fixed time.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};

use crate::shop::ready_actions;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Throughput {
    pub clients: usize,
    pub seconds: f64,
    pub orders: u64,
    pub orders_per_second: f64,
    /// HTTP requests per order: create cart, update it, start a payment, simulate success.
    pub requests_per_order: u32,
    pub requests_per_second: f64,
    pub failures: u64,
    pub peak_rss_mib: f64,
}

const DEV_SECRET: &str = "bench-dev-secret";

async fn one_order(client: &reqwest::Client, base: &str) -> Result<(), String> {
    let post = |path: String, session: Option<String>, body: Value| {
        let mut request = client.post(format!("{base}{path}")).json(&body);
        if let Some(session) = session {
            request = request.header("x-session-id", session);
        }
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            if status.is_success() {
                Ok(body)
            } else {
                Err(format!("{path}: {status} {body}"))
            }
        }
    };
    let cart = post(
        "/carts".into(),
        None,
        json!({"currency": "EUR", "country": "DE"}),
    )
    .await?;
    let id = cart["id"].as_str().unwrap_or_default().to_string();
    let session = cart["sessionToken"].as_str().map(str::to_string);
    let version = cart["version"].as_u64().unwrap_or(1);
    post(
        format!("/carts/{id}"),
        session.clone(),
        json!({"version": version, "actions": ready_actions()}),
    )
    .await?;
    let intent = post(format!("/carts/{id}/payments"), session, json!({})).await?;
    let reference = intent["pspReference"].as_str().unwrap_or_default();
    let settled = post(
        format!("/_dev/payments/{reference}/succeed"),
        None,
        Value::Null,
    )
    .await?;
    if settled["effect"].get("ordered").is_some() {
        Ok(())
    } else {
        Err(format!("no order: {settled}"))
    }
}

pub async fn checkout_local(
    binary: &Path,
    log: &Path,
    clients: usize,
    warmup: Duration,
    measured: Duration,
) -> Result<Throughput, String> {
    let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let mut child = crate::lambda::Child(
        std::process::Command::new(binary)
            .env("PORT", "0")
            .env("CHECKOUT_DEV_JWT_SECRET", DEV_SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("start checkout-local: {e}"))?,
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads where it listens, then keeps draining its output so it never blocks on a pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("listening on ") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let base = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "checkout-local did not say where it listens".to_string())?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .map_err(|e| e.to_string())?;
    // Stock no run exhausts.
    let token = checkout_http::identity::DevTokens::new(DEV_SECRET).issue("bench", Some("admin"));
    let catalog = crate::shop::catalog_json();
    for sku in ["MUG-BLUE", "BOOK-RUST"] {
        let mut product = catalog["products"][sku].clone();
        if let Some(product) = product.as_object_mut() {
            product.remove("stock");
            product.insert("stockDelta".into(), json!(1_000_000_000u64));
        }
        let response = client
            .put(format!("{base}/admin/products/{sku}"))
            .bearer_auth(&token)
            .json(&product)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!(
                "restock {sku}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ));
        }
    }

    let orders = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let counting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    let stop = started + warmup + measured;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, base) = (client.clone(), base.clone());
        let (orders, failures, counting, first_failure) = (
            orders.clone(),
            failures.clone(),
            counting.clone(),
            first_failure.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let result = one_order(&client, &base).await;
                if !counting.load(Ordering::Relaxed) {
                    continue;
                }
                match result {
                    Ok(()) => orders.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        first_failure.lock().unwrap().get_or_insert(e);
                        failures.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(warmup).await;
    counting.store(true, Ordering::Relaxed);
    let measuring = Instant::now();
    for task in tasks {
        let _ = task.await;
    }
    let seconds = measuring.elapsed().as_secs_f64();
    let peak_rss_mib = crate::lambda::peak_rss_mib(pid);
    child.stop();
    let orders = orders.load(Ordering::Relaxed);
    let failures = failures.load(Ordering::Relaxed);
    if orders == 0 {
        return Err(format!(
            "no order placed: {}",
            first_failure.lock().unwrap().clone().unwrap_or_default()
        ));
    }
    Ok(Throughput {
        clients,
        seconds,
        orders,
        orders_per_second: orders as f64 / seconds,
        requests_per_order: 4,
        requests_per_second: orders as f64 * 4.0 / seconds,
        failures,
        peak_rss_mib,
    })
}
