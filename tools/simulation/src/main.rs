//! `simulate --seed S --runs N [--history I] [--verbose]`: one line per
//! violation (seed, history, invariant, the history's steps), then
//! `<n> histories, <v> violations (seed <s>)`; exit 1 on any violation.

use std::process::ExitCode;

use payments_simulation::run_history;

struct Args {
    seed: u64,
    runs: u64,
    history: Option<u64>,
    verbose: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        seed: 1,
        runs: 1000,
        history: None,
        verbose: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            given
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes an unsigned integer"))
        };
        match flag.as_str() {
            "--seed" => args.seed = value("--seed")?,
            "--runs" => args.runs = value("--runs")?,
            "--history" => args.history = Some(value("--history")?),
            "--verbose" => args.verbose = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(error) => {
            eprintln!(
                "simulate: {error}\nusage: simulate --seed S --runs N [--history I] [--verbose]"
            );
            return ExitCode::from(2);
        }
    };
    let histories: Vec<u64> = match args.history {
        Some(index) => vec![index],
        None => (0..args.runs).collect(),
    };
    let mut violations = 0usize;
    for &index in &histories {
        let outcome = run_history(args.seed, index);
        if args.verbose {
            for step in &outcome.steps {
                println!("  {step}");
            }
        }
        for violation in &outcome.violations {
            violations += 1;
            println!(
                "seed {} history {index} invariant {}: {} | steps: {}",
                args.seed,
                violation.invariant,
                violation.detail,
                outcome.steps.join("; ")
            );
        }
    }
    println!(
        "{} histories, {violations} violations (seed {})",
        histories.len(),
        args.seed
    );
    if violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
