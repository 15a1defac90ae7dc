//! The public page without a session: only public units, names only when turned on, readable.

use super::*;

/// The public page: no login, only the units the city made public, no officer names until the
/// city turns them on for a unit (then they appear live, without a reload), readable on a phone.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_public_page_shows_only_public_units_and_names_only_when_turned_on(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([
            dossier_received(
                "r1",
                "00004",
                "HS-1",
                t - Duration::hours(30),
                t - Duration::hours(3)
            ),
            dossier_assigned(
                "a1",
                "00004",
                "HS-1",
                t - Duration::hours(29),
                ("cb-7", "Trần Thị B")
            ),
            dossier_received(
                "r2",
                "00001",
                "HS-2",
                t - Duration::hours(30),
                t - Duration::hours(3)
            ),
        ]))
        .await;
    server.settle().await;
    assert_eq!(server.make_public("00004", false).await.0, 200);

    let driver = Driver::start();
    let client = driver.client().await;
    // A citizen's phone: no session cookie, 390 px wide.
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&format!("{}/cong-khai", server.base)).await.unwrap();
    wait_for(&client, "tr.public-unit[data-unit='00004']").await;
    wait_for_text_containing(
        &client,
        "tr.public-unit[data-unit='00004'] td.name",
        "Phường Trúc Bạch",
        StdDuration::from_secs(20),
    )
    .await;
    wait_for_text_containing(
        &client,
        "tr.public-unit[data-unit='00004'] td.overdue",
        "1",
        StdDuration::from_secs(20),
    )
    .await;
    wait_for_text_containing(&client, ".public-age", "Số liệu lúc", StdDuration::from_secs(20))
        .await;
    assert!(
        client.find(Locator::Css("tr.public-unit[data-unit='00001']")).await.is_err(),
        "00001 is not public"
    );
    assert!(client.find(Locator::Css(".login")).await.is_err(), "no login on the public page");
    let page = client.source().await.unwrap();
    assert!(!page.contains("Trần Thị B"), "no officer names until the city turns them on");
    // Nothing spills out sideways on the phone.
    let overflow: serde_json::Value = client
        .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1;", vec![])
        .await
        .unwrap();
    assert_eq!(overflow, json!(true), "the public page scrolls sideways on a phone");
    // Regression (finding 10, the public page): links at about 2:1 contrast, 14 px text, a
    // "—" that read as "no late officer" where names are only not published, and the
    // dashboard's tab title.
    let officers = text_of(&client, "tr.public-unit[data-unit='00004'] td.officers").await;
    assert!(officers.unwrap_or_default().contains("Không công bố"));
    assert_eq!(client.title().await.unwrap(), "Công khai kết quả giải quyết hồ sơ và phản ánh");
    let problems: Vec<String> =
        serde_json::from_value(client.execute(PUBLIC_READABILITY_CHECK, vec![]).await.unwrap())
            .unwrap();
    assert!(problems.is_empty(), "hard to read:\n{}", problems.join("\n"));

    client.execute("window.__noReload = 'still here';", vec![]).await.unwrap();
    assert_eq!(server.make_public("00004", true).await.0, 200);
    wait_for_text_containing(
        &client,
        "tr.public-unit[data-unit='00004'] td.officers",
        "Trần Thị B",
        StdDuration::from_secs(30),
    )
    .await;
    let still: serde_json::Value =
        client.execute("return window.__noReload || null;", vec![]).await.unwrap();
    assert_eq!(still, json!("still here"), "live, no reload");
    driver.assert_console_clean(&client, &[]).await;
    client.close().await.unwrap();
    server.cleanup().await;
}
