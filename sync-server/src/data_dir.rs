//! The data folder is private: created `0700`, and every file the server makes in it (the
//! database, its WAL and shared memory, the admin device's store, the demo's CSV) `0600`.
//!
//! The process's umask is set to `077` before anything is created, so SQLite's own files
//! are private from their first byte; files left by an older server are tightened too.

use std::path::Path;

/// The files an older server may have left readable by others.
const DATA_FILES: [&str; 2] = ["fieldsync.db", "admin-device.db"];

/// Creates `dir` if missing, makes it and the database files in it owner-only, and makes
/// every file this process creates from now on owner-only.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = DATA_FILES.iter().any(|f| name.starts_with(f))
                || name == "demo-stores.csv"
                || name == "calendar.txt";
            if ours && entry.file_type()?.is_file() {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}
