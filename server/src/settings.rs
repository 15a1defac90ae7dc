//! What the server needs to run, from flags and environment ([`crate::config`]) or built
//! directly by tests.

use ioc_shared::invalid::Invalid;
use ipnet::IpNet;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    /// A PostgreSQL replica for heavy reads that may lag a little (item lists and their CSV,
    /// daily series and open data); `None`: everything reads the primary.
    pub database_read_url: Option<String>,
    pub redis_url: String,
    /// Prefix of every Redis key and channel, so deployments and tests can share a Redis.
    pub redis_prefix: String,
    /// Bootstrap bearer token for ingest; off unless set (source systems use their own keys).
    pub ingest_token: Option<String>,
    /// Where the built dashboard (`index.html`, wasm, styles) is served from.
    pub web_dir: PathBuf,
    /// How long a request waits for PostgreSQL before answering 503.
    pub database_timeout: Duration,
    /// A session ends after this long without activity.
    pub session_idle: Duration,
    /// Mark cookies `Secure` (also done per request behind a proxy saying `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    /// Origins (`https://ioc.example.vn`) allowed besides the server's own: to open the
    /// WebSocket and to send state-changing requests from a browser.
    pub allowed_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed: the client address (throttling, the
    /// audit log) is taken from it only when the peer is one of these.
    pub trusted_proxies: Vec<IpNet>,
    /// Complaint texts (citizens' words) are purged this long after the complaint; figures stay.
    pub pii_retention: Duration,
    /// Audit entries older than this are deleted.
    pub audit_retention: Duration,
    /// Bearer token for `GET /metrics` on the main port (off unless set).
    pub metrics_token: Option<String>,
    /// A separate address serving `/metrics` without a token (an internal network).
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// Whether Open311 `GET requests` shows complaint texts.
    pub open311_public_descriptions: bool,
    /// Where Open311 requests without a unit wait for routing (`None`: the catalog's root).
    pub open311_triage_unit: Option<String>,
    /// Install the shipped alert rules on a fresh database (`IOC_ALERT_DEFAULTS`, on by
    /// default; tests that count the live hub's scopes turn it off).
    pub alert_defaults: bool,
    /// The SMTP server notifications are mailed through (`IOC_SMTP_URL`); `None`: no email.
    pub smtp_url: Option<String>,
    /// The sender of notification emails (`IOC_MAIL_FROM`).
    pub mail_from: String,
    /// The Ed25519 key reports are signed with (`IOC_REPORT_KEY_FILE`; created on first use).
    pub report_key_file: std::path::PathBuf,
    /// The TrueType font reports are set in as PDF (`IOC_REPORT_FONT`): one with Vietnamese.
    pub report_font: String,
    /// Single sign-on through the province's OpenID provider (`IOC_OIDC_*`); `None`: off.
    pub oidc: Option<OidcSettings>,
    /// Whether people may sign in with a password (`IOC_PASSWORD_LOGIN`); when off, only
    /// accounts an admin marked `break_glass` may.
    pub password_login: bool,
}

/// The OpenID provider and how its claims become an IOC account, as configured (checked when
/// the state is built: [`crate::accounts::oidc::OidcConfig::from_settings`]).
#[derive(Debug, Clone, Default)]
pub struct OidcSettings {
    /// `https://sso.hanoi.gov.vn/realms/hanoi`: its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    /// The callback registered at the provider; its path is `/auth/oidc/callback`.
    pub redirect_url: String,
    /// Space-separated; `openid` is always asked.
    pub scopes: String,
    /// The claim naming the account (`preferred_username`); a dotted path reads a nested claim.
    pub username_claim: String,
    /// The claim holding the role or roles, a string or a list (`ioc_role`).
    pub role_claim: String,
    /// The claim holding a chief's unit code (`ioc_unit`).
    pub unit_claim: String,
    /// `CB_LANHDAO=leader,CB_TRUONGPHONG=chief`: claim values to roles, first match wins.
    pub role_map: String,
}

/// The claims read when none are configured.
pub const DEFAULT_OIDC_SCOPES: &str = "openid profile email";
pub const DEFAULT_OIDC_USERNAME_CLAIM: &str = "preferred_username";
pub const DEFAULT_OIDC_ROLE_CLAIM: &str = "ioc_role";
pub const DEFAULT_OIDC_UNIT_CLAIM: &str = "ioc_unit";

/// DejaVu Sans as Debian installs it (`fonts-dejavu-core`): every Vietnamese letter.
pub const DEFAULT_REPORT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// The sender of notification emails when `IOC_MAIL_FROM` names none.
pub const DEFAULT_MAIL_FROM: &str = "IOC <ioc@localhost>";

/// One day, for retention settings.
pub const DAY: Duration = Duration::from_secs(86_400);

/// Parses `IOC_TRUSTED_PROXIES` entries: CIDR blocks (`10.0.0.0/8`) or single addresses.
pub fn parse_proxy(text: &str) -> Result<IpNet, Invalid> {
    let text = text.trim();
    text.parse::<IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(
        |_| {
            Invalid(format!(
                "`{text}` is not an address or CIDR block (e.g. 10.0.0.0/8 or 127.0.0.1)"
            ))
        },
    )
}
