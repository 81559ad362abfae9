//! The error codes docs/protocol.md lists ("Transport") are the codes the protocol's
//! routes send: a client written from the spec meets no code it was not told of, and is
//! told of none it will never meet. Found by a review writing a client from the spec: the
//! list named `forbidden`, which nothing on the protocol's routes sent, and left out the
//! photo routes' `offset_mismatch`, `hash_mismatch` and `bad_range`.
//!
//! Read from the source, where a code is written next to its status (`StatusCode::CONFLICT,
//! "offset_mismatch"`), as the fallback for axum's own refusals (`=> ("not_found", …)`), or
//! as a `busy(…)` refusal's code; the console's, the admin commands' and the demo's files
//! are not the protocol's.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Files and folders of `src` that no `/v1` route answers from.
const NOT_PROTOCOL: &[&str] = &[
    "console",
    "console.rs",
    "admin",
    "admin.rs",
    "demo",
    "demo.rs",
    "probes.rs",
    "main.rs",
];

/// What a code is written after, up to its opening quote (whitespace and newlines between).
const BEFORE_A_CODE: &[&str] = &["StatusCode::", "=> (", "busy("];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) -> Fallible<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if NOT_PROTOCOL.contains(&name) {
            continue;
        }
        if path.is_dir() {
            sources(&path, out)?;
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The string literal that `text` opens with after whitespace, if it reads as a code.
fn code_at(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    let code = &rest[..rest.find('"')?];
    let is_code = !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    is_code.then_some(code)
}

/// Every code the protocol's routes can answer with, read from the source.
fn codes_in_source() -> Fallible<BTreeSet<String>> {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    )?;
    let mut codes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        // Unit tests at the bottom of a file answer nothing.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for before in BEFORE_A_CODE {
            for (at, _) in text.match_indices(before) {
                let mut rest = &text[at + before.len()..];
                if *before == "StatusCode::" {
                    // The status's name, then a comma: `StatusCode::CONFLICT, "code"`.
                    let name = rest
                        .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                        .unwrap_or(0);
                    let Some(after) = rest[name..].trim_start().strip_prefix(',') else {
                        continue;
                    };
                    rest = after;
                }
                if let Some(code) = code_at(rest) {
                    codes.insert(code.to_owned());
                }
            }
        }
    }
    Ok(codes)
}

/// The codes the spec lists: the backquoted words of "Transport"'s sentence `Codes: …`,
/// up to the sentence after it, outside parentheses.
fn codes_in_spec() -> Fallible<BTreeSet<String>> {
    let spec =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md"))?;
    let start = spec
        .find("Codes: ")
        .ok_or("protocol.md lists no `Codes: `")?;
    let list = &spec[start..];
    let list = &list[..list.find("A refusal for a quota").ok_or("the list's end")?];
    // What parentheses say of a code (`415: a `Content-Encoding` other than `gzip``) is not
    // a code.
    let mut depth = 0usize;
    let list: String = list
        .chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect();
    Ok(list
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect())
}

#[test]
fn every_error_code_the_protocols_routes_send_is_listed_in_the_spec_and_no_other() -> Fallible<()> {
    let sent = codes_in_source()?;
    // The scan reads what it should: the main codes, the photo routes' and axum's.
    for code in [
        "bad_request",
        "write_rule",
        "offset_mismatch",
        "not_found",
        "busy",
    ] {
        assert!(sent.contains(code), "{code} in {sent:?}");
    }
    let listed = codes_in_spec()?;
    let unlisted: Vec<&String> = sent.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "sent but not listed in protocol.md: {unlisted:?}"
    );
    let never_sent: Vec<&String> = listed.difference(&sent).collect();
    assert!(
        never_sent.is_empty(),
        "listed in protocol.md but never sent: {never_sent:?}"
    );
    Ok(())
}
