//! Our side: the existing benchmarks, run as child processes, their JSON read back.
//!
//! - `fieldsync-sync-bench --links --export DIR` (tests crate): the week offline, the new
//!   phone, the week through 3G- and 2G-like links; and the bundles the peers work from;
//! - `fieldsync-load` (tests crate): many phones, a burst and arrivals spread over 60 s;
//! - `cargo bench -p fieldsync-core --bench local_store`: the local store against plain
//!   SQLite (`local_edit_p50_ratio`, `visit_write_p50_ratio` and the other ratios at p50 and
//!   p99).
//!
//! The binaries are built first (`cargo build --release`, a no-op when fresh) into the
//! target folder this binary runs from.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::figures::{Figures, Side};
use crate::{BoxError, Mode};

/// Longest a child benchmark may run.
const FULL_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
const QUICK_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Visits of the territory's year in a quick run (a full run: 15,000).
pub const QUICK_YEAR_VISITS: usize = 600;

/// Figures taken from each benchmark's JSON: (their name, our name).
const SYNC_BENCH: [(&str, &str); 11] = [
    // The median of the old phone's three weeks; the first one alone as `_first_`.
    ("week_offline_median_ms", "week_offline_ms"),
    ("week_offline_ms", "week_offline_first_ms"),
    ("week_offline_round_trips", "week_offline_round_trips"),
    ("week_offline_bytes", "week_offline_bytes"),
    ("week_offline_wire_ratio", "week_offline_wire_ratio"),
    (
        "week_offline_new_change_bytes",
        "week_offline_new_change_bytes",
    ),
    ("new_phone_ms", "new_phone_ms"),
    ("new_phone_bytes", "new_phone_bytes"),
    ("new_phone_peak_rss_mb", "new_phone_peak_rss_mb"),
    ("bad_link_3g_ms", "bad_link_3g_ms"),
    ("bad_link_2g_ms", "bad_link_2g_ms"),
];
const LOAD: [(&str, &str); 5] = [
    ("burst_changes_applied_per_s", "many_phones_changes_per_s"),
    ("spread_sync_p99", "many_phones_p99_ms"),
    ("burst_sync_p99", "many_phones_burst_p99_ms"),
    ("server_peak_rss", "server_peak_rss_mb"),
    ("spread_sync_p50", "many_phones_p50_ms"),
];
/// Ours at a peer's smaller many-phones size, named under the peer's prefix.
const SAME_SIZE_LOAD: [(&str, &str); 3] = [
    (
        "burst_changes_applied_per_s",
        "many_phones_fieldsync_changes_per_s",
    ),
    ("burst_sync_p99", "many_phones_fieldsync_burst_p99_ms"),
    ("spread_sync_p99", "many_phones_fieldsync_p99_ms"),
];
/// Every ratio to plain SQLite at p50 and p99: a p99 alone is a handful of samples.
const LOCAL_STORE: [(&str, &str); 6] = [
    ("local_edit_p50_ratio", "local_edit_p50_ratio"),
    ("local_edit_p99_ratio", "local_edit_p99_ratio"),
    ("visit_write_p50_ratio", "visit_write_p50_ratio"),
    ("visit_write_p99_ratio", "visit_write_p99_ratio"),
    (
        "visit_write_stepwise_p50_ratio",
        "visit_write_stepwise_p50_ratio",
    ),
    (
        "visit_write_stepwise_p99_ratio",
        "visit_write_stepwise_p99_ratio",
    ),
];

/// The workspace this crate is part of.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// A `cargo` command without the package variables `cargo run` gave this process
/// (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, ...): build scripts such as ring's rerun when
/// those change, so passing them on made every run rebuild ring, rustls, reqwest and all
/// of ours (minutes), and the next plain `cargo build` rebuild them again.
fn cargo() -> tokio::process::Command {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = tokio::process::Command::new(program);
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str().filter(|n| is_package_variable(n)) {
            command.env_remove(name);
        }
    }
    command
}

/// A variable `cargo run` sets for the package it runs, not one that configures cargo.
fn is_package_variable(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || [
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
        ]
        .contains(&name)
}

/// Builds our benchmark binaries (release).
pub async fn build() -> Result<(), BoxError> {
    println!("building our benchmarks (cargo build --release) ...");
    let status = cargo()
        .current_dir(workspace())
        .args(["build", "--release", "-p", "fieldsync-server", "-p"])
        .args(["fieldsync-tests", "--bin", "fieldsync-sync-bench"])
        .args(["--bin", "fieldsync-load", "--bin", "fieldsync-server"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| format!("cannot run cargo to build our benchmarks: {e}"))?;
    if !status.success() {
        return Err(format!("building our benchmarks failed ({status})").into());
    }
    Ok(())
}

/// `target/release`, where this binary and the ones `build` made live.
fn release_dir() -> Result<PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .ok_or("the benchmark's executable has no folder")?
        .to_path_buf())
}

