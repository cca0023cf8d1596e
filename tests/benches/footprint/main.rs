//! `make bench`, part one: what a Lambda user pays for each function, beside
//! a hello-world `lambda_runtime` binary built with the same release profile.
//!
//! - init: process start to the first poll of a loopback fake Runtime API;
//! - init CPU: what all the process's threads spent on a CPU by that poll;
//! - cold-start penalty: init + the first invocation - a warm invocation,
//!   in wall-clock time and in CPU time (so work moved out of init into the
//!   first invocation does not pass for a saving);
//! - both with the DynamoDB connection pre-warmed at init and without;
//! - peak RSS (VmHWM) after 1,000 invocations against moto and the mock;
//! - release binary sizes (stripped by the profile).
//!
//! Medians of many starts. A measurement, not a test: it fails only when a
//! function does not run; figures that miss a goal are marked, not fatal.

mod cpu;
mod fake_runtime;
mod subjects;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_runtime::FakeRuntime;
use subjects::{answered_well, release_binary, Subject, World, HELLO, SUBJECTS};

/// The function's process, killed when the measurement lets go of it.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Process starts per function and pre-warm setting (odd: a true median);
/// FOOTPRINT_STARTS sets another count, for a steadier median.
fn starts() -> usize {
    std::env::var("FOOTPRINT_STARTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(11)
}
/// Warm invocations after each start's first.
const WARM_PER_START: usize = 5;
const RSS_INVOCATIONS: usize = 1_000;

const PENALTY_GOAL: f64 = 1.5;
const INIT_CPU_GOAL: f64 = 2.0;
const RSS_GOAL_BYTES: u64 = 20 * 1024 * 1024;
const SIZE_GOAL_BYTES: u64 = 6 * 1024 * 1024;

/// The medians of one function's starts: wall-clock time and CPU time.
#[derive(Clone, Copy)]
struct ColdStart {
    init: Duration,
    first: Duration,
    warm: Duration,
    init_cpu: Duration,
    first_cpu: Duration,
    warm_cpu: Duration,
}

impl ColdStart {
    fn penalty(&self) -> Duration {
        (self.init + self.first).saturating_sub(self.warm)
    }

    fn cpu_penalty(&self) -> Duration {
        (self.init_cpu + self.first_cpu).saturating_sub(self.warm_cpu)
    }
}

struct Figures {
    name: &'static str,
    prewarmed: ColdStart,
    cold: ColdStart,
    peak_rss: u64,
    size: u64,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Where a function runs: the shared world, and its own table.
struct Run<'a> {
    world: &'a World,
    subject: &'a Subject,
    table: String,
}

fn spawn(run: &Run<'_>, runtime: &FakeRuntime, prewarm: bool) -> Result<Function, String> {
    let binary = release_binary(run.subject.name);
    Command::new(&binary)
        .env_clear()
        .envs(run.world.environment(run.subject.name, &run.table, prewarm))
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Function)
        .map_err(|e| {
            format!(
                "{}: {e} (`make bench` builds it with `make package`)",
                binary.display()
            )
        })
}

async fn invoke(runtime: &mut FakeRuntime, run: &Run<'_>, n: usize) -> Result<Duration, String> {
    let (took, answer) = runtime.invoke(run.world.event(run.subject.feed, n)).await?;
    answered_well(run.subject, answer.ok, &answer.body)
        .map_err(|e| format!("{}: {e}", run.subject.name))?;
    Ok(took)
}

async fn cold_starts(run: &Run<'_>, prewarm: bool) -> Result<ColdStart, String> {
    let (mut inits, mut firsts, mut warms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut init_cpus, mut first_cpus, mut warm_cpus) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..starts() {
        let mut runtime = FakeRuntime::start().await.map_err(|e| e.to_string())?;
        let started = Instant::now();
        let function = spawn(run, &runtime, prewarm)?;
        let pid = function.0.id();
        let polled = runtime
            .first_poll()
            .await
            .map_err(|e| format!("{}: {e}", run.subject.name))?;
        inits.push(polled.saturating_duration_since(started));
        // The function now waits on its poll, so what it spent is init's.
        let mut spent = cpu::spent_by(pid)?;
        init_cpus.push(spent);
        firsts.push(invoke(&mut runtime, run, 0).await?);
        let after_first = cpu::spent_by(pid)?;
        first_cpus.push(after_first.saturating_sub(spent));
        spent = after_first;
        for n in 1..=WARM_PER_START {
            warms.push(invoke(&mut runtime, run, n).await?);
            let now = cpu::spent_by(pid)?;
            warm_cpus.push(now.saturating_sub(spent));
            spent = now;
        }
        drop(function);
    }
    Ok(ColdStart {
        init: median(inits),
        first: median(firsts),
        warm: median(warms),
        init_cpu: median(init_cpus),
        first_cpu: median(first_cpus),
        warm_cpu: median(warm_cpus),
    })
}

/// The process's high-water mark of resident memory, from /proc.
fn peak_rss_of(function: &Function) -> Result<u64, String> {
    let pid = function.0.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmHWM in /proc status".to_owned())
}

async fn peak_rss(run: &Run<'_>) -> Result<u64, String> {
    let mut runtime = FakeRuntime::start().await.map_err(|e| e.to_string())?;
    let function = spawn(run, &runtime, true)?;
    runtime.first_poll().await?;
    for n in 0..RSS_INVOCATIONS {
        invoke(&mut runtime, run, n).await?;
    }
    peak_rss_of(&function)
}

