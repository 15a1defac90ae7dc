//! The act loop on screen: an explanation request from a leader to a chief and back, and live lists that keep their rows.

use super::*;

/// Issue 20's screens end to end: a critical alert on a ward shows in a leader's alerts panel
/// and header badge; he asks the ward to explain from the alert and acknowledges it; the ward's
/// chief, on his phone (390×844), sees the request in his header, opens his inbox, reads the
/// thread and answers; the leader's screen follows with no reload, and he closes the request
/// from his inbox with a note. Nothing is wider than the phone, and both consoles stay clean.
#[sqlx::test(migrations = "../server/migrations")]
async fn an_explanation_request_goes_from_a_leaders_alert_to_a_chiefs_phone_and_back(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let state = &server.server.state;
    let chief = ("chutich.trucbach", "ward-chief-password-1");
    ioc_tests::ensure_user(
        state,
        "lanhdao",
        "leader-password-1",
        ioc_shared::access::Role::Leader,
        None,
    )
    .await;
    ioc_tests::ensure_user(state, chief.0, chief.1, ioc_shared::access::Role::Chief, Some("00004"))
        .await;
    let (status, rule) = ioc_tests::post_json(
        &server.http,
        format!("{}/api/v1/alerts/rules", server.base),
        &json!({"name": "Hồ sơ quá hạn ở phường", "unit": "00004", "metric": "dossiers.overdue",
                "window": "24h", "op": ">", "threshold": 0, "severity": "critical"}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received(
            "1",
            "00004",
            "HS-GT-1",
            t - Duration::days(2),
            t - Duration::hours(3)
        )]))
        .await;

    // The leader, at the operations centre.
    let leader_driver = Driver::start();
    let leader = leader_driver.client().await;
    leader.goto(&format!("{}/?unit=001&window=24h", server.base)).await.unwrap();
    log_in(&leader, "lanhdao", "leader-password-1").await;
    wait_for(&leader, "[data-panel=alerts] .alert-row.critical.firing").await;
    wait_for(&leader, ".badge-alerts[data-count='1']").await;
    click(&leader, "[data-panel=alerts] .alert-row button.ask").await;
    let question = leader.find(Locator::Css(".ask-form textarea[name=question]")).await.unwrap();
    question.send_keys("Vì sao hồ sơ HS-GT-1 quá hạn?").await.unwrap();
    click(&leader, ".ask-form button[type=submit]").await;
    // Asked: the unit's open requests and the header count it, live.
    wait_for_text_containing(
        &leader,
        "[data-panel=requests] .request .request-question",
        "Vì sao hồ sơ HS-GT-1 quá hạn?",
        StdDuration::from_secs(10),
    )
    .await;
    wait_for(&leader, ".badge-inbox[data-open='1']").await;
    click(&leader, "[data-panel=alerts] .alert-row button.ack").await;
    wait_for(&leader, ".badge-alerts[data-count='0']").await;
    wait_until_gone(&leader, "[data-panel=alerts] .alert-row.firing", StdDuration::from_secs(10))
        .await;

    // The ward's chief, on his phone.
    let chief_driver = Driver::start();
    let phone = chief_driver.client().await;
    phone.set_window_size(390, 844).await.unwrap();
    phone.goto(&server.base).await.unwrap();
    log_in(&phone, chief.0, chief.1).await;
    wait_for(&phone, ".badge-inbox[data-open='1']").await;
    click(&phone, ".badge-inbox").await;
    wait_for(&phone, "[data-panel=inbox] .request").await;
    let url = phone.current_url().await.unwrap();
    assert!(url.as_str().contains("view=inbox"), "{url}");
    click(&phone, "[data-panel=inbox] .request .request-head").await;
    wait_for_text_containing(
        &phone,
        ".thread .message.question .message-text",
        "Vì sao hồ sơ HS-GT-1 quá hạn?",
        StdDuration::from_secs(10),
    )
    .await;
    let reply = phone.find(Locator::Css(".thread textarea[name=reply]")).await.unwrap();
    reply.send_keys("Hồ sơ thiếu giấy tờ; đã liên hệ công dân bổ sung.").await.unwrap();
    click(&phone, ".thread button.answer").await;
    wait_for_text_containing(
        &phone,
        ".thread .message.answer .message-text",
        "đã liên hệ công dân",
        StdDuration::from_secs(10),
    )
    .await;
    wait_for_text_containing(
        &phone,
        "[data-panel=inbox] .request .state",
        "Đã giải trình",
        StdDuration::from_secs(10),
    )
    .await;
    let width: i64 = phone
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    let wide = phone
        .execute(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8).join('; ');",
            vec![],
        )
        .await
        .unwrap();
    assert!(width <= 390, "the phone's page is {width} px wide: {wide}");

    // Back at the centre, with no reload: answered, no longer open, nothing awaiting.
    wait_until_gone(&leader, "[data-panel=requests] .request", StdDuration::from_secs(10)).await;
    wait_for(&leader, ".badge-inbox[data-open='0']").await;
    let (_, page) = server.get("/api/v1/explanations?state=answered").await;
    assert_eq!(page["explanations"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["explanations"][0]["about"]["kind"], "alert");

    // The leader reads the answer in his inbox and closes the request: the end of its life.
    click(&leader, ".badge-inbox").await;
    wait_for(&leader, "[data-panel=inbox] .request").await;
    click(&leader, "[data-panel=inbox] .request .request-head").await;
    wait_for_text_containing(
        &leader,
        ".thread .message.answer .message-text",
        "đã liên hệ công dân",
        StdDuration::from_secs(10),
    )
    .await;
    let note = leader.find(Locator::Css(".thread textarea[name=reply]")).await.unwrap();
    note.send_keys("Đã rõ; đề nghị phường hoàn thành trước thứ Sáu.").await.unwrap();
    click(&leader, ".thread button.close").await;
    wait_for_text_containing(
        &leader,
        "[data-panel=inbox] .request .state",
        "Đã đóng",
        StdDuration::from_secs(10),
    )
    .await;
    wait_for_text_containing(
        &leader,
        ".thread .message.close .message-text",
        "hoàn thành trước thứ Sáu",
        StdDuration::from_secs(10),
    )
    .await;
    let (_, page) = server.get("/api/v1/explanations?state=closed").await;
    assert_eq!(page["explanations"].as_array().unwrap().len(), 1, "{page}");

    leader_driver.assert_console_clean(&leader, &[]).await;
    chief_driver.assert_console_clean(&phone, &[]).await;
    leader.close().await.unwrap();
    phone.close().await.unwrap();
    server.cleanup().await;
}

