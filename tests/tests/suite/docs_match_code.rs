//! The docs a person acts on follow the code: every metric the functions
//! write is in the runbook's catalogue, every status is a box in the
//! life-cycle diagram, and the hexagon names every use case and port.

use std::path::{Path, PathBuf};

use payments::app::metrics::{COUNTERS, MEASURES};
use payments::domain::PaymentStatus;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// Every `.rs` file under `dir`, as text.
fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let mut pending = vec![root().join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.push((path, text));
            }
        }
    }
    found
}

/// The text between a `## heading` and the next one.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(heading).unwrap_or_else(|| panic!("{heading}"));
    let rest = &doc[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The metric names written with a literal name: `count("X")`,
/// `count_with("X", …)`, `counter!("X")`, `gauge!("X")`, `histogram!("X")`.
fn metrics_written(text: &str) -> Vec<String> {
    let squeezed: String = text.split_whitespace().collect();
    let mut names = Vec::new();
    for call in [
        "count(\"",
        "count_with(\"",
        "counter!(\"",
        "gauge!(\"",
        "histogram!(\"",
    ] {
        for (at, _) in squeezed.match_indices(call) {
            let name = &squeezed[at + call.len()..];
            names.push(name[..name.find('"').unwrap()].to_owned());
        }
    }
    names
}

#[test]
fn every_metric_the_code_writes_is_in_the_runbooks_catalogue() {
    let doc = read("docs/runbook.md");
    let catalogue = section(&doc, "## Metric catalogue");
    let known: Vec<&str> = COUNTERS.iter().chain(MEASURES.iter()).copied().collect();
    for (path, text) in sources("shared/src") {
        for name in metrics_written(&text) {
            assert!(
                known.contains(&name.as_str()),
                "{name} ({}) is not in app::metrics' lists",
                path.display()
            );
        }
    }
    for name in known {
        assert!(
            catalogue.contains(&format!("| `{name}` |")),
            "{name} is missing from docs/runbook.md's metric catalogue"
        );
    }
}

#[test]
fn every_status_is_a_box_in_the_life_cycle_diagram() {
    let doc = read("docs/architecture.md");
    let life = section(&doc, "## A payment's life");
    let boxes: String = life.split_whitespace().collect::<Vec<_>>().join(" ");
    for status in PaymentStatus::ALL {
        assert!(
            boxes.contains(&format!("| {status} |")),
            "{status} has no box in docs/architecture.md's life-cycle diagram"
        );
    }
}

#[test]
fn the_hexagon_names_every_use_case_and_every_port() {
    let doc = read("docs/architecture.md");
    let hexagon = section(&doc, "## The hexagon");
    let mut named = Vec::new();
    for (_, text) in sources("shared/src/ports") {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("pub trait ") {
                named.push(rest.split([':', ' ', '<']).next().unwrap().to_owned());
            }
        }
    }
    // A use case is built from the ports: `impl X { … pub fn new(ports: …`.
    for (_, text) in sources("shared/src/app") {
        let lines: Vec<&str> = text.lines().collect();
        let mut current = None;
        for (at, line) in lines.iter().enumerate() {
            if let Some(rest) = line.strip_prefix("impl ") {
                current = rest.split([' ', '<', '{']).next().map(str::to_owned);
            }
            let signature = lines[at..lines.len().min(at + 2)].concat();
            if line.trim_start().starts_with("pub fn new") && signature.contains("ports: &Ports") {
                named.extend(current.clone());
            }
        }
    }
    assert!(named.len() > 20, "{named:?}");
    for name in named {
        assert!(
            hexagon.contains(&name),
            "{name} is missing from docs/architecture.md's hexagon"
        );
    }
}