async fn measure(world: &World, subject: &Subject) -> Result<Figures, String> {
    let run = Run {
        world,
        subject,
        table: world.fresh_table().await,
    };
    let prewarmed = cold_starts(&run, true).await?;
    let cold = match subject.name {
        HELLO => prewarmed,
        _ => cold_starts(&run, false).await?,
    };
    let size = std::fs::metadata(release_binary(subject.name))
        .map_err(|e| format!("{}: {e}", subject.name))?
        .len();
    Ok(Figures {
        name: subject.name,
        prewarmed,
        cold,
        peak_rss: peak_rss(&run).await?,
        size,
    })
}

fn ms(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

fn verdict(holds: bool) -> &'static str {
    if holds {
        "ok"
    } else {
        "MISSED"
    }
}

fn report(figures: &[Figures]) {
    let Some(hello) = figures.iter().find(|f| f.name == HELLO) else {
        return;
    };
    let baseline = hello.prewarmed.penalty().as_secs_f64().max(f64::EPSILON);
    println!(
        "\nCold start: medians of {} starts, {WARM_PER_START} warm invocations each; \
         connection pre-warmed at init (ms)",
        starts()
    );
    println!(
        "{:<16} {:>8} {:>8} {:>8} {:>9} {:>9}  goal <= {PENALTY_GOAL}x",
        "function", "init", "first", "warm", "penalty", "x hello"
    );
    for f in figures {
        let ratio = f.prewarmed.penalty().as_secs_f64() / baseline;
        println!(
            "{:<16} {:>8} {:>8} {:>8} {:>9} {:>8.2}x  {}",
            f.name,
            ms(f.prewarmed.init),
            ms(f.prewarmed.first),
            ms(f.prewarmed.warm),
            ms(f.prewarmed.penalty()),
            ratio,
            verdict(f.name == HELLO || ratio <= PENALTY_GOAL)
        );
    }
    let init_cpu_baseline = hello.prewarmed.init_cpu.as_secs_f64().max(f64::EPSILON);
    let cpu_penalty_baseline = hello
        .prewarmed
        .cpu_penalty()
        .as_secs_f64()
        .max(f64::EPSILON);
    println!(
        "\nCPU time, all threads (/proc/<pid>/task/*/schedstat): init at the first poll, \
         and the cold-start CPU penalty (init + first - warm); pre-warmed (ms)"
    );
    println!(
        "{:<16} {:>9} {:>8} {:>8} {:>9} {:>12} {:>8}  goal init CPU <= {INIT_CPU_GOAL}x",
        "function", "init CPU", "x hello", "first", "warm", "CPU penalty", "x hello"
    );
    for f in figures {
        let ratio = f.prewarmed.init_cpu.as_secs_f64() / init_cpu_baseline;
        println!(
            "{:<16} {:>9} {:>7.2}x {:>8} {:>9} {:>12} {:>7.2}x  {}",
            f.name,
            ms(f.prewarmed.init_cpu),
            ratio,
            ms(f.prewarmed.first_cpu),
            ms(f.prewarmed.warm_cpu),
            ms(f.prewarmed.cpu_penalty()),
            f.prewarmed.cpu_penalty().as_secs_f64() / cpu_penalty_baseline,
            verdict(f.name == HELLO || ratio <= INIT_CPU_GOAL)
        );
    }
    println!(
        "\nPre-warmed DynamoDB connection: first invocation and penalty, without -> with (ms)"
    );
    println!(
        "{:<16} {:>10} {:>10} {:>12} {:>12} {:>13} {:>13}",
        "function",
        "first w/o",
        "first with",
        "penalty w/o",
        "penalty with",
        "init CPU w/o",
        "CPU pen. w/o"
    );
    for f in figures.iter().filter(|f| f.name != HELLO) {
        println!(
            "{:<16} {:>10} {:>10} {:>12} {:>12} {:>13} {:>13}",
            f.name,
            ms(f.cold.first),
            ms(f.prewarmed.first),
            ms(f.cold.penalty()),
            ms(f.prewarmed.penalty()),
            ms(f.cold.init_cpu),
            ms(f.cold.cpu_penalty())
        );
    }
    println!(
        "\nMemory and size: peak RSS after {RSS_INVOCATIONS} invocations (moto and the mock), \
         the deployed bootstrap (MiB)"
    );
    println!(
        "{:<16} {:>9} {:>7}  {:>7} {:>7}",
        "function", "peak RSS", "<= 20", "binary", "<= 6"
    );
    for f in figures {
        println!(
            "{:<16} {:>9} {:>7}  {:>7} {:>7}",
            f.name,
            mib(f.peak_rss),
            verdict(f.peak_rss <= RSS_GOAL_BYTES),
            mib(f.size),
            verdict(f.size <= SIZE_GOAL_BYTES)
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let world = World::start().await?;
    // FOOTPRINT_ONLY=get-payment,create-payment measures those (and the
    // baseline) alone: for trying one change; the figures quoted are a full run.
    let only = std::env::var("FOOTPRINT_ONLY").unwrap_or_default();
    let chosen =
        |name: &str| only.is_empty() || name == HELLO || only.split(',').any(|n| n == name);
    let mut figures = Vec::new();
    for subject in SUBJECTS.iter().filter(|subject| chosen(subject.name)) {
        let began = Instant::now();
        figures.push(measure(&world, subject).await?);
        eprintln!("measured {} in {:.0?}", subject.name, began.elapsed());
    }
    report(&figures);
    world.mock.shutdown().await;
    Ok(())
}
