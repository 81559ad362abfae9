//! Many phones for the peers, shaped like ours (`fieldsync-load`): 200 phones (`--quick`:
//! 40), each with a scope of 20 stores and 16 shelf displays, each day pushing 8 new visits
//! with their 30-line counts and 8 display checks; day 1 all at once (the burst), day 2
//! arriving at random moments over 60 s (`--quick`: 5 s).
//!
//! The documents come from the bundles of our sync bench: scope documents from
//! `before.bin` (stores, and the displays the week edits), the day's work from `week.bin`
//! (its new visits and counts, imported as new documents, and its display changes applied
//! to the phone's copies of those displays). Several phones may carry the same content in
//! documents of their own: each is a separate document on the server. All the phones run in
//! one process of the peer's (as ours run in the load bench's), each with its own repo,
//! storage and websocket, against the peer's server process behind the fault proxy. A
//! phone leaves (stops its repo) once the server has acknowledged its day.
//!
//! A peer may run fewer phones than ours ([`Launcher::many_phones_cap`]: samod, whose
//! server's work grows with about the fourth power of the phones); ours then run again at
//! that size, and the throughput ratio compares the two at the same size.

use std::path::Path;
use std::time::Duration;

use fieldsync_tests::bundle::{self, Head, Record};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::figures::Figures;
use crate::peer::{Launcher, STEP_TIMEOUT};
use crate::{BoxError, Mode};

const STORES_PER_PHONE: usize = 20;
const DISPLAYS_PER_PHONE: usize = 16;
const VISITS_PER_DAY: usize = 8;

fn size(mode: Mode) -> (usize, u64) {
    if mode.quick {
        (40, 5_000)
    } else {
        (200, 60_000)
    }
}

/// Nearest-rank percentile, as the load bench computes it.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The district the server imports, and the plan of every phone's days.
fn district(
    bundles: &Path,
    phones: usize,
    dir: &Path,
) -> Result<(Vec<usize>, serde_json::Value), BoxError> {
    let before = bundle::read(&bundles.join("before.bin"))?;
    let week = bundle::read(&bundles.join("week.bin"))?;
    let stores: Vec<&Record> = before.iter().filter(|r| r.head.kind == "store").collect();
    // Displays the week edits: (the display before the week, the week's changes to it).
    let displays: Vec<(&Record, usize)> = week
        .iter()
        .enumerate()
        .filter(|(_, r)| r.head.kind == "shelf_display" && !r.head.new)
        .filter_map(|(i, r)| Some((before.iter().find(|b| b.head.id == r.head.id)?, i)))
        .collect();
    let visits: Vec<usize> = (0..week.len())
        .filter(|&i| week[i].head.new && week[i].head.kind == "visit")
        .collect();
    let counts: Vec<usize> = (0..week.len())
        .filter(|&i| week[i].head.new && week[i].head.kind == "inventory_count")
        .collect();
    if stores.is_empty() || displays.is_empty() || visits.is_empty() || counts.is_empty() {
        return Err("the bundles lack stores, edited displays, new visits or new counts".into());
    }
    let mut records = Vec::new();
    let mut plans = Vec::new();
    let mut changes_per_day = vec![0usize; 2];
    for n in 0..phones {
        let mut scope = Vec::new();
        for j in 0..STORES_PER_PHONE {
            let store = stores[(n * STORES_PER_PHONE + j) % stores.len()];
            scope.push(format!("p{n}/s{j}"));
            records.push(renamed(store, &format!("p{n}/s{j}")));
        }
        let mine: Vec<(&Record, usize)> = (0..DISPLAYS_PER_PHONE)
            .map(|j| displays[(n * DISPLAYS_PER_PHONE + j) % displays.len()])
            .collect();
        for (j, (display, _)) in mine.iter().enumerate() {
            scope.push(format!("p{n}/d{j}"));
            records.push(renamed(display, &format!("p{n}/d{j}")));
        }
        let mut days = Vec::new();
        for (day, changes) in changes_per_day.iter_mut().enumerate() {
            let first = n * VISITS_PER_DAY + day * visits.len() / 2;
            let new: Vec<usize> = (0..VISITS_PER_DAY)
                .flat_map(|k| {
                    let i = first + k;
                    [visits[i % visits.len()], counts[i % counts.len()]]
                })
                .collect();
            let edits: Vec<(String, usize)> = (0..VISITS_PER_DAY)
                .map(|k| {
                    let j = day * VISITS_PER_DAY + k;
                    (format!("p{n}/d{j}"), mine[j].1)
                })
                .collect();
            *changes += new.iter().map(|&i| week[i].head.changes).sum::<usize>();
            *changes += edits
                .iter()
                .map(|(_, i)| week[*i].head.changes)
                .sum::<usize>();
            days.push(serde_json::json!({ "new": new, "edits": edits }));
        }
        plans.push(serde_json::json!({ "scope": scope, "days": days }));
    }
    bundle::write(&dir.join("district.bin"), &records)?;
    Ok((changes_per_day, serde_json::json!({ "phones": plans })))
}

fn renamed(record: &Record, id: &str) -> Record {
    Record {
        head: Head {
            id: id.to_owned(),
            ..record.head.clone()
        },
        data: record.data.clone(),
    }
}

