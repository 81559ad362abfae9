//! The systemd unit in `packaging/` is one systemd accepts: `systemd-analyze verify` reads
//! it (every option known, the binary it starts present) with no complaint. The container
//! image definition cannot be built here (no container registry is reachable); see
//! docs/operations.md, "Packaging".

use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() -> TestResult {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/fieldsync-server.service"
    ))?;
    // The unit as installed, but starting the binary this test was built with.
    let unit = unit.replace(
        "/usr/local/bin/fieldsync-server",
        env!("CARGO_BIN_EXE_fieldsync-server"),
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fieldsync-server.service");
    std::fs::write(&path, unit)?;
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .map_err(|e| format!("systemd-analyze (Debian package `systemd`) is needed: {e}"))?;
    let complaints = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{complaints}");
    assert!(
        !complaints.contains("fieldsync-server.service"),
        "systemd complained about the unit:\n{complaints}"
    );
    Ok(())
}
