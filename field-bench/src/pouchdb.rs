//! The PouchDB side (issue 19): Node scripts in `field-bench/peers/pouchdb/`, with
//! `pouchdb-node` 9.0.0 on the phone (LevelDB storage) and `pouchdb-server` 4.2.0 as the
//! CouchDB-compatible server on 127.0.0.1, pinned by its `package.json` and
//! `package-lock.json` and installed by [`crate::npm::install`] before the first run. The
//! documents are the same Automerge documents' content as JSON (the scripts load each with
//! `@automerge/automerge` 3.5.0 and store `toJS` of it); the phone replicates with the
//! server's database over the CouchDB replication protocol.
//!
//! Two sides, one setup: [`Side::PouchDb`] as PouchDB's documentation advises for many
//! small documents (replication `batch_size` 500, `batches_limit` 10, a keep-alive HTTP
//! agent of each phone's own), and [`Side::PouchDbDefault`] out of the box (batches of 100,
//! HTTP as Node's global agent has it, one agent per phone since the many phones share one
//! process). The server is the same for both.

use std::path::PathBuf;

use crate::BoxError;
use crate::figures::Side;
use crate::peer::Launcher;

pub const PINNED: [(&str, &str); 3] = [
    ("pouchdb-node", "9.0.0"),
    ("pouchdb-server", "4.2.0"),
    ("@automerge/automerge", "3.5.0"),
];

/// The settings of the tuned side, as the bench's JSON reports them (the phone script
/// applies them; `--out-of-the-box` leaves PouchDB's defaults).
pub const TUNED: &str = "replication batch_size 500, batches_limit 10; a keep-alive \
                         http.Agent (maxSockets 10) per phone";

pub fn folder() -> PathBuf {
    crate::npm::folder("pouchdb")
}

/// `npm install` unless the pinned packages are installed already.
pub async fn install() -> Result<(), BoxError> {
    crate::npm::install(&folder(), &PINNED).await
}

/// The launcher of `side`, [`Side::PouchDb`] (tuned) or [`Side::PouchDbDefault`].
pub fn launcher(side: Side) -> Launcher {
    let dir = folder();
    let mut phone = vec![dir.join("phone.mjs").into_os_string()];
    if side == Side::PouchDbDefault {
        phone.push("--out-of-the-box".into());
    }
    Launcher {
        side,
        program: PathBuf::from("node"),
        server: vec![dir.join("server.mjs").into_os_string()],
        phone,
        many_phones_cap: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_out_of_the_box_phone_is_told_to_leave_pouchdbs_defaults() {
        let flag = std::ffi::OsString::from("--out-of-the-box");
        assert!(launcher(Side::PouchDbDefault).phone.contains(&flag));
        assert!(!launcher(Side::PouchDb).phone.contains(&flag));
        assert_eq!(
            launcher(Side::PouchDb).server,
            launcher(Side::PouchDbDefault).server
        );
    }

    #[test]
    fn the_scripts_it_runs_are_in_the_repository() {
        for script in ["server.mjs", "phone.mjs", "common.mjs", "package-lock.json"] {
            assert!(folder().join(script).is_file(), "{script} is missing");
        }
    }
}
