//! The field benchmark (issue 7): fieldsync's sync beside automerge-repo 2.5.6 (npm),
//! samod 0.16 (crates.io) and PouchDB 9.0.0 with pouchdb-server 4.2.0 (npm, issue 19) on
//! the same documents and edits, in one run.
//!
//! ```text
//! cargo run --release -p fieldsync-field-bench -- [--quick] [--json PATH]
//!     [--sides fieldsync,automerge-repo,samod,pouchdb,pouchdb-default] [--no-links]
//! ```
//!
//! Ours ([`ours`]): the existing benchmarks as child processes. `fieldsync-sync-bench`
//! also exports what its server held before the week offline and the week itself as
//! bundles of Automerge changes; the peers ([`peer`]: [`automerge_repo`], [`samod_side`],
//! [`pouchdb`], which stores each document's content as JSON) import those documents into
//! their servers and sync the same week, and a new phone of
//! theirs downloads the same documents. Figures and ratios: [`figures`]. What each figure
//! means and where its timing starts and stops: `docs/benchmarks.md`.

mod automerge_repo;
mod figures;
mod many;
mod npm;
mod ours;
mod peer;
mod pouchdb;
mod samod_side;

use std::path::PathBuf;
use std::process::ExitCode;

use figures::{Figures, Side};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: fieldsync-field-bench [--quick] [--json PATH] \
                     [--sides fieldsync,automerge-repo,samod,pouchdb,pouchdb-default] \
                     [--no-links]";

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub quick: bool,
}

