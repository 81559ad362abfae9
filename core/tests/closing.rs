//! A closed store is one file: the writer's connection closes last and checkpoints the WAL,
//! so a copy of the database file alone (a backup an app or a test takes) holds every
//! committed edit, even after reads on the read-only pool.

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{DocKind, Result};

#[test]
fn a_copy_of_a_closed_store_s_file_alone_holds_every_edit_even_after_pooled_reads() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("phone.db");
    let store = {
        let (db, _) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
        let store = db.create_store(sample_store("am-li", 1))?;
        // A read on the pool of read-only connections, which stays open with the store.
        db.receipt(&store)?;
        store
    };
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy)?;
    let (reopened, _) = device(&copy, "am-li", at("2026-11-23T10:00:00+08:00"))?;
    assert_eq!(reopened.document_ids(DocKind::Store)?, vec![store]);
    Ok(())
}
