//! Single sign-on through the province's OpenID provider: the authorization code flow with
//! PKCE (RFC 7636), the ID token checked against the provider's published keys, and the
//! claims mapped to a role and a unit, as Grafana's `role_attribute_path` and `org_mapping` do.
//!
//! - The provider's `/.well-known/openid-configuration` is read at start and again after an
//!   hour; its JWKS is cached and read again when a token names a key it does not hold (the
//!   provider rotated its keys).
//! - A sign-in in progress (`state`, `nonce`, the PKCE verifier, where to go after) is kept
//!   in Redis for ten minutes and taken once, so any replica can finish it and none twice.
//! - Only asymmetric signatures are accepted: `none` and the HMAC family (whose key would be
//!   our own client secret) are refused before any key is looked at.
//! - `exp`, `iat` and `nbf` are checked against the server's one clock, not the system's.
//!
//! The ID token is checked with `jsonwebtoken`; the flow itself is three plain HTTP requests
//! (discovery, token, UserInfo).

use crate::aggregate::Keys;
use crate::redis_link::RedisLink;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ioc_shared::access::Role;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::directory::Identity;
use crate::settings::OidcSettings;

/// How long a sign-in may take at the provider.
pub const LOGIN_VALID_FOR: Duration = Duration::from_secs(600);
/// The provider's configuration is read again after this long.
const METADATA_FRESH_FOR: Duration = Duration::from_secs(3600);
/// Keys are read again at most this often, however many unknown key ids arrive.
const JWKS_REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(2);
/// Clock difference tolerated between the provider and this server.
const LEEWAY_SECONDS: i64 = 60;
/// Every request to the provider gives up after this long.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// The asymmetric algorithms an ID token may be signed with.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The callback's path; `IOC_OIDC_REDIRECT_URL` must end with it.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// The provider and the claim mapping, checked.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    client_secret: Option<String>,
    pub redirect_url: reqwest::Url,
    scopes: String,
    username_claim: String,
    role_claim: String,
    unit_claim: String,
    /// Claim values to roles, in the order given.
    role_map: Vec<(String, Role)>,
}

impl OidcConfig {
    /// Checks the settings: what is wrong, in words for the operator.
    pub fn from_settings(settings: &OidcSettings) -> Result<OidcConfig, String> {
        let issuer = settings.issuer.trim().trim_end_matches('/').to_owned();
        let issuer_url = reqwest::Url::parse(&issuer)
            .map_err(|e| format!("IOC_OIDC_ISSUER `{issuer}` is not a URL: {e}"))?;
        if !matches!(issuer_url.scheme(), "https" | "http") {
            return Err(format!("IOC_OIDC_ISSUER `{issuer}` must be an http(s) URL"));
        }
        if settings.client_id.trim().is_empty() {
            return Err("IOC_OIDC_ISSUER is set but IOC_OIDC_CLIENT_ID is not".into());
        }
        let redirect_url = reqwest::Url::parse(settings.redirect_url.trim()).map_err(|e| {
            format!("IOC_OIDC_REDIRECT_URL `{}` is not a URL: {e}", settings.redirect_url)
        })?;
        if redirect_url.path() != CALLBACK_PATH {
            return Err(format!(
                "IOC_OIDC_REDIRECT_URL must be this server's {CALLBACK_PATH}, not `{redirect_url}`"
            ));
        }
        let mut scopes: Vec<&str> = settings.scopes.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            scopes.insert(0, "openid");
        }
        let role_map = parse_role_map(&settings.role_map)?;
        let claim = |value: &str, default: &str| {
            Some(value.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.into())
        };
        Ok(OidcConfig {
            issuer,
            client_id: settings.client_id.trim().to_owned(),
            client_secret: settings.client_secret.clone(),
            redirect_url,
            scopes: scopes.join(" "),
            username_claim: claim(
                &settings.username_claim,
                crate::settings::DEFAULT_OIDC_USERNAME_CLAIM,
            ),
            role_claim: claim(&settings.role_claim, crate::settings::DEFAULT_OIDC_ROLE_CLAIM),
            unit_claim: claim(&settings.unit_claim, crate::settings::DEFAULT_OIDC_UNIT_CLAIM),
            role_map,
        })
    }

    /// Where the provider sends the browser after its logout: this server's front page.
    fn post_logout_url(&self) -> String {
        let mut url = self.redirect_url.clone();
        url.set_path("/");
        url.set_query(None);
        url.to_string()
    }
}

