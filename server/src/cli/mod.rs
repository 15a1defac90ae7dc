//! `ioc user|key|display|source|public|quarantine|unknown-units|report|audit`: managing a
//! deployment from the command line, so a fresh install can be bootstrapped (the first admin)
//! without the web interface.

use crate::accounts::directory::{Change, PeopleFilter};
use crate::accounts::manage::{Actor, ImportError, Management};
use crate::accounts::revoke::Revoker;
use crate::accounts::{AccountError, Accounts, Expectation, Watch};
use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::config::{
    ConnectionArgs, DisplayCommand, KeyCommand, PublicCommand, SourceCommand, UserCommand,
};
use crate::store::Store;
use ioc_shared::access::{Role, WallView};
use ioc_shared::live::View;
use ioc_shared::summary::Window;
use std::io::{BufRead, IsTerminal};
use std::time::Duration;

/// Why a management command failed; `ioc` prints it (with its cause) and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Calendar(#[from] crate::calendar::CalendarError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("{0} (is PostgreSQL running? DATABASE_URL is used)")]
    Store(#[from] crate::store::StoreError),
    #[error("REDIS_URL: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    RedisLink(#[from] crate::redis_link::LinkError),
    #[error(transparent)]
    Accounts(#[from] AccountError),
    #[error(transparent)]
    Sources(#[from] crate::ingest::sources::SourceError),
    #[error("cannot read the password: {0}")]
    Password(#[source] std::io::Error),
    /// An argument or an answer that does not make sense, in words for the operator.
    #[error("{0}")]
    Input(String),
    #[error("the report does not check: {0}")]
    Report(#[from] crate::reports::sign::SignError),
}

/// What every management command needs.
pub struct Context {
    pub accounts: Accounts,
    pub store: Store,
    pub catalog: Catalog,
    /// The same management functions the admin API calls.
    pub manage: Management,
    /// Names the operator in the audit log.
    actor: Actor,
    /// The command's "now" (the system clock: a command is one moment).
    clock: ioc_shared::time::Clock,
}

impl Context {
    pub async fn open(connection: &ConnectionArgs) -> Result<Context, CliError> {
        connection.install_calendar()?;
        let catalog = Catalog::load(connection.units.as_deref())?;
        let store = Store::connect_lazy(&connection.database_url, Duration::from_secs(5))?;
        store.migrate().await?;
        let redis = crate::redis_link::RedisLink::open(&connection.redis_url)?;
        let clock = ioc_shared::time::Clock::system();
        let accounts = Accounts::new(store.pool.clone(), clock.clone());
        let revoker = Revoker::new(redis, &Keys::new(connection.redis_prefix.clone()));
        let manage = Management::new(accounts.clone(), catalog.clone(), revoker);
        let actor = Actor {
            label: format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into())),
            address: None,
        };
        Ok(Context { accounts, store, catalog, manage, actor, clock })
    }
}

/// One management command.
#[derive(Debug)]
pub enum Task {
    User(UserCommand),
    Key(KeyCommand),
    Display(DisplayCommand),
    Audit { limit: i64 },
    Quarantine { limit: i64 },
    Source(SourceCommand),
    Public(PublicCommand),
    UnknownUnits,
}

/// Opens the database and runs one management command.
pub async fn run(connection: &ConnectionArgs, task: Task) -> Result<(), CliError> {
    let context = Context::open(connection).await?;
    match task {
        Task::User(command) => user(&context, command).await,
        Task::Key(command) => key(&context, command).await,
        Task::Display(command) => display(&context, command).await,
        Task::Audit { limit } => audit(&context, limit).await,
        Task::Quarantine { limit } => quarantine(&context, limit).await,
        Task::UnknownUnits => unknown_units(&context).await,
        Task::Source(SourceCommand::List) => sources(&context).await,
        Task::Public(command) => public(&context, command).await,
    }
}

/// Report commands: offline, no database.
pub fn report(command: crate::config::ReportCommand) -> Result<(), CliError> {
    match command {
        crate::config::ReportCommand::Verify { file, public_key, key_file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
            let report: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Input(format!("{}: not JSON: {e}", file.display())))?;
            let public_key = match public_key {
                Some(key) => key,
                None => {
                    if !key_file.exists() {
                        return Err(CliError::Input(format!(
                            "no key file {} (give --public-key, from GET /api/v1/reports/key)",
                            key_file.display()
                        )));
                    }
                    crate::reports::sign::ReportKey::load_or_create(&key_file)?.public_base64()
                }
            };
            crate::reports::sign::verify(&report, &public_key)?;
            println!(
                "OK: digest {} and its Ed25519 signature check",
                report.get("digest").and_then(serde_json::Value::as_str).unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// Reads a password: hidden at a terminal (asked twice), else the first line of standard input.
fn read_password(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password(format!("{prompt}: ")).map_err(CliError::Password)?;
        let again = rpassword::prompt_password("Again: ").map_err(CliError::Password)?;
        if first != again {
            return Err(CliError::Input("the passwords differ".into()));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(CliError::Password)?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
}

pub async fn user(context: &Context, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Add { name, role, unit } => {
            let role = Role::parse(&role).ok_or_else(|| {
                CliError::Input(format!("unknown role `{role}`; expected admin, leader or chief"))
            })?;
            let password = read_password(&format!("Password for {name}"))?;
            let user = context
                .manage
                .add_user(&context.actor, &name, &password, role, unit.as_deref())
                .await?;
            println!(
                "added {} ({}{})",
                user.username,
                role.as_str(),
                unit.map(|u| format!(", unit {u}")).unwrap_or_default()
            );
        }
        UserCommand::List => {
            println!("{:<24} {:<8} {:<8} status", "username", "role", "unit");
            let mut after: Option<String> = None;
            loop {
                let page = context
                    .accounts
                    .list_people(&PeopleFilter::default(), after.as_deref(), 1000)
                    .await?;
                for person in &page {
                    let status = if person.disabled { "disabled" } else { "active" };
                    println!(
                        "{:<24} {:<8} {:<8} {status}",
                        person.username,
                        person.role,
                        person.unit.as_deref().unwrap_or_default()
                    );
                }
                match page.last() {
                    Some(last) if page.len() == 1000 => after = Some(last.username.clone()),
                    _ => break,
                }
            }
        }
        UserCommand::Disable { name } => {
            let user = context.manage.disable_user(&context.actor, &name).await?;
            println!("disabled {}; their sessions are ended", user.username);
        }
        UserCommand::Enable { name } => {
            let user = context.manage.enable_user(&context.actor, &name).await?;
            println!("enabled {}", user.username);
        }
        UserCommand::ResetPassword { name } => {
            let password = read_password(&format!("New password for {name}"))?;
            let user = context.manage.reset_password(&context.actor, &name, &password).await?;
            println!("password of {} reset; their sessions are ended", user.username);
        }
        UserCommand::Set { name, role, unit, full_name, email, phone, break_glass } => {
            let role = match role {
                Some(text) => Some(Role::parse(&text).ok_or_else(|| {
                    CliError::Input(format!(
                        "unknown role `{text}`; expected admin, leader or chief"
                    ))
                })?),
                None => None,
            };
            let change = Change {
                role,
                unit: unit.map(|u| Some(u).filter(|u| !u.is_empty())),
                full_name,
                email,
                phone,
                break_glass,
            };
            let person = context.manage.change_person(&context.actor, &name, &change).await?;
            println!(
                "{}: {}{}, email {}, phone {}",
                person.username,
                person.role,
                person.unit.as_deref().map(|u| format!(" of {u}")).unwrap_or_default(),
                person.email.as_deref().unwrap_or("—"),
                person.phone.as_deref().unwrap_or("—")
            );
        }
        UserCommand::Import { file, dry_run } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| CliError::Input(format!("{}: {e}", file.display())))?;
            let report =
                context.manage.import_people(&context.actor, &bytes, dry_run).await.map_err(
                    |e| match e {
                        ImportError::File(e) => CliError::Input(format!("{}: {e}", file.display())),
                        ImportError::Account(e) => CliError::Accounts(e),
                    },
                )?;
            for refusal in &report.refused {
                println!("line {}: {} refused: {}", refusal.line, refusal.username, refusal.reason);
            }
            println!(
                "{}created {}, updated {}, unchanged {}, refused {}",
                if dry_run { "dry run, nothing written: " } else { "" },
                report.created.len(),
                report.updated.len(),
                report.unchanged.len(),
                report.refused.len()
            );
        }
    }
    Ok(())
}

pub async fn key(context: &Context, command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Create { source, unit, expect_every, watch } => {
            let watch = Watch::parse(&watch).ok_or_else(|| {
                CliError::Input(format!(
                    "unknown --watch `{watch}`; expected working-hours, always or never"
                ))
            })?;
            let expectation = Expectation { interval_seconds: expect_every, watch };
            let (key, secret) = context
                .manage
                .create_key(&context.actor, &source, unit.as_deref(), expectation)
                .await?;
            println!(
                "ingest key {} for source `{}`{}:",
                key.id,
                key.source,
                unit.map(|u| format!(", units {u} and below")).unwrap_or_default()
            );
            println!("{secret}");
            println!(
                "It is shown only now. Source systems send it as `Authorization: Bearer <key>`."
            );
        }
        KeyCommand::List => {
            println!("{:<6} {:<24} {:<8} status", "id", "source", "unit");
            for key in context.accounts.list_keys().await? {
                let status = if key.revoked { "revoked" } else { "active" };
                println!(
                    "{:<6} {:<24} {:<8} {status}",
                    key.id,
                    key.source,
                    key.unit.unwrap_or_else(|| "all".into())
                );
            }
        }
        KeyCommand::Revoke { id } => {
            let key = context.manage.revoke_key(&context.actor, id).await?;
            println!("revoked ingest key {id} ({})", key.source);
        }
    }
    Ok(())
}

/// Parses `UNIT:WINDOW:SECONDS` or `UNIT:PERIOD:SECONDS:score`.
pub fn parse_view(text: &str) -> Result<WallView, CliError> {
    let bad = |message: String| CliError::Input(message);
    let parts: Vec<&str> = text.split(':').collect();
    let (unit, window, seconds, view) = match parts.as_slice() {
        [unit, window, seconds] => (unit, window, seconds, View::Summary),
        [unit, window, seconds, "score"] => (unit, window, seconds, View::Score),
        _ => return Err(bad(format!("view `{text}` is not UNIT:WINDOW:SECONDS (or UNIT:PERIOD:SECONDS:score), e.g. 001:today:30"))),
    };
    let window = Window::parse(window)
        .ok_or_else(|| bad(format!("view `{text}`: window must be one of {}", Window::NAMES)))?;
    if view == View::Score && !window.is_calendar() {
        return Err(bad(format!(
            "view `{text}`: a score view takes a period: month, quarter or year"
        )));
    }
    let seconds = seconds
        .parse()
        .map_err(|_| bad(format!("view `{text}`: seconds must be a whole number")))?;
    Ok(WallView { unit: (*unit).to_owned(), window, seconds, view })
}

pub async fn display(context: &Context, command: DisplayCommand) -> Result<(), CliError> {
    match command {
        DisplayCommand::Create { name, unit, views } => {
            let playlist: Vec<WallView> = if views.is_empty() {
                vec![WallView {
                    unit: unit.clone(),
                    window: Window::Today,
                    seconds: 30,
                    view: Default::default(),
                }]
            } else {
                views.iter().map(|v| parse_view(v)).collect::<Result<_, _>>()?
            };
            let (display, code) =
                context.manage.create_display(&context.actor, &name, &unit, &playlist).await?;
            print_pairing(display.id, &display.name, &code);
        }
        DisplayCommand::List => {
            println!("{:<6} {:<32} {:<8} {:<6} status", "id", "name", "unit", "views");
            for d in context.accounts.list_displays().await? {
                let status = if d.revoked {
                    "revoked"
                } else if d.paired {
                    "paired"
                } else {
                    "waiting for pairing"
                };
                println!(
                    "{:<6} {:<32} {:<8} {:<6} {status}",
                    d.id,
                    d.name,
                    d.unit,
                    d.playlist.len()
                );
            }
        }
        DisplayCommand::Pair { id } => {
            let (display, code) = context.manage.new_pairing(&context.actor, id).await?;
            print_pairing(display.id, &display.name, &code);
        }
        DisplayCommand::Revoke { id } => {
            let display = context.manage.revoke_display(&context.actor, id).await?;
            println!("revoked display {id} ({}); its screen is disconnected", display.name);
        }
    }
    Ok(())
}

fn print_pairing(id: i64, name: &str, code: &str) {
    println!("display {id} ({name}): pairing code {code} (valid 24 hours, once)");
    println!("On the screen open http://<server>/wall and type the code, or open http://<server>/wall#pair={code}");
}

pub async fn audit(context: &Context, limit: i64) -> Result<(), CliError> {
    for entry in context.accounts.audit_log(limit).await? {
        println!(
            "{}  {:<22} {:<24} {:<20} {} {}",
            ioc_shared::time::to_local_rfc3339(entry.at),
            entry.action,
            entry.actor,
            entry.target.unwrap_or_default(),
            entry.address.map(|a| format!("from {a}")).unwrap_or_default(),
            entry.detail.unwrap_or_default()
        );
    }
    Ok(())
}

pub async fn quarantine(context: &Context, limit: i64) -> Result<(), CliError> {
    let (total, rows) = context.store.quarantined(limit).await?;
    println!("{total} row(s) quarantined");
    for row in rows {
        println!(
            "{}  {:<7} {:<32} {}",
            ioc_shared::time::to_local_rfc3339(row.at),
            row.kind,
            row.reference,
            row.error
        );
    }
    Ok(())
}

pub async fn sources(context: &Context) -> Result<(), CliError> {
    let reports =
        crate::ingest::sources::report(&context.store, &context.accounts, context.clock.now())
            .await?;
    println!(
        "{:<24} {:<26} {:>18} {:>18}  state",
        "source", "last event", "hour acc/dup/rej", "day acc/dup/rej"
    );
    for r in reports {
        let last = r
            .last_event_at
            .map(ioc_shared::time::to_local_rfc3339)
            .unwrap_or_else(|| "never".into());
        let counts = |c: &crate::store::traffic::Counts| {
            format!("{}/{}/{}", c.accepted, c.duplicates, c.rejected)
        };
        let state = match r.silent_since {
            Some(since) => format!("SILENT since {}", ioc_shared::time::to_local_rfc3339(since)),
            None if r.keys.is_empty() => "no active key".to_owned(),
            None => "speaking".to_owned(),
        };
        println!(
            "{:<24} {:<26} {:>18} {:>18}  {state}",
            r.source,
            last,
            counts(&r.last_hour),
            counts(&r.last_day)
        );
        for reason in &r.top_rejections {
            println!("    {:>6} × {}", reason.count, reason.reason);
        }
    }
    Ok(())
}

pub async fn unknown_units(context: &Context) -> Result<(), CliError> {
    let rows = context.store.unknown_units(&context.catalog).await?;
    if rows.is_empty() {
        println!("every item's unit is in the catalog");
    }
    for row in rows {
        println!(
            "unit {:<12} {:<10} {} item(s), {} open — counted under `_unknown`",
            row.unit, row.kind, row.items, row.open
        );
    }
    Ok(())
}

pub async fn public(context: &Context, command: PublicCommand) -> Result<(), CliError> {
    match command {
        PublicCommand::Add { unit, officers } => {
            let public = context.manage.make_public(&context.actor, &unit, officers).await?;
            let name =
                context.catalog.get(&public.unit).map(|u| u.name.clone()).unwrap_or_default();
            let named = if public.officers { "late officers named" } else { "no officer names" };
            println!(
                "{} {name} is public ({named}); the public page follows within a minute",
                public.unit
            );
        }
        PublicCommand::Remove { unit } => {
            context.manage.withdraw_public(&context.actor, &unit).await?;
            println!("{unit} is no longer public");
        }
        PublicCommand::List => {
            println!("{:<8} {:<40} officers", "unit", "name");
            for public in context.accounts.public_units().await? {
                let name =
                    context.catalog.get(&public.unit).map(|u| u.name.clone()).unwrap_or_default();
                println!(
                    "{:<8} {:<40} {}",
                    public.unit,
                    name,
                    if public.officers { "named" } else { "-" }
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_parse_or_say_why_not() {
        assert_eq!(
            parse_view("001:24h:20").ok(),
            Some(WallView {
                unit: "001".into(),
                window: Window::Hours24,
                seconds: 20,
                view: Default::default()
            })
        );
        assert!(parse_view("001:1y:20")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("window"));
        assert!(parse_view("001")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("UNIT:WINDOW:SECONDS"));
    }
}
