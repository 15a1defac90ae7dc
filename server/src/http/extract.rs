//! Who is calling, from the request: cookies and the peer's address.

use super::error::ApiError;
use crate::accounts::access::{Caller, Credential};
use crate::settings::Settings;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use cookie::Cookie;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// A day written `YYYY-MM-DD`, in the years 2000–2999 (the range every date of the API keeps
/// to, so no computation with it overflows).
pub fn day(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2999).contains(&chrono::Datelike::year(d)))
}

/// The day in query parameter `name`: `None` when it is absent or empty, 400 when it is not a
/// [`day`].
pub fn day_param(
    params: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<chrono::NaiveDate>, ApiError> {
    params
        .get(name)
        .filter(|text| !text.is_empty())
        .map(|text| day(text).ok_or_else(|| not_a_day(name, text)))
        .transpose()
}

/// The answer to a day that is not one.
pub fn not_a_day(name: &str, text: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "`{name}` must be a date YYYY-MM-DD between the years 2000 and 2999, not `{text}`"
    ))
}

/// A JSON request body as `T`, or a 400 saying what is wrong and which shape was expected.
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8], shape: &str) -> Result<T, ApiError> {
    // No text of these bodies may hold a NUL: PostgreSQL refuses one in text, so it would
    // surface as a 500 wherever a check forgot it (schemathesis found one in webhooks).
    if has_escaped_nul(bytes) {
        return Err(ApiError::BadRequest(
            "the body's text contains a NUL character (\\u0000)".into(),
        ));
    }
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::BadRequest(format!("{inner}; expected {shape}"))
        } else {
            ApiError::BadRequest(format!("`{path}`: {inner}; expected {shape}"))
        }
    })?;
    // Trailing text after the value is an error too, as `serde_json::from_slice` has it.
    reader.end().map_err(|e| ApiError::BadRequest(format!("{e}; expected {shape}")))?;
    Ok(value)
}

/// Whether a JSON text holds the escape `\\u0000` in a string (a raw NUL is no valid JSON, and
/// `\\\\u0000`, an escaped backslash before `u0000`, is no NUL).
pub(crate) fn has_escaped_nul(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u')
                && bytes.get(i + 2..i + 6) == Some(b"0000".as_slice())
            {
                return true;
            }
            i += 2; // the escaped character, whatever it is
        } else {
            i += 1;
        }
    }
    false
}

pub const SESSION_COOKIE: &str = "ioc_session";
pub const DISPLAY_COOKIE: &str = "ioc_display";

/// The client's address: the socket's peer, or — when the peer is one of
/// `IOC_TRUSTED_PROXIES` — the nearest address in `X-Forwarded-For` that is not a trusted proxy
/// (read from the right, since each proxy appends the address it saw). An untrusted peer's
/// `X-Forwarded-For` is ignored: anyone can write that header.
pub fn client_address(settings: &Settings, parts: &Parts) -> Option<String> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())?;
    Some(forwarded_client(&settings.trusted_proxies, peer, &parts.headers).to_string())
}

fn forwarded_client(trusted: &[IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded.into_iter().rev().find(|ip| !is_trusted(ip)).unwrap_or(peer)
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
}

/// The caller behind the request's cookies, if any is valid now.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    address: Option<String>,
) -> Result<Option<Caller>, ApiError> {
    let candidates = [
        cookie_value(headers, SESSION_COOKIE).map(Credential::Session),
        cookie_value(headers, DISPLAY_COOKIE).map(Credential::Display),
    ];
    for credential in candidates.into_iter().flatten() {
        let lookup = state.accounts.principal_for(&credential, state.settings.session_idle);
        if let Some(principal) =
            super::error::bounded(state.settings.database_timeout, lookup).await?
        {
            return Ok(Some(Caller { principal, credential, address }));
        }
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let address = client_address(&state.settings, parts);
        authenticate(state, &parts.headers, address).await?.ok_or_else(|| {
            ApiError::Unauthorized("log in first (no valid session or display credential)".into())
        })
    }
}

/// An authenticated admin.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Caller);

impl AdminCaller {
    /// The admin as the audit log names them.
    pub fn actor(&self) -> crate::accounts::manage::Actor {
        crate::accounts::manage::Actor {
            label: self.0.principal.label(),
            address: self.0.address.clone(),
        }
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<AdminCaller, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.principal.is_admin() {
            return Ok(AdminCaller(caller));
        }
        state
            .accounts
            .audit(
                &caller.principal.label(),
                "access_denied",
                Some(parts.uri.path()),
                Some("admin only"),
                caller.address.as_deref(),
            )
            .await;
        Err(ApiError::Forbidden("only an admin may do this".into()))
    }
}

/// The `cursor` of a listing paged by id (`next` of the previous page): `None` on the first
/// page; anything this server would not have given is 400.
pub fn id_cursor(
    params: &std::collections::HashMap<String, String>,
) -> Result<Option<i64>, ApiError> {
    match params.get("cursor").filter(|c| !c.is_empty()) {
        Some(text) => Some(text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
            ApiError::BadRequest(format!("`cursor` `{text}` is not one this server gave"))
        }))
        .transpose(),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_a_nul_escape_anywhere_in_a_body_is_found_and_an_escaped_backslash_is_not_one() {
        assert!(has_escaped_nul(br#"{"secret": "a\u0000b"}"#));
        assert!(has_escaped_nul(br#"{"a": ["x", "\u0000"]}"#));
        assert!(!has_escaped_nul(br#"{"text": "C:\\u0000 is a path"}"#));
        assert!(!has_escaped_nul(br#"{"text": "\u00e0 la carte"}"#));
        assert!(!has_escaped_nul(b"{}"));
    }

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            xff.parse().unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap_or_else(|_| IpNet::default())];
        let proxy: IpAddr = [10, 0, 0, 5].into();
        let stranger: IpAddr = [198, 51, 100, 9].into();
        let spoofed = headers("1.2.3.4, 203.0.113.7, 10.0.0.9");
        assert_eq!(
            forwarded_client(&trusted, proxy, &spoofed),
            IpAddr::from([203, 0, 113, 7]),
            "nearest untrusted hop"
        );
        assert_eq!(
            forwarded_client(&trusted, stranger, &spoofed),
            stranger,
            "an untrusted peer's header is ignored"
        );
        assert_eq!(forwarded_client(&trusted, proxy, &headers("garbage")), proxy);
        assert_eq!(forwarded_client(&[], proxy, &spoofed), proxy, "no proxy trusted by default");
    }
}
