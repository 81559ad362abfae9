//! The automerge-repo side: Node scripts in `field-bench/peers/automerge-repo/`, with
//! `@automerge/automerge-repo`, `-network-websocket` and `-storage-nodefs` pinned at 2.5.6
//! by its `package.json` and `package-lock.json`, installed by `npm install` into that
//! folder's `node_modules` (git-ignored) before the first run. (`npm ci` refuses this lock
//! file with npm 11: it wants entries for cbor-extract's optional builds of other
//! platforms; `npm install` follows the lock and leaves it unchanged.)

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::BoxError;
use crate::figures::Side;
use crate::peer::Launcher;

/// Longest `npm install` may take (it downloads some 60 packages).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

pub fn folder() -> PathBuf {
    crate::ours::workspace()
        .join("field-bench")
        .join("peers")
        .join("automerge-repo")
}

/// `npm install` unless the pinned packages are installed already.
pub async fn install() -> Result<(), BoxError> {
    let dir = folder();
    let installed = dir
        .join("node_modules")
        .join("@automerge")
        .join("automerge-repo")
        .join("package.json");
    if let Ok(text) = std::fs::read_to_string(&installed)
        && serde_json::from_str::<serde_json::Value>(&text)?["version"] == "2.5.6"
    {
        return Ok(());
    }
    println!(
        "installing automerge-repo 2.5.6 (npm install in {}) ...",
        dir.display()
    );
    let run = tokio::process::Command::new("npm")
        .current_dir(&dir)
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

pub fn launcher() -> Launcher {
    let dir = folder();
    Launcher {
        side: Side::AutomergeRepo,
        program: PathBuf::from("node"),
        server: vec![dir.join("server.mjs").into_os_string()],
        phone: vec![dir.join("phone.mjs").into_os_string()],
        many_phones_cap: None,
    }
}
