//! The samod side: samod 0.16's server and phones, run as child processes of this binary
//! (`fieldsync-field-bench samod-server DIR`, `fieldsync-field-bench samod-phone JOB ...`)
//! and speaking the line protocol of [`crate::peer`], as the automerge-repo scripts do.
//!
//! Set up as samod's documentation shows: a `Repo` on tokio with `TokioFilesystemStorage`
//! (the file layout of automerge-repo's nodefs storage); the server accepts websockets with
//! samod's axum integration on 127.0.0.1 and does not announce documents to clients (a sync
//! server answers what it is asked); a phone dials with a small tokio-tungstenite dialer
//! (samod's own `tungstenite` feature would pull in OpenSSL through native-tls).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::{Automerge, ReadDoc, ScalarValue, Value, transaction::Transactable};
use axum::extract::ws::WebSocketUpgrade;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use samod::storage::TokioFilesystemStorage;
use samod::{BackoffConfig, DialError, Dialer, DocumentId, Repo, ShareConfig, Transport};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite;

use crate::BoxError;
use fieldsync_tests::bundle;

/// Most phones samod's many phones run (`--quick`: 10, full: 20, where ours run 40 and
/// 200), and why; ours then also run at that size for the throughput ratio.
///
/// samod 0.16's hub, after every event it handles (each sync message in or out, each
/// answer of the share policy), walks every connection × every document it has loaded
/// (`samod_core::actors::hub::state::State::ensure_connections`), and it joins every
/// loaded document to every connection; a server never unloads a document. Each phone
/// brings documents of its own (its scope and its day, 52), so both the events and the
/// cost of each grow with the phones: a burst's work grows with about their fourth power.
/// Measured here (quick data, release, 2 cores): the burst took 0.3 s with 5 phones, 1.8 s
/// with 10, 23 s with 20; with 40 no document was acknowledged in the first 50 s and the
/// burst had not ended after 180 s, the server's CPU 84% in `ensure_connections`.
pub fn many_phones_cap(mode: crate::Mode) -> (usize, &'static str) {
    let cap = if mode.quick { 10 } else { 20 };
    (
        cap,
        "samod 0.16's server rescans every connection x every loaded document after each \
         event (samod-core `State::ensure_connections`), so its work grows with about the \
         fourth power of the phones (burst here: 5 phones 0.3 s, 10 1.8 s, 20 23 s, 40 not \
         done after 180 s)",
    )
}

/// Longest any one wait of a job.
const TIMEOUT: Duration = Duration::from_secs(3600);

fn say(event: serde_json::Value) {
    println!("{event}");
}

/// Peak resident memory of this process (`VmHWM`, Linux), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn repo(dir: &Path, announce: bool) -> Repo {
    Repo::build_tokio()
        .with_storage(TokioFilesystemStorage::new(dir))
        .with_share_policy(ShareConfig::read_write().with_announce(announce))
        .load()
        .await
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> Result<T, BoxError> {
    tokio::time::timeout(TIMEOUT, f).await.map_err(|_| {
        format!(
            "samod: {what} did not finish within {} s",
            TIMEOUT.as_secs()
        )
        .into()
    })
}

/// Lines of stdin, for commands.
type Commands = tokio::io::Lines<tokio::io::BufReader<tokio::io::Stdin>>;

async fn next_command(lines: &mut Commands) -> Result<String, BoxError> {
    let line = lines
        .next_line()
        .await?
        .ok_or("stdin closed: the bench went away")?;
    Ok(line.trim().to_owned())
}