/// `CB_LANHDAO=leader,CB_TRUONGPHONG=chief` → pairs, in order.
pub fn parse_role_map(text: &str) -> Result<Vec<(String, Role)>, String> {
    let mut map = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (value, role) = entry.split_once('=').ok_or_else(|| {
            format!("IOC_OIDC_ROLE_MAP: `{entry}` is not VALUE=ROLE (e.g. CB_LANHDAO=leader)")
        })?;
        let role = Role::parse(role.trim()).ok_or_else(|| {
            format!("IOC_OIDC_ROLE_MAP: `{}` is not admin, leader or chief", role.trim())
        })?;
        map.push((value.trim().to_owned(), role));
    }
    Ok(map)
}

/// Why a person was not signed in: what the plain page says (and the audit log records).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    /// Something about the sign-in itself: state, code, token (400).
    #[error("{0}")]
    Invalid(String),
    /// The person is known to the provider but has no rights here (403).
    #[error("{0}")]
    NoRights(String),
    /// The provider could not be reached or answered nonsense (503).
    #[error("{0}")]
    ProviderUnavailable(String),
}

/// A sign-in in progress, kept until the browser comes back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingLogin {
    pub nonce: String,
    pub verifier: String,
    /// A path on this server.
    pub next: String,
}

/// The parts of the provider's configuration this server uses.
#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    end_session_endpoint: Option<String>,
}

#[derive(Default)]
struct Cache {
    metadata: Option<(Arc<Metadata>, Instant)>,
    keys: Vec<Jwk>,
    keys_read: Option<Instant>,
}

/// The provider as this server talks to it; cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    pub config: Arc<OidcConfig>,
    http: reqwest::Client,
    cache: Arc<tokio::sync::Mutex<Cache>>,
    /// Where sign-ins in progress wait.
    redis: RedisLink,
    keys: Keys,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").field("issuer", &self.config.issuer).finish()
    }
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `next` is a path on this server (and not `//host`, `/\host` or a scheme).
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> SignInRefusal {
    tracing::warn!(%error, what, "OpenID provider");
    SignInRefusal::ProviderUnavailable(format!(
        "the province's sign-in service did not answer ({what}); try again in a minute"
    ))
}

