//! The overview: live figures, drilling down, a stuck applier, a silent source, the trend chart, scope.

use super::*;

#[sqlx::test(migrations = "../server/migrations")]
async fn the_dashboard_shows_live_figures_and_drills_down(pool: PgPool) {
    assert!(
        ioc_tests::web_dir().join("index.html").exists(),
        "the dashboard is not built: run scripts/test.sh (it builds dist/)"
    );
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut batch = Vec::new();
    for i in 0..1234 {
        batch.push(dossier_received(
            &format!("d{i}"),
            "00004",
            &format!("D{i}"),
            t - Duration::minutes(30),
            t + Duration::hours(4),
        ));
    }
    server.ingest_ok(&json!(batch)).await;
    server.settle().await;

    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=01&window=24h", server.base)).await.unwrap();
    // The login page first; a wrong password is refused with a clear message.
    log_in(&client, ioc_tests::ADMIN.0, "not-the-password").await;
    wait_for_text(&client, ".login .error", "Sai tên đăng nhập hoặc mật khẩu.").await;
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    // Vietnamese number format: 1.234.
    wait_for_text(&client, "[data-tile=dossiers-received] .tile-value", "1.234").await;
    wait_for_text(&client, "[data-tile=on-time-rate] .tile-value", "Chưa có dữ liệu").await;
    wait_for_text(&client, ".conn", "Trực tuyến").await;
    let crumbs = text_of(&client, ".crumbs").await.unwrap_or_default();
    assert!(crumbs.contains("Thành phố Hà Nội"), "{crumbs}");

    // An event arrives: the screen changes without a reload.
    server
        .ingest_ok(&json!([dossier_received("new", "00004", "NEW", t, t + Duration::hours(4))]))
        .await;
    wait_for_text(&client, "[data-tile=dossiers-received] .tile-value", "1.235").await;

    // Drill down: click Quận Ba Đình in the ranking; the URL follows.
    click(&client, "tr.child[data-unit='001']").await;
    wait_for_text(&client, ".crumbs a.current", "Quận Ba Đình").await;
    let url = client.current_url().await.unwrap();
    assert!(url.as_str().contains("unit=001"), "{url}");
    wait_for_text(&client, "tr.child[data-unit='00004'] td.num", "1.235").await;

    // Logging out ends the session: back to the login page.
    click(&client, "button.logout").await;
    wait_for(&client, ".login input[name=username]").await;

    // The wrong password above, refused on purpose.
    driver
        .assert_console_clean(
            &client,
            &["/api/v1/login - Failed to load resource: the server responded with a status of 401"],
        )
        .await;
    client.close().await.unwrap();
    server.cleanup().await;
}

