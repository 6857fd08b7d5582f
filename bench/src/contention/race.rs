//! The race: the buyers at once through a fresh emulator, each as a buyer does (a 503
//! `Contended` sent again after its `Retry-After`), and the [`Outcome`] of their answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkout_domain::ports::metrics::Metric;
use ddb_contention::{Emulator, HoldFrom, Settings};
use http::StatusCode;
use serde_json::Value;

use super::{Contention, Counted, Outcome, Purchase, Timing};
use crate::shop::{Cart, Shop};
use crate::stats::summarize;
use crate::Result;

impl Contention {
    pub(super) async fn race(
        &self,
        name: &str,
        shards: Option<u32>,
        carts: Vec<Cart>,
        concurrency: usize,
        hold: Duration,
        purchase: Purchase,
    ) -> Result<Outcome> {
        // Held from acceptance: DynamoDB Local's queue is not DynamoDB's hold (see HoldFrom).
        let settings = Settings::default()
            .hold(hold)
            .hold_from(HoldFrom::Acceptance);
        let emulator = Emulator::start(&self.upstream, settings)
            .await
            .map_err(|e| format!("start the contention emulator: {e}"))?;
        let metrics = Arc::new(Counted::default());
        let timing = Arc::new(Timing::default());
        let shop = self.racing(&emulator, metrics.clone(), timing.clone());
        let buyers = carts.len();
        let queue = Arc::new(Mutex::new(carts));
        let contended = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(Mutex::new(Vec::new()));
        emulator.reset_stats();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency.min(buyers) {
            let (shop, queue, contended, answers) = (
                shop.clone(),
                queue.clone(),
                contended.clone(),
                answers.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(cart) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let answer = match purchase {
                        Purchase::Order => buy(&shop, &cart, &contended, started).await,
                        Purchase::ReserveAndPay => {
                            reserve_and_pay(&shop, &cart, &contended, started).await
                        }
                    };
                    answers.lock().unwrap().push(answer);
                }
            }));
        }
        for task in tasks {
            task.await.map_err(|e| e.to_string())?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let stats = emulator.stats();
        emulator.shutdown().await;
        let answers = std::mem::take(&mut *answers.lock().unwrap());
        let mut outcome = Outcome {
            name: name.to_string(),
            shards,
            buyers,
            concurrency: concurrency.min(buyers),
            stock: 0,
            created: 0,
            out_of_stock: 0,
            failed: 0,
            first_failure: None,
            contended: contended.load(Ordering::Relaxed),
            seconds,
            selling_seconds: answers
                .iter()
                .filter(|a| a.status == StatusCode::CREATED)
                .map(|a| a.at.as_secs_f64())
                .fold(0.0, f64::max),
            orders_per_second: 0.0,
            transactions: stats.transactions,
            conflicts: stats.transactions_cancelled_conflict,
            other_conflicts: stats.write_conflicts + stats.transact_gets_cancelled_conflict,
            conflicts_per_order: 0.0,
            commit_retries: metrics.get(Metric::CommitRetries),
            latency: summarize(&answers.iter().map(|a| a.elapsed).collect::<Vec<_>>()),
            transaction_round_trip: summarize(&timing.0.lock().unwrap()),
            units_taken: 0,
            oversold: 0,
            unsold: 0,
            hottest: stats
                .hottest(1)
                .first()
                .map(|item| (item.item.clone(), item.conflicts + item.throttles)),
            reserved: purchase == Purchase::ReserveAndPay,
            payments_started: answers.iter().filter(|a| a.started).count() as u64,
            refunded: answers.iter().filter(|a| a.code == "Reversed").count() as u64,
        };
        for answer in &answers {
            match (answer.status, answer.code.as_str()) {
                (StatusCode::CREATED, _) => outcome.created += 1,
                (StatusCode::CONFLICT, "OutOfStock") => outcome.out_of_stock += 1,
                // Counted apart: a buyer charged and refused (must not happen).
                (StatusCode::OK, "Reversed") => outcome.failed += 1,
                (status, _) => {
                    outcome.failed += 1;
                    outcome
                        .first_failure
                        .get_or_insert_with(|| format!("{status} {}", answer.body));
                }
            }
        }
        outcome.orders_per_second = if outcome.selling_seconds > 0.0 {
            outcome.created as f64 / outcome.selling_seconds
        } else {
            0.0
        };
        outcome.conflicts_per_order = outcome.conflicts as f64 / (outcome.created.max(1)) as f64;
        Ok(outcome)
    }
}

