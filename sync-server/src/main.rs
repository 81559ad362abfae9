//! The `fieldsync-server` binary: parses the command line and hands over to the library.

use std::io::IsTerminal;

use clap::Parser;
use fieldsync_server::config::{Cli, Command, LogFormat};
use fieldsync_server::{AppState, ServeOptions, admin, serve_with};

/// The server's allocator: mimalloc, for the many small allocations of applying and judging
/// Automerge changes (docs/adr/0027).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Logs go to standard error: standard output carries what commands print (a report's CSV).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match cli.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        // Colour escapes only for a person at a terminal, never into a file or a journal.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    let result = match cli.command {
        Command::Admin(args) => admin::run(&args).map_err(|e| e.to_string()),
        Command::Serve(args) => run_server(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_server(args: fieldsync_server::config::ServeArgs) -> Result<(), String> {
    fieldsync_server::data_dir::prepare(&args.data.data_dir).map_err(|e| {
        format!(
            "cannot prepare the data folder `{}`: {e}",
            args.data.data_dir.display()
        )
    })?;
    let storage = args.data.open_storage().map_err(|e| e.to_string())?;
    let blob_limits = fieldsync_server::blobs::BlobLimits::from_env()?;
    let blobs = fieldsync_server::blobs::Blobs::configured(&args.data.data_dir, blob_limits)?;
    let demo = if args.demo {
        let seeded = fieldsync_server::demo::seed_with(
            &args.data.data_dir,
            storage.as_ref(),
            true,
            Some(blobs.store.as_ref()),
        )
        .map_err(|e| format!("cannot seed the demo district: {e}"))?;
        if let fieldsync_server::demo::Seeded::New(d) = &seeded {
            tracing::info!(
                stores = d.import.imported,
                import_ms = d.import_took.as_millis() as u64,
                total_ms = d.took.as_millis() as u64,
                "seeded the demo district"
            );
        }
        Some(seeded)
    } else {
        None
    };
    let metrics =
        fieldsync_server::probes::install_recorder().map_err(|e| format!("metrics: {e}"))?;
    let options = ServeOptions {
        metrics_listen: args.metrics_listen,
        shutdown_delay: std::time::Duration::from_secs(args.shutdown_delay_secs),
        console: (!args.no_console).then(|| fieldsync_server::console::ConsoleConfig {
            secure_cookies: args.console_secure_cookies,
            ..fieldsync_server::console::ConsoleConfig::new(args.data.data_dir.clone())
        }),
        blobs: Some(blobs),
    };
    let state = AppState {
        storage,
        limits: args.limits.clone(),
        metrics: Some(metrics),
    };
    if let Some(console) = options.console.as_ref().filter(|c| {
        args.demo
            || c.data_dir
                .join(fieldsync_server::console::replica::REPLICA_FILE)
                .exists()
    }) {
        // A pull takes a while after a restart (the whole district on the console's first
        // use): done now, not by the first page. A server whose console was never opened
        // (and is not a demo) keeps no replica.
        let (console, storage) = (console.clone(), state.storage.clone());
        std::thread::spawn(move || {
            // Below the phones' syncs, as the console's pages are (console/background.rs).
            if let Err(e) = fieldsync_server::console::background::lower_this_thread() {
                tracing::warn!(error = %e, "cannot lower the console warm-up's priority");
            }
            let started = std::time::Instant::now();
            match console.replica.warm(storage.as_ref()) {
                Ok(stores) => tracing::info!(
                    stores,
                    ms = started.elapsed().as_millis() as u64,
                    "console replica up to date"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "cannot bring the console replica up to date");
                    return;
                }
            }
            // Then one overview, which keeps R2's past readings for the pages to come.
            let started = std::time::Instant::now();
            match fieldsync_server::console::overview::warm(&console, storage.as_ref()) {
                Ok(displays) => tracing::info!(
                    displays,
                    ms = started.elapsed().as_millis() as u64,
                    "console violations chart warmed"
                ),
                Err(e) => tracing::error!(error = %e, "cannot compute the first overview"),
            }
        });
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .block_on(serve_with(
            state,
            args.listen,
            options,
            |bound| {
                tracing::info!(
                    %bound,
                    data = %args.data.describe(),
                    version = fieldsync_server::probes::VERSION_LINE,
                    "fieldsync-server listening"
                );
                println!("fieldsync-server listening on http://{bound}");
                if let Some(demo) = &demo {
                    println!("{}", demo.instructions(bound));
                }
            },
            shutdown_signal(),
        ))
        .map_err(|e| format!("cannot serve on {}: {e}", args.listen))
}

/// Completes on SIGTERM (what service managers and containers send) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