/// Replaces our names for the documents with the peer's document ids.
fn with_peer_ids(plan: &mut serde_json::Value, ids: &serde_json::Value) -> Result<(), BoxError> {
    let lookup = |name: &serde_json::Value| -> Result<serde_json::Value, BoxError> {
        let name = name.as_str().ok_or("a name")?;
        Ok(ids
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the server never imported `{name}`"))?)
    };
    for phone in plan["phones"].as_array_mut().into_iter().flatten() {
        for id in phone["scope"].as_array_mut().into_iter().flatten() {
            *id = lookup(id)?;
        }
        for day in phone["days"].as_array_mut().into_iter().flatten() {
            for edit in day["edits"].as_array_mut().into_iter().flatten() {
                edit[0] = lookup(&edit[0])?;
            }
        }
    }
    Ok(())
}

/// Runs the peer's many phones; adds `<peer>_many_phones_*` and `<peer>_server_peak_rss_mb`.
/// Where the peer has a cap below our size ([`Launcher::many_phones_cap`]), it runs that
/// many phones, ours run again at that size (`<peer>_many_phones_fieldsync_*`), and the
/// answer is a note saying so.
pub async fn run(
    peer: &Launcher,
    mode: Mode,
    bundles: &Path,
    figures: &mut Figures,
) -> Result<Option<String>, BoxError> {
    let side = peer.side;
    let (ours, spread_ms) = size(mode);
    let phones = peer.many_phones_cap.map_or(ours, |(cap, _)| cap.min(ours));
    figures.add(&side.name("many_phones_phones"), phones as f64, "phones");
    let scratch = tempfile::Builder::new()
        .prefix(&format!("field-bench-many-{}-", side.label()))
        .tempdir()?;
    let dir = scratch.path();
    println!("\n== {}: many phones ({phones}), setup", side.label());
    let (changes_per_day, mut plan) = district(bundles, phones, dir)?;
    let mut server = peer.server(dir, &dir.join("district.bin")).await?;
    let ids: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&server.ids)?)?;
    with_peer_ids(&mut plan, &ids)?;
    let plan_file = dir.join("plan.json");
    std::fs::write(&plan_file, plan.to_string())?;
    // The phones' storage in memory when it can be (their disk writes are not measured).
    let shm = Path::new("/dev/shm");
    let phones_dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("field-bench-phones-")
            .tempdir_in(shm)?
    } else {
        tempfile::Builder::new()
            .prefix("field-bench-phones-")
            .tempdir()?
    };
    let url = crate::peer::ws_url(&server.proxy);
    let week = bundles.join("week.bin");
    let mut many = peer.phone("many", &url, phones_dir.path(), &[&plan_file, &week])?;
    many.send(r#"{"cmd":"prepare"}"#).await?;
    many.expect("prepared", STEP_TIMEOUT).await?;

    // Ours take seconds (a minute with the full run's 60 s spread); a peer that takes a
    // minute (quick) or ten (full) is reported as not done in time, and so is one whose
    // phones have not got their day ready offline (setup) in that time: in a full run,
    // automerge-repo's 200 phones, all in one Node process, had not after 9.5 min.
    let day_timeout = if mode.quick {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(600)
    };
    let mut rng = StdRng::seed_from_u64(7);
    let spread: Vec<u64> = (0..phones)
        .map(|_| rng.random_range(0..spread_ms))
        .collect();
    for (day, name, delays) in [(0, "burst", vec![0u64; phones]), (1, "spread", spread)] {
        println!("== {}: many phones, {name}", side.label());
        let command = serde_json::json!({ "cmd": "day", "day": day, "delays_ms": delays });
        many.send(&command.to_string()).await?;
        many.expect("ready", day_timeout.max(Duration::from_secs(300)))
            .await?;
        many.send("go").await?;
        let done = many.expect("day", day_timeout).await?;
        let mut took: Vec<f64> = serde_json::from_value(done["took_ms"].clone())?;
        took.sort_by(f64::total_cmp);
        let wall_ms = done["wall_ms"].as_f64().ok_or("no wall time")?;
        let (p50, p99) = (percentile(&took, 0.5), percentile(&took, 0.99));
        if day == 0 {
            figures.add(
                &side.name("many_phones_changes_per_s"),
                changes_per_day[day] as f64 / (wall_ms / 1000.0),
                "changes/s",
            );
            figures.add(&side.name("many_phones_burst_p99_ms"), p99, "ms");
        } else {
            figures.add(&side.name("many_phones_p99_ms"), p99, "ms");
            figures.add(&side.name("many_phones_p50_ms"), p50, "ms");
        }
    }
    many.send(r#"{"cmd":"stop"}"#).await?;
    many.expect("stopped", Duration::from_secs(120)).await?;
    many.finish().await?;
    server.proc.send(r#"{"cmd":"stop"}"#).await?;
    let stopped = server
        .proc
        .expect("stopped", Duration::from_secs(300))
        .await?;
    figures.add(
        &side.name("server_peak_rss_mb"),
        stopped["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        "MiB",
    );
    server.proc.finish().await?;
    if phones == ours {
        return Ok(None);
    }
    crate::ours::load_at(mode, dir, phones, side, figures).await?;
    let why = peer.many_phones_cap.map_or("", |(_, why)| why);
    Ok(Some(format!(
        "{} many phones ran {phones} phones, not {ours}: {why}; ours ran again with {phones} \
         for the throughput ratio (`{}many_phones_fieldsync_*`)",
        side.label(),
        side.prefix()
    )))
}
