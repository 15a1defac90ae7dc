//! Frozen, signed reports (issue 23): the figures of a past week as the history holds them,
//! a signature anyone can check offline, and the unit scope of the summary.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use ioc_shared::access::Role;
use ioc_tests::events::*;
use ioc_tests::receivers::SmtpServer;
use ioc_tests::{
    client_with_cookie, ensure_user, eventually, login, post_json, run_ioc, TestServer,
};
use rand::SeedableRng;
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
    assert_eq!(
        (&listed[0]["unit"], &listed[0]["unit_name"]),
        (&json!("001"), &json!("Quận Ba Đình"))
    );

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

    // Days are read the same way by every endpoint that takes one: YYYY-MM-DD, years 2000–2999.
    for path in [
        "/api/v1/annotations?unit=001&from=1999-12-31",
        "/api/v1/units/001/series?metric=dossiers.received&from=0001-01-01",
        "/open-data/v1/daily.csv?to=29/11/2026",
    ] {
        let (status, answer) = server.get(path).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("YYYY-MM-DD between the years 2000 and 2999"),
            "{path}: {answer}"
        );
    }
    server.cleanup().await;
}

/// A weekly schedule for Monday 07:00: nothing before its time; at it, on the paused clock, the
/// report of the week just ended is made by the background task and mailed once to the
/// district's chief and the named leader, its PDF attached (real SMTP server); the schedule
/// moves to the next Monday.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_weekly_schedule_mails_the_report_with_its_pdf_once_at_its_time(pool: PgPool) {
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    // Sunday 6 December 2026, 20:00 local: the week of 30 November – 6 December is almost over.
    let clock = ioc_shared::time::Clock::manual(
        ioc_shared::time::local_midnight_of(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap())
            + Duration::hours(20),
    );
    let server = TestServer::start_clocked_configured(&pool, clock.clone(), |settings| {
        settings.smtp_url = Some(smtp_url);
    })
    .await;
    let state = &server.server.state;
    ensure_user(state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    ensure_user(state, "truong-bd", "mat-khau-truong-bd", Role::Chief, Some("001")).await;
    ensure_user(state, "truong-hk", "mat-khau-truong-hk", Role::Chief, Some("002")).await;
    server.set_email("lanhdao", "lanhdao@hanoi.gov.vn").await;
    server.set_email("truong-bd", "badinh@hanoi.gov.vn").await;
    server.set_email("truong-hk", "hoankiem@hanoi.gov.vn").await;
    let december = |day: u32, hour: u32| {
        ioc_shared::time::local_midnight_of(NaiveDate::from_ymd_opt(2026, 12, day).unwrap())
            + Duration::hours(i64::from(hour))
    };
    server
        .ingest_ok(&json!([
            dossier_received("w1", WARD, "E1", december(1, 9), december(2, 9)),
            dossier_resolved("w2", WARD, "E1", december(3, 9), "completed"),
            dossier_received("w3", WARD, "E2", december(2, 9), december(20, 9)),
            dossier_received("w4", WARD, "E3", december(4, 9), december(20, 9)),
        ]))
        .await;
    server.settle().await;

    let url = format!("{}/api/v1/reports/schedules", server.base);
    let (status, schedule) = post_json(
        &server.http,
        url.clone(),
        &json!({"unit": "001", "period": "week", "weekday": "mon", "time": "07:00",
                "to": {"roles": ["chief"], "users": ["lanhdao"]}}),
    )
    .await;
    assert_eq!(status, 201, "{schedule}");
    assert_eq!(schedule["next_run_at"], "2026-12-07T07:00:00+07:00", "{schedule}");
    assert_eq!(schedule["unit"]["code"], "001");
    assert_eq!(schedule["to"], json!({"roles": ["chief"], "users": ["lanhdao"]}));
    assert_eq!(schedule["last_report"], Value::Null);
    let id = schedule["id"].as_i64().unwrap();
    let (_, listed) = server.get("/api/v1/reports/schedules?unit=001").await;
    assert_eq!(listed[0]["id"], id, "{listed}");

    // A minute before its time nothing is due.
    clock.set(december(7, 6) + Duration::minutes(59));
    let scheduler = state.report_scheduler();
    assert_eq!(scheduler.run_due().await.unwrap(), 0);
    let (_, reports) = server.get("/api/v1/reports?unit=001").await;
    assert_eq!(reports, json!([]));

    // At 07:00 the background task makes it and the outbox mails it.
    clock.set(december(7, 7));
    eventually(std::time::Duration::from_secs(30), "two report emails", || async {
        smtp.messages().len() >= 2
    })
    .await;
    let (_, reports) = server.get("/api/v1/reports?unit=001").await;
    assert_eq!(reports.as_array().unwrap().len(), 1, "{reports}");
    assert_eq!(
        (&reports[0]["from"], &reports[0]["to"]),
        (&json!("2026-11-30"), &json!("2026-12-06"))
    );
    let report_id = reports[0]["id"].as_i64().unwrap();
    let (_, report) = server.get(&format!("/api/v1/reports/{report_id}")).await;
    assert_eq!(report["made_by"], format!("schedule {id}"));
    assert_eq!(report["figures"]["dossiers"]["received"], 3);
    assert_eq!(report["at_end"]["dossiers"], json!({"open": 2, "overdue": 0}));

    let mails = smtp.messages();
    let mut to: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(to, ["badinh@hanoi.gov.vn", "lanhdao@hanoi.gov.vn"], "{mails:?}");
    let dir =
        std::env::temp_dir().join(format!("ioc-mailed-{}", server.prefix.trim_end_matches(':')));
    std::fs::create_dir_all(&dir).unwrap();
    for mail in &mails {
        assert!(mail.subject.contains("Quận Ba Đình"), "{}", mail.subject);
        assert!(mail.text.contains("2026-11-30"), "{}", mail.text);
        assert!(mail.text.contains(report["digest"].as_str().unwrap()), "{}", mail.text);
        assert_eq!(mail.attachments.len(), 1, "{mail:?}");
        let pdf = &mail.attachments[0];
        assert_eq!(pdf.content_type, "application/pdf");
        assert_eq!(pdf.filename.as_deref(), Some(format!("bao-cao-{report_id}.pdf").as_str()));
        let path = dir.join("mailed.pdf");
        std::fs::write(&path, pdf.bytes()).unwrap();
        let text = std::process::Command::new("pdftotext").arg(&path).arg("-").output().unwrap();
        assert!(text.status.success(), "pdftotext: {}", String::from_utf8_lossy(&text.stderr));
        let text = String::from_utf8(text.stdout).unwrap();
        for wanted in ["Quận Ba Đình", "Tiếp nhận: 3 / 0", report["digest"].as_str().unwrap()]
        {
            assert!(text.contains(wanted), "`{wanted}` not in the mailed PDF:\n{text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // Once: the schedule moved to next Monday and nothing more is due.
    let (_, listed) = server.get("/api/v1/reports/schedules?unit=001").await;
    assert_eq!(listed[0]["next_run_at"], "2026-12-14T07:00:00+07:00", "{listed}");
    assert_eq!(listed[0]["last_report"], report_id);
    assert_eq!(scheduler.run_due().await.unwrap(), 0);
    let delivered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM deliveries WHERE event_type = 'report.scheduled'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(delivered, 2);
    assert_eq!(smtp.messages().len(), 2);
    // The PDF is forgotten once both emails are delivered (about 50 KB a run otherwise).
    eventually(std::time::Duration::from_secs(10), "the mailed PDF pruned", || async {
        let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_attachments")
            .fetch_one(&pool)
            .await
            .unwrap();
        kept == 0
    })
    .await;
    server.cleanup().await;
}

/// Schedules keep to the caller's units like reports, and bad ones are refused plainly.
#[sqlx::test(migrations = "../server/migrations")]
async fn report_schedules_keep_to_the_callers_units_and_refuse_bad_ones(pool: PgPool) {
    let server = server_in_december(&pool).await;
    let state = &server.server.state;
    ensure_user(state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    ensure_user(state, "truong-bd", "mat-khau-truong-bd", Role::Chief, Some("001")).await;
    ensure_user(state, "truong-hk", "mat-khau-truong-hk", Role::Chief, Some("002")).await;
    let session = |name: &'static str, password: &'static str| {
        let base = server.base.clone();
        async move { client_with_cookie(&base, &login(&base, name, password).await.unwrap()) }
    };
    let own = session("truong-bd", "mat-khau-truong-bd").await;
    let other = session("truong-hk", "mat-khau-truong-hk").await;
    let url = format!("{}/api/v1/reports/schedules", server.base);
    let weekly = json!({"unit": WARD, "to": {"roles": ["chief"]}});

    // Defaults: week, Monday, 07:00.
    let (status, schedule) = post_json(&own, url.clone(), &weekly).await;
    assert_eq!(status, 201, "{schedule}");
    assert_eq!(
        (&schedule["period"], &schedule["weekday"], &schedule["time"]),
        (&json!("week"), &json!("mon"), &json!("07:00"))
    );
    assert_eq!(schedule["next_run_at"], "2026-12-07T07:00:00+07:00");
    assert_eq!(schedule["created_by"], "truong-bd");
    let id = schedule["id"].as_i64().unwrap();

    let (status, _) = post_json(&other, url.clone(), &weekly).await;
    assert_eq!(status, 403);
    let (_, seen) = server.get("/api/v1/reports/schedules").await;
    assert_eq!(seen.as_array().unwrap().len(), 1);
    let seen: Value = other.get(url.clone()).send().await.unwrap().json().await.unwrap();
    assert_eq!(seen, json!([]));
    let status = other.delete(format!("{url}/{id}")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 403);

    for (body, why) in [
        (json!({"unit": WARD, "weekday": "monday", "to": {"roles": ["chief"]}}), "weekday"),
        (json!({"unit": WARD, "time": "7am", "to": {"roles": ["chief"]}}), "time"),
        (json!({"unit": WARD, "time": "24:00", "to": {"roles": ["chief"]}}), "time"),
        (json!({"unit": WARD, "period": "day", "to": {"roles": ["chief"]}}), "period"),
        (json!({"unit": WARD, "to": {}}), "to"),
        (json!({"unit": WARD, "to": {"roles": ["mayor"]}}), "mayor"),
        (json!({"unit": WARD, "to": {"users": [" "]}}), "to.users"),
        (json!({"unit": WARD, "to": {"roles": ["chief"]}, "colour": 1}), "colour"),
        (json!({"unit": WARD}), "to"),
    ] {
        let (status, answer) = post_json(&own, url.clone(), &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{body}: {answer}");
    }

    // Random bodies for reports, schedules and notes: refused plainly, never a 5xx.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x23);
    let schedule = json!({"unit": WARD, "period": "week", "weekday": "mon", "time": "07:00",
                          "to": {"roles": ["chief"], "users": ["truong-bd"]}});
    let report = json!({"unit": "001", "period": "week", "ending": "2026-11-29"});
    let note = json!({"unit": "001", "at": "2026-11-27T09:00:00+07:00", "until": null,
                      "text": "Họp", "children": true});
    let extra = [
        json!({"roles": ["chief", 1]}),
        json!({"users": "x"}),
        json!("25:61"),
        json!("2026-02-30"),
    ];
    for round in 0..150 {
        let (path, base, fields): (&str, &Value, &[&str]) = match round % 3 {
            0 => (
                "/api/v1/reports/schedules",
                &schedule,
                &["unit", "period", "weekday", "time", "to"],
            ),
            1 => ("/api/v1/reports", &report, &["unit", "period", "ending"]),
            _ => ("/api/v1/annotations", &note, &["unit", "at", "until", "text", "children"]),
        };
        let body = ioc_tests::fuzz::mutated(&mut rng, base, fields, &extra);
        let response = own
            .post(format!("{}{path}", server.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{path} {body}: {}", response.status());
    }

    let status = own.delete(format!("{url}/{id}")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 204);
    let status = own.delete(format!("{url}/{id}")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 404);
    let status = own.delete(format!("{url}/x")).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 404);
    server.cleanup().await;
}

/// Checks that `report` holds its week's figures and what was open at its end from the same
/// moment: every dossier of these tests is never resolved and overdue by the end of the week
/// it is received in, so what is open at the end is what the week received and the `carried`
/// dossiers of the weeks before; and that it holds at least `acknowledged`.
fn assert_complete_and_consistent(report: &Value, acknowledged: u64, carried: u64, what: &str) {
    let received = report["figures"]["dossiers"]["received"].as_u64().unwrap();
    assert!(received >= acknowledged, "{what}: {received} received, {acknowledged} acknowledged");
    let open = received + carried;
    assert_eq!(
        report["at_end"]["dossiers"],
        json!({"open": open, "overdue": open}),
        "{what}: the period's figures and its end are of different moments"
    );
    let ward = report["children"].as_array().unwrap().iter().find(|c| c["code"] == WARD);
    assert_eq!(ward.map(|w| &w["dossiers_received"]), Some(&json!(received)), "{what}");
    assert!(report["outbox_position"].as_i64().is_some_and(|p| p > 0), "{what}");
}

#[sqlx::test(migrations = "../server/migrations")]
async fn regression_a_report_made_right_after_an_acknowledgement_holds_it(pool: PgPool) {
    // Measured before the fix: 12 dossiers acknowledged, a report at once, 0 received.
    let server = server_in_december(&pool).await;
    let url = format!("{}/api/v1/reports", server.base);
    let body = json!({"unit": "001", "period": "week", "ending": "2026-11-29"});
    // Another source keeps sending the same week meanwhile, acknowledged whenever.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background = {
        let (http, base, stop) = (server.http.clone(), server.base.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let events: Vec<Value> = (0..3)
                    .map(|i| {
                        let id = format!("bg{sent}-{i}");
                        dossier_received(&id, WARD, &id, local(27, 9), local(28, 9))
                    })
                    .collect();
                let answer = http
                    .post(format!("{base}/api/v1/events"))
                    .bearer_auth(ioc_tests::TOKEN)
                    .json(&events)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status().as_u16(), 200);
                sent += 1;
            }
        })
    };
    let mut acknowledged = 0;
    let mut last_position = 0;
    for round in 0..50 {
        let events: Vec<Value> = (0..4)
            .map(|i| {
                let id = format!("r{round}-{i}");
                dossier_received(&id, WARD, &id, local(24 + i, 9), local(24 + i, 10))
            })
            .collect();
        server.ingest_ok(&json!(events)).await;
        acknowledged += 4;
        let (status, report) = post_json(&server.http, url.clone(), &body).await;
        assert_eq!(status, 201, "{report}");
        assert_complete_and_consistent(&report, acknowledged, 0, &format!("report {round}"));
        let position = report["outbox_position"].as_i64().unwrap();
        assert!(position >= last_position, "report {round}: the outbox position went back");
        last_position = position;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    background.await.unwrap();
    server.cleanup().await;
}

/// GET `path` as the admin, signed in anew.
async fn fresh_admin_get(base: &str, path: String) -> Value {
    let cookie = login(base, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await.unwrap();
    let http = client_with_cookie(base, &cookie);
    http.get(format!("{base}{path}")).send().await.unwrap().json::<Value>().await.unwrap()
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_scheduled_report_made_right_after_an_acknowledgement_holds_it(pool: PgPool) {
    // Sunday 6 December 2026, 20:00 local; the schedule runs on Mondays at 07:00.
    let clock = ioc_shared::time::Clock::manual(
        ioc_shared::time::local_midnight_of(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap())
            + Duration::hours(20),
    );
    let server = TestServer::start_clocked(&pool, clock.clone()).await;
    let url = format!("{}/api/v1/reports/schedules", server.base);
    let (status, schedule) = post_json(
        &server.http,
        url,
        &json!({"unit": "001", "period": "week", "to": {"roles": ["admin"]}}),
    )
    .await;
    assert_eq!(status, 201, "{schedule}");
    let scheduler = server.server.state.report_scheduler();
    for week in 0..6 {
        // The admin's session ends when the clock moves a week: a new one for each look.
        let get = |path: String| fresh_admin_get(&server.base, path);
        let schedules = get("/api/v1/reports/schedules?unit=001".into()).await;
        let run_at =
            ioc_shared::time::parse_rfc3339(schedules[0]["next_run_at"].as_str().unwrap()).unwrap();
        // Three days before the run is in the week it reports (Monday, or the next working day).
        let day = run_at - Duration::days(3);
        clock.set(run_at - Duration::minutes(1));
        let events: Vec<Value> = (0..5)
            .map(|i| {
                let id = format!("w{week}-{i}");
                dossier_received(&id, WARD, &id, day, day + Duration::hours(2))
            })
            .collect();
        server.ingest_ok(&json!(events)).await;
        // At once: the background task may take it first; either way it runs once.
        clock.set(run_at);
        scheduler.run_due().await.unwrap();
        eventually(std::time::Duration::from_secs(30), "the scheduled report", || async {
            let reports = get("/api/v1/reports?unit=001".into()).await;
            reports.as_array().is_some_and(|r| r.len() == week + 1)
        })
        .await;
        let reports = get("/api/v1/reports?unit=001".into()).await;
        let report = get(format!("/api/v1/reports/{}", reports[0]["id"])).await;
        assert!(report["made_by"].as_str().unwrap().starts_with("schedule"), "{report}");
        assert_eq!(report["figures"]["dossiers"]["received"], 5, "week {week}: {report}");
        assert_complete_and_consistent(&report, 5, 5 * week as u64, &format!("week {week}"));
    }
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_report_waits_for_the_history_and_answers_503_past_ten_seconds(pool: PgPool) {
    let server = server_in_december(&pool).await;
    send_the_week(&server).await;
    // The history cannot move while this transaction holds its row.
    let mut holder = ioc_server::store::begin(&pool).await.unwrap();
    sqlx::query("SELECT applied_seq FROM history_state FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    server
        .ingest_ok(&json!([dossier_received("late1", WARD, "L1", local(27, 9), local(28, 9))]))
        .await;
    let url = format!("{}/api/v1/reports", server.base);
    let body = json!({"unit": "001", "period": "week", "ending": "2026-11-29"});
    let started = std::time::Instant::now();
    let answer = server.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    assert!(started.elapsed() >= std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(answer.headers()["retry-after"], "2");
    let text: Value = answer.json().await.unwrap();
    assert!(text["error"].as_str().unwrap().starts_with("figures catching up, retry"), "{text}");
    let (_, listed) = server.get("/api/v1/reports?unit=001").await;
    assert_eq!(listed, json!([]), "nothing was frozen");
    // Once the history moves, the report holds the batch.
    holder.rollback().await.unwrap();
    let (status, report) = post_json(&server.http, url, &body).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["figures"]["dossiers"]["received"], 5);
    server.cleanup().await;
}