/// A buyer's final answer.
struct Final {
    status: StatusCode,
    code: String,
    body: Value,
    /// The buyer's first request to this answer.
    elapsed: Duration,
    /// The race's start to this answer.
    at: Duration,
    /// A payment was started for it (the reserving drop).
    started: bool,
}

/// A buyer gives up after this many `Contended` answers (a bench that never ends proves
/// nothing; such a buyer counts as a failure).
const MAX_TRIES: u32 = 20;

/// `POST /orders` until the answer is not 503 `Contended`, waiting its `Retry-After` in
/// between, with one `Idempotency-Key`.
async fn buy(shop: &Shop, cart: &Cart, contended: &AtomicU64, race: Instant) -> Final {
    let key = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let answer = shop.order(cart, &key).await;
        let code = answer.body["code"].as_str().unwrap_or_default().to_string();
        if answer.status == StatusCode::SERVICE_UNAVAILABLE
            && code == "Contended"
            && tries < MAX_TRIES
        {
            contended.fetch_add(1, Ordering::Relaxed);
            let wait = answer.retry_after.unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        return Final {
            status: answer.status,
            code,
            body: answer.body,
            elapsed: started.elapsed(),
            at: race.elapsed(),
            started: false,
        };
    }
}

/// Sends `send` until its answer is not 503 (`Contended`, or a webhook's 503 that the
/// provider redelivers), waiting `Retry-After` in between.
async fn until_taken<F, Fut>(send: F, contended: &AtomicU64) -> crate::shop::Answer
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::shop::Answer>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let answer = send().await;
        if answer.status != StatusCode::SERVICE_UNAVAILABLE || tries >= MAX_TRIES {
            return answer;
        }
        contended.fetch_add(1, Ordering::Relaxed);
        let wait = answer.retry_after.unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

/// Starts the cart's payment (which reserves its unit, or is refused `OutOfStock`), then pays
/// it: the webhook's commit answers `ordered` (201 here) or `reversed` (code `Reversed`).
async fn reserve_and_pay(shop: &Shop, cart: &Cart, contended: &AtomicU64, race: Instant) -> Final {
    let started = Instant::now();
    let payment = until_taken(|| shop.start_payment(cart), contended).await;
    let code = payment.body["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let done = |status, code: String, body: Value, paid: bool| Final {
        status,
        code,
        body,
        elapsed: started.elapsed(),
        at: race.elapsed(),
        started: paid,
    };
    if payment.status != StatusCode::CREATED {
        return done(payment.status, code, payment.body, false);
    }
    let reference = payment.body["pspReference"].as_str().unwrap_or_default();
    let Some((body, signature)) = shop.success_event(reference) else {
        return done(
            StatusCode::INTERNAL_SERVER_ERROR,
            "NoIntent".into(),
            payment.body,
            true,
        );
    };
    let delivered = until_taken(|| shop.deliver(&body, &signature), contended).await;
    let effect = &delivered.body["effect"];
    if effect["ordered"].is_string() {
        done(StatusCode::CREATED, String::new(), delivered.body, true)
    } else if effect == "reversed" {
        done(StatusCode::OK, "Reversed".into(), delivered.body, true)
    } else {
        done(delivered.status, format!("{effect}"), delivered.body, true)
    }
}
