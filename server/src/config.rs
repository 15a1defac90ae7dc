//! Command line and environment. Flags win over environment variables, which win over defaults.

use crate::settings::Settings;
use clap::{Args, Parser, Subcommand};
use ioc_shared::invalid::Invalid;
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

// Parsed once at start-up: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run the server with a built-in simulator feeding it realistic Hanoi events (built with
    /// the `demo` feature, which scripts/demo.sh turns on).
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Manage people: add, list, set, import, disable, enable, reset-password.
    User {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage source systems' ingest keys: create, list, revoke.
    Key {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage wall displays: create, list, pair, revoke.
    Display {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: DisplayCommand,
    },
    /// Source systems: what they sent and whether any went silent.
    Source {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Public disclosure: which units appear on /cong-khai and in the open data.
    Public {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[command(subcommand)]
        command: PublicCommand,
    },
    /// List rows set aside because they could not be read, newest first.
    Quarantine {
        #[command(flatten)]
        connection: ConnectionArgs,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// List items whose unit is not in the catalog (counted under `_unknown`).
    UnknownUnits {
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Frozen, signed reports: check a downloaded one offline.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Print the audit log, newest first.
    Audit {
        #[command(flatten)]
        connection: ConnectionArgs,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Check a report (`GET /api/v1/reports/{id}` saved to a file): its digest and its
    /// signature. Exits non-zero when either fails.
    Verify {
        file: PathBuf,
        /// The server's public key (`GET /api/v1/reports/key`, base64); default: the one of
        /// the key file.
        #[arg(long)]
        public_key: Option<String>,
        #[arg(long, env = "IOC_REPORT_KEY_FILE", default_value = "ioc-report.key")]
        key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person; the password is read from standard input (never from a flag).
    Add {
        name: String,
        /// admin, leader or chief.
        #[arg(long)]
        role: String,
        /// A chief's unit code (required for chief).
        #[arg(long)]
        unit: Option<String>,
    },
    /// List people.
    List,
    /// Disable a person and end their sessions.
    Disable { name: String },
    /// Enable a disabled person.
    Enable { name: String },
    /// Set a new password (read from standard input) and end the person's sessions.
    ResetPassword { name: String },
    /// Change a person: role and unit (their sessions and live connections end), full name,
    /// where they are told (email for notification emails, phone passed to webhooks for SMS or
    /// Zalo gateways), and whether they may sign in with a password while password sign-in is
    /// off (`--break-glass true`). An empty value clears a text.
    Set {
        name: String,
        /// admin, leader or chief (a chief needs --unit, or keeps the unit they have).
        #[arg(long)]
        role: Option<String>,
        /// A chief's unit code.
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        full_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, action = clap::ArgAction::Set)]
        break_glass: Option<bool>,
    },
    /// Create or update people from a CSV file `username,full_name,role,unit,email,phone`
    /// (UTF-8, with or without a BOM, comma or semicolon); never with a password.
    Import {
        file: PathBuf,
        /// Report what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key for a source system; it is printed once and stored only as a hash.
    Create {
        source: String,
        /// Limit the key to this unit and the units below it.
        #[arg(long)]
        unit: Option<String>,
        /// Flag the source silent after this long without an event: `90s`, `30m`, `2h`.
        #[arg(long, default_value = "30m", value_parser = parse_interval)]
        expect_every: i32,
        /// When silence counts: working-hours (Mon–Fri 08:00–17:00), always, or never.
        #[arg(long, default_value = "working-hours")]
        watch: String,
    },
    /// List keys.
    List,
    /// Revoke a key by id.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Every source: last event, traffic in the last hour and day, top rejection reasons, silence.
    List,
}

#[derive(Debug, Subcommand)]
pub enum PublicCommand {
    /// Make a unit public (or change whether its late officers are named).
    Add {
        unit: String,
        /// Also publish the names of its late officers (the city's decision; audited).
        #[arg(long)]
        officers: bool,
    },
    /// Take a unit off the public page and the open data.
    Remove { unit: String },
    /// The public units.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DisplayCommand {
    /// Create a wall display and print its one-time pairing code.
    Create {
        name: String,
        /// The unit the display may show (with everything below it).
        #[arg(long)]
        unit: String,
        /// A view of the playlist, UNIT:WINDOW:SECONDS (repeat for several); default UNIT:today:30.
        #[arg(long = "view")]
        views: Vec<String>,
    },
    /// List displays.
    List,
    /// Print a new pairing code (the screen paired before is disconnected).
    Pair { id: i64 },
    /// Revoke a display: its screen is disconnected and can no longer connect.
    Revoke { id: i64 },
}

/// `90s`, `30m`, `2h`, `1d` (or plain seconds) as seconds.
pub fn parse_interval(text: &str) -> Result<i32, Invalid> {
    let text = text.trim();
    let (number, unit) =
        text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i32 = number
        .parse()
        .map_err(|_| Invalid(format!("`{text}` is not a duration like 90s, 30m, 2h or 1d")))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is not a duration like 90s, 30m, 2h or 1d").into()),
    };
    n.checked_mul(factor).ok_or_else(|| Invalid(format!("`{text}` is too long")))
}

/// Where the data lives; shared by the server and the management commands.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true, global = true)]
    pub database_url: String,
    /// Redis URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379", global = true)]
    pub redis_url: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "IOC_REDIS_PREFIX", default_value = "ioc:", global = true)]
    pub redis_prefix: String,
    /// Unit catalog (JSON array of {code, name, kind, parent}); default: the Hanoi catalog in assets/.
    #[arg(long, env = "IOC_UNITS", global = true)]
    pub units: Option<PathBuf>,
    /// Working calendar for deadlines given in working time (JSON; the README gives the
    /// format); default: Vietnamese civil servants' 2025–2026 calendar in assets/calendar/.
    #[arg(long, env = "IOC_CALENDAR_FILE", global = true)]
    pub calendar: Option<PathBuf>,
}

impl ConnectionArgs {
    /// Installs the working calendar (`--calendar`), if one is given, before any event is read.
    pub fn install_calendar(&self) -> Result<(), crate::calendar::CalendarError> {
        match &self.calendar {
            Some(path) => crate::calendar::install(path).map(|_| ()),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Address to listen on.
    #[arg(long, env = "IOC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Bootstrap bearer token accepted for any source on POST /api/v1/events (off unless set;
    /// prefer one key per source: `ioc key create`).
    #[arg(long, env = "IOC_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// Directory of the built dashboard.
    #[arg(long, env = "IOC_WEB_DIR", default_value = "dist")]
    pub web_dir: PathBuf,
    /// A PostgreSQL replica for heavy reads (item lists and CSV, series, open data); default:
    /// the primary.
    #[arg(long, env = "IOC_DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,
    /// Seconds a request waits for a PostgreSQL connection before answering 503.
    #[arg(long, env = "IOC_DATABASE_TIMEOUT", default_value_t = 5)]
    pub database_timeout: u64,
    /// Hours without activity after which a session ends.
    #[arg(long, env = "IOC_SESSION_IDLE_HOURS", default_value_t = 12.0)]
    pub session_idle_hours: f64,
    /// Mark cookies Secure (set this when TLS is terminated in front of the server).
    #[arg(long, env = "IOC_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// Other origins allowed to open the WebSocket and send browser writes, comma-separated
    /// (the server's own always is).
    #[arg(long, env = "IOC_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Reverse proxies (CIDR blocks or addresses, comma-separated) whose X-Forwarded-For is
    /// trusted for the client's address.
    #[arg(long, env = "IOC_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::settings::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Days after which complaint texts are purged (figures are kept).
    #[arg(long, env = "IOC_PII_RETENTION_DAYS", default_value_t = 90)]
    pub pii_retention_days: u32,
    /// Days after which audit entries are deleted.
    #[arg(long, env = "IOC_AUDIT_RETENTION_DAYS", default_value_t = 730)]
    pub audit_retention_days: u32,
    /// Bearer token for GET /metrics on the main port (off unless set).
    #[arg(long, env = "IOC_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Serve /metrics, without a token, on this separate address (e.g. 10.0.0.5:9100).
    #[arg(long, env = "IOC_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// Log format: `text` (default) or `json` (one JSON object per line).
    #[arg(long, env = "IOC_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Show complaint texts (`description`) in Open311 `GET requests` (off: citizens' words
    /// stay private unless the city decides otherwise).
    #[arg(long, env = "IOC_OPEN311_PUBLIC_DESCRIPTIONS", default_value_t = false, action = clap::ArgAction::Set)]
    pub open311_public_descriptions: bool,
    /// Where an Open311 request that names no unit (only `lat`/`long` or `address_string`)
    /// is filed to wait for routing; default: the catalog's root.
    #[arg(long, env = "IOC_OPEN311_TRIAGE_UNIT")]
    pub open311_triage_unit: Option<String>,
    /// Install the shipped alert rules (README, "Alerts") on a database that never had them.
    #[arg(long, env = "IOC_ALERT_DEFAULTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub alert_defaults: bool,
    /// SMTP server for notification emails: smtp://host:port, smtp://user:pass@host:587?tls=required
    /// (STARTTLS), smtps://host:465 (off unless set).
    #[arg(long, env = "IOC_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of notification emails.
    #[arg(long, env = "IOC_MAIL_FROM", default_value = crate::settings::DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// The key reports are signed with (base64 of a 32-byte Ed25519 secret, mode 0600); created
    /// on first use. Keep it with the database's backups: reports signed before it was lost can
    /// only be checked with its public key.
    #[arg(long, env = "IOC_REPORT_KEY_FILE", default_value = "ioc-report.key")]
    pub report_key_file: PathBuf,
    /// The TrueType font of PDF reports (it must hold Vietnamese letters).
    #[arg(long, env = "IOC_REPORT_FONT", default_value = crate::settings::DEFAULT_REPORT_FONT)]
    pub report_font: String,
    /// The province's OpenID provider (its issuer URL); single sign-on is off unless set.
    #[arg(long, env = "IOC_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// This server's client id at the provider.
    #[arg(long, env = "IOC_OIDC_CLIENT_ID", default_value = "")]
    pub oidc_client_id: String,
    /// Its client secret (none for a public client).
    #[arg(long, env = "IOC_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// The callback registered at the provider: `https://ioc.example.vn/auth/oidc/callback`.
    #[arg(long, env = "IOC_OIDC_REDIRECT_URL", default_value = "")]
    pub oidc_redirect_url: String,
    /// Scopes asked for, space-separated.
    #[arg(long, env = "IOC_OIDC_SCOPES", default_value = crate::settings::DEFAULT_OIDC_SCOPES)]
    pub oidc_scopes: String,
    /// The claim naming the account (a dotted path reads a nested claim).
    #[arg(long, env = "IOC_OIDC_USERNAME_CLAIM", default_value = crate::settings::DEFAULT_OIDC_USERNAME_CLAIM)]
    pub oidc_username_claim: String,
    /// The claim holding the role (a string or a list; `realm_access.roles` for Keycloak).
    #[arg(long, env = "IOC_OIDC_ROLE_CLAIM", default_value = crate::settings::DEFAULT_OIDC_ROLE_CLAIM)]
    pub oidc_role_claim: String,
    /// The claim holding a chief's unit code.
    #[arg(long, env = "IOC_OIDC_UNIT_CLAIM", default_value = crate::settings::DEFAULT_OIDC_UNIT_CLAIM)]
    pub oidc_unit_claim: String,
    /// Claim values to roles, first match in the order given wins:
    /// `CB_LANHDAO=leader,CB_TRUONGPHONG=chief`.
    #[arg(long, env = "IOC_OIDC_ROLE_MAP", default_value = "")]
    pub oidc_role_map: String,
    /// Password sign-in; `false` leaves it only to accounts marked break-glass.
    #[arg(long, env = "IOC_PASSWORD_LOGIN", default_value_t = true, action = clap::ArgAction::Set)]
    pub password_login: bool,
}

#[cfg(feature = "demo")]
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Average simulated events per second during office hours. The history written on first
    /// start is at the same rate, so a higher rate makes that first start longer.
    #[arg(long, env = "IOC_DEMO_RATE", default_value_t = 0.2)]
    pub rate: f64,
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            database_url: self.connection.database_url.clone(),
            database_read_url: self.database_read_url.clone().filter(|u| !u.is_empty()),
            redis_url: self.connection.redis_url.clone(),
            redis_prefix: self.connection.redis_prefix.clone(),
            ingest_token: self.ingest_token.clone().filter(|t| !t.is_empty()),
            web_dir: self.web_dir.clone(),
            database_timeout: Duration::from_secs(self.database_timeout.max(1)),
            session_idle: Duration::from_secs_f64((self.session_idle_hours * 3600.0).max(60.0)),
            secure_cookies: self.secure_cookies,
            allowed_origins: self
                .allowed_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            trusted_proxies: self.trusted_proxies.clone(),
            pii_retention: crate::settings::DAY * self.pii_retention_days.max(1),
            audit_retention: crate::settings::DAY * self.audit_retention_days.max(1),
            metrics_token: self.metrics_token.clone().filter(|t| !t.is_empty()),
            metrics_bind: self.metrics_bind,
            open311_public_descriptions: self.open311_public_descriptions,
            open311_triage_unit: self.open311_triage_unit.clone().filter(|u| !u.trim().is_empty()),
            alert_defaults: self.alert_defaults,
            smtp_url: self.smtp_url.clone().filter(|u| !u.trim().is_empty()),
            mail_from: self.mail_from.clone(),
            report_key_file: self.report_key_file.clone(),
            report_font: self.report_font.clone(),
            oidc: self.oidc_issuer.clone().filter(|i| !i.trim().is_empty()).map(|issuer| {
                crate::settings::OidcSettings {
                    issuer,
                    client_id: self.oidc_client_id.clone(),
                    client_secret: self.oidc_client_secret.clone().filter(|s| !s.is_empty()),
                    redirect_url: self.oidc_redirect_url.clone(),
                    scopes: self.oidc_scopes.clone(),
                    username_claim: self.oidc_username_claim.clone(),
                    role_claim: self.oidc_role_claim.clone(),
                    unit_claim: self.oidc_unit_claim.clone(),
                    role_map: self.oidc_role_map.clone(),
                }
            }),
            password_login: self.password_login,
        }
    }
}
