//! Command line and environment. Flags win over environment variables, which win over defaults.

use crate::app::Settings;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default PostgreSQL URL: the database the project's setup script creates.
pub const DEFAULT_DATABASE_URL: &str = "postgres://ioc:ioc@127.0.0.1:5432/ioc";

#[derive(Debug, Parser)]
#[command(name = "ioc", version, about = "Real-time operations dashboard server (IOC)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with a built-in simulator feeding it realistic Hanoi events.
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    /// Redis URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Address to listen on.
    #[arg(long, env = "IOC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Bearer token source systems must send to POST /api/v1/events; ingest is refused without one.
    #[arg(long, env = "IOC_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// Unit catalog (JSON array of {code, name, kind, parent}); default: the Hanoi catalog in assets/.
    #[arg(long, env = "IOC_UNITS")]
    pub units: Option<PathBuf>,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "IOC_REDIS_PREFIX", default_value = "ioc:")]
    pub redis_prefix: String,
    /// Directory of the built dashboard.
    #[arg(long, env = "IOC_WEB_DIR", default_value = "dist")]
    pub web_dir: PathBuf,
    /// Seconds a request waits for a PostgreSQL connection before answering 503.
    #[arg(long, env = "IOC_DATABASE_TIMEOUT", default_value_t = 5)]
    pub database_timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Average simulated events per second during office hours.
    #[arg(long, env = "IOC_DEMO_RATE", default_value_t = 4.0)]
    pub rate: f64,
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            ingest_token: self.ingest_token.clone().filter(|t| !t.is_empty()),
            web_dir: self.web_dir.clone(),
            database_timeout: Duration::from_secs(self.database_timeout.max(1)),
        }
    }
}