impl Oidc {
    pub fn new(config: OidcConfig, redis: RedisLink, keys: Keys) -> Result<Oidc, String> {
        let http = reqwest::Client::builder()
            .timeout(PROVIDER_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client for the OpenID provider: {e}"))?;
        Ok(Oidc { config: Arc::new(config), http, cache: Arc::default(), redis, keys })
    }

    /// Reads the provider's configuration now (at start; a failure is logged and the next
    /// sign-in tries again).
    pub async fn warm_up(&self) {
        match self.metadata().await {
            Ok(metadata) => {
                tracing::info!(issuer = %metadata.issuer, "OpenID provider configuration read")
            }
            Err(refusal) => {
                tracing::warn!(%refusal, "OpenID provider not reachable at start; sign-ins will retry")
            }
        }
    }

    async fn metadata(&self) -> Result<Arc<Metadata>, SignInRefusal> {
        let mut cache = self.cache.lock().await;
        if let Some((metadata, read)) = &cache.metadata {
            if read.elapsed() < METADATA_FRESH_FOR {
                return Ok(metadata.clone());
            }
        }
        let url = format!("{}/.well-known/openid-configuration", self.config.issuer);
        let metadata: Metadata = self.get_json(&url, "its configuration").await?;
        if metadata.issuer.trim_end_matches('/') != self.config.issuer {
            return Err(unavailable(
                "its configuration",
                format!(
                    "the configuration names issuer `{}`, not IOC_OIDC_ISSUER",
                    metadata.issuer
                ),
            ));
        }
        let metadata = Arc::new(metadata);
        cache.metadata = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, SignInRefusal> {
        let response = self.http.get(url).send().await.map_err(|e| unavailable(what, e))?;
        if !response.status().is_success() {
            return Err(unavailable(what, format!("{url} answered {}", response.status())));
        }
        response.json().await.map_err(|e| unavailable(what, e))
    }

    /// Starts a sign-in: the provider's authorization URL, the sign-in remembered under its
    /// `state`.
    pub async fn start(&self, next: &str) -> Result<String, SignInRefusal> {
        if !is_local_path(next) {
            return Err(SignInRefusal::Invalid(format!(
                "`next` must be a path on this server (/…), not `{next}`"
            )));
        }
        let metadata = self.metadata().await?;
        let state = random_token();
        let pending =
            PendingLogin { nonce: random_token(), verifier: random_token(), next: next.to_owned() };
        let stored = serde_json::to_string(&pending).map_err(|e| unavailable("this server", e))?;
        let mut redis = self.redis.clone();
        let saved: redis::RedisResult<()> = redis::cmd("SET")
            .arg(self.keys.oidc_login(&state))
            .arg(stored)
            .arg("EX")
            .arg(LOGIN_VALID_FOR.as_secs())
            .query_async(&mut redis)
            .await;
        saved.map_err(|e| unavailable("this server's Redis", e))?;
        let mut url = reqwest::Url::parse(&metadata.authorization_endpoint)
            .map_err(|e| unavailable("its authorization endpoint", e))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", self.config.redirect_url.as_str())
            .append_pair("scope", &self.config.scopes)
            .append_pair("state", &state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &pkce_challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url.to_string())
    }

    /// Takes the sign-in remembered under `state` (once: a second take finds nothing).
    pub async fn take(&self, state: &str) -> Result<PendingLogin, SignInRefusal> {
        let unknown = || {
            SignInRefusal::Invalid(
                "this sign-in is unknown, was already used or took longer than 10 minutes; sign in again"
                    .into(),
            )
        };
        if state.is_empty() || state.len() > 200 {
            return Err(unknown());
        }
        let mut redis = self.redis.clone();
        let stored: Option<String> = redis::cmd("GETDEL")
            .arg(self.keys.oidc_login(state))
            .query_async(&mut redis)
            .await
            .map_err(|e| unavailable("this server's Redis", e))?;
        let stored = stored.ok_or_else(unknown)?;
        serde_json::from_str(&stored).map_err(|_| unknown())
    }

    /// Exchanges the code, checks the ID token and reads the claims (ID token first, then
    /// UserInfo). Returns the claims and the raw ID token.
    pub async fn finish(
        &self,
        code: &str,
        pending: &PendingLogin,
        now: DateTime<Utc>,
    ) -> Result<(Map<String, Value>, String), SignInRefusal> {
        let metadata = self.metadata().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_url.as_str()),
            ("code_verifier", &pending.verifier),
        ];
        let mut request = self.http.post(&metadata.token_endpoint);
        match &self.config.client_secret {
            // RFC 6749 §2.3.1: both form-encoded, then Basic.
            Some(secret) => {
                let id: String =
                    form_urlencoded::byte_serialize(self.config.client_id.as_bytes()).collect();
                let secret: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
                request = request.basic_auth(id, Some(secret));
            }
            None => form.push(("client_id", &self.config.client_id)),
        }
        let body: String =
            form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        let response = request
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| unavailable("its token endpoint", e))?;
        let status = response.status();
        let answer: Value =
            response.json().await.map_err(|e| unavailable("its token endpoint", e))?;
        if !status.is_success() {
            let error = answer.get("error").and_then(Value::as_str).unwrap_or("an error");
            return Err(SignInRefusal::Invalid(format!(
                "the sign-in service refused the code ({error}); it may have been used already or expired — sign in again"
            )));
        }
        let id_token = answer
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| SignInRefusal::Invalid("the sign-in service gave no ID token".into()))?
            .to_owned();
        let mut claims = self.verify(&metadata, &id_token, &pending.nonce, now).await?;
        let access_token = answer.get("access_token").and_then(Value::as_str);
        if let (Some(endpoint), Some(access_token)) = (&metadata.userinfo_endpoint, access_token) {
            if self.missing_claims(&claims) {
                let more = self.userinfo(endpoint, access_token).await?;
                if more.get("sub") != claims.get("sub") {
                    return Err(SignInRefusal::Invalid(
                        "the sign-in service's UserInfo names another person than the ID token"
                            .into(),
                    ));
                }
                for (name, value) in more {
                    claims.entry(name).or_insert(value);
                }
            }
        }
        Ok((claims, id_token))
    }

    fn missing_claims(&self, claims: &Map<String, Value>) -> bool {
        [&self.config.username_claim, &self.config.role_claim, &self.config.unit_claim]
            .iter()
            .any(|name| claim(claims, name).is_none())
            || !claims.contains_key("name")
            || !claims.contains_key("email")
    }

    async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, SignInRefusal> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| unavailable("its UserInfo endpoint", e))?;
        if !response.status().is_success() {
            return Err(unavailable("its UserInfo endpoint", response.status()));
        }
        response.json().await.map_err(|e| unavailable("its UserInfo endpoint", e))
    }

    /// Checks an ID token: its algorithm, its signature by a key of the provider, `iss`,
    /// `aud` (and `azp`), `exp`/`iat`/`nbf` against `now`, and the `nonce` of this sign-in.
    async fn verify(
        &self,
        metadata: &Metadata,
        token: &str,
        nonce: &str,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, SignInRefusal> {
        let invalid =
            |why: String| SignInRefusal::Invalid(format!("the ID token was refused: {why}"));
        let algorithm = token_algorithm(token).map_err(invalid)?;
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(e.to_string()))?;
        let key = self.key_for(metadata, header.kid.as_deref(), algorithm).await?;
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&metadata.issuer]);
        validation.set_audience(&[&self.config.client_id]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
        // Times are checked below against the server's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| invalid(e.to_string()))?;
        let claims = data.claims;
        check_times(&claims, now).map_err(invalid)?;
        if let Some(Value::Array(audiences)) = claims.get("aud") {
            if audiences.len() > 1
                && claims.get("azp").and_then(Value::as_str) != Some(&self.config.client_id)
            {
                return Err(invalid("several audiences and `azp` is not this server".into()));
            }
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(invalid("its nonce is not the one of this sign-in".into()));
        }
        Ok(claims)
    }

    /// The provider's key for `kid` (or its only key for the algorithm's family when the token
    /// names none), reading the JWKS again once when it is unknown.
    async fn key_for(
        &self,
        metadata: &Metadata,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<DecodingKey, SignInRefusal> {
        let mut cache = self.cache.lock().await;
        for attempt in 0..2 {
            if let Some(jwk) = pick_key(&cache.keys, kid, algorithm) {
                return DecodingKey::from_jwk(jwk).map_err(|e| {
                    SignInRefusal::Invalid(format!(
                        "the ID token was refused: its key cannot be used: {e}"
                    ))
                });
            }
            let recently =
                cache.keys_read.is_some_and(|read| read.elapsed() < JWKS_REFRESH_AT_MOST_EVERY);
            if attempt == 1 || (recently && !cache.keys.is_empty()) {
                break;
            }
            let set: Value = self.get_json(&metadata.jwks_uri, "its keys").await?;
            cache.keys = usable_keys(&set);
            cache.keys_read = Some(Instant::now());
        }
        Err(SignInRefusal::Invalid(format!(
            "the ID token was refused: it is signed with a key the sign-in service does not publish ({})",
            kid.unwrap_or("no key id")
        )))
    }

    /// The provider's logout URL for a session signed in with `id_token`, when it has one.
    pub async fn end_session_url(&self, id_token: Option<&str>) -> Option<String> {
        let metadata = self.metadata().await.ok()?;
        let mut url = reqwest::Url::parse(metadata.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token {
                query.append_pair("id_token_hint", hint);
            }
            query
                .append_pair("client_id", &self.config.client_id)
                .append_pair("post_logout_redirect_uri", &self.config.post_logout_url());
        }
        Some(url.to_string())
    }

    /// Who the claims say the person is, under the configured mapping.
    pub fn identity(
        &self,
        claims: &Map<String, Value>,
        known_unit: impl Fn(&str) -> bool,
    ) -> Result<Identity, SignInRefusal> {
        map_identity(&self.config, claims, known_unit)
    }
}

