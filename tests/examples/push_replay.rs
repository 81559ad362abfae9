//! Replays the sync benchmark's week offline against a server's storage alone, to measure
//! what one push costs the server without the phone, HTTP or other processes in the way.
//!
//! ```text
//! cargo run --release -p fieldsync-tests --bin fieldsync-sync-bench -- --quick --export DIR
//! cargo run --release -p fieldsync-tests --example push_replay -- DIR [--cold] [--wait]
//! valgrind --tool=callgrind --toggle-collect='*measured_push*' \
//!     target/release/examples/push_replay DIR
//! ```
//!
//! It imports `DIR/before.bin` into a new SQLite storage (stores as an admin, the rest as
//! the account manager's device, the documents the week touches last so that their
//! replicas are in the storage's cache, as on a server in use; `--cold`: the storage is
//! opened again, with an empty cache), then pushes `DIR/week.bin` as one push from the
//! account manager's device inside `measured_push`, and prints its wall and CPU time.
//! `--wait`: before the push, print the process id and wait for a line on standard input,
//! so that a profiler can attach to the push alone (`perf record -p PID`).

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use fieldsync_core::{DocId, IncomingChange, Role};
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceInfo, PushResult, SyncStorage, User};
use fieldsync_tests::bundle::{self, Record};
use fieldsync_tests::sync_cost::cpu_ms;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Documents per import push.
const BATCH: usize = 200;
const MANAGER: &str = "am-li";

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .ok_or("usage: push_replay DIR [--cold] [--wait]")?;
    let cold = args.iter().any(|a| a == "--cold");
    let wait = args.iter().any(|a| a == "--wait");
    let dir = Path::new(dir);
    let before = bundle::read(&dir.join("before.bin"))?;
    let week = bundle::read(&dir.join("week.bin"))?;

    let data = tempfile::tempdir()?;
    let path = data.path().join("server.db");
    let mut storage = SqliteStorage::open(&path)?;
    let admin = device(&storage, "admin", Role::Admin)?;
    let manager = device(&storage, MANAGER, Role::AccountManager)?;
    let touched: HashSet<&str> = week.iter().map(|r| r.head.id.as_str()).collect();
    let (stores, rest): (Vec<&Record>, Vec<&Record>) =
        before.iter().partition(|r| r.head.kind == "store");
    let (hot, others): (Vec<&Record>, Vec<&Record>) = rest
        .into_iter()
        .partition(|r| touched.contains(r.head.id.as_str()));
    let began = Instant::now();
    import(&storage, &admin, &stores)?;
    import(&storage, &manager, &others)?;
    import(&storage, &manager, &hot)?;
    println!(
        "imported {} documents in {:.1} s",
        before.len(),
        began.elapsed().as_secs_f64()
    );
    if cold {
        drop(storage);
        storage = SqliteStorage::open(&path)?;
    }

    let push = docs(&week.iter().collect::<Vec<_>>())?;
    if wait {
        println!("pid {}: press enter to push", std::process::id());
        std::io::stdin().read_line(&mut String::new())?;
    }
    let changes: usize = push.iter().map(|(_, c)| c.len()).sum();
    let cpu_before = cpu_ms();
    let began = Instant::now();
    let result = measured_push(&storage, &manager, push)?;
    let wall = began.elapsed().as_secs_f64() * 1000.0;
    let cpu = cpu_ms().zip(cpu_before).map(|(a, b)| a - b);
    match result {
        Ok(pushed) => println!(
            "week push ({}): {} documents, {changes} changes, {} applied: {wall:.1} ms wall, {} ms CPU",
            if cold { "cold cache" } else { "warm cache" },
            pushed.accepted.len(),
            pushed.applied,
            cpu.map_or("?".into(), |c| format!("{c:.0}")),
        ),
        Err(rejected) => return Err(format!("the week was rejected: {rejected:?}").into()),
    }
    Ok(())
}

/// The push that is measured (callgrind: `--toggle-collect='*measured_push*'`).
#[inline(never)]
fn measured_push(
    storage: &SqliteStorage,
    device: &DeviceInfo,
    docs: Vec<(DocId, Vec<IncomingChange>)>,
) -> Result<PushResult, BoxError> {
    Ok(storage.push(device, docs, now())?)
}

fn import(
    storage: &SqliteStorage,
    device: &DeviceInfo,
    records: &[&Record],
) -> Result<(), BoxError> {
    for batch in records.chunks(BATCH) {
        if let Err(rejected) = storage.push(device, docs(batch)?, now())? {
            return Err(format!("import rejected: {rejected:?}").into());
        }
    }
    Ok(())
}

fn device(storage: &SqliteStorage, user: &str, role: Role) -> Result<DeviceInfo, BoxError> {
    storage.add_user(
        &User {
            id: user.into(),
            role,
            name: user.into(),
        },
        now(),
    )?;
    let device = DeviceInfo {
        device_id: format!("{user}-device"),
        user_id: user.into(),
        role,
    };
    storage.add_device(&device, "replay", user.as_bytes(), now())?;
    Ok(device)
}

fn docs(records: &[&Record]) -> Result<Vec<(DocId, Vec<IncomingChange>)>, BoxError> {
    records
        .iter()
        .map(|r| {
            let changes = split(&r.data)?
                .into_iter()
                .map(IncomingChange::parse)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((DocId::parse("doc", &r.head.id)?, changes))
        })
        .collect()
}

/// The encoded changes of a bundle record, back to back: each chunk is a 4-byte magic
/// number, a 4-byte checksum, a type byte, its length (LEB128) and that many bytes.
fn split(mut data: &[u8]) -> Result<Vec<&[u8]>, BoxError> {
    let mut chunks = Vec::new();
    while !data.is_empty() {
        let mut at = 9;
        let mut len: usize = 0;
        let mut shift = 0;
        loop {
            let byte = *data.get(at).ok_or("a truncated change")?;
            len |= usize::from(byte & 0x7f) << shift;
            at += 1;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let end = at + len;
        chunks.push(data.get(..end).ok_or("a truncated change")?);
        data = &data[end..];
    }
    Ok(chunks)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
