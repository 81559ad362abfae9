//! The `fieldsync-server` binary: parses the command line and hands over to the library.

use clap::Parser;
use fieldsync_server::config::{Cli, Command};
use fieldsync_server::{AppState, admin, serve};

fn main() -> std::process::ExitCode {
    // Logs go to standard error: standard output carries what commands print (a report's CSV).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn")),
        )
        .init();
    let cli = Cli::parse();
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
    std::fs::create_dir_all(&args.data.data_dir).map_err(|e| {
        format!(
            "cannot create data folder `{}`: {e}",
            args.data.data_dir.display()
        )
    })?;
    let storage = args.data.open_storage().map_err(|e| e.to_string())?;
    let demo = if args.demo {
        let seeded = fieldsync_server::demo::seed(&args.data.data_dir, storage.as_ref())
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
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    let state = AppState {
        storage,
        limits: args.limits.clone(),
        metrics: Some(metrics),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .block_on(serve(
            state,
            args.listen,
            |bound| {
                tracing::info!(%bound, data = %args.data.describe(), "fieldsync-server listening");
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
