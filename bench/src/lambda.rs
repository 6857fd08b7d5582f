//! Running a function's release binary (or the Python peer) as one Lambda execution
//! environment under the emulator: cold starts, and a run of invocations in one process.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::emulator::{http_status, Emulator};
use crate::stats::{summarize, Summary};

/// How long one invocation may take before the bench gives up on it.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(30);

/// What to start and with which settings.
#[derive(Clone)]
pub struct Function {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Set to the emulator's ERP stub URL (`http://<addr>/erp`) if named.
    pub erp_endpoint_var: Option<String>,
    /// Where the process's output goes (it logs a line per request).
    pub log: PathBuf,
}

/// What an invocation must answer to count: an HTTP status, or any success.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    Status(u16),
    /// The handler answered (no `/error`), with no batch item failures.
    Ok,
}

fn check(expect: Expect, ok: bool, body: &[u8]) -> Result<(), String> {
    let text = || {
        String::from_utf8_lossy(body)
            .chars()
            .take(400)
            .collect::<String>()
    };
    if !ok {
        return Err(format!("the function reported an error: {}", text()));
    }
    match expect {
        Expect::Status(want) => match http_status(body) {
            Some(status) if status == want => Ok(()),
            _ => Err(format!("expected HTTP {want}, got {}", text())),
        },
        Expect::Ok => {
            let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match value["batchItemFailures"].as_array() {
                Some(failures) if !failures.is_empty() => {
                    Err(format!("batch item failures: {}", text()))
                }
                _ => Ok(()),
            }
        }
    }
}

impl Function {
    fn spawn(&self, emulator: &Emulator) -> Result<Child, String> {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args).env_clear();
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command.env("AWS_LAMBDA_RUNTIME_API", emulator.addr.to_string());
        if let Some(var) = &self.erp_endpoint_var {
            command.env(var, format!("http://{}/erp", emulator.addr));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("open {}: {e}", self.log.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2));
        command
            .spawn()
            .map(Child)
            .map_err(|e| format!("start {}: {e}", self.program.display()))
    }
}

/// A started process, stopped (killed and reaped) when dropped.
pub struct Child(pub std::process::Child);

impl Child {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next answer, or an error as soon as the process exits without giving one (a crash at
/// init or mid-invocation fails the bench at once instead of after the timeout).
async fn completion_or_exit(
    emulator: &mut Emulator,
    child: &mut Child,
    name: &str,
) -> Result<crate::emulator::Completion, String> {
    let deadline = Instant::now() + INVOCATION_TIMEOUT;
    loop {
        match emulator.completion(Duration::from_millis(50)).await {
            Ok(completion) => return Ok(completion),
            Err(e) if e.starts_with("no answer") => {}
            Err(e) => return Err(format!("{name}: {e}")),
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(format!(
                "{name} exited ({status}) without answering; see its log"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!("{name}: no answer within {INVOCATION_TIMEOUT:?}"));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One cold start: spawn → first answer, and spawn → first poll (init done).
#[derive(Debug, Clone, Copy)]
pub struct Cold {
    pub total: Duration,
    pub init: Duration,
    /// CPU time the process (all its threads) used until it answered.
    pub cpu: Duration,
}

/// CPU time of a process so far, summed over its threads (`/proc/<pid>/task/*/schedstat`).
fn cpu_time(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

pub async fn cold_start(function: &Function, event: Value, expect: Expect) -> Result<Cold, String> {
    let mut emulator = Emulator::start().await;
    emulator.push(event);
    let started = Instant::now();
    let mut child = function.spawn(&emulator)?;
    let result = completion_or_exit(&mut emulator, &mut child, &function.name).await;
    let cpu = cpu_time(child.0.id());
    child.stop();
    let completion = result?;
    check(expect, completion.ok, &completion.body)
        .map_err(|e| format!("{}: {e}", function.name))?;
    let init = emulator
        .first_poll()
        .map_or(Duration::ZERO, |t| t.duration_since(started));
    Ok(Cold {
        total: completion.answered.duration_since(started),
        init,
        cpu,
    })
}

/// A run of invocations in one process, as one execution environment serves them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Run {
    /// Per group of invocations (after the first, cold one): dispatch → answer.
    pub groups: Vec<(String, Summary)>,
    /// `VmHWM` of the process after the run, in MiB.
    pub peak_rss_mib: f64,
    pub invocations: usize,
}

/// Runs every event of every group in order, in one process; the very first invocation is
/// the cold one and is left out of the summaries.
pub async fn run(
    function: &Function,
    groups: Vec<(String, Expect, Vec<Value>)>,
) -> Result<Run, String> {
    let mut emulator = Emulator::start().await;
    let mut expectations = Vec::new();
    for (group, (_, expect, events)) in groups.iter().enumerate() {
        for event in events {
            emulator.push(event.clone());
            expectations.push((group, *expect));
        }
    }
    let mut child = function.spawn(&emulator)?;
    let pid = Some(child.0.id());
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); groups.len()];
    let mut failure = None;
    for _ in 0..expectations.len() {
        match completion_or_exit(&mut emulator, &mut child, &function.name).await {
            Ok(completion) => {
                let (group, expect) = expectations[completion.index];
                if let Err(e) = check(expect, completion.ok, &completion.body) {
                    failure = Some(format!("{} ({}): {e}", function.name, groups[group].0));
                    break;
                }
                if completion.index > 0 {
                    samples[group].push(completion.answered.duration_since(completion.dispatched));
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let peak_rss_mib = pid.map(peak_rss_mib).unwrap_or(0.0);
    child.stop();
    if let Some(failure) = failure {
        return Err(failure);
    }
    Ok(Run {
        groups: groups
            .iter()
            .zip(samples)
            .map(|((name, _, _), samples)| (name.clone(), summarize(&samples)))
            .collect(),
        peak_rss_mib,
        invocations: expectations.len(),
    })
}

/// The process's peak resident set (`VmHWM`), in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