/// Regression: with the applier stuck, heartbeats kept every screen green while acknowledged
/// events were missing from it. Now the heartbeat carries the lag and the dashboard turns amber
/// with the reason.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_stuck_applier_turns_the_dashboard_amber_with_the_reason(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=001", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for_text(&client, ".conn", "Trực tuyến").await;
    wait_for(&client, ".conn[data-freshness=green]").await;
    let mut live = server.live().await;
    live.subscribe("001", "today").await;

    assert!(server.server.stop_task("applier"));
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received("e1", "00004", "D1", t, t + Duration::hours(4))]))
        .await;
    // Amber once the lag passes 10 s and the next heartbeat (every 5 s) carries it. The bound
    // is generous on purpose: it catches "never", not speed (a regression that pinned a
    // timed assertion here failed CI on a loaded machine at 15.03 s).
    wait_for_text_containing(
        &client,
        ".conn[data-freshness=amber]",
        "dữ liệu chậm",
        StdDuration::from_secs(40),
    )
    .await;
    // The heartbeat itself says how far behind the figures are. (Generous bounds: a full run
    // on two cores delayed a heartbeat past a 6 s wait.)
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(30);
    loop {
        let text = live.next_text(StdDuration::from_secs(15)).await.unwrap();
        if let Ok(ioc_shared::live::ServerMessage::Heartbeat { status, lag_seconds, .. }) =
            serde_json::from_str(&text)
        {
            if status == ioc_shared::live::FeedStatus::Behind {
                assert!(lag_seconds > 10.0, "{lag_seconds}");
                break;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no heartbeat reported the lag");
    }
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}

/// A source system silent past its expected interval is flagged to admins and on every screen
/// showing units it feeds, until it speaks again.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_silent_source_is_flagged_in_the_admin_api_and_on_the_dashboard(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = server.create_key(&json!({"source": "tong-dai", "unit": "001", "expected_interval_seconds": 3, "watch": "always"})).await;
    let t = server.now();
    let send = |events: serde_json::Value| {
        let request = reqwest::Client::new()
            .post(format!("{}/api/v1/events", server.base))
            .bearer_auth(&key)
            .json(&events);
        async move { request.send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let mut event =
        complaint_received("c1", "00004", "C1", t, t + Duration::hours(4), "Môi trường", "hotline");
    event.as_object_mut().unwrap().remove("source");
    let mut wrong = event.clone();
    wrong["unit"] = json!("00037");
    wrong["id"] = json!("c2");
    let answer = send(json!([event, wrong])).await;
    assert_eq!(
        (answer["accepted"].as_u64(), answer["rejected"].as_array().map(Vec::len)),
        (Some(1), Some(1)),
        "{answer}"
    );
    let spoke_at = ioc_shared::time::to_local_rfc3339(chrono::Utc::now());

    // The admin API: traffic, reasons, and then silence.
    ioc_tests::eventually(StdDuration::from_secs(15), "the source is flagged silent", || async {
        let (_, sources) = server.get("/api/v1/admin/sources").await;
        sources.as_array().unwrap().iter().any(|s| s["source"] == "tong-dai" && s["silent"] == true)
    })
    .await;
    let (_, sources) = server.get("/api/v1/admin/sources").await;
    let report =
        sources.as_array().unwrap().iter().find(|s| s["source"] == "tong-dai").unwrap().clone();
    assert_eq!(
        report["last_hour"],
        json!({"accepted": 1, "duplicates": 0, "rejected": 1}),
        "{report}"
    );
    assert!(
        report["top_rejections"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("outside the units this key may send for"),
        "{report}"
    );
    assert!(report["silent_since"].is_string(), "{report}");
    let (ok, out, _) = ioc_tests::run_ioc(&pool, &server.prefix, &["source", "list"], "");
    assert!(
        ok && out.lines().any(|l| l.starts_with("tong-dai") && l.contains("SILENT since")),
        "{out}"
    );

    // The dashboard of a unit it feeds says so; a unit it does not feed does not.
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=001", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    let hh_mm = &spoke_at[11..16];
    wait_for_text_containing(
        &client,
        ".silent-source",
        &format!("nguồn dữ liệu tong-dai im lặng từ {hh_mm}"),
        StdDuration::from_secs(15),
    )
    .await;
    client.goto(&format!("{}/?unit=002", server.base)).await.unwrap();
    wait_for_text(&client, "[data-tile=dossiers-received] .tile-value", "0").await;
    tokio::time::sleep(StdDuration::from_secs(6)).await; // past a heartbeat
    assert!(
        client.find(Locator::Css(".silent-source")).await.is_err(),
        "Hoàn Kiếm is not fed by this source"
    );
    // It speaks again: it is no longer silent (the report is computed when asked).
    let mut again = complaint_received(
        "c3",
        "00004",
        "C3",
        server.now(),
        server.now() + Duration::hours(4),
        "Môi trường",
        "hotline",
    );
    again.as_object_mut().unwrap().remove("source");
    send(json!([again])).await;
    ioc_tests::eventually(StdDuration::from_secs(20), "the source speaks again", || async {
        let (_, sources) = server.get("/api/v1/admin/sources").await;
        sources.as_array().unwrap().iter().any(|s| {
            s["source"] == "tong-dai" && s["silent"] == false && s["last_day"]["accepted"] == 2
        })
    })
    .await;
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}

/// The trend chart and the Decision 766 card render with figures, and a tile shows its change
/// against the previous period.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_trend_chart_score_card_and_change_arrows_render(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    // 20 received in the 24 hours before, 40 in the last 24: a percentage is shown from 20
    // previous items on.
    let mut events: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            let (id, dossier) = (format!("p{i}"), format!("P{i}"));
            dossier_received(
                &id,
                "00004",
                &dossier,
                t - Duration::hours(30),
                t - Duration::hours(20),
            )
        })
        .collect();
    events.extend((0..40).map(|i| {
        let (id, dossier) = (format!("c{i}"), format!("C{i}"));
        dossier_received(&id, "00004", &dossier, t - Duration::hours(3), t + Duration::hours(20))
    }));
    events.push(dossier_resolved("c1x", "00004", "C1", t - Duration::hours(1), "completed"));
    server.ingest_ok(&json!(events)).await;
    server.settle().await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=001&window=24h", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for_text_containing(
        &client,
        "[data-tile=dossiers-received] .tile-value",
        "40",
        StdDuration::from_secs(15),
    )
    .await;
    // 40 received in the last 24 hours against 20 in the 24 before: ▲ 100 %.
    wait_for_text_containing(
        &client,
        "[data-tile=dossiers-received] .change",
        "▲ 100",
        StdDuration::from_secs(10),
    )
    .await;
    wait_for(&client, "[data-tile=dossiers-received] .sparkline polyline").await;
    wait_for(&client, "[data-panel=trend] polyline.received").await;
    let points = client
        .find(Locator::Css("[data-panel=trend] polyline.received"))
        .await
        .unwrap()
        .attr("points")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(points.split(' ').count() >= 2, "the chart has a line: {points}");
    // Regression (finding 7): the chart was 115 px tall in a 390 px panel, with no y-axis,
    // counts and percentages on one unlabelled scale, 7 px dates, and today's partial day
    // dropping off a cliff.
    let chart: serde_json::Value = client
        .execute(
            r#"const panel = document.querySelector('[data-panel=trend]').getBoundingClientRect();
               const chart = document.querySelector('[data-panel=trend] svg.chart').getBoundingClientRect();
               const ticks = [...document.querySelectorAll('[data-panel=trend] .tick')];
               return {ratio: chart.height / panel.height,
                       counts: document.querySelector('[data-panel=trend] .counts-axis').textContent,
                       rates: document.querySelector('[data-panel=trend] .rate-axis').textContent,
                       y: [...document.querySelectorAll('[data-panel=trend] .y-tick')].map(e => e.textContent),
                       smallest: Math.min(...ticks.map(e => e.getBoundingClientRect().height)),
                       partial: document.querySelector('[data-panel=trend] polyline.received.partial').getAttribute('points')};"#,
            vec![],
        )
        .await
        .unwrap();
    assert!(chart["ratio"].as_f64().unwrap() >= 0.6, "the chart fills its panel: {chart}");
    assert_eq!(chart["counts"], "hồ sơ / ngày", "{chart}");
    assert_eq!(chart["rates"], "tỷ lệ đúng hạn", "{chart}");
    let y: Vec<String> = serde_json::from_value(chart["y"].clone()).unwrap();
    assert!(
        y.iter().any(|t| t == "0") && y.iter().any(|t| t == "50"),
        "count axis 0…50 (40 at most): {y:?}"
    );
    assert!(y.iter().any(|t| t.ends_with('%')), "rate axis in percent: {y:?}");
    assert!(chart["smallest"].as_f64().unwrap() >= 10.0, "labels readable: {chart}");
    assert_eq!(
        chart["partial"].as_str().unwrap().split(' ').count(),
        2,
        "today, still running, is its own dashed piece: {chart}"
    );
    // A sparkline spans its own range: 40 today against 0 before fills its height.
    let spark = client
        .find(Locator::Css("[data-tile=dossiers-received] .sparkline polyline"))
        .await
        .unwrap()
        .attr("points")
        .await
        .unwrap()
        .unwrap_or_default();
    let ys: Vec<f64> = spark.split(' ').filter_map(|p| p.split(',').nth(1)?.parse().ok()).collect();
    let spread =
        ys.iter().cloned().fold(f64::MIN, f64::max) - ys.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread >= 20.0, "the sparkline uses its height: {spark}");
    wait_for_text_containing(
        &client,
        "[data-panel=trend] .legend",
        "Tiếp nhận",
        StdDuration::from_secs(20),
    )
    .await;
    wait_for_text_containing(
        &client,
        "[data-panel=score] .score-value",
        ",",
        StdDuration::from_secs(10),
    )
    .await;
    wait_for_text_containing(
        &client,
        "[data-panel=score] .indicators",
        "Tiến độ giải quyết",
        StdDuration::from_secs(20),
    )
    .await;
    // Every ward of the district is listed, worst score first.
    let scores = client
        .execute(
            "return [...document.querySelectorAll('[data-panel=score] .score-children .num')].map(e => e.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let scores: Vec<f64> = scores
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().replace('.', "").replace(',', ".").parse().unwrap())
        .collect();
    assert!(scores.len() > 8, "every child is listed: {scores:?}");
    assert!(scores.windows(2).all(|w| w[0] <= w[1]), "worst first: {scores:?}");
    // 40 open dossiers fall due at t + 20 h; one of them is resolved.
    wait_for_text_containing(
        &client,
        "[data-panel=score] .at-stake",
        "24 giờ tới: 39 hồ sơ đến hạn",
        StdDuration::from_secs(10),
    )
    .await;
    if let Ok(dir) = std::env::var("IOC_SCREENSHOTS") {
        std::fs::write(format!("{dir}/1920x1080-trends.png"), client.screenshot().await.unwrap())
            .unwrap();
    }
    // Wards have theirs too (regression: none showed below a district).
    client.goto(&format!("{}/?unit=00004&window=24h", server.base)).await.unwrap();
    wait_for_text_containing(
        &client,
        "[data-tile=dossiers-received] .tile-value",
        "40",
        StdDuration::from_secs(15),
    )
    .await;
    wait_for(&client, "[data-tile=dossiers-received] .sparkline polyline[points*=' ']").await;
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}

