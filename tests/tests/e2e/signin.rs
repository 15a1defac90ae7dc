//! Signing in with the province's account: a real OpenID provider (npm `oidc-provider`)
//! started by each test, the whole redirect flow driven over HTTP.

use ioc_shared::access::Role;
use ioc_shared::live::ServerMessage;
use ioc_tests::oidc::Walker;
use ioc_tests::{client_with_cookie, ensure_user, login, session_cookie, LiveClient, TestServer};
use rand::SeedableRng;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
/// Phường Phúc Xá and Phường Trúc Bạch, wards of Quận Ba Đình (001).
const PHUC_XA: &str = "00001";
const TRUC_BACH: &str = "00004";

fn accounts() -> Value {
    json!({
        "lanhdao.tp": {"preferred_username": "lanhdao.tp", "ioc_role": "leader", "name": "Nguyễn Văn Lãnh", "email": "lanhdao.tp@hanoi.gov.vn"},
        "cb.phucxa": {"preferred_username": "cb.phucxa", "ioc_role": ["viewer", "chief"], "ioc_unit": PHUC_XA, "name": "Trần Thị Phúc"},
        "khong.quyen": {"preferred_username": "khong.quyen", "ioc_role": "viewer"},
        "cb.lac": {"preferred_username": "cb.lac", "ioc_role": "chief", "ioc_unit": "99999"},
    })
}

/// Follows the provider's way back: the callback's status, its Location and session cookie
/// (if any) and its page.
async fn callback(url: &str) -> (u16, Option<String>, Option<String>, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    let cookie = session_cookie(&response, ioc_server::http::extract::SESSION_COOKIE);
    (status, location, cookie, response.text().await.unwrap())
}

/// Signs `login` in at the provider and through the callback; the session cookie.
async fn sign_in(server: &TestServer, login: &str, next: &str) -> String {
    let back = Walker::default().authorize(&server.base, next, login).await;
    let (status, location, cookie, page) = callback(&back).await;
    assert_eq!(status, 302, "{page}");
    assert_eq!(location.as_deref(), Some(next));
    cookie.expect("a session cookie")
}

async fn me(server: &TestServer, cookie: &str) -> (u16, Value) {
    let response = client_with_cookie(&server.base, cookie)
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn audit_actions(server: &TestServer) -> Vec<(String, String, String)> {
    let (_, entries) = server.get("/api/v1/admin/audit?limit=500").await;
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (text("actor"), text("action"), text("detail"))
        })
        .collect()
}

