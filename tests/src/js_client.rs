//! A client written in JavaScript from `docs/protocol.md` alone, as another team would
//! build one: its documents are written by `@automerge/automerge` 3 (the script
//! `tests/js-client/write.mjs`, run with `node`), and its requests are CBOR built by hand
//! from the protocol's tables, sent with its bearer token to a real server on 127.0.0.1.
//! Used by `tests/js_changes.rs`.
//!
//! [`JsClient::write`] hands the script a JSON description of the documents to write (see
//! the script's header) with the client's actor, and returns one change per document.
//! [`JsClient::push`] sends changes in one sync request; [`JsClient::pull`] syncs with
//! nothing to push until the feed is read, keeping every change it receives, so that
//! [`JsClient::base`] can give the script a document to edit.
//!
//! Node.js and the script's npm packages must be installed (`scripts/test` runs `npm ci`
//! in `tests/js-client`): without them every write fails, saying how to install them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use fieldsync_core::protocol::{self, ErrorBody, SyncResponse};
use serde::Serialize;
use serde_bytes::ByteBuf;
use serde_json::Value as Json;
use tokio::io::AsyncWriteExt;

use crate::district::District;
use crate::server::{HarnessError, HarnessResult};

/// How long one run of the script may take (it takes well under a second).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Round trips a pull may take before it is reported as stuck.
const MAX_PULL_ROUNDS: usize = 50;
const INSTALL: &str = "install Node.js 20 or later (Debian: `apt-get install nodejs npm`), \
                       then run `npm ci --no-audit --no-fund` in tests/js-client (scripts/test does)";

fn err(what: &str, e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("{what}: {e}"))
}

/// The folder of the Node package.
pub fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js-client")
}

/// Node.js runs, and the version of `@automerge/automerge` that `package.json` pins is
/// installed; otherwise an error saying how to install them. Checked once per process.
pub fn ready() -> HarnessResult<()> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| check_installed().map_err(|e| e.0))
        .clone()
        .map_err(HarnessError)
}

fn check_installed() -> HarnessResult<()> {
    match std::process::Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(HarnessError(format!(
                "`node --version` failed ({}): {INSTALL}",
                out.status
            )));
        }
        Err(e) => return Err(HarnessError(format!("`node` cannot run ({e}): {INSTALL}"))),
    }
    let dir = package_dir();
    let read = |path: PathBuf| -> HarnessResult<Json> {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            HarnessError(format!(
                "cannot read `{}` ({e}): the npm packages of tests/js-client are missing: {INSTALL}",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| err(&path.display().to_string(), e))
    };
    let pinned = read(dir.join("package.json"))?["dependencies"]["@automerge/automerge"].clone();
    let installed =
        read(dir.join("node_modules/@automerge/automerge/package.json"))?["version"].clone();
    if pinned != installed {
        return Err(HarnessError(format!(
            "tests/js-client pins @automerge/automerge {pinned} but {installed} is installed: {INSTALL}"
        )));
    }
    Ok(())
}

/// A sync request as the protocol's table gives it.
#[derive(Serialize)]
struct Request<'a> {
    protocol: u32,
    cursor: Option<&'a str>,
    push: Vec<Pushed>,
}

#[derive(Serialize)]
struct Pushed {
    doc: String,
    changes: Vec<ByteBuf>,
}

/// The server's answer to one sync request.
#[derive(Debug)]
pub enum Answer {
    Accepted(SyncResponse),
    Refused { status: u16, error: ErrorBody },
}

impl Answer {
    /// The response of an accepted push, or an error saying why it was refused.
    pub fn accepted(self) -> HarnessResult<SyncResponse> {
        match self {
            Answer::Accepted(response) => Ok(response),
            Answer::Refused { status, error } => {
                Err(HarnessError(format!("refused with {status}: {error:?}")))
            }
        }
    }

    /// The status and body of a refusal, or an error saying `what` was accepted.
    pub fn refused(self, what: &str) -> HarnessResult<(u16, ErrorBody)> {
        match self {
            Answer::Refused { status, error } => Ok((status, error)),
            Answer::Accepted(_) => Err(HarnessError(format!("{what} was accepted"))),
        }
    }
}

/// A device of `user` whose app is written in JavaScript.
#[derive(Debug)]
pub struct JsClient {
    pub user: String,
    /// Its Automerge actor (32 hex digits), the same for every change it writes.
    pub actor: String,
    token: String,
    base_url: String,
    http: reqwest::Client,
    cursor: Option<String>,
    /// Every change it holds, by document.
    held: BTreeMap<String, Vec<Vec<u8>>>,
}