/// Regression: a chief opening a unit outside his scope (`?unit=002`, a stale address from a
/// leader's session) saw "Đang tải số liệu…" forever under a green badge. After login he lands
/// on his own unit; a unit outside his scope reached later says so and links back.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_unit_outside_a_chiefs_scope_says_so_and_leads_back_to_his_own(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let (username, password) = ("chief-badinh", "chief-badinh-password");
    ioc_tests::ensure_user(
        &server.server.state,
        username,
        password,
        ioc_shared::access::Role::Chief,
        Some("001"),
    )
    .await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=002&window=24h", server.base)).await.unwrap();
    log_in(&client, username, password).await;
    wait_for_text(&client, ".crumbs a.current", "Quận Ba Đình").await;
    let url = client.current_url().await.unwrap();
    assert!(url.as_str().contains("unit=001"), "{url}");
    // Later, the address names Hoàn Kiếm (the back button, a pasted link).
    client
        .execute(
            "history.pushState(null, '', '?unit=002&window=24h'); dispatchEvent(new PopStateEvent('popstate'));",
            vec![],
        )
        .await
        .unwrap();
    wait_for_text_containing(
        &client,
        ".refused[data-refused='002']",
        "nằm ngoài phạm vi",
        StdDuration::from_secs(10),
    )
    .await;
    click(&client, ".refused a").await;
    wait_until_gone(&client, ".refused", StdDuration::from_secs(10)).await;
    wait_for(&client, "[data-tile=dossiers-received] .tile-value").await;
    let url = client.current_url().await.unwrap();
    assert!(url.as_str().contains("unit=001"), "{url}");
    // Refusals of the unit outside his scope, and nothing else.
    driver
        .assert_console_clean(&client, &["/api/v1/units/002 - Failed to load resource: the server responded with a status of 403"])
        .await;
    client.close().await.unwrap();
    server.cleanup().await;
}

