//! The real `fieldsync-server` binary as a child process on 127.0.0.1, for end-to-end tests
//! and the load benchmark.
//!
//! [`ServerProcess::start`] runs `fieldsync-server serve --listen 127.0.0.1:0 --data-dir DIR`,
//! reads the port it bound from its first line of output and waits until `/healthz`
//! answers. [`kill`](ServerProcess::kill) sends SIGKILL (no graceful shutdown, nothing
//! flushed) and [`restart`](ServerProcess::restart) starts it again on the same data folder
//! and port, so devices keep their URL.
//!
//! Which binary: `FIELDSYNC_SERVER_BIN` when set (used as is). Otherwise the binary of the
//! running profile, `target/<profile>/fieldsync-server` next to this executable (a test
//! runs from `target/<profile>/deps/`, a bin from `target/<profile>/`). A package's tests
//! only get its own binaries built, and the server is another package, so before the first
//! start this runs `cargo build -p fieldsync-server --bin fieldsync-server` for that
//! profile and target folder (a no-op when it is fresh; cargo releases its build lock
//! before it runs tests, so this does not wait on the outer cargo). That keeps a stale
//! server from being tested after its sources changed. `FIELDSYNC_SKIP_SERVER_BUILD=1`
//! skips the build and only looks for the file.
//!
//! The server's log goes to a bounded buffer (the last lines are shown when it fails to
//! start); `RUST_LOG` for the child is `warn` unless `FIELDSYNC_SERVER_LOG` says otherwise.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::server_db::ServerDb;

/// How long a start may take before it is reported as failed.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the server's output kept for error messages.
const LOG_LINES: usize = 200;
const LISTENING: &str = "fieldsync-server listening on http://";

/// Something the harness could not do, with what it knows about why.
#[derive(Debug)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

impl From<std::io::Error> for HarnessError {
    fn from(e: std::io::Error) -> Self {
        HarnessError(e.to_string())
    }
}

pub type HarnessResult<T> = Result<T, HarnessError>;

/// The server binary, built (once per process) for the profile this executable runs in.
pub fn server_binary() -> HarnessResult<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| locate_or_build().map_err(|e| e.0))
        .clone()
        .map_err(HarnessError)
}

fn locate_or_build() -> HarnessResult<PathBuf> {
    if let Ok(path) = std::env::var("FIELDSYNC_SERVER_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(HarnessError(format!(
                "FIELDSYNC_SERVER_BIN `{}` is not a file",
                path.display()
            )))
        };
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| HarnessError(format!("`{}` has no parent folder", exe.display())))?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let profile_dir = dir.to_path_buf();
    let binary = profile_dir.join(format!("fieldsync-server{}", std::env::consts::EXE_SUFFIX));
    if std::env::var_os("FIELDSYNC_SKIP_SERVER_BUILD").is_none() {
        build(&profile_dir)?;
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(HarnessError(format!(
            "no server binary at `{}`: build it with `cargo build -p fieldsync-server` for \
             this profile, or point FIELDSYNC_SERVER_BIN at one",
            binary.display()
        )))
    }
}

