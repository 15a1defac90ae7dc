//! Who sees what: roles and scopes on every surface, WebSocket hardening, revocation, login
//! throttling, and passwords kept out of logs.

use chrono::Duration;
use ioc_server::accounts::Accounts;
use ioc_shared::access::Role;
use ioc_shared::live::ServerMessage;
use ioc_tests::events::*;
use ioc_tests::{
    browser, client_with_cookie, ensure_user, login, paired_display, LiveClient, TestServer,
};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration as StdDuration;

const WAIT: StdDuration = StdDuration::from_secs(10);
const OWN: &str = "001"; // Quận Ba Đình: the chief's and the display's scope
const BELOW: &str = "00004"; // Phường Trúc Bạch, in Ba Đình
const SIBLING: &str = "002"; // Quận Hoàn Kiếm
const CITY: &str = "01";

async fn subscribe_allowed(server: &TestServer, cookie: &str, unit: &str) -> bool {
    let mut client = LiveClient::connect_as(&server.ws_url(), Some(cookie), None).await.unwrap();
    client.subscribe(unit, "today").await;
    match client.next_message(WAIT).await {
        Some(ServerMessage::Snapshot { unit: got, .. }) => {
            assert_eq!(got, unit);
            true
        }
        Some(ServerMessage::Error { message, .. }) => {
            assert_eq!(message, format!("you may not view unit `{unit}`"));
            false
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[sqlx::test(migrations = "../server/migrations")]
async fn authorization_matrix(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let state = &server.server.state;
    ensure_user(state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    ensure_user(state, "truong.badinh", "chief-password-1", Role::Chief, Some(OWN)).await;
    let leader = login(&server.base, "lanhdao", "leader-password-1").await.unwrap();
    let chief = login(&server.base, "truong.badinh", "chief-password-1").await.unwrap();
    let (_, display) = paired_display(&server, OWN).await;
    let principals = [
        ("admin", server.cookie.clone(), [true, true, true, true], true),
        ("leader", leader, [true, true, true, true], false),
        ("chief", chief, [true, true, false, false], false),
        ("display", display, [true, true, false, false], false),
    ];
    let units = [OWN, BELOW, SIBLING, CITY];
    for (role, cookie, allowed, admin) in &principals {
        let http = client_with_cookie(&server.base, cookie);
        for (unit, expected) in units.iter().zip(allowed) {
            let status = http
                .get(format!("{}/api/v1/units/{unit}/summary?window=today", server.base))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(
                status.as_u16(),
                if *expected { 200 } else { 403 },
                "{role} summary of {unit}"
            );
            assert_eq!(
                subscribe_allowed(&server, cookie, unit).await,
                *expected,
                "{role} subscribe to {unit}"
            );
        }
        let admin_status =
            http.get(format!("{}/api/v1/admin/users", server.base)).send().await.unwrap().status();
        assert_eq!(admin_status.as_u16(), if *admin { 200 } else { 403 }, "{role} admin endpoint");
        let audit_status =
            http.get(format!("{}/api/v1/admin/audit", server.base)).send().await.unwrap().status();
        assert_eq!(audit_status.as_u16(), if *admin { 200 } else { 403 }, "{role} audit log");
        // Sessions and displays cannot ingest: that takes a source system's key.
        let t = server.now();
        let ingest = http
            .post(format!("{}/api/v1/events", server.base))
            .json(&json!([dossier_received(&format!("{role}-1"), OWN, "X", t, t)]))
            .send()
            .await
            .unwrap();
        assert_eq!(ingest.status().as_u16(), 401, "{role} ingest");
    }
    // An ingest key limited to Ba Đình writes there and below, nowhere else.
    let (_, key) =
        state.accounts.create_key("mot-cua", Some(OWN), Default::default()).await.unwrap();
    let t = server.now();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(&key)
        .json(&json!([
            dossier_received("k1", OWN, "K1", t, t + Duration::hours(1)),
            dossier_received("k2", BELOW, "K2", t, t + Duration::hours(1)),
            dossier_received("k3", SIBLING, "K3", t, t + Duration::hours(1)),
            dossier_received("k4", CITY, "K4", t, t + Duration::hours(1)),
            {"id": "k5", "source": "someone-else", "type": "task.completed", "at": t.to_rfc3339(), "unit": OWN, "task": "T"},
        ]))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2, "{body}");
    let reasons: Vec<(u64, String)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["error"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        reasons[0],
        (2, "unit `002` is outside the units this key may send for (`001` and below)".into())
    );
    assert_eq!(reasons[1].0, 3);
    assert_eq!(
        reasons[2],
        (4, "source `someone-else` does not match this key's source `mot-cua`".into())
    );
    // Denied scope accesses are in the audit log, with who.
    let audit: serde_json::Value = server
        .http
        .get(format!("{}/api/v1/admin/audit?limit=500", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let denied: Vec<&serde_json::Value> =
        audit.as_array().unwrap().iter().filter(|e| e["action"] == "access_denied").collect();
    assert!(
        denied.iter().any(|e| e["actor"] == "user:truong.badinh" && e["target"] == "unit:002"),
        "{audit}"
    );
    assert!(denied
        .iter()
        .any(|e| e["actor"].as_str().unwrap().starts_with("display:") && e["target"] == "unit:01"));
    assert!(denied
        .iter()
        .any(|e| e["actor"] == "user:lanhdao" && e["target"] == "/api/v1/admin/users"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_refusal_reveals_nothing_about_the_unit(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "truong.badinh", "chief-password-1", Role::Chief, Some(OWN))
        .await;
    let chief = client_with_cookie(
        &server.base,
        &login(&server.base, "truong.badinh", "chief-password-1").await.unwrap(),
    );
    for unit in [SIBLING, "99999"] {
        for path in [format!("/api/v1/units/{unit}/summary"), format!("/api/v1/units/{unit}")] {
            let response = chief.get(format!("{}{path}", server.base)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 403, "{path}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], format!("you may not view unit `{unit}`"));
        }
    }
    // The chief's breadcrumb starts at their own unit, and their root is their unit.
    let info: serde_json::Value = chief
        .get(format!("{}/api/v1/units/{BELOW}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path: Vec<&str> =
        info["path"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap()).collect();
    assert_eq!(path, [OWN, BELOW]);
    let roots: serde_json::Value = chief
        .get(format!("{}/api/v1/units", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(roots[0]["code"], OWN);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn everything_but_login_health_and_the_page_needs_a_credential(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let anonymous = reqwest::Client::new();
    for path in [
        "/api/v1/units",
        "/api/v1/units/01",
        "/api/v1/units/01/summary",
        "/api/v1/me",
        "/api/v1/openapi.yaml",
        "/api/v1/admin/users",
    ] {
        let status = anonymous.get(format!("{}{path}", server.base)).send().await.unwrap().status();
        assert_eq!(status.as_u16(), 401, "{path}");
    }
    assert_eq!(
        anonymous
            .get(format!("{}/api/v1/health", server.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let page = anonymous.get(format!("{}/", server.base)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        LiveClient::connect_as(&server.ws_url(), None, None).await.is_err(),
        "no credential, no live connection"
    );
    let cookie = ioc_tests::session_cookie(
        &browser(&server.base)
            .post(format!("{}/api/v1/login", server.base))
            .json(&json!({"username": ioc_tests::ADMIN.0, "password": ioc_tests::ADMIN.1}))
            .send()
            .await
            .unwrap(),
        ioc_server::http::extract::SESSION_COOKIE,
    );
    assert!(cookie.is_some());
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_session_cookie_is_http_only_and_same_site(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let response = browser(&server.base)
        .post(format!("{}/api/v1/login", server.base))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username": ioc_tests::ADMIN.0, "password": ioc_tests::ADMIN.1}))
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Secure"), "behind TLS the cookie is Secure: {set_cookie}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_foreign_origin_is_refused(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let refused = LiveClient::connect_as(
        &server.ws_url(),
        Some(&server.cookie),
        Some("https://evil.example"),
    )
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403)
        }
        Err(other) => panic!("expected HTTP 403, got {other}"),
        Ok(_) => panic!("a foreign origin must not connect"),
    }
    let own = format!("http://{}", server.server.addr);
    assert!(LiveClient::connect_as(&server.ws_url(), Some(&server.cookie), Some(&own))
        .await
        .is_ok());
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_credential_in_the_query_string_is_refused(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let token = server.cookie.trim_start_matches("ioc_session=").to_owned();
    for query in
        [format!("?session={token}"), format!("?token={token}"), format!("?access_token={token}")]
    {
        let url = format!("{}{query}", server.ws_url());
        match LiveClient::connect_as(&url, None, None).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 400, "{query}")
            }
            Err(other) => panic!("{query}: expected HTTP 400, got {other}"),
            Ok(_) => panic!("{query}: a credential in the URL must not work"),
        }
    }
    // The same token as a cookie works: it is the place, not the token, that is refused.
    assert!(LiveClient::connect_as(&server.ws_url(), Some(&server.cookie), None).await.is_ok());
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_logged_out_session_is_disconnected(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "truong.badinh", "chief-password-1", Role::Chief, Some(OWN))
        .await;
    let cookie = login(&server.base, "truong.badinh", "chief-password-1").await.unwrap();
    let mut live = LiveClient::connect_as(&server.ws_url(), Some(&cookie), None).await.unwrap();
    live.subscribe(OWN, "today").await;
    assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    let logout = client_with_cookie(&server.base, &cookie)
        .post(format!("{}/api/v1/logout", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status().as_u16(), 200);
    let closed = live.closed_with(StdDuration::from_secs(20)).await;
    assert_eq!(closed, Some((1008, "session ended".to_owned())));
    // The session is gone server-side: the cookie no longer works anywhere.
    let me = client_with_cookie(&server.base, &cookie)
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 401);
    assert!(LiveClient::connect_as(&server.ws_url(), Some(&cookie), None).await.is_err());
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_revoked_display_is_disconnected(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let (id, cookie) = paired_display(&server, OWN).await;
    let mut live = LiveClient::connect_as(&server.ws_url(), Some(&cookie), None).await.unwrap();
    live.subscribe(OWN, "today").await;
    assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    let revoke = server
        .http
        .post(format!("{}/api/v1/admin/displays/{id}/revoke", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status().as_u16(), 200);
    assert_eq!(
        live.closed_with(StdDuration::from_secs(20)).await,
        Some((1008, "session ended".to_owned()))
    );
    let me = client_with_cookie(&server.base, &cookie)
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 401);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn an_abusive_client_is_closed_and_others_are_unaffected(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut calm = server.live().await;
    calm.subscribe(OWN, "today").await;
    assert!(matches!(calm.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    let mut flood = server.live().await;
    for _ in 0..200 {
        flood.send_text(r#"{"type":"unsubscribe","unit":"001","window":"today"}"#).await;
    }
    let closed = flood.closed_with(WAIT).await;
    assert_eq!(closed.map(|c| c.0), Some(1008));
    let mut huge = server.live().await;
    huge.send_text(&"x".repeat(70 * 1024)).await;
    assert!(huge.closed_with(WAIT).await.is_some(), "a 70 KiB message closes the connection");
    // The calm client still gets its updates.
    let t = server.now();
    server.ingest_ok(&json!([dossier_received("1", BELOW, "D1", t, t + Duration::hours(1))])).await;
    calm.snapshot_where(WAIT, |s| s.dossiers.received == 1).await;
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn repeated_failed_logins_are_slowed_then_refused(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    let attempt = |password: &'static str| {
        let base = server.base.clone();
        async move {
            let started = std::time::Instant::now();
            let response = browser(&base)
                .post(format!("{base}/api/v1/login"))
                .json(&json!({"username": "lanhdao", "password": password}))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.headers().get("retry-after").is_some(),
                started.elapsed(),
                response.text().await.unwrap(),
            )
        }
    };
    for _ in 0..ioc_server::accounts::throttle::SLOW_AFTER_FAILURES {
        assert_eq!(attempt("wrong-password!").await.0, 401);
    }
    // From here each attempt is held back (a lower bound: never flaky).
    for _ in ioc_server::accounts::throttle::SLOW_AFTER_FAILURES
        ..ioc_server::accounts::throttle::REFUSE_AFTER_FAILURES
    {
        let (status, _, took, _) = attempt("wrong-password!").await;
        assert_eq!(status, 401);
        assert!(took >= StdDuration::from_secs(1), "slowed down: {took:?}");
    }
    // Then refused for a while, even with the right password, with a clear message.
    let (status, retry_after, _, body) = attempt("leader-password-1").await;
    assert_eq!(status, 429);
    assert!(retry_after);
    assert!(body.contains("too many failed login attempts; try again in"), "{body}");
    // Another account is not locked by this one's failures.
    assert!(login(&server.base, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await.is_ok());
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'user:lanhdao'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        actions.iter().filter(|a| *a == "login_failed").count() as i64,
        ioc_server::accounts::throttle::REFUSE_AFTER_FAILURES
    );
    assert!(actions.iter().any(|a| a == "login_refused"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn passwords_are_never_logged_nor_stored_in_clear(pool: PgPool) {
    let logs = ioc_tests::capture_logs();
    let server = TestServer::start(&pool).await;
    let accounts = Accounts::new(pool.clone(), ioc_shared::time::Clock::system());
    let first = "first-secret-Pa55word";
    let wrong = "wrong-secret-Pa55word";
    let second = "second-secret-Pa55word";
    accounts.add_user("pw.check", first, Role::Leader, None).await.unwrap();
    assert!(login(&server.base, "pw.check", first).await.is_ok());
    assert_eq!(login(&server.base, "pw.check", wrong).await, Err(401));
    accounts.reset_password("pw.check", second).await.unwrap();
    assert!(login(&server.base, "pw.check", second).await.is_ok());
    let body =
        json!({"username": "new.person", "password": "third-secret-Pa55word", "role": "leader"});
    assert_eq!(
        server
            .http
            .post(format!("{}/api/v1/admin/users", server.base))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let text = logs.text();
    assert!(text.contains("sqlx") || text.contains("ioc_server"), "logs are being captured");
    for secret in [first, wrong, second, "third-secret-Pa55word"] {
        assert!(!text.contains(secret), "a password reached the logs");
        let in_audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE concat(actor, action, target, detail) LIKE '%' || $1 || '%'")
            .bind(secret)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(in_audit, 0);
        let in_users: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE password_hash LIKE '%' || $1 || '%'",
        )
        .bind(secret)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(in_users, 0);
    }
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'pw.check'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_disabled_person_is_disconnected_and_cannot_log_in(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    let cookie = login(&server.base, "lanhdao", "leader-password-1").await.unwrap();
    let mut live = LiveClient::connect_as(&server.ws_url(), Some(&cookie), None).await.unwrap();
    live.subscribe(CITY, "today").await;
    assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    let disable = server
        .http
        .post(format!("{}/api/v1/admin/users/lanhdao/disable", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(disable.status().as_u16(), 200);
    assert_eq!(
        live.closed_with(StdDuration::from_secs(20)).await,
        Some((1008, "session ended".to_owned()))
    );
    assert_eq!(login(&server.base, "lanhdao", "leader-password-1").await, Err(401));
    server.cleanup().await;
}

/// Sessions end after the configured idle time (here 5 s; the default is 12 h).
#[sqlx::test(migrations = "../server/migrations")]
async fn an_idle_session_expires(pool: PgPool) {
    let mut settings = ioc_tests::settings(&ioc_tests::fresh_prefix());
    settings.session_idle = StdDuration::from_secs(5);
    let state = ioc_server::AppState::with_store(
        settings,
        ioc_server::catalog::Catalog::load(None).unwrap(),
        ioc_server::store::Store::new(pool.clone()),
    )
    .unwrap();
    let server = TestServer::start_state(state).await;
    let me = server.http.get(format!("{}/api/v1/me", server.base)).send().await.unwrap();
    assert_eq!(me.status().as_u16(), 200);
    tokio::time::sleep(StdDuration::from_secs(6)).await; // a lower bound: past the idle time for sure
    let me = server.http.get(format!("{}/api/v1/me", server.base)).send().await.unwrap();
    assert_eq!(me.status().as_u16(), 401);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_pairing_code_works_once(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let body = json!({"name": "Tường Hoàn Kiếm", "unit": SIBLING, "playlist": [{"unit": SIBLING, "window": "today", "seconds": 20}]});
    let created: serde_json::Value = server
        .http
        .post(format!("{}/api/v1/admin/displays", server.base))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = created["pairing_code"].as_str().unwrap().to_owned();
    assert_eq!(created["pairing_link"], format!("/wall#pair={code}"));
    let pair = |code: String| {
        let base = server.base.clone();
        async move {
            browser(&base)
                .post(format!("{base}/api/v1/displays/pair"))
                .json(&json!({"code": code}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(pair("WRNG-CODE".into()).await.status().as_u16(), 401);
    let paired = pair(code.clone()).await;
    assert_eq!(paired.status().as_u16(), 200);
    let me: serde_json::Value = paired.json().await.unwrap();
    assert_eq!((me["kind"].as_str(), me["unit"].as_str()), (Some("display"), Some(SIBLING)));
    assert_eq!(pair(code).await.status().as_u16(), 401, "a code pairs one screen, once");
    // A playlist view outside the display's unit is refused.
    let outside = json!({"name": "Sai", "unit": SIBLING, "playlist": [{"unit": OWN, "window": "today", "seconds": 20}]});
    let refused = server
        .http
        .post(format!("{}/api/v1/admin/displays", server.base))
        .json(&outside)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    server.cleanup().await;
}

/// Credentials that end without a notice (changed in the database directly, or a notice
/// missed) are caught by the periodic recheck, which checks every live connection's credential
/// together; connections whose credential is still valid stay, and their sessions stay active.
#[sqlx::test(migrations = "../server/migrations")]
async fn one_recheck_ends_the_connections_whose_credentials_ended_without_a_notice(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "stays", "stays-password-1", Role::Leader, None).await;
    ensure_user(&server.server.state, "goes", "goes-password-1", Role::Leader, None).await;
    let stays = login(&server.base, "stays", "stays-password-1").await.unwrap();
    let goes = login(&server.base, "goes", "goes-password-1").await.unwrap();
    let (display_id, display_cookie) = paired_display(&server, OWN).await;
    let mut connections = Vec::new();
    for cookie in [&stays, &stays, &goes, &display_cookie] {
        let mut live = LiveClient::connect_as(&server.ws_url(), Some(cookie), None).await.unwrap();
        live.subscribe(OWN, "today").await;
        assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
        connections.push(live);
    }
    let state = &server.server.state;
    assert_eq!(state.live_credentials.len(), 3, "two connections share one session");

    // Behind the server's back: one session expires, the display is revoked.
    let now = server.now();
    sqlx::query("UPDATE sessions SET last_seen = $1::timestamptz - interval '30 days' WHERE user_id = (SELECT id FROM users WHERE username = 'goes')")
        .bind(now)
        .execute(&pool).await.unwrap();
    sqlx::query("UPDATE displays SET revoked_at = $2 WHERE id = $1")
        .bind(display_id)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    // The kept session was last active long enough ago that the recheck records activity.
    sqlx::query("UPDATE sessions SET last_seen = $1::timestamptz - interval '10 minutes' WHERE user_id = (SELECT id FROM users WHERE username = 'stays')")
        .bind(now)
        .execute(&pool).await.unwrap();

    let ended = state
        .live_credentials
        .recheck(&state.accounts, state.settings.session_idle, &state.revocations)
        .await
        .unwrap();
    assert_eq!(ended, 2);
    let mut display = connections.pop().unwrap();
    let mut gone = connections.pop().unwrap();
    assert_eq!(
        display.closed_with(StdDuration::from_secs(20)).await,
        Some((1008, "session ended".to_owned()))
    );
    assert_eq!(
        gone.closed_with(StdDuration::from_secs(20)).await,
        Some((1008, "session ended".to_owned()))
    );
    let idle_seconds: f64 = sqlx::query_scalar("SELECT EXTRACT(EPOCH FROM $1::timestamptz - last_seen)::float8 FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'stays')")
        .bind(server.now())
        .fetch_one(&pool).await.unwrap();
    assert!(idle_seconds < 60.0, "the kept session's activity was recorded: idle {idle_seconds} s");
    // The kept connections still answer: a new subscription gets its snapshot.
    for live in &mut connections {
        live.subscribe(OWN, "24h").await;
        assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    }
    // Closed connections leave the registry.
    drop(display);
    drop(gone);
    let mut left = state.live_credentials.len();
    for _ in 0..50 {
        if left == 1 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        left = state.live_credentials.len();
    }
    assert_eq!(left, 1);
    server.cleanup().await;
}
