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
        Failure { status: 0, message: format!("{error:?}") }
    }
}

async fn call<T: DeserializeOwned>(method: &str, path: &str, body: Option<String>) -> Result<T, Failure> {
    let window = web_sys::window().ok_or_else(|| Failure { status: 0, message: "no window".into() })?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(&body));
        let headers = web_sys::Headers::new().map_err(Failure::network)?;
        headers.set("content-type", "application/json").map_err(Failure::network)?;
        init.set_headers(&headers);
    }
    let response = JsFuture::from(window.fetch_with_str_and_init(path, &init)).await.map_err(Failure::network)?;
    let response: web_sys::Response = response.dyn_into().map_err(Failure::network)?;
    let text = JsFuture::from(response.text().map_err(Failure::network)?).await.map_err(Failure::network)?;
    let text = text.as_string().unwrap_or_default();
    if !response.ok() {
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or(text);
        return Err(Failure { status: response.status(), message });
    }
    serde_json::from_str(&text).map_err(|e| Failure { status: response.status(), message: e.to_string() })
}

/// GETs `path` on this server and decodes its JSON body.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    call("GET", path, None).await
}

/// POSTs `body` as JSON to `path` and decodes the JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    call("POST", path, Some(serde_json::to_string(body).unwrap_or_default())).await
}