/// The `alg` of a token's header, refusing `none` and the HMAC family by name.
pub fn token_algorithm(token: &str) -> Result<Algorithm, String> {
    let header = token.split('.').next().unwrap_or("");
    let header =
        URL_SAFE_NO_PAD.decode(header).map_err(|_| "its header is not base64url".to_owned())?;
    let header: Value =
        serde_json::from_slice(&header).map_err(|_| "its header is not JSON".to_owned())?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if alg.eq_ignore_ascii_case("none")
        || alg.to_ascii_uppercase().starts_with("HS")
        || alg.is_empty()
    {
        return Err(format!(
            "algorithm `{alg}` is not accepted (only signatures by the provider's published keys)"
        ));
    }
    ACCEPTED
        .iter()
        .find(|a| format!("{a:?}") == alg)
        .copied()
        .ok_or_else(|| format!("algorithm `{alg}` is not accepted"))
}

fn check_times(claims: &Map<String, Value>, now: DateTime<Utc>) -> Result<(), String> {
    let now = now.timestamp();
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp = time("exp").ok_or("it has no `exp`")?;
    if exp + LEEWAY_SECONDS < now {
        return Err("it has expired".into());
    }
    if time("nbf").is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
        return Err("it is not valid yet (`nbf`)".into());
    }
    if time("iat").is_some_and(|iat| iat - LEEWAY_SECONDS > now) {
        return Err("it was issued in the future (`iat`)".into());
    }
    Ok(())
}