/// `cargo build -p fieldsync-server` into `target/<profile>`, the folder this executable is in.
fn build(profile_dir: &Path) -> HarnessResult<()> {
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| HarnessError(format!("odd profile folder `{}`", profile_dir.display())))?;
    let target_dir = profile_dir.parent().ok_or_else(|| {
        HarnessError(format!(
            "profile folder `{}` has no parent",
            profile_dir.display()
        ))
    })?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", "fieldsync-server", "--bin", "fieldsync-server"])
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    let output = command.stdin(Stdio::null()).output().map_err(|e| {
        HarnessError(format!(
            "cannot run `{cargo}` to build the server ({e}); build it yourself and set \
             FIELDSYNC_SKIP_SERVER_BUILD=1 or FIELDSYNC_SERVER_BIN"
        ))
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(HarnessError(format!(
            "`cargo build -p fieldsync-server` ({profile}) failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// A running (or killed) `fieldsync-server serve` on 127.0.0.1.
#[derive(Debug)]
pub struct ServerProcess {
    binary: PathBuf,
    data_dir: PathBuf,
    /// `--database`: a PostgreSQL URL, or none for SQLite in the data folder.
    database: Option<String>,
    addr: SocketAddr,
    child: Option<Child>,
    log: Arc<Mutex<VecDeque<String>>>,
    starts: usize,
    /// Environment variables given to the process (limits read from the environment).
    env: Vec<(String, String)>,
}

impl ServerProcess {
    /// Starts the server on `data_dir` (created if missing) on a free loopback port.
    pub fn start(data_dir: &Path) -> HarnessResult<ServerProcess> {
        ServerProcess::start_on(data_dir, None)
    }

    /// Starts the server with its data in PostgreSQL at `database` when given (its data
    /// folder then holds only the admin tools' device), in `data_dir` otherwise.
    pub fn start_on(data_dir: &Path, database: Option<&str>) -> HarnessResult<ServerProcess> {
        let mut server = ServerProcess {
            binary: server_binary()?,
            data_dir: data_dir.to_path_buf(),
            database: database.map(str::to_owned),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: None,
            log: Arc::new(Mutex::new(VecDeque::new())),
            starts: 0,
            env: Vec::new(),
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts it again on the same data folder and port; kills it first if it runs.
    pub fn restart(&mut self) -> HarnessResult<()> {
        self.kill()?;
        self.spawn()
    }

    /// Starts it again (same folder and port) with these environment variables added.
    pub fn restart_with_env(&mut self, env: &[(&str, &str)]) -> HarnessResult<()> {
        self.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.restart()
    }

    /// SIGKILL, then reaps the process. Does nothing when it is not running.
    pub fn kill(&mut self) -> HarnessResult<()> {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on Unix; it fails only when already reaped.
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's database.
    pub fn database(&self) -> ServerDb {
        match &self.database {
            Some(url) => ServerDb::Postgres(url.clone()),
            None => ServerDb::Sqlite(self.sqlite_file()),
        }
    }

    /// The SQLite file in the data folder (the server's database unless on PostgreSQL).
    pub fn sqlite_file(&self) -> PathBuf {
        self.data_dir.join("fieldsync.db")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How many times the process was started.
    pub fn starts(&self) -> usize {
        self.starts
    }

    /// Peak resident memory of the running process (`VmHWM`), in KiB (Linux only).
    pub fn peak_memory_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The last lines the server printed, oldest first.
    pub fn recent_log(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Runs `fieldsync-server admin --data-dir DIR <args>` (it works while the server runs),
    /// with the environment variables the server was last started with (its blob store's,
    /// say), and returns what it printed.
    pub fn admin(&self, args: &[&str]) -> HarnessResult<String> {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        admin_with_env(
            &self.binary,
            &self.data_dir,
            self.database.as_deref(),
            args,
            &env,
        )
    }

    fn spawn(&mut self) -> HarnessResult<()> {
        let log_filter = std::env::var("FIELDSYNC_SERVER_LOG").unwrap_or_else(|_| "warn".into());
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data-dir")
            .arg(&self.data_dir);
        if let Some(url) = &self.database {
            command.arg("--database").arg(url);
        }
        let mut child = command
            .env("RUST_LOG", log_filter)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| HarnessError(format!("cannot start `{}`: {e}", self.binary.display())))?;
        self.starts += 1;
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        if let Some(stdout) = child.stdout.take() {
            let log = self.log.clone();
            std::thread::spawn(move || drain(stdout, &log, Some(tx)));
        }
        if let Some(stderr) = child.stderr.take() {
            let log = self.log.clone();
            std::thread::spawn(move || drain(stderr, &log, None));
        }
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        // Bounded by the deadline: the server prints its address, then answers /healthz.
        let bound = loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(addr) => break addr,
                Err(_) if !self.is_running() || Instant::now() > deadline => {
                    return Err(self.failed_to_start("it never printed its address"));
                }
                Err(_) => {}
            }
        };
        self.addr = bound;
        loop {
            if healthz(bound) {
                return Ok(());
            }
            if !self.is_running() || Instant::now() > deadline {
                return Err(self.failed_to_start("/healthz never answered 200"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn failed_to_start(&mut self, what: &str) -> HarnessError {
        // Give the readers a moment to collect the last words of a crashed server.
        std::thread::sleep(Duration::from_millis(100));
        let _ = self.kill();
        HarnessError(format!(
            "fieldsync-server (start {} on {}, data `{}`) failed to start: {what}; its output:\n{}",
            self.starts,
            self.addr,
            self.data_dir.display(),
            self.recent_log().join("\n")
        ))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Runs the admin CLI of `binary` on `data_dir` (and on PostgreSQL at `database`).
pub fn admin(
    binary: &Path,
    data_dir: &Path,
    database: Option<&str>,
    args: &[&str],
) -> HarnessResult<String> {
    admin_with_env(binary, data_dir, database, args, &[])
}

/// [`admin`] with these environment variables added.
pub fn admin_with_env(
    binary: &Path,
    data_dir: &Path,
    database: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> HarnessResult<String> {
    let mut command = Command::new(binary);
    command.envs(env.iter().copied());
    command.arg("admin").arg("--data-dir").arg(data_dir);
    if let Some(url) = database {
        command.arg("--database").arg(url);
    }
    let output = command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(HarnessError(format!(
            "`fieldsync-server admin {}` failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Reads lines until the process closes the pipe, keeping the last [`LOG_LINES`]; the
/// first `listening on` line's address goes to `listening`.
fn drain(
    pipe: impl Read,
    log: &Mutex<VecDeque<String>>,
    mut listening: Option<std::sync::mpsc::Sender<SocketAddr>>,
) {
    for line in BufReader::new(pipe).lines() {
        let Ok(line) = line else { break };
        if let Some(addr) = line
            .strip_prefix(LISTENING)
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            && let Some(tx) = listening.take()
        {
            let _ = tx.send(addr);
        }
        if let Ok(mut log) = log.lock() {
            if log.len() >= LOG_LINES {
                log.pop_front();
            }
            log.push_back(line);
        }
    }
}

/// `GET /healthz` answered `200`, over a plain socket (no async runtime needed).
fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.take(4096).read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}