impl JsClient {
    /// Enrolls a new device of `user` in `district` with a one-time code.
    pub async fn enroll(district: &District, user: &str, name: &str) -> HarnessResult<JsClient> {
        ready()?;
        let base_url = district.server.base_url();
        let code = district.enrollment_code(user)?;
        let enrolled = crate::device::enroll(&base_url, &code, name).await?;
        Ok(JsClient {
            user: enrolled.user_id,
            actor: hex::encode(rand::random::<[u8; 16]>()),
            token: enrolled.token,
            base_url,
            http: crate::phone::http_client(Duration::from_secs(20))
                .map_err(|e| err("http client", e))?,
            cursor: None,
            held: BTreeMap::new(),
        })
    }

    /// The changes it holds of `doc`, in hex, to hand the script as a `base`.
    pub fn base(&self, doc: &str) -> Vec<String> {
        self.held
            .get(doc)
            .map(|changes| changes.iter().map(hex::encode).collect())
            .unwrap_or_default()
    }

    /// Runs the script on `description` (its `actor` set to this client's) and returns the
    /// change it wrote for each document, in the order of `docs`.
    pub async fn write(&self, mut description: Json) -> HarnessResult<Vec<(String, Vec<u8>)>> {
        ready()?;
        description["actor"] = Json::from(self.actor.as_str());
        let script = package_dir().join("write.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(&script)
            .current_dir(package_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                err(
                    &format!("`node {}` cannot run ({INSTALL})", script.display()),
                    e,
                )
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| HarnessError("no stdin for node".into()))?;
        stdin.write_all(description.to_string().as_bytes()).await?;
        drop(stdin);
        let out = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| HarnessError(format!("write.mjs ran past {SCRIPT_TIMEOUT:?}")))??;
        if !out.status.success() {
            return Err(HarnessError(format!(
                "write.mjs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let mut written = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let line: Json = serde_json::from_str(line).map_err(|e| err("write.mjs output", e))?;
            let (Some(id), Some(change)) = (line["id"].as_str(), line["change"].as_str()) else {
                return Err(HarnessError(format!("write.mjs printed `{line}`")));
            };
            let bytes = hex::decode(change).map_err(|e| err("write.mjs change", e))?;
            written.push((id.to_owned(), bytes));
        }
        Ok(written)
    }

    /// One sync request pushing `changes` (grouped by document) from the stored cursor. On
    /// a 200 the client keeps what it pushed and what the feed brought, and the cursor.
    pub async fn push(&mut self, changes: &[(String, Vec<u8>)]) -> HarnessResult<Answer> {
        let mut push: Vec<Pushed> = Vec::new();
        for (doc, change) in changes {
            let bytes = ByteBuf::from(change.clone());
            match push.iter_mut().find(|p| &p.doc == doc) {
                Some(p) => p.changes.push(bytes),
                None => push.push(Pushed {
                    doc: doc.clone(),
                    changes: vec![bytes],
                }),
            }
        }
        let request = Request {
            protocol: 1,
            cursor: self.cursor.as_deref(),
            push,
        };
        let mut body = Vec::new();
        ciborium::into_writer(&request, &mut body).map_err(|e| err("encoding a request", e))?;
        let response = self
            .http
            .post(format!("{}/v1/sync", self.base_url))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/cbor")
            .body(body)
            .send()
            .await
            .map_err(|e| err("sync request", e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| err("sync answer", e))?;
        if status != 200 {
            let error = serde_json::from_slice(&bytes).map_err(|e| {
                err(
                    &format!("a {status} answer: {}", String::from_utf8_lossy(&bytes)),
                    e,
                )
            })?;
            return Ok(Answer::Refused { status, error });
        }
        let answer: SyncResponse =
            protocol::decode("sync response", &bytes).map_err(|e| err("sync answer", e))?;
        for (doc, change) in changes {
            self.keep(doc, change.clone());
        }
        for doc in &answer.changes {
            for change in &doc.changes {
                self.keep(&doc.doc, change.to_vec());
            }
        }
        self.cursor = Some(answer.cursor.clone());
        Ok(Answer::Accepted(answer))
    }

    /// Syncs with nothing to push until the server has nothing more.
    pub async fn pull(&mut self) -> HarnessResult<()> {
        for _ in 0..MAX_PULL_ROUNDS {
            match self.push(&[]).await? {
                Answer::Accepted(answer) if !answer.more => return Ok(()),
                Answer::Accepted(_) => {}
                Answer::Refused { status, error } => {
                    return Err(HarnessError(format!(
                        "a pull was refused: {status} {error:?}"
                    )));
                }
            }
        }
        Err(HarnessError(format!(
            "the feed did not end in {MAX_PULL_ROUNDS} round trips"
        )))
    }

    fn keep(&mut self, doc: &str, change: Vec<u8>) {
        let held = self.held.entry(doc.to_owned()).or_default();
        if !held.contains(&change) {
            held.push(change);
        }
    }
}