/// The signing keys of a JWKS document; keys this server cannot use (encryption keys, other
/// types) are left out instead of failing the whole set.
fn usable_keys(set: &Value) -> Vec<Jwk> {
    let keys = set.get("keys").and_then(Value::as_array).cloned().unwrap_or_default();
    keys.into_iter()
        .filter(|key| key.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .collect()
}

fn pick_key<'a>(keys: &'a [Jwk], kid: Option<&str>, algorithm: Algorithm) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)),
        None => {
            let family: Vec<&Jwk> = keys
                .iter()
                .filter(|k| {
                    DecodingKey::from_jwk(k).is_ok_and(|d| d.family() == algorithm.family())
                })
                .collect();
            (family.len() == 1).then(|| family[0])
        }
    }
}

/// A claim by name; `a.b.c` reads nested objects (Keycloak's `realm_access.roles`).
fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value).filter(|v| !v.is_null());
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value).filter(|v| !v.is_null())
}

/// A claim's values as texts: a string, a number, or a list of them.
fn claim_texts(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(text)) => vec![text.trim().to_owned()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(items)) => {
            items.iter().flat_map(|item| claim_texts(Some(item))).collect()
        }
        _ => Vec::new(),
    }
}

/// Maps claims to an identity: strict — no role, or a chief of an unknown unit, is refused.
pub fn map_identity(
    config: &OidcConfig,
    claims: &Map<String, Value>,
    known_unit: impl Fn(&str) -> bool,
) -> Result<Identity, SignInRefusal> {
    let no_rights = |why: String| SignInRefusal::NoRights(why);
    let username = claim_texts(claim(claims, &config.username_claim))
        .into_iter()
        .next()
        .map(|u| u.to_lowercase())
        .filter(|u| super::users::check_username(u).is_ok())
        .ok_or_else(|| {
            no_rights(format!(
                "the claim `{}` gives no usable account name (1–64 of a–z, 0–9, '.', '_', '-')",
                config.username_claim
            ))
        })?;
    let values = claim_texts(claim(claims, &config.role_claim));
    let mapped = config
        .role_map
        .iter()
        .find(|(value, _)| values.iter().any(|v| v == value))
        .map(|(_, role)| *role);
    let role = mapped
        .or_else(|| values.iter().find_map(|v| Role::parse(&v.to_lowercase())))
        .ok_or_else(|| {
            no_rights(format!("`{username}`: the claim `{}` maps to no role", config.role_claim))
        })?;
    let unit = match role {
        Role::Chief => {
            let code = claim_texts(claim(claims, &config.unit_claim))
                .into_iter()
                .next()
                .unwrap_or_default();
            if code.is_empty() || !known_unit(&code) {
                return Err(no_rights(format!(
                    "`{username}` is a chief of unit `{code}`, which is not in the unit catalog"
                )));
            }
            Some(code)
        }
        Role::Admin | Role::Leader => None,
    };
    let text =
        |name: &str| claim_texts(claim(claims, name)).into_iter().next().filter(|t| !t.is_empty());
    let full_name = text("name").filter(|n| super::directory::check_full_name(n).is_ok());
    let email = text("email").filter(|e| super::users::check_email(e).is_ok());
    Ok(Identity { username, role, unit, full_name, email })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(role_map: &str) -> OidcConfig {
        OidcConfig::from_settings(&OidcSettings {
            issuer: "https://sso.example.vn/realms/hanoi/".into(),
            client_id: "ioc".into(),
            client_secret: None,
            redirect_url: "https://ioc.example.vn/auth/oidc/callback".into(),
            scopes: "profile email".into(),
            username_claim: String::new(),
            role_claim: "realm_access.roles".into(),
            unit_claim: String::new(),
            role_map: role_map.into(),
        })
        .expect("test")
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("test")
    }

    #[test]
    fn settings_are_checked_and_openid_is_always_asked() {
        let config = config("");
        assert_eq!(config.issuer, "https://sso.example.vn/realms/hanoi");
        assert_eq!(config.scopes, "openid profile email");
        assert_eq!(config.post_logout_url(), "https://ioc.example.vn/");
        let mut settings = OidcSettings {
            issuer: "https://sso".into(),
            client_id: "ioc".into(),
            redirect_url: "https://ioc.example.vn/elsewhere".into(),
            ..OidcSettings::default()
        };
        assert!(OidcConfig::from_settings(&settings).expect_err("test").contains(CALLBACK_PATH));
        settings.redirect_url = "https://ioc.example.vn/auth/oidc/callback".into();
        settings.role_map = "CB_LANHDAO=boss".into();
        assert!(OidcConfig::from_settings(&settings).expect_err("test").contains("boss"));
    }

    #[test]
    fn the_first_mapping_in_the_order_given_wins_and_a_chief_needs_a_known_unit() {
        let config = config("CB_LANHDAO=leader,CB_TRUONGPHONG=chief");
        let known = |code: &str| code == "00004";
        let both = claims(
            json!({"preferred_username": "Nva", "realm_access": {"roles": ["CB_TRUONGPHONG", "CB_LANHDAO"]}, "ioc_unit": "00004", "name": "Nguyễn Văn A"}),
        );
        let identity = map_identity(&config, &both, known).expect("test");
        assert_eq!(
            (identity.username.as_str(), identity.role, identity.unit),
            ("nva", Role::Leader, None)
        );
        assert_eq!(identity.full_name.as_deref(), Some("Nguyễn Văn A"));
        let chief = claims(
            json!({"preferred_username": "tp", "realm_access": {"roles": ["CB_TRUONGPHONG"]}, "ioc_unit": "00004"}),
        );
        assert_eq!(
            map_identity(&config, &chief, known).expect("test").unit.as_deref(),
            Some("00004")
        );
        let elsewhere = claims(
            json!({"preferred_username": "tp", "realm_access": {"roles": "CB_TRUONGPHONG"}, "ioc_unit": "99999"}),
        );
        assert!(matches!(
            map_identity(&config, &elsewhere, known),
            Err(SignInRefusal::NoRights(_))
        ));
        let direct = claims(
            json!({"preferred_username": "ad", "realm_access": {"roles": ["offline_access", "admin"]}}),
        );
        assert_eq!(map_identity(&config, &direct, known).expect("test").role, Role::Admin);
        let nobody = claims(
            json!({"preferred_username": "x", "realm_access": {"roles": ["offline_access"]}}),
        );
        assert!(matches!(map_identity(&config, &nobody, known), Err(SignInRefusal::NoRights(_))));
        let nameless = claims(json!({"realm_access": {"roles": ["admin"]}}));
        assert!(matches!(map_identity(&config, &nameless, known), Err(SignInRefusal::NoRights(_))));
    }

    #[test]
    fn none_and_hmac_are_refused_before_any_key_is_read() {
        let token = |header: Value| format!("{}.e30.", URL_SAFE_NO_PAD.encode(header.to_string()));
        for alg in ["none", "None", "HS256", "HS512", ""] {
            assert!(token_algorithm(&token(json!({"alg": alg}))).is_err(), "{alg}");
        }
        assert_eq!(token_algorithm(&token(json!({"alg": "RS256"}))), Ok(Algorithm::RS256));
        assert_eq!(
            token_algorithm(&token(json!({"alg": "ES256", "kid": "k"}))),
            Ok(Algorithm::ES256)
        );
        assert!(token_algorithm("garbage").is_err());
    }

    #[test]
    fn only_paths_on_this_server_are_followed_after_a_sign_in() {
        for good in ["/", "/?unit=00004", "/bao-cao?id=3"] {
            assert!(is_local_path(good), "{good}");
        }
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", "", "/\n"]
        {
            assert!(!is_local_path(bad), "{bad}");
        }
    }

    #[test]
    fn times_are_read_with_a_minute_of_leeway() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("test");
        let at = |exp: i64| claims(json!({"exp": exp, "iat": 1_800_000_000 - 30}));
        assert!(check_times(&at(1_800_000_000 - 59), now).is_ok());
        assert!(check_times(&at(1_800_000_000 - 61), now).is_err());
        assert!(
            check_times(&claims(json!({"exp": 1_800_000_600, "nbf": 1_800_000_100})), now).is_err()
        );
    }

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
