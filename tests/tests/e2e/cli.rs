//! `ioc user|key|display|audit`: bootstrapping and managing a deployment from the command line.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::{login, now, TestServer};
use serde_json::json;
use sqlx::PgPool;
use std::io::Write;
use std::process::{Command, Stdio};

/// The `ioc` binary (`scripts/test.sh` builds it before the tests).
fn ioc_binary() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug/ioc");
    assert!(binary.exists(), "{} is missing: run scripts/test.sh (it builds it)", binary.display());
    binary
}

/// Runs `ioc ARGS` against the test's database, feeding `stdin`; returns (success, stdout, stderr).
fn ioc(pool: &PgPool, prefix: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let base = std::env::var("DATABASE_URL").unwrap();
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => base,
    };
    let mut child = Command::new(ioc_binary())
        .args(args)
        .env("DATABASE_URL", url)
        .env("IOC_REDIS_PREFIX", prefix)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_fresh_install_is_managed_from_the_command_line(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let prefix = server.prefix.clone();
    let password = "chief-secret-from-stdin";

    // A chief, with the password from standard input; it is never echoed.
    let (ok, out, err) = ioc(&pool, &prefix, &["user", "add", "truong.badinh", "--role", "chief", "--unit", "001"], &format!("{password}\n"));
    assert!(ok, "{out}{err}");
    assert!(!out.contains(password) && !err.contains(password));
    assert!(login(&server.base, "truong.badinh", password).await.is_ok());
    // A password is never taken from a flag.
    let (ok, _, err) = ioc(&pool, &prefix, &["user", "add", "x", "--role", "leader", "--password", "p"], "");
    assert!(!ok && err.contains("--password"), "{err}");
    // Bad input says why.
    let (ok, _, err) = ioc(&pool, &prefix, &["user", "add", "y", "--role", "chief"], "long-enough-password\n");
    assert!(!ok && err.contains("a chief needs --unit"), "{err}");
    let (ok, _, err) = ioc(&pool, &prefix, &["user", "add", "z", "--role", "mayor"], "long-enough-password\n");
    assert!(!ok && err.contains("unknown role `mayor`"), "{err}");

    let (ok, out, _) = ioc(&pool, &prefix, &["user", "list"], "");
    assert!(ok && out.contains("truong.badinh") && out.contains("chief"), "{out}");

    // Reset and disable end the sessions; a disabled person cannot log in.
    let (ok, _, _) = ioc(&pool, &prefix, &["user", "reset-password", "truong.badinh"], "another-secret-here\n");
    assert!(ok);
    assert_eq!(login(&server.base, "truong.badinh", password).await, Err(401));
    assert!(login(&server.base, "truong.badinh", "another-secret-here").await.is_ok());
    let (ok, _, _) = ioc(&pool, &prefix, &["user", "disable", "truong.badinh"], "");
    assert!(ok);
    assert_eq!(login(&server.base, "truong.badinh", "another-secret-here").await, Err(401));

    // An ingest key limited to Ba Đình, shown once.
    let (ok, out, _) = ioc(&pool, &prefix, &["key", "create", "mot-cua", "--unit", "001"], "");
    assert!(ok, "{out}");
    let key = out.lines().find(|l| l.len() == 64 && l.chars().all(|c| c.is_ascii_hexdigit())).unwrap().to_owned();
    let t = now();
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
    assert_eq!((body["accepted"].as_u64(), body["rejected"][0]["index"].as_u64()), (Some(1), Some(1)), "{body}");
    let (ok, out, _) = ioc(&pool, &prefix, &["key", "list"], "");
    assert!(ok && out.contains("mot-cua") && !out.contains(&key), "{out}");
    let id = out.lines().find(|l| l.contains("mot-cua")).and_then(|l| l.split_whitespace().next()).unwrap().to_owned();
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
    let (ok, out, _) = ioc(&pool, &prefix, &["display", "create", "Tường Ba Đình", "--unit", "001", "--view", "001:today:20", "--view", "00004:24h:10"], "");
    assert!(ok && out.contains("pairing code"), "{out}");
    let (ok, _, err) = ioc(&pool, &prefix, &["display", "create", "Sai", "--unit", "001", "--view", "002:today:20"], "");
    assert!(!ok && err.contains("outside the display's unit"), "{err}");

    // Everything above is in the audit log.
    let (ok, out, _) = ioc(&pool, &prefix, &["audit", "--limit", "100"], "");
    assert!(ok);
    for action in ["user_added", "password_reset", "user_disabled", "key_created", "key_revoked", "display_created", "login_failed", "login"] {
        assert!(out.contains(action), "audit lacks {action}:\n{out}");
    }
    server.cleanup().await;
}
