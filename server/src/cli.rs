//! `ioc user|key|display|audit`: managing a deployment from the command line, so a fresh
//! install can be bootstrapped (the first admin) without the web interface.

use crate::accounts::{AccountError, Accounts};
use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::config::{ConnectionArgs, DisplayCommand, KeyCommand, UserCommand};
use crate::store::Store;
use ioc_shared::access::{Role, WallView};
use ioc_shared::summary::Window;
use std::io::{BufRead, IsTerminal};
use std::time::Duration;

/// What every management command needs.
pub struct Context {
    pub accounts: Accounts,
    pub catalog: Catalog,
    redis_url: String,
    keys: Keys,
    /// Names the operator in the audit log.
    actor: String,
}

impl Context {
    pub async fn open(connection: &ConnectionArgs) -> Result<Context, String> {
        let catalog = Catalog::load(connection.units.as_deref()).map_err(|e| e.to_string())?;
        let store = Store::connect_lazy(&connection.database_url, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        store.migrate().await.map_err(|e| format!("{e} (is PostgreSQL running? DATABASE_URL is used)"))?;
        let actor = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()));
        Ok(Context {
            accounts: Accounts::new(store.pool),
            catalog,
            redis_url: connection.redis_url.clone(),
            keys: Keys::new(connection.redis_prefix.clone()),
            actor,
        })
    }

    async fn audit(&self, action: &str, target: &str, detail: Option<&str>) {
        self.accounts.audit(&self.actor, action, Some(target), detail, None).await;
    }

    /// Closes the live connections of a revoked session, person or display on every server.
    async fn revoke(&self, key: &str) {
        let published = async {
            let client = redis::Client::open(self.redis_url.as_str())?;
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PUBLISH").arg(self.keys.revoked_channel()).arg(key).query_async::<i64>(&mut conn).await
        };
        if let Err(error) = published.await {
            eprintln!("warning: Redis not reached ({error}); open connections close at their next check (≤ 30 s)");
        }
    }

    fn known_unit(&self, code: &str) -> Result<(), String> {
        if self.catalog.contains(code) {
            Ok(())
        } else {
            Err(format!("unknown unit `{code}`"))
        }
    }
}

/// One management command.
#[derive(Debug)]
pub enum Task {
    User(UserCommand),
    Key(KeyCommand),
    Display(DisplayCommand),
    Audit { limit: i64 },
}

/// Opens the database and runs one management command.
pub async fn run(connection: &ConnectionArgs, task: Task) -> Result<(), String> {
    let context = Context::open(connection).await?;
    match task {
        Task::User(command) => user(&context, command).await,
        Task::Key(command) => key(&context, command).await,
        Task::Display(command) => display(&context, command).await,
        Task::Audit { limit } => audit(&context, limit).await,
    }
}

fn account_error(error: AccountError) -> String {
    error.to_string()
}

/// Reads a password: hidden at a terminal (asked twice), else the first line of standard input.
fn read_password(prompt: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("{prompt}: ")).map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
        Ok(line.trim_end_matches(['\n', '\r']).to_owned())
    }
}

pub async fn user(context: &Context, command: UserCommand) -> Result<(), String> {
    match command {
        UserCommand::Add { name, role, unit } => {
            let role = Role::parse(&role).ok_or_else(|| format!("unknown role `{role}`; expected admin, leader or chief"))?;
            if let Some(unit) = &unit {
                context.known_unit(unit)?;
            }
            let password = read_password(&format!("Password for {name}"))?;
            let user = context.accounts.add_user(&name, &password, role, unit.as_deref()).await.map_err(account_error)?;
            context.audit("user_added", &user.username, Some(role.as_str())).await;
            println!("added {} ({}{})", user.username, role.as_str(), unit.map(|u| format!(", unit {u}")).unwrap_or_default());
        }
        UserCommand::List => {
            println!("{:<24} {:<8} {:<8} status", "username", "role", "unit");
            for user in context.accounts.list_users().await.map_err(account_error)? {
                let status = if user.disabled { "disabled" } else { "active" };
                println!("{:<24} {:<8} {:<8} {status}", user.username, user.role.as_str(), user.unit.unwrap_or_default());
            }
        }
        UserCommand::Disable { name } => {
            let user = context.accounts.set_disabled(&name, true).await.map_err(account_error)?;
            context.audit("user_disabled", &user.username, None).await;
            context.revoke(&format!("user:{}", user.id)).await;
            println!("disabled {}; their sessions are ended", user.username);
        }
        UserCommand::Enable { name } => {
            let user = context.accounts.set_disabled(&name, false).await.map_err(account_error)?;
            context.audit("user_enabled", &user.username, None).await;
            println!("enabled {}", user.username);
        }
        UserCommand::ResetPassword { name } => {
            let password = read_password(&format!("New password for {name}"))?;
            let user = context.accounts.reset_password(&name, &password).await.map_err(account_error)?;
            context.audit("password_reset", &user.username, None).await;
            context.revoke(&format!("user:{}", user.id)).await;
            println!("password of {} reset; their sessions are ended", user.username);
        }
    }
    Ok(())
}