/// Regression for the inbox test's `StaleElementReference` (a live update drew every row of
/// every list anew, so a tap landing during one could miss its row): a row of the open
/// requests, the alerts and the most overdue dossiers is marked; live updates change the
/// figures (and so every list's version) three times; each marked node is still on the page,
/// and the marked request still opens its thread. (The ranking and the late officers are
/// still drawn anew with each summary: README, Limits.)
#[sqlx::test(migrations = "../server/migrations")]
async fn regression_rows_of_live_lists_keep_their_nodes_across_live_updates(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let (status, rule) = ioc_tests::post_json(
        &server.http,
        format!("{}/api/v1/alerts/rules", server.base),
        &json!({"name": "Hồ sơ quá hạn ở phường", "unit": "00004", "metric": "dossiers.overdue",
                "window": "24h", "op": ">", "threshold": 0, "severity": "critical"}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    server
        .ingest_ok(&json!([
            dossier_received(
                "k1",
                "00004",
                "HS-K1",
                t - Duration::days(2),
                t - Duration::hours(30)
            ),
            dossier_assigned(
                "k1a",
                "00004",
                "HS-K1",
                t - Duration::days(2),
                ("cb-k", "Lê Văn Kiên")
            ),
        ]))
        .await;
    server.settle().await;
    let (status, asked) = ioc_tests::post_json(
        &server.http,
        format!("{}/api/v1/explanations", server.base),
        &json!({"unit": "00004",
                "about": {"kind": "figure", "metric": "dossiers.overdue", "window": "month"},
                "question": "Vì sao hồ sơ HS-K1 quá hạn?", "due_in": {"working_days": 3}}),
    )
    .await;
    assert_eq!(status, 201, "{asked}");

    let driver = Driver::start();
    let client = driver.client().await;
    client.set_window_size(1920, 1080).await.unwrap();
    client.goto(&format!("{}/?unit=001&window=24h", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    let rows = [
        "[data-panel=requests] .request",
        "[data-panel=alerts] .alert-row.firing",
        "[data-panel=most-overdue] tr.item[data-item='HS-K1']",
    ];
    for row in rows {
        wait_for(&client, row).await;
    }
    let marked: Vec<String> =
        serde_json::from_value(client.execute(MARK_ROWS, vec![json!(rows)]).await.unwrap())
            .unwrap();
    assert_eq!(marked.len(), rows.len(), "{marked:?}");
    // Live updates: another ward's dossiers arrive, three times, each changing the figures of
    // the district, its ranking and so every list's version.
    for round in 1..=3_usize {
        let events: Vec<serde_json::Value> = (0..round)
            .map(|i| {
                let id = format!("u{round}-{i}");
                dossier_received(&id, "00001", &id, t - Duration::hours(2), t + Duration::hours(20))
            })
            .collect();
        server.ingest_ok(&json!(events)).await;
        let wanted = (1..=round).sum::<usize>().to_string();
        wait_for_text_containing(
            &client,
            ".ranking tr.child[data-unit='00001'] td.num",
            &wanted,
            StdDuration::from_secs(15),
        )
        .await;
        // The lists re-read after the figures changed.
        tokio::time::sleep(StdDuration::from_millis(700)).await;
        let kept: Vec<String> =
            serde_json::from_value(client.execute(KEPT_ROWS, vec![]).await.unwrap()).unwrap();
        for row in rows {
            assert!(kept.iter().any(|k| k == row), "round {round}: `{row}` was drawn anew");
        }
    }
    // The kept request still opens.
    client.find(Locator::Css("[data-kept] .request-head")).await.unwrap().click().await.unwrap();
    wait_for_text_containing(
        &client,
        ".thread .message.question .message-text",
        "Vì sao hồ sơ HS-K1 quá hạn?",
        StdDuration::from_secs(10),
    )
    .await;
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}
