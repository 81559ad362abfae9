//! The automerge-repo side: Node scripts in `field-bench/peers/automerge-repo/`, with
//! `@automerge/automerge-repo`, `-network-websocket` and `-storage-nodefs` pinned at 2.5.6
//! by its `package.json` and `package-lock.json`, installed by [`crate::npm::install`]
//! before the first run.

use std::path::PathBuf;

use crate::BoxError;
use crate::figures::Side;
use crate::peer::Launcher;

pub fn folder() -> PathBuf {
    crate::npm::folder("automerge-repo")
}

/// `npm install` unless the pinned packages are installed already.
pub async fn install() -> Result<(), BoxError> {
    crate::npm::install(&folder(), &[("@automerge/automerge-repo", "2.5.6")]).await
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
