//! The `fieldsync-server` binary: parses the command line and hands over to the library.

use clap::Parser;
use fieldsync_server::config::{Cli, Command};
use fieldsync_server::{AppState, SqliteStorage, admin, serve};

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
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
    let storage = SqliteStorage::open(&args.data.database()).map_err(|e| e.to_string())?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    let state = AppState {
        storage: std::sync::Arc::new(storage),
        limits: args.limits.clone(),
        metrics: Some(metrics),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime
        .block_on(serve(state, args.listen, |bound| {
            tracing::info!(%bound, data = %args.data.data_dir.display(), "fieldsync-server listening");
            println!("fieldsync-server listening on http://{bound}");
        }))
        .map_err(|e| format!("cannot serve on {}: {e}", args.listen))
}
