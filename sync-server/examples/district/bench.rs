//! What the district benchmarks share besides the seeding: percentiles, the command line,
//! and a fresh PostgreSQL database for a run.

use std::time::Duration;

use super::Fallible;

pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(i)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN)
}

#[derive(Debug, serde::Serialize)]
pub struct Timing {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub loads: usize,
}

pub fn timing(mut times: Vec<Duration>) -> Timing {
    times.sort();
    Timing {
        p50_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
        max_ms: percentile(&times, 1.0),
        loads: times.len(),
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

pub fn number<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Fallible<T> {
    match arg(args, name) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("`{name}` must be a number, not `{text}`").into()),
        None => Ok(default),
    }
}

/// Runs `run` with the URL of a database created for it on `cluster` (a URL naming any
/// database there), and drops that database afterwards, whatever `run` returned.
pub fn with_fresh_database<T>(
    cluster: &str,
    prefix: &str,
    run: impl FnOnce(&str) -> Fallible<T>,
) -> Fallible<T> {
    let name = format!("{prefix}_{:08x}", rand::random::<u32>());
    let mut admin = postgres::Client::connect(cluster, postgres::NoTls)?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let ran = run(&database_url(cluster, &name)?);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    ran
}

/// `cluster`'s URL naming the database `name` instead, its parameters (`?sslmode=...`) kept.
pub fn database_url(cluster: &str, name: &str) -> Fallible<String> {
    let (base, params) = match cluster.split_once('?') {
        Some((base, params)) => (base, format!("?{params}")),
        None => (cluster, String::new()),
    };
    match base.rsplit_once('/') {
        Some((head, _)) => Ok(format!("{head}/{name}{params}")),
        None => Err(format!("`{cluster}` names no database").into()),
    }
}