/// `samod-server DIR`.
pub async fn server(args: &[String]) -> Result<(), BoxError> {
    let [dir] = args else {
        return Err("usage: samod-server DATA_DIR".into());
    };
    let repo = repo(Path::new(dir), false).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = repo.make_acceptor(format!("ws://127.0.0.1:{port}/").parse()?)?;
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move |upgrade: WebSocketUpgrade| {
            let acceptor = acceptor.clone();
            async move {
                upgrade.on_upgrade(move |socket| async move {
                    // Fails only once the repo has stopped, when nothing is served anyway.
                    let _ = acceptor.accept_axum(socket, None);
                })
            }
        }),
    );
    let http = tokio::spawn(async move { axum::serve(listener, app).await });
    say(serde_json::json!({ "event": "ready", "port": port }));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    // Bounded by the commands the bench sends; `stop` ends it.
    loop {
        let command: serde_json::Value = serde_json::from_str(&next_command(&mut lines).await?)?;
        match command["cmd"].as_str() {
            Some("import") => {
                let bundle_path = PathBuf::from(command["bundle"].as_str().ok_or("no bundle")?);
                let ids_path = PathBuf::from(command["ids"].as_str().ok_or("no ids")?);
                let mut ids = BTreeMap::new();
                for record in bundle::read(&bundle_path)? {
                    let mut doc = Automerge::new();
                    doc.load_incremental(&record.data)?;
                    let handle = bounded("create", repo.create(doc)).await??;
                    ids.insert(record.head.id, handle.document_id().to_string());
                }
                let mut index = automerge::AutoCommit::new();
                let list = index.put_object(automerge::ROOT, "docs", automerge::ObjType::List)?;
                // The index lists what our new phone downloads (`index_of`), or everything.
                let listed: Vec<&String> = match command["index_of"].as_str() {
                    Some(path) => {
                        let ours: Vec<String> =
                            serde_json::from_str(&std::fs::read_to_string(path)?)?;
                        ours.iter().filter_map(|id| ids.get(id)).collect()
                    }
                    None => ids.values().collect(),
                };
                for (i, id) in listed.into_iter().enumerate() {
                    index.insert(&list, i, id.as_str())?;
                }
                let index = bounded("create", repo.create(index.document().clone())).await??;
                std::fs::write(&ids_path, serde_json::to_string(&ids)?)?;
                say(serde_json::json!({
                    "event": "imported",
                    "docs": ids.len(),
                    "index": index.document_id().to_string(),
                }));
            }
            Some("stop") => {
                bounded("stop", repo.stop()).await?;
                say(serde_json::json!({ "event": "stopped", "peak_rss_kb": peak_rss_kb() }));
                http.abort();
                return Ok(());
            }
            _ => return Err(format!("unknown command {command}").into()),
        }
    }
}

/// Dials the server with tokio-tungstenite, without TLS.
struct WsDialer {
    url: url::Url,
}

impl Dialer for WsDialer {
    type Error = std::convert::Infallible;

    fn url(&self) -> url::Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let url = self.url.clone();
        Box::pin(async move {
            let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(DialError::transient)?;
            let (sink, stream) = socket.split();
            let stream = stream.filter_map(|message| async move {
                match message {
                    Ok(tungstenite::Message::Binary(bytes)) => Some(Ok(bytes.to_vec())),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                }
            });
            let sink = sink.with(|bytes: Vec<u8>| async move {
                Ok::<_, tungstenite::Error>(tungstenite::Message::Binary(bytes.into()))
            });
            Ok(Transport::new(Box::pin(stream), Box::pin(sink)))
        })
    }
}

async fn dial(repo: &Repo, url: &str) -> Result<samod::ConnectionId, BoxError> {
    let dialer = Arc::new(WsDialer { url: url.parse()? });
    let handle = repo.dial(BackoffConfig::default(), dialer)?;
    bounded("connect", handle.established())
        .await?
        .map_err(|e| format!("samod: cannot connect to `{url}`: {e:?}"))?;
    Ok(handle
        .connection_id()
        .ok_or("samod: connected without a connection")?)
}

async fn find(repo: &Repo, id: &str) -> Result<samod::DocHandle, BoxError> {
    let doc: DocumentId = id
        .parse()
        .map_err(|e| format!("bad document id `{id}`: {e:?}"))?;
    bounded("find", repo.find(doc))
        .await??
        .ok_or_else(|| format!("samod: document `{id}` is unavailable").into())
}

