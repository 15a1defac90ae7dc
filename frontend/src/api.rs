//! Plain HTTP calls to the server: who am I, log in and out, pair a wall, unit paths.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a call failed: the HTTP status (0 when the server was not reached) and its message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    pub message: String,
}

impl Failure {
    fn network(error: JsValue) -> Failure {
        Failure {
            status: 0,
            message: error.as_string().unwrap_or_else(|| "network error".to_owned()),
        }
    }
}

/// One request; the answer's text. Not generic, so the dashboard's WebAssembly holds this
/// state machine once, not once per response type.
pub async fn call_text(method: &str, path: &str, body: Option<String>) -> Result<String, Failure> {
    let window =
        web_sys::window().ok_or_else(|| Failure { status: 0, message: "no window".into() })?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(&body));
        let headers = web_sys::Headers::new().map_err(Failure::network)?;
        headers.set("content-type", "application/json").map_err(Failure::network)?;
        init.set_headers(&headers);
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(Failure::network)?;
    let response: web_sys::Response = response.dyn_into().map_err(Failure::network)?;
    let text = JsFuture::from(response.text().map_err(Failure::network)?)
        .await
        .map_err(Failure::network)?;
    let text = text.as_string().unwrap_or_default();
    if !response.ok() {
        let message = js_sys::JSON::parse(&text)
            .ok()
            .and_then(|v| js_sys::Reflect::get(&v, &JsValue::from_str("error")).ok())
            .and_then(|e| e.as_string())
            .unwrap_or(text);
        return Err(Failure { status: response.status(), message });
    }
    Ok(text)
}

/// Decodes JSON with the browser's own parser (the dashboard's WebAssembly then needs no JSON
/// parser of its own).
pub fn decode<T: DeserializeOwned>(text: &str) -> Result<T, Failure> {
    let value = js_sys::JSON::parse(text)
        .map_err(|_| Failure { status: 200, message: "the answer is not JSON".to_owned() })?;
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| Failure { status: 200, message: e.to_string() })
}

/// A unit in brief, read field by field from the browser's JSON (no serde decoder for it in the
/// download).
fn unit_brief(value: &JsValue) -> ioc_shared::summary::UnitBrief {
    let text = |name: &str| field(value, name).as_string().unwrap_or_default();
    ioc_shared::summary::UnitBrief { code: text("code"), name: text("name"), kind: text("kind") }
}

fn unit_briefs(value: &JsValue) -> Vec<ioc_shared::summary::UnitBrief> {
    value
        .dyn_ref::<js_sys::Array>()
        .map(|a| a.iter().map(|u| unit_brief(&u)).collect())
        .unwrap_or_default()
}

/// `GET /api/v1/units`: the roots the caller may see.
pub async fn roots() -> Result<Vec<ioc_shared::summary::UnitBrief>, Failure> {
    Ok(unit_briefs(&parse(&call_text("GET", "/api/v1/units", None).await?)?))
}

/// `GET /api/v1/units/{code}`: the unit, its path from the root and its children.
pub async fn unit_info(code: &str) -> Result<ioc_shared::summary::UnitInfo, Failure> {
    let value = parse(&call_text("GET", &format!("/api/v1/units/{code}"), None).await?)?;
    let brief = unit_brief(&value);
    if brief.code.is_empty() {
        return Err(Failure { status: 200, message: "a unit without a code".to_owned() });
    }
    let field = |name: &str| field(&value, name);
    Ok(ioc_shared::summary::UnitInfo {
        code: brief.code,
        name: brief.name,
        kind: brief.kind,
        path: unit_briefs(&field("path")),
        children: unit_briefs(&field("children")),
    })
}

/// GETs `path` on this server and decodes its JSON body.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    decode(&call_text("GET", path, None).await?)
}

/// Who this browser is signed in as (`None`: nobody), from `GET /api/v1/session`, which every
/// page asks first and which never answers 401.
pub async fn session() -> Result<Option<ioc_shared::access::Me>, Failure> {
    get_json::<ioc_shared::access::SessionState>("/api/v1/session").await.map(|s| s.me)
}

/// POSTs `body` as JSON to `path` and decodes the JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, Failure> {
    let body = to_json(body).ok_or_else(|| Failure {
        status: 0,
        message: "the request could not be written".to_owned(),
    })?;
    decode(&call_text("POST", path, Some(body)).await?)
}

/// `value` as JSON text, written by the browser's own `JSON.stringify` (no JSON writer in the
/// download; ~2 KB less, brotli). `None` if it cannot be written.
pub fn to_json<T: Serialize>(value: &T) -> Option<String> {
    let object = value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).ok()?;
    js_sys::JSON::stringify(&object).ok()?.as_string()
}

/// A person signed in, as the dashboard needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub username: String,
    pub role: ioc_shared::access::Role,
    /// A chief's unit.
    pub unit: Option<String>,
}

/// Who this browser is signed in as, for the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Signed {
    Nobody,
    Person(Person),
    /// A paired wall display: it belongs on the wall page.
    Display,
}

fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn unreadable() -> Failure {
    Failure { status: 200, message: "the answer does not say who is signed in".to_owned() }
}

/// Reads a `Me` object field by field: serde's decoder of the tagged `Me` (a wall's playlist
/// and all) costs the dashboard's download ~10 KB, and the dashboard needs three fields.
fn read_signed(me: &JsValue) -> Result<Signed, Failure> {
    if me.is_null() || me.is_undefined() {
        return Ok(Signed::Nobody);
    }
    match field(me, "kind").as_string().as_deref() {
        Some("display") => Ok(Signed::Display),
        Some("user") => {
            let role =
                field(me, "role").as_string().and_then(|r| ioc_shared::access::Role::parse(&r));
            Ok(Signed::Person(Person {
                username: field(me, "username").as_string().ok_or_else(unreadable)?,
                role: role.ok_or_else(unreadable)?,
                unit: field(me, "unit").as_string(),
            }))
        }
        _ => Err(unreadable()),
    }
}

/// Parses JSON with the browser's own parser.
pub fn parse(text: &str) -> Result<JsValue, Failure> {
    js_sys::JSON::parse(text)
        .map_err(|_| Failure { status: 200, message: "the answer is not JSON".to_owned() })
}

/// Who is signed in, from `GET /api/v1/session` (which never answers 401), and whether the
/// province's sign-in is offered.
pub async fn signed() -> Result<(Signed, bool), Failure> {
    let answer = parse(&call_text("GET", "/api/v1/session", None).await?)?;
    Ok((read_signed(&field(&answer, "me"))?, field(&answer, "oidc").as_bool() == Some(true)))
}

/// Logs out; where the browser goes next when the provider's session must end too.
pub async fn log_out() -> Option<String> {
    let text = call_text("POST", "/api/v1/logout", Some("{}".into())).await.ok()?;
    field(&parse(&text).ok()?, "end_session_url").as_string()
}

/// Logs in; the person, or why not.
pub async fn log_in(request: &ioc_shared::access::LoginRequest) -> Result<Person, Failure> {
    let body = to_json(request)
        .ok_or_else(|| Failure { status: 0, message: "the request could not be written".into() })?;
    let text = call_text("POST", "/api/v1/login", Some(body)).await?;
    match read_signed(&parse(&text)?)? {
        Signed::Person(person) => Ok(person),
        _ => Err(unreadable()),
    }
}
