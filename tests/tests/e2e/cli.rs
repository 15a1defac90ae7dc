//! `ioc user|key|display|audit`: bootstrapping and managing a deployment from the command line.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::{login, TestServer};
use serde_json::json;
use sqlx::PgPool;

fn ioc(pool: &PgPool, prefix: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    ioc_tests::run_ioc(pool, prefix, args, stdin)
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_fresh_install_is_managed_from_the_command_line(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let prefix = server.prefix.clone();
    let password = "chief-secret-from-stdin";

    // A chief, with the password from standard input; it is never echoed.
    let (ok, out, err) = ioc(
        &pool,
        &prefix,
        &["user", "add", "truong.badinh", "--role", "chief", "--unit", "001"],
        &format!("{password}\n"),
    );
    assert!(ok, "{out}{err}");
    assert!(!out.contains(password) && !err.contains(password));
    assert!(login(&server.base, "truong.badinh", password).await.is_ok());
    // A password is never taken from a flag.
    let (ok, _, err) =
        ioc(&pool, &prefix, &["user", "add", "x", "--role", "leader", "--password", "p"], "");
    assert!(!ok && err.contains("--password"), "{err}");
    // Bad input says why.
    let (ok, _, err) =
        ioc(&pool, &prefix, &["user", "add", "y", "--role", "chief"], "long-enough-password\n");
    assert!(!ok && err.contains("a chief needs --unit"), "{err}");
    let (ok, _, err) =
        ioc(&pool, &prefix, &["user", "add", "z", "--role", "mayor"], "long-enough-password\n");
    assert!(!ok && err.contains("unknown role `mayor`"), "{err}");

    let (ok, out, _) = ioc(&pool, &prefix, &["user", "list"], "");
    assert!(ok && out.contains("truong.badinh") && out.contains("chief"), "{out}");

    // Where the chief is told: the same check and audit entry as the admin API's.
    let (ok, out, err) = ioc(
        &pool,
        &prefix,
        &[
            "user",
            "set",
            "truong.badinh",
            "--email",
            "truong.badinh@hanoi.gov.vn",
            "--phone",
            "+84 912 345 678",
        ],
        "",
    );
    assert!(ok && out.contains("truong.badinh@hanoi.gov.vn"), "{out}{err}");
    let (ok, _, err) =
        ioc(&pool, &prefix, &["user", "set", "truong.badinh", "--email", "nobody"], "");
    assert!(!ok && err.contains("not an email address"), "{err}");
    let (_, users) = server.get("/api/v1/admin/audit?limit=50").await;
    assert!(users.as_array().unwrap().iter().any(|e| e["action"] == "user_contact_set"), "{users}");

    // A move to another ward, as the admin API's PUT does it.
    let (ok, out, err) =
        ioc(&pool, &prefix, &["user", "set", "truong.badinh", "--unit", "00004"], "");
    assert!(ok && out.contains("chief of 00004"), "{out}{err}");
    let (ok, _, err) = ioc(
        &pool,
        &prefix,
        &["user", "set", "truong.badinh", "--role", "leader", "--unit", "001"],
        "",
    );
    assert!(!ok && err.contains("only a chief has a unit"), "{err}");

    // An import from the province's directory: a dry run first, then for real.
    let file = std::env::temp_dir().join(format!("ioc-import-{}.csv", std::process::id()));
    std::fs::write(
        &file,
        "username;full_name;role;unit\ncb.moi;Cán Bộ Mới;chief;00001\ncb.sai;X;chief;99999\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (ok, out, err) = ioc(&pool, &prefix, &["user", "import", path, "--dry-run"], "");
    assert!(ok, "{out}{err}");
    assert!(out.contains("line 3: cb.sai refused: unknown unit `99999`"), "{out}");
    assert!(
        out.contains("dry run, nothing written: created 1, updated 0, unchanged 0, refused 1"),
        "{out}"
    );
    let (ok, out, _) = ioc(&pool, &prefix, &["user", "list"], "");
    assert!(ok && !out.contains("cb.moi"), "{out}");
    let (ok, out, err) = ioc(&pool, &prefix, &["user", "import", path], "");
    assert!(ok && out.contains("created 1, updated 0, unchanged 0, refused 1"), "{out}{err}");
    let (ok, out, _) = ioc(&pool, &prefix, &["user", "list"], "");
    assert!(ok && out.contains("cb.moi"), "{out}");
    let (ok, _, err) = ioc(&pool, &prefix, &["user", "import", "/nonexistent.csv"], "");
    assert!(!ok && err.contains("/nonexistent.csv"), "{err}");
    std::fs::remove_file(&file).unwrap();

    // Reset and disable end the sessions; a disabled person cannot log in.
    let (ok, _, _) =
        ioc(&pool, &prefix, &["user", "reset-password", "truong.badinh"], "another-secret-here\n");
    assert!(ok);
    assert_eq!(login(&server.base, "truong.badinh", password).await, Err(401));
    assert!(login(&server.base, "truong.badinh", "another-secret-here").await.is_ok());
    let (ok, _, _) = ioc(&pool, &prefix, &["user", "disable", "truong.badinh"], "");
    assert!(ok);
    assert_eq!(login(&server.base, "truong.badinh", "another-secret-here").await, Err(401));

    // An ingest key limited to Ba Đình, shown once.
    let (ok, out, _) = ioc(&pool, &prefix, &["key", "create", "mot-cua", "--unit", "001"], "");
    assert!(ok, "{out}");
    let key = out
        .lines()
        .find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap()
        .to_owned();
    let t = server.now();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(&key)
        .json(&json!([
            dossier_received("c1", "00004", "C1", t, t + Duration::hours(1)),
            dossier_received("c2", "00037", "C2", t, t + Duration::hours(1)),
        ]))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (body["accepted"].as_u64(), body["rejected"][0]["index"].as_u64()),
        (Some(1), Some(1)),
        "{body}"
    );
    let (ok, out, _) = ioc(&pool, &prefix, &["key", "list"], "");
    assert!(ok && out.contains("mot-cua") && !out.contains(&key), "{out}");
    let id = out
        .lines()
        .find(|l| l.contains("mot-cua"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, _, _) = ioc(&pool, &prefix, &["key", "revoke", &id], "");
    assert!(ok);
    let revoked = reqwest::Client::new()
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(&key)
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 401);

    // A display with a playlist; a view outside its unit is refused.
    let (ok, out, _) = ioc(
        &pool,
        &prefix,
        &[
            "display",
            "create",
            "Tường Ba Đình",
            "--unit",
            "001",
            "--view",
            "001:today:20",
            "--view",
            "00004:24h:10",
        ],
        "",
    );
    assert!(ok && out.contains("pairing code"), "{out}");
    let (ok, _, err) = ioc(
        &pool,
        &prefix,
        &["display", "create", "Sai", "--unit", "001", "--view", "002:today:20"],
        "",
    );
    assert!(!ok && err.contains("outside the display's unit"), "{err}");

    // Everything above is in the audit log.
    let (ok, out, _) = ioc(&pool, &prefix, &["audit", "--limit", "100"], "");
    assert!(ok);
    for action in [
        "user_added",
        "password_reset",
        "user_disabled",
        "key_created",
        "key_revoked",
        "display_created",
        "login_failed",
        "login",
    ] {
        assert!(out.contains(action), "audit lacks {action}:\n{out}");
    }
    server.cleanup().await;
}

/// The admin API and the command line are two doors to the same management functions: the same
/// actions leave the same audit entries (only the actor and the generated ids differ).
#[sqlx::test(migrations = "../server/migrations")]
async fn the_admin_api_and_the_cli_leave_the_same_audit_entries(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let prefix = server.prefix.clone();
    let audit_len = |entries: &serde_json::Value| entries.as_array().map(Vec::len).unwrap_or(0);
    let (_, before) = server.get("/api/v1/admin/audit?limit=1000").await;

    // Through the API, as the admin.
    let post = |path: String, body: serde_json::Value| {
        let request = server.http.post(format!("{}{path}", server.base)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200, "{path}");
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    post(
        "/api/v1/admin/users".into(),
        json!({"username": "who", "password": "first-password-1", "role": "chief", "unit": "001"}),
    )
    .await;
    post("/api/v1/admin/users/who/reset-password".into(), json!({"password": "second-password-2"}))
        .await;
    assert!(
        login(&server.base, "who", "second-password-2").await.is_ok(),
        "the reset password works"
    );
    post("/api/v1/admin/users/who/disable".into(), json!({})).await;
    post("/api/v1/admin/users/who/enable".into(), json!({})).await;
    let key = post("/api/v1/admin/keys".into(), json!({"source": "mot-cua", "unit": "001"})).await;
    post(format!("/api/v1/admin/keys/{}/revoke", key["id"]), json!({})).await;
    let display = post("/api/v1/admin/displays".into(), json!({"name": "Tường", "unit": "001", "playlist": [{"unit": "001", "window": "today", "seconds": 30}]})).await;
    post(format!("/api/v1/admin/displays/{}/pairing", display["display"]["id"]), json!({})).await;
    post(format!("/api/v1/admin/displays/{}/revoke", display["display"]["id"]), json!({})).await;
    let (_, after_api) = server.get("/api/v1/admin/audit?limit=1000").await;

    // The same through the command line.
    let ioc = |args: &[&str], stdin: &str| {
        let (ok, out, err) = ioc(&pool, &prefix, args, stdin);
        assert!(ok, "ioc {args:?}: {out}{err}");
        out
    };
    ioc(&["user", "add", "who2", "--role", "chief", "--unit", "001"], "first-password-1\n");
    ioc(&["user", "reset-password", "who2"], "second-password-2\n");
    ioc(&["user", "disable", "who2"], "");
    ioc(&["user", "enable", "who2"], "");
    let out = ioc(&["key", "create", "mot-cua", "--unit", "001"], "");
    let key_id = out.split_whitespace().nth(2).unwrap().to_owned();
    ioc(&["key", "revoke", &key_id], "");
    let out = ioc(&["display", "create", "Tường", "--unit", "001", "--view", "001:today:30"], "");
    let display_id = out.split_whitespace().nth(1).unwrap().to_owned();
    ioc(&["display", "pair", &display_id], "");
    ioc(&["display", "revoke", &display_id], "");
    let (_, after_cli) = server.get("/api/v1/admin/audit?limit=1000").await;

    // Newest first: the API's entries are between `before` and `after_api`, the CLI's after that.
    let entries = |all: &serde_json::Value,
                   skip_newest: usize,
                   count: usize|
     -> Vec<(String, String, String)> {
        let list = all.as_array().unwrap();
        let mut picked: Vec<(String, String, String)> = list[skip_newest..skip_newest + count]
            .iter()
            .filter(|e| e["action"] != "login")
            .map(|e| {
                let target = e["target"].as_str().unwrap_or("").replace("who2", "who");
                let target = match target.split_once(':') {
                    Some((kind, _)) => format!("{kind}:#"),
                    None => target,
                };
                (
                    e["action"].as_str().unwrap().to_owned(),
                    target,
                    e["detail"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        picked.reverse();
        picked
    };
    let api_count = audit_len(&after_api) - audit_len(&before);
    let cli_count = audit_len(&after_cli) - audit_len(&after_api);
    let from_api = entries(&after_cli, cli_count, api_count);
    let from_cli = entries(&after_cli, 0, cli_count);
    assert_eq!(from_api.len(), 9, "{from_api:?}");
    assert_eq!(from_api, from_cli);
    let actors: Vec<&str> = after_cli.as_array().unwrap()[..cli_count]
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert!(actors.iter().all(|a| a.starts_with("cli:")), "{actors:?}");
    server.cleanup().await;
}