#[derive(Debug)]
struct Config {
    mode: Mode,
    json: Option<PathBuf>,
    sides: Vec<Side>,
    links: bool,
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut config = Config {
        mode: Mode { quick: false },
        json: None,
        sides: std::iter::once(Side::Ours).chain(Side::PEERS).collect(),
        links: true,
    };
    let mut it = args.iter();
    // Bounded by the argument list.
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => config.mode.quick = true,
            "--no-links" => config.links = false,
            "--json" => {
                let path = it.next().ok_or(format!("`--json` needs a path\n{USAGE}"))?;
                config.json = Some(PathBuf::from(path));
            }
            "--sides" => {
                let list = it
                    .next()
                    .ok_or(format!("`--sides` needs a list\n{USAGE}"))?;
                config.sides = list
                    .split(',')
                    .map(|s| Side::parse(s.trim()).ok_or(format!("unknown side `{s}`\n{USAGE}")))
                    .collect::<Result<_, _>>()?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(config)
}

fn config_json(config: &Config) -> serde_json::Value {
    serde_json::json!({
        "quick": config.mode.quick,
        "year_visits": if config.mode.quick { ours::QUICK_YEAR_VISITS } else { 15_000 },
        "many_phones": if config.mode.quick { 40 } else { 200 },
        "sides": config.sides.iter().map(|s| s.label()).collect::<Vec<_>>(),
        "links": config.links,
        "automerge_repo": "2.5.6",
        "samod": "0.16",
        "pouchdb": pouchdb::PINNED.iter().map(|(p, v)| format!("{p} {v}")).collect::<Vec<_>>(),
        "pouchdb_tuned": pouchdb::TUNED,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "release": !cfg!(debug_assertions),
    })
}

/// What a run measured, what failed, and notes on what was measured differently.
struct Outcome {
    figures: Figures,
    failures: Vec<String>,
    notes: Vec<String>,
}

async fn run(config: &Config) -> Result<Outcome, BoxError> {
    let mut figures = Figures::default();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let scratch = tempfile::Builder::new().prefix("field-bench-").tempdir()?;
    let bundles = scratch.path().join("bundles");
    if config.sides.contains(&Side::AutomergeRepo) {
        automerge_repo::install().await?;
    }
    if config.sides.contains(&Side::PouchDb) || config.sides.contains(&Side::PouchDbDefault) {
        pouchdb::install().await?;
    }
    ours::build().await?;
    // The sync bench always runs: it makes the documents every side works on.
    ours::sync_bench(config.mode, scratch.path(), &bundles, &mut figures).await?;
    let week_change_bytes = fieldsync_tests::bundle::read(&bundles.join("week.bin"))?
        .iter()
        .map(|r| r.data.len())
        .sum::<usize>() as f64;
    figures.add("week_change_bytes", week_change_bytes, "bytes");
    if config.sides.contains(&Side::Ours) {
        ours::load(config.mode, scratch.path(), &mut figures).await?;
        ours::local_store(config.mode, scratch.path(), &mut figures).await?;
    }
    for side in Side::PEERS {
        if !config.sides.contains(&side) {
            continue;
        }
        let launcher = match side {
            Side::AutomergeRepo => automerge_repo::launcher(),
            Side::PouchDb | Side::PouchDbDefault => pouchdb::launcher(side),
            _ => peer::Launcher {
                side,
                program: std::env::current_exe()?,
                server: vec!["samod-server".into()],
                phone: vec!["samod-phone".into()],
                many_phones_cap: Some(samod_side::many_phones_cap(config.mode)),
            },
        };
        // A peer failing a workload is a finding, not the end of the run.
        let links = (config.links, config.mode.quick);
        match peer::run(&launcher, &bundles, week_change_bytes, links, &mut figures).await {
            Ok(failed) => failures.extend(failed),
            Err(e) => {
                eprintln!("{} failed: {e}", side.label());
                failures.push(format!("{}: {e}", side.label()));
            }
        }
        match many::run(&launcher, config.mode, &bundles, &mut figures).await {
            Ok(note) => notes.extend(note),
            Err(e) => {
                eprintln!("{} (many phones) failed: {e}", side.label());
                failures.push(format!("{} many phones: {e}", side.label()));
            }
        }
    }
    figures.add_ratios();
    Ok(Outcome {
        figures,
        failures,
        notes,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The samod children: `samod-server DIR`, `samod-phone JOB ...`.
fn samod_child(args: &[String]) -> Option<ExitCode> {
    let (first, rest) = args.split_first()?;
    let job = match first.as_str() {
        "samod-server" => true,
        "samod-phone" => false,
        _ => return None,
    };
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            if job {
                samod_side::server(rest).await
            } else {
                samod_side::phone(rest).await
            }
        })
    });
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("samod {first} failed: {e}");
            ExitCode::FAILURE
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = samod_child(&args) {
        return code;
    }
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build measures mostly itself; run with `cargo run --release`");
    }
    println!(
        "fieldsync-field-bench{}: {}",
        if config.mode.quick { " --quick" } else { "" },
        config
            .sides
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let began = std::time::Instant::now();
    let Outcome {
        figures,
        failures,
        notes,
    } = match runtime().and_then(|rt| rt.block_on(run(&config))) {
        Ok(mut outcome) => {
            outcome
                .figures
                .add("run_seconds", began.elapsed().as_secs_f64(), "s");
            outcome
        }
        Err(e) => {
            eprintln!("field bench failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n{}", figures.table());
    for failure in &failures {
        println!("not measured: {failure}");
    }
    for note in &notes {
        println!("note: {note}");
    }
    if let Some(path) = &config.json {
        let mut config_json = config_json(&config);
        config_json["failures"] = serde_json::json!(failures);
        config_json["notes"] = serde_json::json!(notes);
        let written = serde_json::to_string_pretty(&figures.json(config_json))
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(path, t + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("cannot write `{}`: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("figures written to {}", path.display());
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_sides_option_names_the_sides_to_run() {
        let config =
            parse_args(&args(&["--quick", "--sides", "fieldsync,samod"])).expect("valid arguments");
        assert!(config.mode.quick);
        assert_eq!(config.sides, vec![Side::Ours, Side::Samod]);
        assert!(parse_args(&args(&["--sides", "automerge"])).is_err());
    }
}
