//! Access that holds on the public internet: nobody locked out, no cross-site writes, security
//! headers, the last admin kept, personal data kept no longer than needed.

use chrono::Duration;
use ioc_shared::access::Role;
use ioc_tests::events::*;
use ioc_tests::{ensure_user, run_ioc, TestServer, TOKEN};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::net::IpAddr;

const WARD: &str = "00004";

/// A client whose connections come from `local` (any 127.x.y.z works on loopback), sending
/// `Origin` as the server's own page would.
fn client_from(local: [u8; 4], base: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, base.parse().unwrap());
    reqwest::Client::builder()
        .local_address(IpAddr::from(local))
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn login_status(
    client: &reqwest::Client,
    base: &str,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> u16 {
    let mut request = client
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"username": username, "password": password}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Regression: six wrong passwords locked the username for everyone for 15 minutes (measured:
/// 8 wrong from one address, then the right one from another address → 429).
#[sqlx::test(migrations = "../server/migrations")]
async fn wrong_passwords_from_one_address_never_stop_the_right_one_from_another(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    let attacker = client_from([127, 0, 0, 2], &server.base);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses
            .push(login_status(&attacker, &server.base, "lanhdao", "wrong-password!", None).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 6, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 14, "{statuses:?}");
    // The attacker's address stays refused, even with the right password…
    assert_eq!(
        login_status(&attacker, &server.base, "lanhdao", "leader-password-1", None).await,
        429
    );
    // …but the leader, from their own address, gets in.
    let leader = client_from([127, 0, 0, 3], &server.base);
    assert_eq!(
        login_status(&leader, &server.base, "lanhdao", "leader-password-1", None).await,
        200
    );
    let failed_from: Vec<Option<String>> =
        sqlx::query_scalar("SELECT address FROM audit_log WHERE action = 'login_failed'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(failed_from.iter().all(|a| a.as_deref() == Some("127.0.0.2")), "{failed_from:?}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn behind_a_trusted_proxy_the_forwarded_client_counts_and_an_untrusted_header_is_ignored(
    pool: PgPool,
) {
    let server = TestServer::start_configured(&pool, |s| {
        s.trusted_proxies = vec!["127.0.0.5/32".parse().unwrap()]
    })
    .await;
    ensure_user(&server.server.state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    let proxy = client_from([127, 0, 0, 5], &server.base);
    for _ in 0..20 {
        login_status(&proxy, &server.base, "lanhdao", "wrong-password!", Some("198.51.100.7"))
            .await;
    }
    assert_eq!(
        login_status(&proxy, &server.base, "lanhdao", "leader-password-1", Some("198.51.100.7"))
            .await,
        429
    );
    // Another citizen behind the same proxy is not locked out.
    assert_eq!(
        login_status(&proxy, &server.base, "lanhdao", "leader-password-1", Some("198.51.100.8"))
            .await,
        200
    );
    // The audit log names the real client, not the proxy.
    let addresses: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT address FROM audit_log WHERE action IN ('login_failed', 'login') ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        addresses.iter().filter(|a| a.as_deref() == Some("198.51.100.7")).count() >= 6,
        "{addresses:?}"
    );
    assert_eq!(addresses.last().cloned().flatten().as_deref(), Some("198.51.100.8"));

    // A peer that is not a trusted proxy cannot pick its address with the header.
    let stranger = client_from([127, 0, 0, 6], &server.base);
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(
            login_status(
                &stranger,
                &server.base,
                "lanhdao",
                "wrong-password!",
                Some(&format!("203.0.113.{i}")),
            )
            .await,
        );
    }
    assert_eq!(&statuses[6..], [429, 429], "{statuses:?}");
    let spoofed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE address LIKE '203.0.113.%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(spoofed, 0);
    server.cleanup().await;
}

/// Regression: 20 wrong passwords sent at once were all checked (the count was read, then
/// increased, in two steps).
#[sqlx::test(migrations = "../server/migrations")]
async fn wrong_passwords_in_parallel_count_as_if_sent_one_by_one(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    let client = client_from([127, 0, 0, 4], &server.base);
    let attempts = (0..20).map(|_| {
        let client = client.clone();
        let base = server.base.clone();
        tokio::spawn(async move {
            login_status(&client, &base, "lanhdao", "wrong-password!", None).await
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 6, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 14, "{statuses:?}");
    let checked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'login_failed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(checked, 6, "only six passwords were checked");
    let mut redis = server.server.state.redis.clone();
    let counter: i64 = redis::cmd("GET")
        .arg(format!("{}throttle:login:pair:lanhdao\u{1f}127.0.0.4", server.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(counter, 6);
    server.cleanup().await;
}

/// Regression: an admin request from another subdomain, or with no `Origin`, was accepted.
#[sqlx::test(migrations = "../server/migrations")]
async fn browser_writes_need_json_and_an_allowed_origin(pool: PgPool) {
    let server = TestServer::start_configured(&pool, |s| {
        s.allowed_origins = vec!["https://ioc.hanoi.gov.vn".into()]
    })
    .await;
    let url = format!("{}/api/v1/admin/keys", server.base);
    let cookie = server.cookie.clone();
    let raw = reqwest::Client::new();
    let body = json!({"source": "mot-cua"});
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };

    // The dashboard's own request works.
    assert_eq!(status(server.http.post(&url).json(&body)).await, 200);
    // A configured origin works; a referer from the page does too.
    assert_eq!(
        status(
            raw.post(&url)
                .header("cookie", &cookie)
                .header("origin", "https://ioc.hanoi.gov.vn")
                .json(&body)
        )
        .await,
        200
    );
    assert_eq!(
        status(
            raw.post(&url)
                .header("cookie", &cookie)
                .header("referer", format!("{}/?unit=01", server.base))
                .json(&body)
        )
        .await,
        200
    );
    // A form post (what a foreign page can send without asking) is refused, even from the right origin.
    let form = raw
        .post(&url)
        .header("cookie", &cookie)
        .header("origin", &server.base)
        .form(&[("source", "mot-cua")]);
    assert_eq!(status(form).await, 403);
    // JSON from a sibling subdomain (same site: gov.vn is a public suffix), a foreign site, or nowhere.
    for origin in
        [Some("https://evil.hanoi.gov.vn"), Some("https://attacker.example"), Some("null"), None]
    {
        let mut request = raw.post(&url).header("cookie", &cookie).json(&body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{origin:?}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    // Login, logout and pairing are browser writes too.
    let login = raw
        .post(format!("{}/api/v1/login", server.base))
        .json(&json!({"username": "x", "password": "y"}));
    assert_eq!(status(login).await, 403);
    let logout = raw.post(format!("{}/api/v1/logout", server.base)).header("cookie", &cookie);
    assert_eq!(status(logout).await, 403);
    assert_eq!(server.get("/api/v1/me").await.0, 200, "the refused logout did nothing");
    let pair = raw
        .post(format!("{}/api/v1/displays/pair", server.base))
        .header("origin", "https://evil.hanoi.gov.vn")
        .json(&json!({"code": "ABCD-EFGH"}));
    assert_eq!(status(pair).await, 403);
    // Ingest with a bearer key is not a browser route: unchanged.
    let t = server.now();
    let ingest = raw
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(TOKEN)
        .json(&json!([dossier_received("e1", WARD, "D1", t, t + Duration::hours(1))]));
    assert_eq!(status(ingest).await, 200);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn security_headers_are_on_the_page_the_assets_and_the_api(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    // The dashboard's files as built (their names carry content hashes).
    let assets: Vec<String> = std::fs::read_dir(ioc_tests::web_dir())
        .unwrap()
        .map(|entry| format!("/{}", entry.unwrap().file_name().to_string_lossy()))
        .filter(|path| !path.ends_with(".gz") && !path.ends_with(".br") && path != "/index.html")
        .collect();
    assert_eq!(
        assets.len(),
        13,
        "four stylesheets (dashboard, wall, public page, reports), boot script, and glue and wasm \
         of each page's bundle: {assets:?}"
    );
    let fixed =
        ["/", "/wall", "/bao-cao", "/api/v1/health", "/api/v1/units", "/api/v1/nope", "/nope"];
    for path in fixed.iter().map(|p| p.to_string()).chain(assets) {
        let response = reqwest::get(format!("{}{path}", server.base)).await.unwrap();
        let header = |name: &str| {
            response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'"), "{path}: {csp}");
        assert!(
            csp.contains("connect-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && csp.contains("default-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
    }
    // The page loads its code from files (an inline script would be blocked by the policy).
    let page = reqwest::get(format!("{}/", server.base)).await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script>") && !page.contains("init();"), "{page}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_last_admin_stays_and_no_admin_disables_themselves(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let me = format!("{}/api/v1/admin/users/{}/disable", server.base, ioc_tests::ADMIN.0);
    let response = server.http.post(&me).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert!(response.text().await.unwrap().contains("cannot disable their own account"));
    // The command line refuses to disable the only admin, too.
    let (ok, _, err) = run_ioc(&pool, &server.prefix, &["user", "disable", ioc_tests::ADMIN.0], "");
    assert!(!ok && err.contains("last active admin"), "{err}");
    // With a second admin, one may go — and then the other is the last.
    ensure_user(&server.server.state, "admin2", "second-admin-password", Role::Admin, None).await;
    let (ok, _, err) = run_ioc(&pool, &server.prefix, &["user", "disable", "admin2"], "");
    assert!(ok, "{err}");
    let (ok, _, err) = run_ioc(&pool, &server.prefix, &["user", "disable", ioc_tests::ADMIN.0], "");
    assert!(!ok && err.contains("last active admin"), "{err}");
    assert_eq!(server.get("/api/v1/me").await.0, 200, "still logged in");
    server.cleanup().await;
}

/// Regression: adding a person whose name is taken answered 400, as if the request were
/// malformed; it is a conflict with what exists (409), and the first stays as it was.
#[sqlx::test(migrations = "../server/migrations")]
async fn adding_a_taken_username_is_a_409_conflict(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let url = format!("{}/api/v1/admin/users", server.base);
    let person =
        json!({"username": "lanhdao2", "password": "a-long-enough-password", "role": "leader"});
    let first = server.http.post(&url).json(&person).send().await.unwrap();
    assert!(first.status().is_success(), "{}", first.text().await.unwrap());
    let again = server
        .http
        .post(&url)
        .json(
            &json!({"username": "lanhdao2", "password": "another-long-password", "role": "admin"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 409);
    assert!(again.text().await.unwrap().contains("already exists"));
    assert!(
        ioc_tests::login(&server.base, "lanhdao2", "a-long-enough-password").await.is_ok(),
        "the first keeps its password"
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn failed_ingest_keys_are_throttled_per_address_and_audited(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let url = format!("{}/api/v1/events", server.base);
    let from = |local: [u8; 4]| {
        reqwest::Client::builder().local_address(IpAddr::from(local)).build().unwrap()
    };
    let guesser = from([127, 0, 0, 7]);
    let mut statuses = Vec::new();
    for i in 0..9 {
        let response = guesser
            .post(&url)
            .bearer_auth(format!("guess-{i}"))
            .json(&json!([]))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429, 429, 429]);
    let audited: Vec<Option<String>> =
        sqlx::query_scalar("SELECT address FROM audit_log WHERE action = 'ingest_key_failed'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(audited.len(), 6);
    assert!(audited.iter().all(|a| a.as_deref() == Some("127.0.0.7")));
    // A valid key is never held back, even from that address; other addresses are untouched.
    let t = server.now();
    let batch = json!([dossier_received("e1", WARD, "D1", t, t + Duration::hours(1))]);
    assert_eq!(
        guesser.post(&url).bearer_auth(TOKEN).json(&batch).send().await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        from([127, 0, 0, 8])
            .post(&url)
            .bearer_auth("guess")
            .json(&json!([]))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn complaint_texts_and_audit_entries_past_their_retention_are_deleted_and_figures_stay(
    pool: PgPool,
) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let old = t - Duration::days(100);
    let mut old_complaint = complaint_received(
        "c-old",
        WARD,
        "C-OLD",
        old,
        t + Duration::hours(5),
        "Môi trường",
        "zalo",
    );
    old_complaint["summary"] =
        json!("Nhà tôi ở số 5, điện thoại 0901234567, rác không được thu gom");
    let mut new_complaint = complaint_received(
        "c-new",
        WARD,
        "C-NEW",
        t,
        t + Duration::hours(5),
        "Giao thông",
        "hotline",
    );
    new_complaint["summary"] = json!("Đèn tín hiệu hỏng");
    server.ingest_ok(&json!([old_complaint, new_complaint])).await;
    sqlx::query("INSERT INTO audit_log (actor, action, at) VALUES ('x', 'old_entry', $1::timestamptz - interval '800 days')").bind(server.now()).execute(&pool).await.unwrap();
    let before = server.summary(WARD, "30d").await;

    let done = ioc_server::server::apply_retention(&server.server.state).await.unwrap();
    assert_eq!(done.complaint_texts, 1);
    assert!(done.audit_entries >= 1);
    let texts: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT event_id, body->>'summary' FROM events ORDER BY event_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        texts,
        [("c-new".to_owned(), Some("Đèn tín hiệu hỏng".to_owned())), ("c-old".to_owned(), None)]
    );
    let old_audit: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'old_entry'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(old_audit, 0);
    assert!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap()
            > 0,
        "recent entries stay"
    );

    // The figures are unchanged, and the purged complaint still moves on as before.
    let after = server.summary(WARD, "30d").await;
    assert_eq!(
        serde_json::to_value(&before.complaints).unwrap(),
        serde_json::to_value(&after.complaints).unwrap()
    );
    server
        .ingest_ok(&json!([complaint_resolved("c-old-done", WARD, "C-OLD", t, Some("satisfied"))]))
        .await;
    let resolved = server.summary(WARD, "30d").await;
    assert_eq!(resolved.complaints.resolved, before.complaints.resolved + 1);
    assert_eq!(resolved.complaints.open, before.complaints.open - 1);
    server.cleanup().await;
}

/// A NUL in a login's username or a pairing code (PostgreSQL refuses U+0000 in text) is a
/// clear refusal, never a 500.
#[sqlx::test(migrations = "../server/migrations")]
async fn regression_a_nul_in_a_login_or_a_pairing_code_is_refused_never_a_500(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let anonymous = ioc_tests::browser(&server.base);
    for (path, body) in [
        ("/api/v1/login", json!({"username": "ad\u{0}min", "password": "whatever-password"})),
        ("/api/v1/login", json!({"username": "admin", "password": "pass\u{0}word-long"})),
        ("/api/v1/displays/pair", json!({"code": "12\u{0}34"})),
    ] {
        let response =
            anonymous.post(format!("{}{path}", server.base)).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{path} {body}: {status}");
    }
    // …nor in a path: an officer, an item given a direction, an explanation request.
    for path in ["/api/v1/officers/cb%00-7", "/api/v1/explanations/1%00"] {
        let (status, body) = server.get(path).await;
        assert!((400..500).contains(&status), "{path}: {status} {body}");
    }
    let direction = format!("{}/api/v1/items/dossier/HS%001/directions", server.base);
    let (status, body) = ioc_tests::post_json(&server.http, direction, &json!({"text": "x"})).await;
    assert!((400..500).contains(&status), "direction: {status} {body}");
    server.cleanup().await;
}
