//! Frozen, signed reports (issue 23): the figures of a past week as the history holds them,
//! a signature anyone can check offline, and the unit scope of the summary.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ioc_shared::access::Role;
use ioc_tests::events::*;
use ioc_tests::{client_with_cookie, ensure_user, login, post_json, run_ioc, TestServer};
use serde_json::{json, Value};
use sqlx::PgPool;

const WARD: &str = "00004"; // Phường Trúc Bạch, Quận Ba Đình (001)

/// Local (UTC+7) time on a day of November 2026.
fn local(day: u32, hour: u32) -> DateTime<Utc> {
    ioc_shared::time::local_midnight_of(NaiveDate::from_ymd_opt(2026, 11, day).unwrap())
        + Duration::hours(i64::from(hour))
}

/// A server whose clock stands on Wednesday 2 December 2026, 10:00 local: the last complete
/// week is Monday 23 – Sunday 29 November.
async fn server_in_december(pool: &PgPool) -> TestServer {
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 3, 0, 0).unwrap();
    TestServer::start_clocked(pool, ioc_shared::time::Clock::manual(now)).await
}

/// The week of 23–29 November in ward 00004, and one dossier the week before.
async fn send_the_week(server: &TestServer) {
    let far = local(30, 0) + Duration::days(20);
    server
        .ingest_ok(&json!([
            dossier_received("r0", WARD, "D0", local(18, 9), far),
            dossier_received("r1", WARD, "D1", local(24, 9), local(26, 9)),
            dossier_resolved("s1", WARD, "D1", local(25, 9), "completed"),
            dossier_received("r2", WARD, "D2", local(24, 10), local(25, 9)),
            dossier_resolved("s2", WARD, "D2", local(27, 9), "completed"),
            dossier_received("r3", WARD, "D3", local(26, 9), far),
            dossier_received("r4", WARD, "D4", local(25, 9), local(27, 9)),
            dossier_assigned("a4", WARD, "D4", local(25, 10), ("o7", "Trần Văn Bảy")),
            complaint_received("c1", WARD, "C1", local(26, 9), far, "Môi trường", "zalo"),
        ]))
        .await;
    server.settle().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_weekly_report_freezes_the_weeks_figures_and_its_signature_checks(pool: PgPool) {
    let server = server_in_december(&pool).await;
    send_the_week(&server).await;
    let (status, report) = post_json(
        &server.http,
        format!("{}/api/v1/reports", server.base),
        &json!({"unit": "001", "period": "week", "ending": "2026-11-29"}),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some("2026-11-23"), Some("2026-11-29"))
    );
    assert_eq!(report["unit"]["code"], "001");
    let dossiers = &report["figures"]["dossiers"];
    assert_eq!(
        (
            &dossiers["received"],
            &dossiers["resolved"],
            &dossiers["resolved_on_time"],
            &dossiers["resolved_late"]
        ),
        (&json!(4), &json!(2), &json!(1), &json!(1))
    );
    assert_eq!(report["figures"]["complaints"]["received"], 1);
    assert_eq!(report["previous"]["dossiers"]["received"], 1);
    // Open when the week ended: D0, D3, D4; D4 past its due time.
    assert_eq!(report["at_end"]["dossiers"], json!({"open": 3, "overdue": 1}));
    assert_eq!(report["at_end"]["complaints"], json!({"open": 1, "overdue": 0}));
    let ward = report["children"].as_array().unwrap().iter().find(|c| c["code"] == WARD).unwrap();
    assert_eq!((&ward["dossiers_received"], &ward["rated"]), (&json!(4), &json!(2)));
    // The week's work: the procedure with a late dossier, D4 63 hours overdue when the week
    // ended (due Friday 09:00, the week over at Monday 00:00), and its officer.
    assert_eq!(
        report["worst_procedures"],
        json!([{"procedure": "Đăng ký khai sinh", "resolved": 2, "late": 1, "on_time_rate": 0.5}])
    );
    let overdue = report["most_overdue"].as_array().unwrap();
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!((&overdue[0]["id"], &overdue[0]["hours_overdue"]), (&json!("D4"), &json!(63.0)));
    assert_eq!(
        report["late_officers"],
        json!([{"id": "o7", "name": "Trần Văn Bảy", "overdue": 1}])
    );
    assert_eq!(report["alerts"]["raised"], 0);
    assert_eq!(report["explanations"]["asked"], 0);
    // The same figure as the series computes for that week.
    let (_, series) = server
        .get("/api/v1/units/001/series?metric=dossiers.received&step=week&from=2026-11-23&to=2026-11-29")
        .await;
    assert_eq!(series["points"][0]["value"], 4.0, "{series}");

    // Kept byte for byte, listed for its unit.
    let id = report["id"].as_i64().unwrap();
    let stored =
        server.http.get(format!("{}/api/v1/reports/{id}", server.base)).send().await.unwrap();
    assert_eq!(stored.status().as_u16(), 200);
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(stored, report);
    let (_, listed) = server.get("/api/v1/reports?unit=001").await;
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["digest"], report["digest"]);

    // The signature checks with the published key, in Rust, with `ioc report verify` and with
    // the documented Python + OpenSSL command; after one digit changes, none of them does.
    let key = reqwest::get(format!("{}/api/v1/reports/key", server.base)).await.unwrap();
    assert_eq!(key.status().as_u16(), 200, "the key needs no sign-in");
    let key: Value = key.json().await.unwrap();
    assert_eq!(key["alg"], "Ed25519");
    let public_key = key["public_key"].as_str().unwrap().to_owned();
    ioc_server::reports::sign::verify(&report, &public_key).unwrap();
    let mut changed = report.clone();
    changed["figures"]["dossiers"]["received"] = json!(5);
    assert!(ioc_server::reports::sign::verify(&changed, &public_key).is_err());

    let dir =
        std::env::temp_dir().join(format!("ioc-report-{}", server.prefix.trim_end_matches(':')));
    std::fs::create_dir_all(&dir).unwrap();
    let (good, bad) = (dir.join("report.json"), dir.join("changed.json"));
    std::fs::write(&good, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    std::fs::write(&bad, serde_json::to_string(&changed).unwrap()).unwrap();
    let verify = |file: &std::path::Path| {
        run_ioc(
            &pool,
            &server.prefix,
            &["report", "verify", file.to_str().unwrap(), "--public-key", &public_key],
            "",
        )
    };
    let (ok, out, err) = verify(&good);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = verify(&bad);
    assert!(!ok);
    assert!(err.contains("does not check"), "{err}");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify-report.sh");
    let documented = |file: &std::path::Path| {
        std::process::Command::new("bash").arg(&script).arg(file).arg(&public_key).output().unwrap()
    };
    let checked = documented(&good);
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(!documented(&bad).status.success());

    // The PDF: A4, its text (pdftotext, poppler) holds the unit's name with its diacritics, the
    // figures and the digest.
    let pdf =
        server.http.get(format!("{}/api/v1/reports/{id}.pdf", server.base)).send().await.unwrap();
    assert_eq!(pdf.status().as_u16(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf_path = dir.join("report.pdf");
    std::fs::write(&pdf_path, pdf.bytes().await.unwrap()).unwrap();
    let text = std::process::Command::new("pdftotext").arg(&pdf_path).arg("-").output().unwrap();
    assert!(text.status.success(), "pdftotext: {}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8(text.stdout).unwrap();
    for wanted in [
        "Quận Ba Đình",
        "Phường Trúc Bạch",
        "Tiếp nhận: 4 / 1",
        "Đúng hạn: 1 · Trễ hạn: 1",
        "Cuối kỳ: 3 đang xử lý, 1 quá hạn",
        "Trần Văn Bảy",
        report["digest"].as_str().unwrap(),
    ] {
        assert!(text.contains(wanted), "`{wanted}` not in the PDF's text:\n{text}");
    }
    let info = std::process::Command::new("pdfinfo").arg(&pdf_path).output().unwrap();
    assert!(
        String::from_utf8_lossy(&info.stdout).contains("595.276 x 841.89 pts (A4)"),
        "{}",
        String::from_utf8_lossy(&info.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn reports_keep_to_the_callers_units_and_refuse_bad_requests(pool: PgPool) {
    let server = server_in_december(&pool).await;
    send_the_week(&server).await;
    let state = &server.server.state;
    ensure_user(state, "truong-hk", "mat-khau-truong-hk", Role::Chief, Some("002")).await;
    ensure_user(state, "truong-bd", "mat-khau-truong-bd", Role::Chief, Some("001")).await;
    let (_, report) = post_json(
        &server.http,
        format!("{}/api/v1/reports", server.base),
        &json!({"unit": "001", "period": "week"}),
    )
    .await;
    // Without `ending`: the last complete week.
    assert_eq!(report["to"], "2026-11-29", "{report}");
    let id = report["id"].as_i64().unwrap();

    let other = client_with_cookie(
        &server.base,
        &login(&server.base, "truong-hk", "mat-khau-truong-hk").await.unwrap(),
    );
    let (status, _) =
        post_json(&other, format!("{}/api/v1/reports", server.base), &json!({"unit": "001"})).await;
    assert_eq!(status, 403);
    let status =
        other.get(format!("{}/api/v1/reports/{id}", server.base)).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 403);
    let listed: Value = other
        .get(format!("{}/api/v1/reports", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));

    let own = client_with_cookie(
        &server.base,
        &login(&server.base, "truong-bd", "mat-khau-truong-bd").await.unwrap(),
    );
    let status =
        own.get(format!("{}/api/v1/reports/{id}", server.base)).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 200);
    let (status, ward) = post_json(
        &own,
        format!("{}/api/v1/reports", server.base),
        &json!({"unit": WARD, "period": "month", "ending": "2026-11-30"}),
    )
    .await;
    assert_eq!(status, 201, "{ward}");
    assert_eq!(ward["figures"]["dossiers"]["received"], 5);

    for (body, why) in [
        (json!({"unit": "001", "period": "day"}), "period"),
        (json!({"unit": "001", "ending": "29/11/2026"}), "ending"),
        (json!({"unit": "001", "ending": "2026-12-02"}), "not ended"),
        (json!({"unit": "001", "colour": "red"}), "colour"),
        (json!({"period": "week"}), "unit"),
    ] {
        let (status, answer) =
            post_json(&server.http, format!("{}/api/v1/reports", server.base), &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{body}: {answer}");
    }
    let status = server
        .http
        .get(format!("{}/api/v1/reports/999999", server.base))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
    server.cleanup().await;
}

/// Notes on the timeline: entered for a unit (and, with `children`, the units below), shown in
/// its series answers beside the points and in its reports, with the working calendar's days
/// off; a chief notes only his units.
#[sqlx::test(migrations = "../server/migrations")]
async fn notes_on_the_timeline_show_in_series_and_reports_with_the_calendars_days_off(
    pool: PgPool,
) {
    let server = server_in_december(&pool).await;
    send_the_week(&server).await;
    ensure_user(&server.server.state, "truong-bd", "mat-khau-truong-bd", Role::Chief, Some("001"))
        .await;
    let chief = client_with_cookie(
        &server.base,
        &login(&server.base, "truong-bd", "mat-khau-truong-bd").await.unwrap(),
    );
    let url = format!("{}/api/v1/annotations", server.base);
    let city = json!({"unit": "01", "at": "2026-11-25T08:00:00+07:00", "until": "2026-11-26T17:00:00+07:00",
                      "text": "Hệ thống một cửa bảo trì", "children": true});
    let (status, note) = post_json(&server.http, url.clone(), &city).await;
    assert_eq!(status, 201, "{note}");
    assert_eq!((note["unit"].as_str(), note["source"].as_str()), (Some("01"), Some("note")));
    let (status, own) = post_json(
        &chief,
        url.clone(),
        &json!({"unit": "001", "at": "2026-11-27T09:00:00+07:00", "text": "Họp giao ban quận"}),
    )
    .await;
    assert_eq!(status, 201, "{own}");
    // The district's note is not meant for the wards below it (no `children`).
    let (status, _) = post_json(
        &chief,
        url.clone(),
        &json!({"unit": "01", "at": "2026-11-27T09:00:00+07:00", "text": "x"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post_json(
        &server.http,
        url.clone(),
        &json!({"unit": "002", "at": "2026-11-27T09:00:00+07:00", "text": "Quận khác"}),
    )
    .await;
    assert_eq!(status, 201);
    for (body, why) in [
        (
            json!({"unit": "001", "at": "2026-11-27T09:00:00+07:00", "until": "2026-11-26T09:00:00+07:00", "text": "x"}),
            "until",
        ),
        (json!({"unit": "001", "at": "27/11/2026", "text": "x"}), "at"),
        (json!({"unit": "001", "at": "2026-11-27T09:00:00+07:00", "text": "  "}), "text"),
        (
            json!({"unit": "001", "at": "2026-11-27T09:00:00+07:00", "text": "x", "colour": 1}),
            "colour",
        ),
    ] {
        let (status, answer) = post_json(&server.http, url.clone(), &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{body}: {answer}");
    }

    let texts = |notes: &Value| -> Vec<String> {
        notes.as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap().to_owned()).collect()
    };
    let (_, ward) =
        server.get(&format!("/api/v1/units/{WARD}/series?from=2026-11-23&to=2026-11-29")).await;
    assert_eq!(texts(&ward["annotations"]), vec!["Hệ thống một cửa bảo trì"], "{ward}");
    assert_eq!(ward["points"].as_array().unwrap().len(), 7);
    let (_, district) = server.get("/api/v1/units/001/series?from=2026-11-23&to=2026-11-29").await;
    assert_eq!(
        texts(&district["annotations"]),
        vec!["Hệ thống một cửa bảo trì", "Họp giao ban quận"]
    );
    // The calendar's days off without anyone entering them: National Day 2026 (1–2 September).
    let (_, september) =
        server.get(&format!("/api/v1/units/{WARD}/series?from=2026-08-31&to=2026-09-06")).await;
    let off = &september["annotations"][0];
    assert_eq!(
        (off["source"].as_str(), off["text"].as_str()),
        (Some("calendar"), Some("Quốc khánh 2/9"))
    );
    assert_eq!(
        (off["at"].as_str(), off["until"].as_str()),
        (Some("2026-09-01T00:00:00+07:00"), Some("2026-09-03T00:00:00+07:00"))
    );

    let (status, report) = post_json(
        &server.http,
        format!("{}/api/v1/reports", server.base),
        &json!({"unit": "001", "period": "week", "ending": "2026-11-29"}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        texts(&report["annotations"]),
        vec!["Hệ thống một cửa bảo trì", "Họp giao ban quận"]
    );
    let (_, listed) =
        server.get("/api/v1/annotations?unit=001&from=2026-11-23&to=2026-11-29").await;
    assert_eq!(texts(&listed), texts(&report["annotations"]));
    server.cleanup().await;
}
