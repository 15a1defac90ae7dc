//! `ioc`: the server binary. See the crate docs of `ioc_server` for how it is built.

use clap::Parser;
use ioc_server::catalog::Catalog;
use ioc_server::cli::{self, Task};
use ioc_server::config::{Cli, Command, ServeArgs};
#[cfg(feature = "demo")]
use ioc_server::simulator;
use ioc_server::AppState;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: the rebuild and the fan-out allocate many small
/// short-lived strings, and glibc's malloc spent 40 % of the rebuild's CPU on them (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Command::Serve(serve) => serve.log_format == "json",
        #[cfg(feature = "demo")]
        Command::Demo(demo) => demo.serve.log_format == "json",
        _ => false,
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    if json {
        // One JSON object per line, with the request id (and other span fields) on each.
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let result: Result<(), Failure> = match cli.command {
        Command::Serve(args) => serve(args, None).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => serve(args.serve, Some(args.rate)).await,
        Command::User { connection, command } => {
            cli::run(&connection, Task::User(command)).await.map_err(Failure::from)
        }
        Command::Key { connection, command } => {
            cli::run(&connection, Task::Key(command)).await.map_err(Failure::from)
        }
        Command::Display { connection, command } => {
            cli::run(&connection, Task::Display(command)).await.map_err(Failure::from)
        }
        Command::Audit { connection, limit } => {
            cli::run(&connection, Task::Audit { limit }).await.map_err(Failure::from)
        }
        Command::Quarantine { connection, limit } => {
            cli::run(&connection, Task::Quarantine { limit }).await.map_err(Failure::from)
        }
        Command::UnknownUnits { connection } => {
            cli::run(&connection, Task::UnknownUnits).await.map_err(Failure::from)
        }
        Command::Source { connection, command } => {
            cli::run(&connection, Task::Source(command)).await.map_err(Failure::from)
        }
        Command::Public { connection, command } => {
            cli::run(&connection, Task::Public(command)).await.map_err(Failure::from)
        }
        Command::Report { command } => cli::report(command).map_err(Failure::from),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ioc: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Why `ioc serve` (or `ioc demo`, or a management command) stopped; printed with its cause.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Cli(#[from] cli::CliError),
    #[error(transparent)]
    Calendar(#[from] ioc_server::calendar::CalendarError),
    #[error(transparent)]
    Catalog(#[from] ioc_server::catalog::CatalogError),
    #[error("{0}")]
    State(ioc_server::state::StartError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("{0} (is PostgreSQL running? DATABASE_URL is used)")]
    Start(ioc_server::state::StartError),
    #[error("cannot listen for SIGTERM: {0}")]
    Signal(std::io::Error),
    #[error("HTTP server stopped")]
    Stopped,
    #[cfg(feature = "demo")]
    #[error(transparent)]
    Demo(#[from] simulator::DemoError),
}

async fn serve(args: ServeArgs, demo_rate: Option<f64>) -> Result<(), Failure> {
    args.connection.install_calendar()?;
    let calendar = ioc_server::calendar::active();
    tracing::info!(years = ?calendar.years().keys().collect::<Vec<_>>(), "working calendar");
    let catalog = Catalog::load(args.connection.units.as_deref())?;
    let state = AppState::new(args.settings(), catalog.clone()).map_err(Failure::State)?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|source| Failure::Listen { addr: args.bind, source })?;
    let mut server = ioc_server::start(state.clone(), listener).await.map_err(Failure::Start)?;
    tracing::info!(addr = %server.addr, units = catalog.len(), "IOC server listening");
    #[cfg(feature = "demo")]
    if let Some(rate) = demo_rate {
        let welcome = simulator::prepare_demo(&state).await?;
        println!("{}", welcome.render(&format!("http://{}", server.addr)));
        tokio::spawn(simulator::run(state, rate));
    }
    #[cfg(not(feature = "demo"))]
    let _ = (demo_rate, state);
    let signalled = tokio::select! {
        _ = server.wait() => false,
        signal = stop_signal() => signal?,
    };
    if !signalled {
        return Err(Failure::Stopped);
    }
    tracing::info!("stopping: finishing requests in flight, closing live connections (1012)");
    server.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM (how service managers and orchestrators stop a process) or Ctrl-C.
async fn stop_signal() -> Result<bool, Failure> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(Failure::Signal)?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(true)
}
