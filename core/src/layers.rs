//! The one-way rule of the crate's layers, checked on the source (`docs/architecture.md`,
//! "Layers"; ADR 0012).
//!
//! From the bottom: `error`, `ids`, `time`, `geo`; then `doc` (Automerge), `kinds` (each
//! document kind), `store` (SQLite and the typed API), `rules` (the rule queries and who
//! may write what), `sync` (protocol, client, the server's replica). A layer may name the
//! layers below it, never one above: the kinds, which the server runs too, cannot grow a
//! dependency on SQLite or on the phone's store without this test failing. The compiler
//! does not enforce it (every module of a crate may name every other), so this test reads
//! each layer's files (`src/<layer>.rs` and everything under `src/<layer>/`) and fails on
//! any path into a layer above, or on `rusqlite` below the store. Comments are skipped;
//! grouped imports (`use crate::{doc::Doc, store::LocalStore}`) are read item by item, and
//! a name the crate root re-exports (`crate::LocalStore`) counts as its layer's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Each layer, bottom first, with what it must never name besides the layers above it:
/// below the store, SQLite and the test fixtures (which open stores); `error`, whose
/// `Error` wraps every library's error, is not a layer of this list.
const LAYERS: &[(&str, &[&str])] = &[
    ("ids", BELOW_THE_STORE),
    ("time", BELOW_THE_STORE),
    ("geo", BELOW_THE_STORE),
    ("doc", BELOW_THE_STORE),
    ("kinds", BELOW_THE_STORE),
    ("store", &[]),
    ("rules", &[]),
    ("sync", &[]),
];

const BELOW_THE_STORE: &[&str] = &["rusqlite", "fixtures"];

/// The files of a layer: `src/<layer>.rs` and every `.rs` file under `src/<layer>/`.
fn files(layer: &str) -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = vec![src.join(format!("{layer}.rs"))];
    let mut dirs = vec![src.join(layer)];
    // Bounded by the directories of the source tree.
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The layer of every name `lib.rs` re-exports from a layer (`LocalStore` → `store`).
fn reexports() -> HashMap<String, String> {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    let mut out = HashMap::new();
    for statement in lib.split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let layer = leading_ident(path);
        let names = match (path.find('{'), path.rfind('}')) {
            (Some(open), Some(close)) => path[open + 1..close].to_owned(),
            _ => path.rsplit("::").next().unwrap_or_default().to_owned(),
        };
        for name in names.split(',') {
            let name = name.rsplit(" as ").next().unwrap_or_default().trim();
            let name = name.rsplit("::").next().unwrap_or_default();
            if !name.is_empty() {
                out.insert(name.to_owned(), layer.clone());
            }
        }
    }
    out
}

/// The first-level modules a line names after `crate::`, grouped imports included.
fn crate_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    // Bounded by the line: each pass moves past one `crate::`.
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if depth == 1 && c != ',' {
                    item.push(c);
                }
            }
            items.push(item);
            out.extend(items.iter().map(|i| leading_ident(i.trim())));
        } else {
            out.push(leading_ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

fn leading_ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every line of `source` that names a layer above `layer` (or something `layer` must
/// never name), as `file:line: text`.
fn violations(layer: &str, file: &str, source: &str) -> Vec<String> {
    let roots = reexports();
    let position = LAYERS
        .iter()
        .position(|(name, _)| *name == layer)
        .expect("a layer of LAYERS");
    let above: Vec<&str> = LAYERS[position + 1..]
        .iter()
        .map(|(name, _)| *name)
        .collect();
    let banned = LAYERS[position].1;
    // Multi-line imports are read whole: lines are joined until the braces close.
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (n, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        if pending.is_empty() {
            start = n + 1;
        }
        pending.push_str(code);
        pending.push(' ');
        if pending.matches('{').count() > pending.matches('}').count()
            && pending.contains("crate::{")
        {
            continue;
        }
        let text = std::mem::take(&mut pending);
        let named: Vec<String> = crate_modules(&text)
            .into_iter()
            .map(|m| roots.get(&m).cloned().unwrap_or(m))
            .collect();
        let upward = named.iter().find(|m| above.contains(&m.as_str()));
        let forbidden = banned.iter().find(|b| {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == **b)
        });
        if let Some(what) = upward.map(String::as_str).or(forbidden.copied()) {
            out.push(format!("{file}:{start}: names `{what}`: {}", text.trim()));
        }
    }
    out
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    let mut found = Vec::new();
    for (layer, _) in LAYERS {
        for path in files(layer) {
            let source = std::fs::read_to_string(&path).expect("a source file of the layer");
            let shown = path
                .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                .unwrap_or(&path)
                .display()
                .to_string();
            found.extend(violations(layer, &shown, &source));
        }
    }
    assert!(
        found.is_empty(),
        "a layer depends on one above it (see docs/architecture.md, \"Layers\"):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_upward_paths_in_every_form_an_import_takes() {
    let bad = [
        "use crate::store::LocalStore;",
        "use crate::{doc::Doc, store::LocalStore};",
        "use crate::{\n    doc::Doc,\n    sync::protocol,\n};",
        "    let s = crate::rules::MAX_MISSING_PRICE_TAGS;",
        "use rusqlite::Connection;",
        "fn f(tx: &rusqlite::Transaction) {}",
        "use crate::fixtures::sample_store;",
        "    let store: &crate::LocalStore = todo();",
        "use crate::{Doc, SyncClient};",
    ];
    for source in bad {
        assert_eq!(
            violations("kinds", "x.rs", source).len(),
            1,
            "not caught: {source}"
        );
    }
    let fine = [
        "use crate::doc::{DOC_ROOT, Doc};",
        "use crate::{doc::Doc, ids::DocId};",
        "// see crate::store::visits for the typed API",
        "/// The store layer (`crate::store`) writes the rows.",
        "use super::store::TerminalRating;",
        "let kind = DocKind::Store;",
        "fn f() -> crate::Result<crate::Versions<i64>> {}",
    ];
    for source in fine {
        assert_eq!(
            violations("kinds", "x.rs", source),
            Vec::<String>::new(),
            "refused: {source}"
        );
    }
}