/// Runs a child benchmark, its output passed through, and returns its JSON file.
async fn run_child(
    what: &str,
    mut command: tokio::process::Command,
    json: &Path,
    timeout: Duration,
) -> Result<serde_json::Value, BoxError> {
    println!("\n== {what}");
    let child = command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let status = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("{what} did not finish within {} s", timeout.as_secs()))??
        .status;
    if !status.success() {
        return Err(format!("{what} failed ({status})").into());
    }
    let text = std::fs::read_to_string(json)
        .map_err(|e| format!("{what} wrote no figures at `{}`: {e}", json.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn take(json: &serde_json::Value, names: &[(&str, &str)], figures: &mut Figures) {
    for (theirs, ours) in names {
        let figure = &json["figures"][*theirs];
        if let Some(value) = figure["value"].as_f64() {
            figures.add(ours, value, figure["unit"].as_str().unwrap_or(""));
        }
    }
}

/// The week offline, the new phone and the bad links; exports the peers' bundles to
/// `bundles` (`before.bin`, `week.bin`).
pub async fn sync_bench(
    mode: Mode,
    scratch: &Path,
    bundles: &Path,
    figures: &mut Figures,
) -> Result<(), BoxError> {
    let json = scratch.join("sync-bench.json");
    let mut command = tokio::process::Command::new(release_dir()?.join("fieldsync-sync-bench"));
    command
        .arg("--links")
        .arg("--export")
        .arg(bundles)
        .arg("--json")
        .arg(&json);
    if mode.quick {
        // Every side downloads this year as its new phone: a smaller one keeps the quick
        // run within minutes (automerge-repo and samod fetch about 60 documents a second).
        command
            .arg("--quick")
            .arg("--year-visits")
            .arg(QUICK_YEAR_VISITS.to_string());
    }
    let timeout = if mode.quick {
        QUICK_TIMEOUT
    } else {
        FULL_TIMEOUT
    };
    let out = run_child("fieldsync-sync-bench (ours)", command, &json, timeout).await?;
    take(&out, &SYNC_BENCH, figures);
    Ok(())
}

/// Many phones: 200 in a full run (40 with `--quick`, arrivals spread over 5 s).
pub async fn load(mode: Mode, scratch: &Path, figures: &mut Figures) -> Result<(), BoxError> {
    let out = run_load(mode, scratch, None).await?;
    take(&out, &LOAD, figures);
    if let Some(devices) = out["config"]["devices"].as_f64() {
        figures.add("many_phones_phones", devices, "phones");
    }
    Ok(())
}

/// Many phones at a peer's smaller size (`devices` phones, the same spread), for a
/// throughput ratio of like with like: adds `<peer>_many_phones_fieldsync_*`.
pub async fn load_at(
    mode: Mode,
    scratch: &Path,
    devices: usize,
    peer: Side,
    figures: &mut Figures,
) -> Result<(), BoxError> {
    let out = run_load(mode, scratch, Some(devices)).await?;
    let names = SAME_SIZE_LOAD.map(|(theirs, ours)| (theirs, peer.name(ours)));
    let names: Vec<(&str, &str)> = names.iter().map(|(t, o)| (*t, o.as_str())).collect();
    take(&out, &names, figures);
    Ok(())
}

async fn run_load(
    mode: Mode,
    scratch: &Path,
    devices: Option<usize>,
) -> Result<serde_json::Value, BoxError> {
    let json = match devices {
        Some(n) => scratch.join(format!("load-{n}.json")),
        None => scratch.join("load.json"),
    };
    let mut command = tokio::process::Command::new(release_dir()?.join("fieldsync-load"));
    // The server `build` made: the load bench would otherwise build it again, alone, with
    // another feature set (minutes on a small machine).
    command
        .env(
            "FIELDSYNC_SERVER_BIN",
            release_dir()?.join("fieldsync-server"),
        )
        .arg("--json")
        .arg(&json);
    if mode.quick {
        command.arg("--quick");
    }
    if let Some(n) = devices {
        command.arg("--devices").arg(n.to_string());
    }
    let timeout = if mode.quick {
        QUICK_TIMEOUT
    } else {
        FULL_TIMEOUT
    };
    let what = match devices {
        Some(n) => format!("fieldsync-load (ours) with {n} phones"),
        None => "fieldsync-load (ours)".to_owned(),
    };
    run_child(&what, command, &json, timeout).await
}

/// The local store against plain SQLite (core's bench, built by `cargo bench`).
pub async fn local_store(
    mode: Mode,
    scratch: &Path,
    figures: &mut Figures,
) -> Result<(), BoxError> {
    let json = scratch.join("local-store.json");
    let mut command = cargo();
    command
        .current_dir(workspace())
        .args([
            "bench",
            "-p",
            "fieldsync-core",
            "--bench",
            "local_store",
            "--",
        ])
        .arg("--json")
        .arg(&json);
    if mode.quick {
        command.arg("--quick");
    }
    let timeout = if mode.quick {
        QUICK_TIMEOUT
    } else {
        FULL_TIMEOUT
    };
    let out = run_child("local_store bench (ours)", command, &json, timeout).await?;
    take(&out, &LOCAL_STORE, figures);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_children_lose_the_package_variables_but_keep_cargos_own() {
        for name in [
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
        ] {
            assert!(is_package_variable(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!is_package_variable(name), "{name}");
        }
    }
}
