//! `ddb-contention`: the emulator as a process, for the bench and for trying things by hand.
//!
//! ```sh
//! cargo run -p ddb-contention -- --upstream http://127.0.0.1:8000 --hold-ms 20 [--hold-from acceptance] [--throttle-wcu 1000]
//! ```
//!
//! Prints `listening on http://ADDR` once it accepts connections, serves `GET /_stats`, and
//! prints the stats as JSON on stderr when stopped (Ctrl-C or SIGTERM).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use ddb_contention::{Emulator, HoldFrom, Settings, Throttle};

const USAGE: &str = "usage: ddb-contention --upstream URL [--listen ADDR] [--hold-ms N] [--hold-from answer|acceptance] [--throttle-wcu N [--throttle-window-ms N]]
  --upstream URL          DynamoDB Local's endpoint, e.g. http://127.0.0.1:8000
  --listen ADDR           where to listen (default 127.0.0.1:0, a free port)
  --hold-ms N             how long an item stays held after its transaction's answer (default 20)
  --hold-from WHEN        answer (default): held until the answer plus the hold; acceptance:
                          held for the hold from acceptance, however slow the upstream
  --throttle-wcu N        write units per item per window; off by default (DynamoDB: 1000)
  --throttle-window-ms N  the throttle's window (default 1000)";

fn settings(mut args: impl Iterator<Item = String>) -> Result<(String, Settings), String> {
    let mut upstream = None;
    let mut settings = Settings::default();
    let mut window = Duration::from_secs(1);
    let mut units = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => upstream = Some(value()?),
            "--listen" => {
                let addr: SocketAddr = value()?.parse().map_err(|e| format!("--listen: {e}"))?;
                settings = settings.listen(addr);
            }
            "--hold-ms" => {
                let ms: u64 = value()?.parse().map_err(|e| format!("--hold-ms: {e}"))?;
                settings = settings.hold(Duration::from_millis(ms));
            }
            "--hold-from" => {
                let from = match value()?.as_str() {
                    "answer" => HoldFrom::Answer,
                    "acceptance" => HoldFrom::Acceptance,
                    other => return Err(format!("--hold-from: {other}: answer or acceptance")),
                };
                settings = settings.hold_from(from);
            }
            "--throttle-wcu" => {
                units = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--throttle-wcu: {e}"))?,
                );
            }
            "--throttle-window-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--throttle-window-ms: {e}"))?;
                window = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(units) = units {
        settings = settings.throttle(Throttle { units, per: window });
    }
    let upstream = upstream.ok_or("--upstream is required")?;
    Ok((upstream, settings))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (upstream, settings) = match settings(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("ddb-contention: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(&upstream, settings).await {
        Ok(emulator) => emulator,
        Err(error) => {
            eprintln!("ddb-contention: cannot listen: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", emulator.endpoint());
    let _ = std::io::stdout().flush();
    stopped().await;
    let stats = serde_json::to_string_pretty(&emulator.stats()).unwrap_or_default();
    eprintln!("{stats}");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