async fn person(server: &TestServer, username: &str) -> Option<Value> {
    let (status, page) = server.get(&format!("/api/v1/admin/users?q={username}")).await;
    assert_eq!(status, 200, "{page}");
    page["users"].as_array().unwrap().iter().find(|p| p["username"] == username).cloned()
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_leader_and_a_wards_chief_sign_in_through_the_provider_and_land_where_they_were_going(
    pool: PgPool,
) {
    let (server, provider) = TestServer::start_with_provider(&pool, &accounts(), |_| {}).await;
    let (_, session) = server.get("/api/v1/session").await;
    assert_eq!(session["oidc"], true, "the login page offers the province's account");
    // The way to the provider: its authorization endpoint, with state, nonce and PKCE S256.
    let start = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/auth/oidc/login?next=/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status().as_u16(), 302);
    let to = reqwest::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    assert!(to.as_str().starts_with(&format!("{}/auth?", provider.issuer)), "{to}");
    let query: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43, "base64url of a SHA-256");
    assert!(query["state"].len() >= 43 && query["nonce"].len() >= 43, "{to}");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], ioc_tests::oidc::CLIENT_ID);

    let leader = sign_in(&server, "lanhdao.tp", "/?unit=01").await;
    let (status, who) = me(&server, &leader).await;
    assert_eq!(status, 200);
    assert_eq!(
        (who["username"].as_str(), who["role"].as_str()),
        (Some("lanhdao.tp"), Some("leader")),
        "{who}"
    );

    // Without `next`, back to the page the button was on.
    let mut walker = Walker::default();
    walker.referer = Some(format!("{}/bao-cao?unit={PHUC_XA}", server.base));
    let back = walker.authorize(&server.base, "", "cb.phucxa").await;
    let (status, location, chief, page) = callback(&back).await;
    assert_eq!(
        (status, location.as_deref()),
        (302, Some(&*format!("/bao-cao?unit={PHUC_XA}"))),
        "{page}"
    );
    let chief = chief.unwrap();
    let (_, who) = me(&server, &chief).await;
    assert_eq!(
        (who["role"].as_str(), who["unit"].as_str()),
        (Some("chief"), Some(PHUC_XA)),
        "{who}"
    );
    // Scoped to the ward: its own figures, not the district's.
    let chief_http = client_with_cookie(&server.base, &chief);
    let own = chief_http
        .get(format!("{}/api/v1/units/{PHUC_XA}/summary", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 200);
    let district =
        chief_http.get(format!("{}/api/v1/units/001/summary", server.base)).send().await.unwrap();
    assert_eq!(district.status().as_u16(), 403);

    // Accounts made at the first sign-in, marked as the provider's, with no password.
    let made = person(&server, "cb.phucxa").await.expect("the chief's account");
    assert_eq!(made["origin"], "oidc");
    assert_eq!(made["full_name"], "Trần Thị Phúc");
    assert_eq!(login(&server.base, "cb.phucxa", "").await, Err(401));
    let leader_person = person(&server, "lanhdao.tp").await.unwrap();
    assert_eq!(leader_person["email"], "lanhdao.tp@hanoi.gov.vn", "claims from UserInfo");
    let audit = audit_actions(&server).await;
    assert!(
        audit.iter().any(|(actor, action, detail)| actor == "user:cb.phucxa"
            && action == "login"
            && detail == "oidc"),
        "{audit:?}"
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_group_mapped_chief_gets_in_and_no_role_or_an_unknown_unit_gets_a_403_page(pool: PgPool) {
    let mut directory = accounts();
    directory["tp.truc-bach"] = json!({"preferred_username": "tp.truc-bach", "groups": ["CB_CHUYENVIEN", "CB_TRUONGPHONG"], "ioc_unit": TRUC_BACH});
    directory["khong.nhom"] =
        json!({"preferred_username": "khong.nhom", "groups": ["CB_CHUYENVIEN"]});
    directory["cb.lac"]["groups"] = json!(["CB_TRUONGPHONG"]);
    let (server, _provider) = TestServer::start_with_provider(&pool, &directory, |settings| {
        let oidc = settings.oidc.as_mut().unwrap();
        oidc.role_claim = "groups".into();
        oidc.role_map = "CB_LANHDAO=leader,CB_TRUONGPHONG=chief".into();
    })
    .await;
    let chief = sign_in(&server, "tp.truc-bach", "/").await;
    let (_, who) = me(&server, &chief).await;
    assert_eq!(
        (who["role"].as_str(), who["unit"].as_str()),
        (Some("chief"), Some(TRUC_BACH)),
        "{who}"
    );

    for (login, why) in [("khong.nhom", "maps to no role"), ("cb.lac", "not in the unit catalog")] {
        let back = Walker::default().authorize(&server.base, "/", login).await;
        let (status, _, cookie, page) = callback(&back).await;
        assert_eq!(status, 403, "{login}: {page}");
        assert!(cookie.is_none(), "{login}: nothing signed in");
        assert!(page.contains("Tài khoản chưa được phân quyền trên hệ thống IOC"), "{page}");
        assert!(page.contains("This account has no role on the IOC system"), "{page}");
        assert!(page.contains(why), "{page}");
        assert!(
            person(&server, login).await.is_none(),
            "{login}: never an account with default rights"
        );
    }
    let audit = audit_actions(&server).await;
    for login in ["khong.nhom", "cb.lac"] {
        assert!(
            audit
                .iter()
                .any(|(actor, action, _)| *actor == format!("oidc:{login}")
                    && action == "login_refused"),
            "{login}: {audit:?}"
        );
    }
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn role_and_unit_follow_the_claims_at_the_next_sign_in_and_cut_the_old_session(pool: PgPool) {
    let (server, provider) = TestServer::start_with_provider(&pool, &accounts(), |_| {}).await;
    let first = sign_in(&server, "cb.phucxa", "/").await;
    let mut live = LiveClient::connect_as(&server.ws_url(), Some(&first), None).await.unwrap();
    live.subscribe(PHUC_XA, "today").await;
    assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));

    // The directory moves the chief to Trúc Bạch and renames her.
    let mut moved = accounts();
    moved["cb.phucxa"]["ioc_unit"] = json!(TRUC_BACH);
    moved["cb.phucxa"]["name"] = json!("Trần Thị Phúc (Trúc Bạch)");
    provider.set_accounts(&moved);
    let second = sign_in(&server, "cb.phucxa", "/").await;
    assert_eq!(
        live.closed_with(Duration::from_secs(20)).await,
        Some((1008, "session ended".to_owned()))
    );
    assert_eq!(me(&server, &first).await.0, 401, "the old session ended with the move");
    let (_, who) = me(&server, &second).await;
    assert_eq!(who["unit"], TRUC_BACH, "{who}");
    let synced = person(&server, "cb.phucxa").await.unwrap();
    assert_eq!(synced["full_name"], "Trần Thị Phúc (Trúc Bạch)");
    let audit = audit_actions(&server).await;
    assert!(
        audit.iter().any(|(_, action, detail)| action == "user_synced"
            && detail.contains(&format!("unit {PHUC_XA} → {TRUC_BACH}"))),
        "{audit:?}"
    );

    // The same claims again: nothing changes, the session before stays.
    let third = sign_in(&server, "cb.phucxa", "/").await;
    assert_eq!(me(&server, &second).await.0, 200);
    assert_eq!(me(&server, &third).await.0, 200);

    // Promoted to leader by the directory: every unit, and no unit of its own.
    moved["cb.phucxa"]["ioc_role"] = json!("leader");
    provider.set_accounts(&moved);
    let leader = sign_in(&server, "cb.phucxa", "/").await;
    assert_eq!(me(&server, &third).await.0, 401);
    let (_, who) = me(&server, &leader).await;
    assert_eq!((who["role"].as_str(), who["unit"].as_str()), (Some("leader"), None), "{who}");

    // An account an admin disabled stays disabled whatever the provider says.
    let disable = server
        .http
        .post(format!("{}/api/v1/admin/users/cb.phucxa/disable", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(disable.status().as_u16(), 200);
    let back = Walker::default().authorize(&server.base, "/", "cb.phucxa").await;
    let (status, _, cookie, page) = callback(&back).await;
    assert_eq!(status, 403, "{page}");
    assert!(cookie.is_none() && page.contains("disabled"), "{page}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn every_refusal_of_a_sign_in_is_a_plain_400_page_with_nothing_signed_in(pool: PgPool) {
    let (server, provider) = TestServer::start_with_provider(&pool, &accounts(), |_| {}).await;
    let refused = |status: u16, cookie: &Option<String>, page: &str, why: &str| {
        assert_eq!(status, 400, "{why}: {page}");
        assert!(cookie.is_none(), "{why}: nothing signed in");
        assert!(
            page.contains("Đăng nhập không thành công") && page.contains("Sign-in failed"),
            "{page}"
        );
    };

    // An open redirect in `next` is refused before the provider is asked.
    for next in ["https://evil.example/", "//evil.example/", "/\\evil.example"] {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!(
                "{}/auth/oidc/login?next={}",
                server.base,
                ioc_tests::oidc::urlencode(next)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{next}");
        assert!(response.headers().get("location").is_none());
    }

    // A state this server never gave.
    let (status, _, cookie, page) =
        callback(&format!("{}/auth/oidc/callback?code=abc&state=never-given", server.base)).await;
    refused(status, &cookie, &page, "unknown state");
    let (status, _, cookie, page) = callback(&format!("{}/auth/oidc/callback", server.base)).await;
    refused(status, &cookie, &page, "no state");

    // A good sign-in, then its callback again: the state is used, the code too.
    let back = Walker::default().authorize(&server.base, "/", "lanhdao.tp").await;
    let (status, _, cookie, _) = callback(&back).await;
    assert!(status == 302 && cookie.is_some());
    let (status, _, cookie, page) = callback(&back).await;
    refused(status, &cookie, &page, "reused state");
    // The used code with a fresh state of this server's: the provider refuses it.
    let code = reqwest::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let fresh = Walker::default().authorize(&server.base, "/", "lanhdao.tp").await;
    let fresh_state = reqwest::Url::parse(&fresh)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let (status, _, cookie, page) =
        callback(&format!("{}/auth/oidc/callback?code={code}&state={fresh_state}", server.base))
            .await;
    refused(status, &cookie, &page, "reused code");
    assert!(page.contains("refused the code"), "{page}");

    // ID tokens a real provider does not send, each refused with its reason.
    for (how, why) in [
        ("expired", "expired"),
        ("foreign_audience", "ID token was refused"),
        ("foreign_issuer", "ID token was refused"),
        ("wrong_nonce", "nonce"),
        ("alg_none", "algorithm `none` is not accepted"),
        ("hmac", "algorithm `HS256` is not accepted"),
        ("unknown_key", "does not publish"),
    ] {
        let back = Walker::default().authorize(&server.base, "/", "lanhdao.tp").await;
        provider.tamper(how).await;
        let (status, _, cookie, page) = callback(&back).await;
        refused(status, &cookie, &page, how);
        assert!(page.contains(why), "{how}: {page}");
    }
    // The provider rotates its signing key: the new key id is read from its JWKS again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let back = Walker::default().authorize(&server.base, "/", "lanhdao.tp").await;
    provider.tamper("rotated_key").await;
    let (status, _, cookie, page) = callback(&back).await;
    assert_eq!(status, 302, "a rotated key is found by reading the JWKS again: {page}");
    assert!(cookie.is_some());

    // An error the provider sends back (the person cancelled).
    let back = Walker::default().authorize(&server.base, "/", "lanhdao.tp").await;
    let state = reqwest::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let (status, _, cookie, page) = callback(&format!(
        "{}/auth/oidc/callback?error=access_denied&error_description=cancelled&state={state}",
        server.base
    ))
    .await;
    refused(status, &cookie, &page, "access_denied");

    let audit = audit_actions(&server).await;
    let refusals = audit.iter().filter(|(_, action, _)| action == "login_refused").count();
    // Fuzzed ways back: never a 5xx, never a session.
    let mut rng = rand::rngs::StdRng::seed_from_u64(33);
    let pieces = [
        "code", "state", "error", "next", "=", "&", "%00", "%ff", "..", "/", "//evil", "x", "%",
        "é", "\u{0}", "+",
    ];
    for _ in 0..150 {
        let query: String = (0..rand::Rng::random_range(&mut rng, 0..12))
            .map(|_| pieces[rand::Rng::random_range(&mut rng, 0..pieces.len())])
            .collect();
        for path in ["/auth/oidc/callback", "/auth/oidc/login"] {
            let response = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(format!("{}{path}?{query}", server.base))
                .send()
                .await
                .unwrap();
            assert!(response.status().as_u16() < 500, "{path}?{query}: {}", response.status());
            assert!(session_cookie(&response, ioc_server::http::extract::SESSION_COOKIE).is_none());
        }
    }
    assert!(refusals >= 14, "every refusal is audited: {refusals} of {audit:?}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn password_sign_in_off_leaves_only_break_glass_accounts(pool: PgPool) {
    let (server, _provider) = TestServer::start_with_provider(&pool, &accounts(), |settings| {
        settings.password_login = false
    })
    .await;
    // The test admin is break-glass: it logged in with its password to start the test.
    assert_eq!(server.get("/api/v1/me").await.0, 200);
    ensure_user(&server.server.state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    assert_eq!(login(&server.base, "lanhdao", "leader-password-1").await, Err(403));
    assert_eq!(login(&server.base, "lanhdao", "a-wrong-password").await, Err(401));
    let marked = server
        .http
        .put(format!("{}/api/v1/admin/users/lanhdao", server.base))
        .json(&json!({"break_glass": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(marked.status().as_u16(), 200);
    assert!(login(&server.base, "lanhdao", "leader-password-1").await.is_ok());
    // The province's account still signs in.
    sign_in(&server, "cb.phucxa", "/").await;
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn logging_out_of_a_provider_session_sends_the_browser_to_the_providers_logout(pool: PgPool) {
    let (server, provider) = TestServer::start_with_provider(&pool, &accounts(), |_| {}).await;
    let cookie = sign_in(&server, "lanhdao.tp", "/").await;
    let out: Value = client_with_cookie(&server.base, &cookie)
        .post(format!("{}/api/v1/logout", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = out["end_session_url"].as_str().unwrap_or_else(|| panic!("{out}"));
    let url = reqwest::Url::parse(url).unwrap();
    assert!(url.as_str().starts_with(&format!("{}/session/end", provider.issuer)), "{url}");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert!(query.get("id_token_hint").is_some_and(|t| t.split('.').count() == 3), "{url}");
    assert_eq!(query.get("post_logout_redirect_uri"), Some(&format!("{}/", server.base)));
    // The provider accepts it: its logout page, not an error.
    let page = reqwest::get(url.as_str()).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(!page.text().await.unwrap().contains("\"error\""));
    assert_eq!(me(&server, &cookie).await.0, 401);
    // A password session has nothing to end at the provider.
    let out: Value = server
        .http
        .post(format!("{}/api/v1/logout", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(out["end_session_url"], Value::Null);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn without_an_issuer_nothing_changes(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let (_, session) = server.get("/api/v1/session").await;
    assert_eq!(session["oidc"], false);
    let response = reqwest::get(format!("{}/auth/oidc/login?next=/", server.base)).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let response =
        reqwest::get(format!("{}/auth/oidc/callback?code=a&state=b", server.base)).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    server.cleanup().await;
}
