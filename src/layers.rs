//! The layering rule, checked: every `crate::` path in a top-level module names only modules
//! below it in [`LAYERS`], so there is no module cycle and no upward dependency (e.g. `service`
//! never names `http`, `worker` never names `app`). Run with `cargo test --lib layers`.

/// Top-level modules from the bottom up. A module may name only modules before it.
const LAYERS: &[&str] = &[
    "domain",
    "clock",
    "sms",
    "monitoring",
    "vipps",
    "config",
    "telemetry",
    "db",
    "delivery",
    "state",
    "service",
    "worker",
    "preflight",
    "http",
    "portal",
    "console",
    "app",
    "demo",
    "bench",
];

/// `#[macro_export]` macros live at the crate root but belong to a module.
const MACROS: &[(&str, &str)] = &[("with_pool", "db"), ("with_tx", "db")];

/// Where the embedded Vipps simulator may be named: itself, the wiring and the benchmarks.
const SIMULATOR_NAMED_IN: &[&str] = &["vipps", "app", "bench"];

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reads src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/x.rs` and `src/x/…` belong to `x`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src/");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

/// The first segment of every `crate::` path, including each item of `crate::{a, b::c}`.
fn crate_references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut expecting = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 {
                    if expecting && (c.is_alphanumeric() || c == '_') {
                        item.push(c);
                    } else if !item.is_empty() {
                        out.insert(std::mem::take(&mut item));
                        expecting = false;
                    }
                    if c == ',' {
                        expecting = true;
                    }
                }
            }
            if !item.is_empty() {
                out.insert(item);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

#[test]
fn every_module_names_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if ["lib", "main", "layers", "build"].contains(&module.as_str()) {
            continue;
        }
        let Some(own) = layer(&module) else {
            problems.push(format!("{module}: not in LAYERS; add it where it belongs"));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("reads a source file");
        for named in crate_references(&text) {
            let named = MACROS
                .iter()
                .find(|(m, _)| *m == named)
                .map_or(named.as_str(), |(_, owner)| owner);
            if named == module || named == "self" {
                continue;
            }
            match layer(named) {
                Some(other) if other < own => {}
                Some(_) => problems.push(format!(
                    "{}: {module} names crate::{named}, which is not below it",
                    file.display()
                )),
                None => problems.push(format!(
                    "{}: crate::{named} is not a module in LAYERS",
                    file.display()
                )),
            }
        }
        if !SIMULATOR_NAMED_IN.contains(&module.as_str())
            && (text.contains("vipps::sim::") || text.contains("sim::Simulator"))
        {
            problems.push(format!(
                "{}: names the Vipps simulator outside vipps/, app and bench",
                file.display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn references_are_read_from_groups_and_paths() {
    let found = crate_references(
        "use crate::{db::{Db, Tx}, service::{self, page::Page}, with_tx};\nlet x = crate::clock::now();",
    );
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["clock", "db", "service", "with_tx"]);
}
