//! The peers' workloads, the same for automerge-repo, samod and PouchDB: each peer is a
//! server program and a phone program speaking the line protocol below, and this module
//! runs them, with the tests crate's fault proxy between phone and server counting the
//! bytes (and shaping the link for the bad-link runs). A phone is given the proxy as
//! `ws://HOST:PORT`; PouchDB's speaks HTTP to the same address.
//!
//! Server (`SERVER DATA_DIR`): prints `{"event":"ready","port":N}` (bound to 127.0.0.1),
//! then takes commands on stdin, one JSON object a line:
//! - `{"cmd":"import","bundle":PATH,"ids":PATH,"index_of":PATH}`: makes a document of every
//!   record of the bundle (setup), writes `{our id: its document id}` to `ids`, makes an
//!   index document listing those `index_of` names (what our new phone downloads; all when
//!   absent); answers `{"event":"imported","docs":n,"index":ID}`; the bench then
//!   stops the server and starts it again on the same storage before it measures;
//! - `{"cmd":"stop"}`: answers `{"event":"stopped","peak_rss_kb":n}` and exits.
//!
//! Phone (`PHONE JOB URL DATA_DIR ...`), one job a run:
//! - `prepare IDS`: fetches the documents listed (a JSON array), keeps them, exits after
//!   `{"event":"prepared"}`: a phone in use, which synced them before;
//! - `week WEEK_BUNDLE IDS_MAP`: with no network, applies the week to its stored documents
//!   (and makes the new ones), says `{"event":"ready"}`, waits for `go` on stdin, then
//!   connects and says `{"event":"synced","ms":t}` once the server has acknowledged every
//!   change of the week (the server's heads, as its sync messages report them, equal the
//!   phone's for every document); waits for `stop`;
//! - `new-phone INDEX_ID`: from nothing, fetches the index and every document it lists;
//!   says `{"event":"done","ms":t,"docs":n,"peak_rss_kb":n}`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fieldsync_tests::bundle;
use fieldsync_tests::fault_proxy::{EmulatedLink, FaultProxy, ProxyStats};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::BoxError;
use crate::figures::{Figures, Side};

/// Longest a setup step (an import, a prepare) or a measured sync may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(3600);
/// Times each side syncs the week offline; `week_offline_ms` is the median.
const WEEKS: usize = 3;
/// Bytes still moving after the phone said it was done are counted until the link has been
/// quiet this long.
const QUIET: Duration = Duration::from_millis(500);

/// How to start a peer's server and phones.
#[derive(Clone, Debug)]
pub struct Launcher {
    pub side: Side,
    pub program: PathBuf,
    pub server: Vec<OsString>,
    pub phone: Vec<OsString>,
    /// At most this many phones in many phones, and why (a peer that cannot do ours in
    /// reasonable time); `None`: as many as ours.
    pub many_phones_cap: Option<(usize, &'static str)>,
}

/// A child speaking JSON lines.
pub struct Proc {
    what: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Proc {
    fn spawn(what: String, program: &Path, args: &[OsString]) -> Result<Proc, BoxError> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {what} (`{}`): {e}", program.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        Ok(Proc {
            what,
            child,
            stdin,
            stdout,
        })
    }

    /// The next line whose `event` is `event`; other JSON events are errors, other text is
    /// passed through.
    pub async fn expect(
        &mut self,
        event: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, BoxError> {
        let what = self.what.clone();
        let wait = async {
            // Bounded by the timeout around it and by the child's output ending.
            while let Some(line) = self.stdout.next_line().await? {
                let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
                    println!("  [{what}] {line}");
                    continue;
                };
                if json["event"] == event {
                    return Ok(json);
                }
                return Err(format!("{what} said {line} while `{event}` was awaited").into());
            }
            let status = self.child.wait().await?;
            Err::<serde_json::Value, BoxError>(
                format!("{what} ended ({status}) before saying `{event}`").into(),
            )
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            format!(
                "{what} did not say `{event}` within {} s",
                timeout.as_secs()
            )
        })?
    }

    pub async fn send(&mut self, line: &str) -> Result<(), BoxError> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| format!("cannot write to {}: {e}", self.what))?;
        Ok(self.stdin.flush().await?)
    }

    pub async fn finish(mut self) -> Result<(), BoxError> {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .map_err(|_| format!("{} did not exit", self.what))??;
        if !status.success() {
            return Err(format!("{} failed ({status})", self.what).into());
        }
        Ok(())
    }
}