/// `samod-phone JOB URL DIR ...`.
pub async fn phone(args: &[String]) -> Result<(), BoxError> {
    let [job, url, dir, rest @ ..] = args else {
        return Err("usage: samod-phone JOB URL DATA_DIR ...".into());
    };
    match (job.as_str(), rest) {
        ("prepare", [ids]) => {
            let ids: Vec<String> = serde_json::from_str(&std::fs::read_to_string(ids)?)?;
            let repo = repo(Path::new(dir), true).await;
            dial(&repo, url).await?;
            let finds = ids.iter().map(|id| find(&repo, id));
            for found in futures_util::future::join_all(finds).await {
                found?;
            }
            bounded("stop", repo.stop()).await?;
            say(serde_json::json!({ "event": "prepared", "docs": ids.len() }));
            Ok(())
        }
        ("week", [week, ids]) => {
            phone_week(url, Path::new(dir), Path::new(week), Path::new(ids)).await
        }
        ("new-phone", [index]) => {
            let began = Instant::now();
            let repo = repo(Path::new(dir), true).await;
            dial(&repo, url).await?;
            let index = find(&repo, index).await?;
            let ids = index.with_document(|d| listed(d))?;
            let finds = ids.iter().map(|id| find(&repo, id));
            for found in futures_util::future::join_all(finds).await {
                found?;
            }
            let ms = began.elapsed().as_secs_f64() * 1000.0;
            say(serde_json::json!({
                "event": "done", "ms": ms, "docs": ids.len() + 1, "peak_rss_kb": peak_rss_kb(),
            }));
            bounded("stop", repo.stop()).await?;
            Ok(())
        }
        ("many", [plan, week]) => many(url, Path::new(dir), Path::new(plan), Path::new(week)).await,
        _ => Err(format!("samod-phone: unknown job `{job}` or wrong arguments").into()),
    }
}

/// The document ids an index document lists.
fn listed(doc: &Automerge) -> Result<Vec<String>, BoxError> {
    let Some((Value::Object(_), list)) = doc.get(automerge::ROOT, "docs")? else {
        return Err("the index has no `docs` list".into());
    };
    let mut ids = Vec::new();
    for i in 0..doc.length(&list) {
        match doc.get(&list, i)? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(id) => ids.push(id.to_string()),
                other => return Err(format!("the index lists `{other}`").into()),
            },
            Some((Value::Object(_), text)) => ids.push(doc.text(&text)?),
            None => {}
        }
    }
    Ok(ids)
}

async fn phone_week(url: &str, dir: &Path, week: &Path, ids: &Path) -> Result<(), BoxError> {
    let ids: BTreeMap<String, String> = serde_json::from_str(&std::fs::read_to_string(ids)?)?;
    let repo = repo(dir, true).await;
    let mut handles = Vec::new();
    for record in bundle::read(week)? {
        if record.head.new {
            let mut doc = Automerge::new();
            doc.load_incremental(&record.data)?;
            handles.push(bounded("create", repo.create(doc)).await??);
        } else {
            let id = ids.get(&record.head.id).ok_or_else(|| {
                format!(
                    "the week edits `{}`, which the server never imported",
                    record.head.id
                )
            })?;
            let handle = find(&repo, id).await?;
            handle.with_document(|d| d.load_incremental(&record.data))?;
            handles.push(handle);
        }
    }
    say(serde_json::json!({ "event": "ready", "docs": handles.len() }));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    if next_command(&mut lines).await? != "go" {
        return Err("expected `go`".into());
    }
    let began = Instant::now();
    let connection = dial(&repo, url).await?;
    let acknowledged = handles.iter().map(|h| h.they_have_our_changes(connection));
    bounded(
        "the server's acknowledgement",
        futures_util::future::join_all(acknowledged),
    )
    .await?;
    let ms = began.elapsed().as_secs_f64() * 1000.0;
    say(serde_json::json!({ "event": "synced", "ms": ms }));
    if next_command(&mut lines).await? != "stop" {
        return Err("expected `stop`".into());
    }
    bounded("stop", repo.stop()).await?;
    say(serde_json::json!({ "event": "stopped", "peak_rss_kb": peak_rss_kb() }));
    Ok(())
}

/// What the bench plans for each of many phones (see `crate::many`).
#[derive(serde::Deserialize)]
struct Plan {
    phones: Vec<PhonePlan>,
}

#[derive(serde::Deserialize)]
struct PhonePlan {
    scope: Vec<String>,
    days: Vec<DayPlan>,
}

#[derive(serde::Deserialize)]
struct DayPlan {
    new: Vec<usize>,
    edits: Vec<(String, usize)>,
}

