//! Notes on the charts and the reports page with its signature checked in the browser.

use super::*;

/// Notes on the timeline (issue 23) mark the trend chart and the tiles' sparklines of the
/// units they are meant for; "Báo cáo" lists the unit's frozen reports with their downloads,
/// and a report opened in the browser shows its frozen figures, when they were frozen, and a
/// badge that its signature checks — checked in the page, so a report changed in the database
/// shows the badge failing.
#[sqlx::test(migrations = "../server/migrations")]
async fn notes_mark_the_charts_and_a_report_opens_with_its_signature_checked(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received(
            "n1",
            "00004",
            "N1",
            t - Duration::days(3),
            t + Duration::days(20)
        )]))
        .await;
    server.settle().await;
    // A city note three days ago, meant for the units below: it marks Ba Đình's charts.
    let note = "Hệ thống một cửa bảo trì";
    let (status, added) = ioc_tests::post_json(
        &server.http,
        format!("{}/api/v1/annotations", server.base),
        &json!({"unit": "01", "at": ioc_shared::time::to_local_rfc3339(t - Duration::days(3)),
                "text": note, "children": true}),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let (status, report) = ioc_tests::post_json(
        &server.http,
        format!("{}/api/v1/reports", server.base),
        &json!({"unit": "001", "period": "month"}),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    let id = report["id"].as_i64().unwrap();

    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=001&window=24h", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for(&client, "[data-panel=trend] line.note").await;
    wait_for(&client, "[data-tile=dossiers-received] .sparkline line.note").await;
    let titles = |css: &'static str| {
        let client = client.clone();
        async move {
            let script =
                format!("return [...document.querySelectorAll('{css}')].map(e => e.textContent);");
            let found: Vec<String> =
                serde_json::from_value(client.execute(&script, vec![]).await.unwrap()).unwrap();
            found
        }
    };
    let chart = titles("[data-panel=trend] line.note title").await;
    assert!(chart.iter().any(|t| t == note), "the chart's notes: {chart:?}");
    let spark = titles("[data-tile=dossiers-received] .sparkline line.note title").await;
    assert!(spark.iter().any(|t| t == note), "the sparkline's notes: {spark:?}");
    // Where nothing hovers (a phone), picking the day shows its notes after its figures.
    let day = (t - Duration::days(3))
        .with_timezone(&ioc_shared::time::local_offset())
        .format("%d/%m/%Y")
        .to_string();
    let picked = client
        .execute(
            "const hit = [...document.querySelectorAll('[data-panel=trend] rect.hit')]
               .find((r) => r.querySelector('title').textContent === arguments[0]);
             if (!hit) return false;
             hit.dispatchEvent(new MouseEvent('click', {bubbles: true}));
             return true;",
            vec![json!(day)],
        )
        .await
        .unwrap();
    assert_eq!(picked, json!(true), "the chart has the day {day}");
    wait_for_text_containing(
        &client,
        "[data-panel=trend] .readout",
        &day,
        StdDuration::from_secs(5),
    )
    .await;
    wait_for_text_containing(
        &client,
        "[data-panel=trend] .readout",
        note,
        StdDuration::from_secs(5),
    )
    .await;

    // "Báo cáo": the unit's reports, each with its PDF and JSON.
    click(&client, ".reports-link").await;
    let row = format!(".report-row[data-id='{id}']");
    wait_for(&client, &row).await;
    let href = |css: String| {
        let client = client.clone();
        async move {
            client.find(Locator::Css(&css)).await.unwrap().attr("href").await.unwrap().unwrap()
        }
    };
    assert_eq!(href(format!("{row} a.pdf")).await, format!("/api/v1/reports/{id}.pdf"));
    assert_eq!(href(format!("{row} a.json")).await, format!("/api/v1/reports/{id}"));
    let listed = client
        .execute("return document.querySelectorAll('.report-row').length;", vec![])
        .await
        .unwrap();
    assert_eq!(listed, json!(1));

    // Opened: the frozen figures, when they were frozen, and the signature checked.
    click(&client, &format!("{row} a.open")).await;
    wait_for(&client, ".signature.ok[data-checked=true]").await;
    let frozen_at = report["frozen_at"].as_str().unwrap();
    let shown = text_of(&client, ".frozen-at").await.unwrap();
    let expected_time = format!(
        "{} {}/{}/{}",
        &frozen_at[11..16],
        &frozen_at[8..10],
        &frozen_at[5..7],
        &frozen_at[0..4]
    );
    assert!(
        shown.contains(&format!("số liệu chốt lúc {expected_time}")),
        "{shown} (frozen at {frozen_at})"
    );
    let received = report["figures"]["dossiers"]["received"].as_u64().unwrap();
    let first_figure = text_of(&client, ".figures tbody tr:first-child td.now").await.unwrap();
    assert_eq!(first_figure, received.to_string());
    assert_eq!(
        text_of(&client, ".report .digest").await.unwrap(),
        format!("SHA-256: {}", report["digest"].as_str().unwrap())
    );
    driver.assert_console_clean(&client, &[]).await;

    // A report changed where it is kept no longer checks, and the page says so.
    sqlx::query(
        "UPDATE reports SET body = jsonb_set(body::jsonb, '{figures,dossiers,received}', to_jsonb($2::bigint))::text
         WHERE id = $1",
    )
    .bind(id)
    .bind(i64::try_from(received).unwrap() + 1)
    .execute(&pool)
    .await
    .unwrap();
    client.refresh().await.unwrap();
    wait_for(&client, ".signature.bad[data-checked=false]").await;
    let badge = text_of(&client, ".signature.bad").await.unwrap();
    assert!(badge.contains("không hợp lệ"), "{badge}");
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}
