//! PostgreSQL over TLS with rustls: the throwaway cluster (`scripts/postgres`) serves TLS
//! with a certificate for 127.0.0.1 signed by a CA of its own, `ca.crt` beside its
//! `ssl_cert_file`. `sslmode=verify-full` with that CA connects encrypted and the server
//! runs on it; without the CA, or by a name the certificate lacks, it is refused;
//! `require` encrypts without checking, as libpq does.

use std::path::PathBuf;

use fieldsync_server::storage::postgres_tls::connector;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage};
use fieldsync_tests::TestDatabase;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// The cluster's CA file.
fn cluster_ca(url: &str) -> Fallible<PathBuf> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let cert: String = client.query_one("SHOW ssl_cert_file", &[])?.get(0);
    let ca = PathBuf::from(cert)
        .parent()
        .ok_or("ssl_cert_file has no folder")?
        .join("ca.crt");
    if !ca.is_file() {
        return Err(format!(
            "`{}` is missing: start the cluster with scripts/postgres, which makes it",
            ca.display()
        )
        .into());
    }
    Ok(ca)
}

/// Whether a connection made with `url` (and `ca`) is encrypted, or why it failed.
fn encrypted(url: &str, ca: Option<&std::path::Path>) -> Result<bool, String> {
    let (config, tls) = connector(url, ca).map_err(|e| e.to_string())?;
    let mut client = config.connect(tls).map_err(|e| format!("{e:?}"))?;
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map(|row| row.get(0))
        .map_err(|e| e.to_string())
}

fn with_query(url: &str, query: &str) -> String {
    if url.contains('?') {
        format!("{url}&{query}")
    } else {
        format!("{url}?{query}")
    }
}

#[test]
fn verify_full_with_the_clusters_ca_connects_encrypted_and_the_server_runs_on_it() -> TestResult {
    let database = TestDatabase::create("tls_verify_full")?;
    let ca = cluster_ca(database.url())?;
    let url = with_query(database.url(), "sslmode=verify-full");
    assert_eq!(encrypted(&url, Some(&ca)), Ok(true));
    // The CA named in the URL, as libpq's `sslrootcert`, works the same.
    let in_url = with_query(&url, &format!("sslrootcert={}", ca.display()));
    assert_eq!(encrypted(&in_url, None), Ok(true));

    let storage = PostgresStorage::open(
        &url,
        PostgresOptions {
            ca_file: Some(ca),
            ..PostgresOptions::default()
        },
    )?;
    storage.add_user(
        &User {
            id: "am-li".into(),
            role: fieldsync_core::Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    assert_eq!(storage.users()?.len(), 1, "migrated and written over TLS");
    Ok(())
}

#[test]
fn verify_full_refuses_a_server_whose_certificate_it_cannot_trust_or_whose_name_differs()
-> TestResult {
    let database = TestDatabase::create("tls_refused")?;
    let ca = cluster_ca(database.url())?;
    let url = with_query(database.url(), "sslmode=verify-full");
    let refused = encrypted(&url, None).expect_err("a self-signed CA is not a public root");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // The certificate names 127.0.0.1 only: reached as `localhost`, the name differs.
    let by_name = url.replacen("127.0.0.1", "localhost", 1);
    let refused = encrypted(&by_name, Some(&ca)).expect_err("not the certificate's name");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    // verify-ca checks the chain only, as libpq's does.
    let chain_only = by_name.replacen("verify-full", "verify-ca", 1);
    assert_eq!(encrypted(&chain_only, Some(&ca)), Ok(true));
    Ok(())
}

#[test]
fn require_encrypts_without_checking_and_disable_does_not_encrypt() -> TestResult {
    let database = TestDatabase::create("tls_require")?;
    assert_eq!(
        encrypted(&with_query(database.url(), "sslmode=require"), None),
        Ok(true)
    );
    assert_eq!(
        encrypted(&with_query(database.url(), "sslmode=disable"), None),
        Ok(false)
    );
    let bad = connector(&with_query(database.url(), "sslmode=maybe"), None)
        .err()
        .ok_or("an unknown sslmode is refused")?;
    assert!(bad.to_string().contains("`sslmode=maybe`"), "{bad}");
    Ok(())
}