/// One phone's day: its repo, offline, with the day applied.
async fn offline_day(
    dir: &Path,
    phone: &PhonePlan,
    day: usize,
    week: &[bundle::Record],
) -> Result<(Repo, Vec<samod::DocHandle>), BoxError> {
    let repo = repo(dir, true).await;
    let mut handles = Vec::new();
    for id in &phone.scope {
        handles.push(find(&repo, id).await?);
    }
    let plan = phone.days.get(day).ok_or("no such day")?;
    for (id, record) in &plan.edits {
        let at = phone
            .scope
            .iter()
            .position(|s| s == id)
            .ok_or("edit out of scope")?;
        let data = &week.get(*record).ok_or("no such record")?.data;
        handles[at].with_document(|d| d.load_incremental(data))?;
    }
    for record in &plan.new {
        let mut doc = Automerge::new();
        doc.load_incremental(&week.get(*record).ok_or("no such record")?.data)?;
        handles.push(bounded("create", repo.create(doc)).await??);
    }
    Ok((repo, handles))
}

/// Many phones in this process, each with its own repo, storage and websocket.
async fn many(url: &str, dir: &Path, plan: &Path, week: &Path) -> Result<(), BoxError> {
    let plan: Plan = serde_json::from_str(&std::fs::read_to_string(plan)?)?;
    let week = bundle::read(week)?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    // Bounded by the commands the bench sends; `stop` ends it.
    loop {
        let command: serde_json::Value = serde_json::from_str(&next_command(&mut lines).await?)?;
        match command["cmd"].as_str() {
            Some("prepare") => {
                // Setup, one phone at a time: many at once make the server answer
                // "unavailable".
                for (n, phone) in plan.phones.iter().enumerate() {
                    let repo = repo(&dir.join(n.to_string()), true).await;
                    dial(&repo, url).await?;
                    let finds = phone.scope.iter().map(|id| find(&repo, id));
                    for found in futures_util::future::join_all(finds).await {
                        found?;
                    }
                    bounded("stop", repo.stop()).await?;
                }
                say(serde_json::json!({ "event": "prepared", "phones": plan.phones.len() }));
            }
            Some("day") => {
                let day = command["day"].as_u64().ok_or("no day")? as usize;
                let delays: Vec<u64> = serde_json::from_value(command["delays_ms"].clone())?;
                let mut phones = Vec::new();
                for (n, phone) in plan.phones.iter().enumerate() {
                    phones.push(offline_day(&dir.join(n.to_string()), phone, day, &week).await?);
                }
                say(serde_json::json!({ "event": "ready" }));
                if next_command(&mut lines).await? != "go" {
                    return Err("expected `go`".into());
                }
                let start = tokio::time::Instant::now();
                let runs = phones
                    .iter()
                    .zip(&delays)
                    .map(|((repo, handles), delay)| async move {
                        tokio::time::sleep_until(start + Duration::from_millis(*delay)).await;
                        let began = Instant::now();
                        let connection = dial(repo, url).await?;
                        let acknowledged =
                            handles.iter().map(|h| h.they_have_our_changes(connection));
                        bounded(
                            "acknowledgement",
                            futures_util::future::join_all(acknowledged),
                        )
                        .await?;
                        let acknowledged_at = Instant::now();
                        let took = (acknowledged_at - began).as_secs_f64() * 1000.0;
                        // Done: the phone leaves, as ours do once their sync returns, rather
                        // than holding its connection open while the others sync.
                        bounded("stop", repo.stop()).await?;
                        Ok::<(f64, Instant), BoxError>((took, acknowledged_at))
                    });
                let mut took = Vec::new();
                // The day's wall time ends at the last acknowledgement, not the last stop.
                let mut wall = 0.0f64;
                for run in futures_util::future::join_all(runs).await {
                    let (ms, acknowledged_at) = run?;
                    took.push(ms);
                    let since_start = acknowledged_at.saturating_duration_since(start.into_std());
                    wall = wall.max(since_start.as_secs_f64() * 1000.0);
                }
                say(serde_json::json!({ "event": "day", "took_ms": took, "wall_ms": wall }));
            }
            Some("stop") => {
                say(serde_json::json!({ "event": "stopped", "peak_rss_kb": peak_rss_kb() }));
                return Ok(());
            }
            _ => return Err(format!("unknown command {command}").into()),
        }
    }
}