/// A peer's server with the year imported, behind a fault proxy.
pub struct Server {
    pub proc: Proc,
    pub proxy: FaultProxy,
    /// `{our id: the peer's document id}` of everything imported.
    pub ids: PathBuf,
    pub index: String,
}

impl Launcher {
    fn os(items: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
        items.iter().map(|i| i.as_ref().to_os_string()).collect()
    }

    fn spawn_server(&self, dir: &Path) -> Result<Proc, BoxError> {
        let mut args = self.server.clone();
        args.push(dir.join("server").into_os_string());
        let what = format!("the {} server", self.side.label());
        Proc::spawn(what, &self.program, &args)
    }

    /// Imports `before` into a server (setup), stops it and starts it again on the same
    /// storage, so that the measured server loads documents from its storage as a server
    /// running for months would, rather than holding all of them from the import.
    pub async fn server(&self, dir: &Path, before: &Path) -> Result<Server, BoxError> {
        let mut proc = self.spawn_server(dir)?;
        proc.expect("ready", Duration::from_secs(60)).await?;
        let ids = dir.join("ids.json");
        let mut import = serde_json::json!({ "cmd": "import", "bundle": before, "ids": ids });
        let listed = before.with_file_name("new-phone.json");
        if listed.is_file() && before.file_name() == Some(std::ffi::OsStr::new("before.bin")) {
            import["index_of"] = serde_json::json!(listed);
        }
        proc.send(&import.to_string()).await?;
        let imported = proc.expect("imported", STEP_TIMEOUT).await?;
        let index = imported["index"].as_str().ok_or("no index")?.to_owned();
        proc.send(r#"{"cmd":"stop"}"#).await?;
        proc.expect("stopped", STEP_TIMEOUT).await?;
        proc.finish().await?;
        self.start(dir, ids, index).await
    }

    /// Starts the server on the storage an import left, behind a new proxy.
    async fn start(&self, dir: &Path, ids: PathBuf, index: String) -> Result<Server, BoxError> {
        let mut proc = self.spawn_server(dir)?;
        let ready = proc.expect("ready", Duration::from_secs(60)).await?;
        let port = ready["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("the server named no port")?;
        let proxy = FaultProxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await?;
        Ok(Server {
            proc,
            proxy,
            ids,
            index,
        })
    }

    /// Stops the server and starts it again on its storage, so that the next step meets a
    /// server holding nothing in memory (nor still busy with a failed step); answers the
    /// stopped server's peak memory in KiB, when it said.
    async fn restart(&self, dir: &Path, server: Server) -> Result<(Server, Option<f64>), BoxError> {
        let Server {
            mut proc,
            ids,
            index,
            ..
        } = server;
        let mut peak_rss_kb = None;
        // A server that cannot stop cleanly is killed when `proc` drops.
        if proc.send(r#"{"cmd":"stop"}"#).await.is_ok()
            && let Ok(stopped) = proc.expect("stopped", Duration::from_secs(120)).await
        {
            peak_rss_kb = stopped["peak_rss_kb"].as_f64();
        }
        drop(proc);
        Ok((self.start(dir, ids, index).await?, peak_rss_kb))
    }

    pub fn phone(
        &self,
        job: &str,
        url: &str,
        dir: &Path,
        rest: &[&dyn AsRef<std::ffi::OsStr>],
    ) -> Result<Proc, BoxError> {
        let mut args = self.phone.clone();
        args.extend(Launcher::os(&[&job, &url, &dir]));
        args.extend(Launcher::os(rest));
        let what = format!("the {} phone ({job})", self.side.label());
        Proc::spawn(what, &self.program, &args)
    }
}

pub fn ws_url(proxy: &FaultProxy) -> String {
    format!("ws://{}", proxy.addr())
}

/// Waits for the link to fall quiet, then returns its counters.
async fn settled(proxy: &FaultProxy) -> ProxyStats {
    let mut last = proxy.stats();
    // Bounded: at most a minute of traffic after the measured end.
    for _ in 0..120 {
        tokio::time::sleep(QUIET).await;
        let now = proxy.stats();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// What one peer's week offline measured.
struct Week {
    ms: f64,
    bytes: u64,
    turns: u64,
}

/// The week offline: `prepare` the documents it touches, then the week, through the
/// proxy with `link` (or a plain one).
async fn week(
    peer: &Launcher,
    server: &Server,
    dir: &Path,
    bundles: &Path,
    link: Option<EmulatedLink>,
) -> Result<Week, BoxError> {
    let week_bundle = bundles.join("week.bin");
    let ids: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&server.ids)?)?;
    let touched: Vec<&serde_json::Value> = bundle::read(&week_bundle)?
        .iter()
        .filter(|r| !r.head.new)
        .filter_map(|r| ids.get(&r.head.id))
        .collect();
    let touched_file = dir.join("touched.json");
    std::fs::write(&touched_file, serde_json::to_string(&touched)?)?;
    let phone_dir = dir.join("phone");
    server.proxy.set_emulated_link(None);
    let url = ws_url(&server.proxy);
    let mut prepare = peer.phone("prepare", &url, &phone_dir, &[&touched_file])?;
    prepare.expect("prepared", STEP_TIMEOUT).await?;
    prepare.finish().await?;

    let mut phone = peer.phone("week", &url, &phone_dir, &[&week_bundle, &server.ids])?;
    phone.expect("ready", STEP_TIMEOUT).await?;
    server.proxy.set_emulated_link(link);
    let before = settled(&server.proxy).await;
    phone.send("go").await?;
    let synced = phone.expect("synced", STEP_TIMEOUT).await?;
    let after = settled(&server.proxy).await;
    phone.send("stop").await?;
    phone.expect("stopped", Duration::from_secs(120)).await?;
    phone.finish().await?;
    server.proxy.set_emulated_link(None);
    Ok(Week {
        ms: synced["ms"].as_f64().ok_or("no `ms`")?,
        bytes: (after.bytes_up + after.bytes_down) - (before.bytes_up + before.bytes_down),
        turns: after.requests - before.requests,
    })
}

/// Longest a peer's new phone may take: in a full run automerge-repo's had not finished
/// after ten minutes (its server answered "unavailable"), and it would hold up the rest.
fn new_phone_timeout(quick: bool) -> Duration {
    if quick {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(900)
    }
}

/// The new phone on `server`: adds `<peer>_new_phone_*`.
async fn new_phone(
    peer: &Launcher,
    server: &Server,
    dir: &Path,
    quick: bool,
    figures: &mut Figures,
) -> Result<(), BoxError> {
    let side = peer.side;
    let stats = server.proxy.stats();
    let new_dir = dir.join("new-phone");
    let mut phone = peer.phone(
        "new-phone",
        &ws_url(&server.proxy),
        &new_dir,
        &[&server.index],
    )?;
    let done = phone.expect("done", new_phone_timeout(quick)).await?;
    phone.finish().await?;
    let after = settled(&server.proxy).await;
    figures.add(
        &side.name("new_phone_ms"),
        done["ms"].as_f64().unwrap_or(f64::NAN),
        "ms",
    );
    figures.add(
        &side.name("new_phone_bytes"),
        ((after.bytes_up + after.bytes_down) - (stats.bytes_up + stats.bytes_down)) as f64,
        "bytes",
    );
    figures.add(
        &side.name("new_phone_docs"),
        done["docs"].as_f64().unwrap_or(f64::NAN),
        "documents",
    );
    figures.add(
        &side.name("new_phone_peak_rss_mb"),
        done["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        "MiB",
    );
    Ok(())
}

/// The documents of `before` that the week edits: all a bad-link server needs (a week's
/// sync loads nothing else), imported in seconds rather than minutes at full size.
fn touched_bundle(bundles: &Path, dir: &Path) -> Result<PathBuf, BoxError> {
    let edited: std::collections::BTreeSet<String> = bundle::read(&bundles.join("week.bin"))?
        .into_iter()
        .filter(|r| !r.head.new)
        .map(|r| r.head.id)
        .collect();
    let records: Vec<bundle::Record> = bundle::read(&bundles.join("before.bin"))?
        .into_iter()
        .filter(|r| edited.contains(&r.head.id))
        .collect();
    let path = dir.join("touched.bin");
    bundle::write(&path, &records)?;
    Ok(path)
}

/// Runs a peer's new phone, week offline and bad links on the bundles; adds its figures
/// and answers what could not be measured (each workload's failure is recorded and the
/// next one runs).
pub async fn run(
    peer: &Launcher,
    bundles: &Path,
    week_change_bytes: f64,
    (links, quick): (bool, bool),
    figures: &mut Figures,
) -> Result<Vec<String>, BoxError> {
    let side = peer.side;
    let mut failures = Vec::new();
    let scratch = tempfile::Builder::new()
        .prefix(&format!("field-bench-{}-", side.label()))
        .tempdir()?;
    let before = bundles.join("before.bin");
    println!(
        "\n== {}: importing the documents into its server (setup)",
        side.label()
    );
    let dir = scratch.path().join("main");
    std::fs::create_dir_all(&dir)?;
    let mut server = peer.server(&dir, &before).await?;

    println!("== {}: a new phone", side.label());
    if let Err(e) = new_phone(peer, &server, &dir, quick, figures).await {
        eprintln!("{} (new phone) failed: {e}", side.label());
        failures.push(format!("{} new phone: {e}", side.label()));
    }
    // The week always meets a freshly started server, which loads only the documents the
    // week touches. This favours the peers: both keep every document a client asked for in
    // memory, and samod's hub walks all of them after every event, so on the server that
    // just served the new phone their week is slower (samod's quick week: about 0.9 s
    // there, about 0.3 s on a fresh server).
    let (restarted, peak_rss_kb) = peer.restart(&dir, server).await?;
    server = restarted;
    figures.add(
        &side.name("server_peak_rss_during_new_phone_mb"),
        peak_rss_kb.unwrap_or(f64::NAN) / 1024.0,
        "MiB",
    );

    println!("== {}: a week offline", side.label());
    let mut weeks_ms = Vec::new();
    match week(peer, &server, &dir, bundles, None).await {
        Ok(measured) => {
            weeks_ms.push(measured.ms);
            figures.add(&side.name("week_offline_first_ms"), measured.ms, "ms");
            figures.add(
                &side.name("week_offline_round_trips"),
                measured.turns as f64,
                "client turns",
            );
            figures.add(
                &side.name("week_offline_bytes"),
                measured.bytes as f64,
                "bytes",
            );
            figures.add(
                &side.name("week_offline_wire_ratio"),
                measured.bytes as f64 / week_change_bytes.max(1.0),
                "x",
            );
        }
        Err(e) => {
            eprintln!("{} (week offline) failed: {e}", side.label());
            failures.push(format!("{} week offline: {e}", side.label()));
        }
    }
    let stopped = stop(server).await?;
    figures.add(
        &side.name("server_peak_rss_during_week_mb"),
        stopped["peak_rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        "MiB",
    );

    // The same week twice more, each on a freshly started server that holds the documents
    // the week edits (as for the bad links below); `week_offline_ms` is the median of the
    // three, as ours is of its three weeks.
    let touched = touched_bundle(bundles, scratch.path())?;
    for repeat in 1..WEEKS {
        println!("== {}: the week offline again ({repeat})", side.label());
        let dir = scratch.path().join(format!("week_{repeat}"));
        std::fs::create_dir_all(&dir)?;
        let server = peer.server(&dir, &touched).await?;
        match week(peer, &server, &dir, bundles, None).await {
            Ok(measured) => weeks_ms.push(measured.ms),
            Err(e) => {
                eprintln!("{} (week offline, again) failed: {e}", side.label());
                failures.push(format!("{} week offline ({repeat}): {e}", side.label()));
            }
        }
        stop(server).await?;
    }
    weeks_ms.sort_by(f64::total_cmp);
    if let Some(median) = weeks_ms.get(weeks_ms.len() / 2) {
        figures.add(&side.name("week_offline_ms"), *median, "ms");
    }

    if links {
        let mut shapes = vec![("bad_link_3g_ms", EmulatedLink::three_g())];
        // The 2G week takes automerge-repo minutes: a full run's, not a quick one's.
        if !quick {
            shapes.push(("bad_link_2g_ms", EmulatedLink::two_g()));
        }
        for (name, link) in shapes {
            println!("== {}: the week offline, {name}", side.label());
            let dir = scratch.path().join(name);
            std::fs::create_dir_all(&dir)?;
            let server = peer.server(&dir, &touched).await?;
            match week(peer, &server, &dir, bundles, Some(link)).await {
                Ok(measured) => figures.add(&side.name(name), measured.ms, "ms"),
                Err(e) => {
                    eprintln!("{} ({name}) failed: {e}", side.label());
                    failures.push(format!("{} {name}: {e}", side.label()));
                }
            }
            stop(server).await?;
        }
    }
    Ok(failures)
}

/// Stops a server and waits for it to exit; answers what it said on stopping.
async fn stop(server: Server) -> Result<serde_json::Value, BoxError> {
    let Server { mut proc, .. } = server;
    proc.send(r#"{"cmd":"stop"}"#).await?;
    let stopped = proc.expect("stopped", Duration::from_secs(300)).await?;
    proc.finish().await?;
    Ok(stopped)
}
