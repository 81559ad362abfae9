//! Installs a Node peer's pinned packages: `npm install` in its folder under
//! `field-bench/peers/`, following the committed `package-lock.json`, into that folder's
//! `node_modules` (git-ignored). (`npm ci` refuses automerge-repo's lock file with npm 11:
//! it wants entries for cbor-extract's optional builds of other platforms; `npm install`
//! follows the lock and leaves it unchanged.)

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::BoxError;

/// Longest `npm install` may take (a peer downloads 60 to 400 packages).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// `field-bench/peers/<name>`.
pub fn folder(name: &str) -> PathBuf {
    crate::ours::workspace()
        .join("field-bench")
        .join("peers")
        .join(name)
}

/// Whether `dir/node_modules/<package>` is installed at `version`.
fn installed(dir: &Path, package: &str, version: &str) -> bool {
    let manifest = dir.join("node_modules").join(package).join("package.json");
    std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|json| json["version"] == version)
}

/// `npm install` in `dir` unless every `(package, version)` is installed already.
pub async fn install(dir: &Path, pinned: &[(&str, &str)]) -> Result<(), BoxError> {
    if pinned.iter().all(|(p, v)| installed(dir, p, v)) {
        return Ok(());
    }
    let list: Vec<String> = pinned.iter().map(|(p, v)| format!("{p} {v}")).collect();
    println!(
        "installing {} (npm install in {}) ...",
        list.join(", "),
        dir.display()
    );
    let run = tokio::process::Command::new("npm")
        .current_dir(dir)
        .args(["install", "--no-audit", "--no-fund"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(INSTALL_TIMEOUT, run)
        .await
        .map_err(|_| "npm install failed: it did not finish in 10 minutes")?
        .map_err(|e| format!("npm install failed: cannot run `npm` ({e}); install Node 18+"))?;
    if !output.status.success() {
        return Err(format!(
            "npm install failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(())
}