/// Regression: logging in at `/` (no unit in the address) sent six `/api/v1/units//…`
/// requests, answered 404, before the caller's root was known.
#[sqlx::test(migrations = "../server/migrations")]
async fn logging_in_without_a_unit_in_the_address_requests_no_empty_unit(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for(&client, "[data-tile=dossiers-received] .tile-value").await;
    wait_for(&client, "[data-panel=trend] svg.chart").await;
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    driver.assert_console_clean(&client, &[]).await;
    // Regression (finding 8): each login sent six `/api/v1/units//…` requests, and each panel
    // read its data two or three times with nothing changed.
    let requests: Vec<String> = serde_json::from_value(
        client
            .execute("return performance.getEntriesByType('resource').map(e => e.name);", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!requests.iter().any(|r| r.contains("/units//")), "{requests:#?}");
    let mut reads: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for request in requests.iter().filter(|r| r.contains("/api/v1/units/")) {
        *reads.entry(request.as_str()).or_default() += 1;
    }
    // Two components read these two (the tiles' sparklines and the trend, whose rolling
    // window asks the same 30 days); everything else is read by one.
    let readers = |url: &str| {
        if url.ends_with("metric=dossiers.received&step=day")
            || url.ends_with("metric=dossiers.on_time_rate&step=day")
        {
            2
        } else {
            1
        }
    };
    let again: Vec<_> = reads.iter().filter(|(url, n)| **n > readers(url)).collect();
    assert!(again.is_empty(), "read again with nothing changed: {again:#?}");
    assert!(reads.keys().any(|r| r.contains("metric=dossiers.on_time_rate")), "{reads:#?}");
    client.close().await.unwrap();
    server.cleanup().await;
}
