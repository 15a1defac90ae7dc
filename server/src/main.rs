//! `ioc`: the server binary. See the crate docs of `ioc_server` for how it is built.

use clap::Parser;
use ioc_server::catalog::Catalog;
use ioc_server::config::{Cli, Command, ServeArgs};
use ioc_server::{simulator, AppState};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args, None).await,
        Command::Demo(args) => serve(args.serve, Some(args.rate)).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ioc: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(mut args: ServeArgs, demo_rate: Option<f64>) -> Result<(), String> {
    if demo_rate.is_some() && args.ingest_token.as_deref().is_none_or(str::is_empty) {
        args.ingest_token = Some(simulator::random_token());
    }
    let catalog = Catalog::load(args.units.as_deref()).map_err(|e| e.to_string())?;
    let state = AppState::new(args.settings(), catalog.clone()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let server = ioc_server::start(state.clone(), listener)
        .await
        .map_err(|e| format!("{e} (is PostgreSQL running? DATABASE_URL is used)"))?;
    tracing::info!(addr = %server.addr, units = catalog.len(), "IOC server listening");
    if let Some(rate) = demo_rate {
        println!();
        println!("  IOC demo is running: http://{}/", server.addr);
        println!("  Ingest token for POST /api/v1/events: {}", args.ingest_token.as_deref().unwrap_or(""));
        println!("  Press Ctrl-C to stop.");
        println!();
        tokio::spawn(simulator::run(state, rate));
    } else if args.ingest_token.is_none() {
        tracing::warn!("IOC_INGEST_TOKEN is not set: POST /api/v1/events answers 401");
    }
    tokio::select! {
        _ = server.wait() => Err("HTTP server stopped".to_owned()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