pub async fn key(context: &Context, command: KeyCommand) -> Result<(), String> {
    match command {
        KeyCommand::Create { source, unit } => {
            if let Some(unit) = &unit {
                context.known_unit(unit)?;
            }
            let (key, secret) = context.accounts.create_key(&source, unit.as_deref()).await.map_err(account_error)?;
            context.audit("key_created", &format!("key:{}", key.id), Some(&key.source)).await;
            println!("ingest key {} for source `{}`{}:", key.id, key.source, unit.map(|u| format!(", units {u} and below")).unwrap_or_default());
            println!("{secret}");
            println!("It is shown only now. Source systems send it as `Authorization: Bearer <key>`.");
        }
        KeyCommand::List => {
            println!("{:<6} {:<24} {:<8} status", "id", "source", "unit");
            for key in context.accounts.list_keys().await.map_err(account_error)? {
                let status = if key.revoked { "revoked" } else { "active" };
                println!("{:<6} {:<24} {:<8} {status}", key.id, key.source, key.unit.unwrap_or_else(|| "all".into()));
            }
        }
        KeyCommand::Revoke { id } => {
            let key = context.accounts.revoke_key(id).await.map_err(account_error)?;
            context.audit("key_revoked", &format!("key:{id}"), Some(&key.source)).await;
            println!("revoked ingest key {id} ({})", key.source);
        }
    }
    Ok(())
}

/// Parses `UNIT:WINDOW:SECONDS`.
pub fn parse_view(text: &str) -> Result<WallView, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [unit, window, seconds] = parts.as_slice() else {
        return Err(format!("view `{text}` is not UNIT:WINDOW:SECONDS, e.g. 001:today:30"));
    };
    let window = Window::parse(window).ok_or_else(|| format!("view `{text}`: window must be today, 24h, 7d or 30d"))?;
    let seconds = seconds.parse().map_err(|_| format!("view `{text}`: seconds must be a whole number"))?;
    Ok(WallView { unit: (*unit).to_owned(), window, seconds })
}

pub async fn display(context: &Context, command: DisplayCommand) -> Result<(), String> {
    match command {
        DisplayCommand::Create { name, unit, views } => {
            let playlist: Vec<WallView> = if views.is_empty() {
                vec![WallView { unit: unit.clone(), window: Window::Today, seconds: 30 }]
            } else {
                views.iter().map(|v| parse_view(v)).collect::<Result<_, _>>()?
            };
            crate::accounts::check_display_scope(&context.catalog, &unit, &playlist).map_err(account_error)?;
            let (display, code) = context.accounts.create_display(&name, &unit, &playlist).await.map_err(account_error)?;
            context.audit("display_created", &format!("display:{}", display.id), Some(&display.name)).await;
            print_pairing(display.id, &display.name, &code);
        }
        DisplayCommand::List => {
            println!("{:<6} {:<32} {:<8} {:<6} status", "id", "name", "unit", "views");
            for d in context.accounts.list_displays().await.map_err(account_error)? {
                let status = if d.revoked { "revoked" } else if d.paired { "paired" } else { "waiting for pairing" };
                println!("{:<6} {:<32} {:<8} {:<6} {status}", d.id, d.name, d.unit, d.playlist.len());
            }
        }
        DisplayCommand::Pair { id } => {
            let (display, code) = context.accounts.new_pairing_code(id).await.map_err(account_error)?;
            context.audit("display_pairing_reset", &format!("display:{id}"), Some(&display.name)).await;
            context.revoke(&format!("display:{id}")).await;
            print_pairing(display.id, &display.name, &code);
        }
        DisplayCommand::Revoke { id } => {
            let display = context.accounts.revoke_display(id).await.map_err(account_error)?;
            context.audit("display_revoked", &format!("display:{id}"), Some(&display.name)).await;
            context.revoke(&format!("display:{id}")).await;
            println!("revoked display {id} ({}); its screen is disconnected", display.name);
        }
    }
    Ok(())
}

fn print_pairing(id: i64, name: &str, code: &str) {
    println!("display {id} ({name}): pairing code {code} (valid 24 hours, once)");
    println!("On the screen open http://<server>/wall and type the code, or open http://<server>/wall#pair={code}");
}

pub async fn audit(context: &Context, limit: i64) -> Result<(), String> {
    for entry in context.accounts.audit_log(limit).await.map_err(account_error)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_parse_or_say_why_not() {
        assert_eq!(parse_view("001:24h:20"), Ok(WallView { unit: "001".into(), window: Window::Hours24, seconds: 20 }));
        assert!(parse_view("001:1y:20").err().unwrap_or_default().contains("window"));
        assert!(parse_view("001").err().unwrap_or_default().contains("UNIT:WINDOW:SECONDS"));
    }
}
