//! The work behind the numbers: the lists a tile opens, an officer's page, the late officers in pages.

use super::*;

/// Every count opens the items behind it: the overdue tile opens the overdue list, and an
/// overdue dossier ingested meanwhile appears in the visible list without a reload.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_overdue_tile_opens_a_list_that_follows_the_live_figures(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([
            dossier_received(
                "e1",
                "00004",
                "HS-1",
                t - Duration::hours(30),
                t - Duration::hours(26)
            ),
            dossier_assigned(
                "e2",
                "00004",
                "HS-1",
                t - Duration::hours(29),
                ("cb-7", "Trần Thị B")
            ),
        ]))
        .await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=001", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for_text(&client, "[data-tile=dossiers-overdue] .tile-value", "1").await;
    wait_for_text_containing(
        &client,
        "[data-panel=most-overdue]",
        "quá hạn 1 ngày 2 giờ",
        StdDuration::from_secs(10),
    )
    .await;
    click(&client, "[data-tile=dossiers-overdue]").await;
    wait_for(&client, "[data-page=list] tr.item[data-item=HS-1]").await;
    wait_for_text_containing(&client, ".list-title", "Hồ sơ quá hạn", StdDuration::from_secs(20))
        .await;
    wait_for_text_containing(
        &client,
        "tr.item[data-item=HS-1]",
        "Trần Thị B",
        StdDuration::from_secs(20),
    )
    .await;
    let url = client.current_url().await.unwrap();
    assert!(url.as_str().contains("view=list") && url.as_str().contains("state=overdue"), "{url}");
    let marker: String = client
        .execute("window.__noReload = 'still here'; return window.__noReload;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(marker, "still here");

    server
        .ingest_ok(&json!([dossier_received(
            "e3",
            "00004",
            "HS-2",
            t - Duration::hours(10),
            t - Duration::hours(3)
        )]))
        .await;
    wait_for(&client, "[data-page=list] tr.item[data-item=HS-2]").await;
    let still: serde_json::Value =
        client.execute("return window.__noReload || null;", vec![]).await.unwrap();
    assert_eq!(still, json!("still here"), "no reload");
    // The same list opened from a link.
    client
        .goto(&format!("{}/?unit=001&view=list&kind=dossier&state=overdue", server.base))
        .await
        .unwrap();
    wait_for(&client, "[data-page=list] tr.item[data-item=HS-2]").await;
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}

/// Regression (finding 6): the late-officers tile said 63 and its page listed 10, without
/// headers, paging or CSV. The page lists all 63 in pages of 50 with a page number, ranked
/// with headers, back at the top after turning a page, and links the CSV (semicolons for
/// Vietnamese-locale Excel).
#[sqlx::test(migrations = "../server/migrations")]
async fn the_late_officers_tile_opens_every_late_officer_in_pages(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    late_dossiers_each_with_its_officer(&server, 63).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=001", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for_text(&client, "[data-tile=late-officers] .tile-value", "63").await;
    click(&client, "[data-tile=late-officers]").await;
    wait_for(&client, "[data-page=officers] tr.officer-row").await;
    wait_for_text_containing(
        &client,
        "[data-page=officers] .list-title",
        "63",
        StdDuration::from_secs(10),
    )
    .await;
    let headers = text_of(&client, "[data-page=officers] thead").await.unwrap_or_default();
    assert!(headers.contains("Cán bộ") && headers.contains("Việc quá hạn"), "{headers}");
    let rows = client.find_all(Locator::Css("[data-page=officers] tr.officer-row")).await.unwrap();
    assert_eq!(rows.len(), 50);
    wait_for_text_containing(
        &client,
        "[data-page=officers] .page-number",
        "Trang 1 / 2",
        StdDuration::from_secs(5),
    )
    .await;
    let csv = client
        .find(Locator::Css("[data-page=officers] a.csv"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(csv, "/api/v1/units/001/officers.csv?delimiter=semicolon");
    client
        .execute(
            "document.querySelector('.page').scrollTop = 10000; window.scrollTo(0, 10000);",
            vec![],
        )
        .await
        .unwrap();
    click(&client, "[data-page=officers] .pager .next").await;
    wait_for_text_containing(
        &client,
        "[data-page=officers] .page-number",
        "Trang 2 / 2",
        StdDuration::from_secs(5),
    )
    .await;
    eventually(StdDuration::from_secs(5), "the second page", || async {
        client.find_all(Locator::Css("[data-page=officers] tr.officer-row")).await.unwrap().len()
            == 13
    })
    .await;
    let first =
        text_of(&client, "[data-page=officers] tr.officer-row td").await.unwrap_or_default();
    assert_eq!(first, "51", "ranks go on from the first page");
    let scrolled: f64 = serde_json::from_value(
        client
            .execute("return document.querySelector('.page').scrollTop + window.scrollY;", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(scrolled, 0.0, "the new page starts at its top");

    // Regression (finding 10): the page was not in the address. A reload keeps it, and the
    // back button walks back a page.
    let url = client.current_url().await.unwrap();
    assert!(url.as_str().ends_with("&view=officers&page=2"), "{url}");
    client.refresh().await.unwrap();
    wait_for_text_containing(
        &client,
        "[data-page=officers] .page-number",
        "Trang 2 / 2",
        StdDuration::from_secs(20),
    )
    .await;
    eventually(StdDuration::from_secs(5), "page 2 after a reload", || async {
        text_of(&client, "[data-page=officers] tr.officer-row td").await.as_deref() == Some("51")
    })
    .await;
    client.back().await.unwrap();
    wait_for_text_containing(
        &client,
        "[data-page=officers] .page-number",
        "Trang 1 / 2",
        StdDuration::from_secs(10),
    )
    .await;
    eventually(StdDuration::from_secs(5), "page 1 after going back", || async {
        text_of(&client, "[data-page=officers] tr.officer-row td").await.as_deref() == Some("1")
    })
    .await;
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}

/// Regression (finding 10): a list's page was neither numbered in the address nor kept by a
/// reload; the back button left the list. Now `page` and the page's `cursor` are in the
/// address: a reload shows the same rows, "previous" and the back button each go one page
/// back, and an address opened at a later page says where "previous" leads.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_lists_page_is_in_the_address_and_survives_a_reload_and_the_back_button(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    late_dossiers_each_with_its_officer(&server, 120).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client
        .goto(&format!("{}/?unit=001&view=list&kind=dossier&state=overdue", server.base))
        .await
        .unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    let page_number = |n: usize| format!("Trang {n} / 3");
    let mut pages: Vec<Vec<String>> = Vec::new();
    for (n, rows) in [(1, 50), (2, 50), (3, 20)] {
        if n > 1 {
            click(&client, "[data-page=list] .pager .next").await;
        }
        wait_for_text_containing(
            &client,
            "[data-page=list] .page-number",
            &page_number(n),
            StdDuration::from_secs(20),
        )
        .await;
        eventually(StdDuration::from_secs(10), "a page's rows", || async {
            let shown = list_rows(&client).await;
            shown.len() == rows && pages.last() != Some(&shown)
        })
        .await;
        pages.push(list_rows(&client).await);
    }
    let every: std::collections::HashSet<&String> = pages.iter().flatten().collect();
    assert_eq!(every.len(), 120, "each item on one page");
    let url = client.current_url().await.unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query.get("page").map(String::as_str), Some("3"), "{url}");
    assert!(query.get("cursor").is_some_and(|c| !c.is_empty()), "{url}");

    // A reload: the same rows. The page before is not known then, and "previous" says that it
    // leads to the first page.
    client.refresh().await.unwrap();
    wait_for_text_containing(
        &client,
        "[data-page=list] .page-number",
        &page_number(3),
        StdDuration::from_secs(20),
    )
    .await;
    eventually(StdDuration::from_secs(10), "the same page after a reload", || async {
        list_rows(&client).await == pages[2]
    })
    .await;
    assert_eq!(
        text_of(&client, "[data-page=list] .pager .prev").await.as_deref(),
        Some("‹ Trang đầu")
    );
    click(&client, "[data-page=list] .pager .prev").await;
    wait_for_text_containing(
        &client,
        "[data-page=list] .page-number",
        &page_number(1),
        StdDuration::from_secs(10),
    )
    .await;
    eventually(StdDuration::from_secs(10), "the first page again", || async {
        list_rows(&client).await == pages[0]
    })
    .await;
    let url = client.current_url().await.unwrap();
    assert!(!url.as_str().contains("page=") && !url.as_str().contains("cursor="), "{url}");
    // Reached by "next", the page before is known; the browser's back button goes one page
    // back and stays on the list.
    click(&client, "[data-page=list] .pager .next").await;
    wait_for_text_containing(
        &client,
        "[data-page=list] .page-number",
        &page_number(2),
        StdDuration::from_secs(10),
    )
    .await;
    assert_eq!(
        text_of(&client, "[data-page=list] .pager .prev").await.as_deref(),
        Some("‹ Trang trước")
    );
    client.back().await.unwrap();
    wait_for_text_containing(
        &client,
        "[data-page=list] .page-number",
        &page_number(1),
        StdDuration::from_secs(10),
    )
    .await;
    eventually(StdDuration::from_secs(10), "the first page after going back", || async {
        list_rows(&client).await == pages[0]
    })
    .await;
    driver.assert_console_clean(&client, &[]).await;
    server.cleanup().await;
}

/// Regression (finding 6): an officer's page had unlabelled blue numbers, the city instead of
/// his ward in the header, his own name on every row, no complaint texts; an officer outside
/// a chief's scope showed the server's raw English. Now every figure is labelled and red when
/// overdue, the header names his ward, rows carry the complaint's summary and no officer
/// column, and the refusal is a sentence in the page's language.
#[sqlx::test(migrations = "../server/migrations")]
async fn an_officers_page_labels_his_figures_names_his_ward_and_shows_complaint_texts(
    pool: PgPool,
) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([
            dossier_received(
                "r1",
                "00004",
                "HS-1",
                t - Duration::hours(30),
                t - Duration::hours(2)
            ),
            dossier_assigned(
                "a1",
                "00004",
                "HS-1",
                t - Duration::hours(29),
                ("cb-7", "Trần Thị B")
            ),
            complaint_received(
                "c1",
                "00004",
                "PA-1",
                t - Duration::hours(30),
                t - Duration::hours(3),
                "Môi trường",
                "zalo"
            ),
            complaint_assigned(
                "ca1",
                "00004",
                "PA-1",
                t - Duration::hours(29),
                ("cb-7", "Trần Thị B")
            ),
            dossier_received(
                "r2",
                "00037",
                "HS-2",
                t - Duration::hours(30),
                t - Duration::hours(2)
            ),
            dossier_assigned("a2", "00037", "HS-2", t - Duration::hours(29), ("cb-9", "Lê Văn C")),
        ]))
        .await;
    ioc_tests::ensure_user(
        &server.server.state,
        "truong.badinh",
        "chief-password-1",
        ioc_shared::access::Role::Chief,
        Some("001"),
    )
    .await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=01&view=officer&officer=cb-7", server.base)).await.unwrap();
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
    wait_for(&client, "[data-page=officer] [data-figure=dossier]").await;
    let home = text_of(&client, ".officer-home").await.unwrap_or_default();
    assert!(home.contains("Phường Trúc Bạch"), "his ward, not the city: {home}");
    let label = text_of(&client, "[data-figure=dossier] .tile-label").await.unwrap_or_default();
    assert_eq!(label, "Hồ sơ quá hạn");
    let class = client
        .find(Locator::Css("[data-figure=dossier]"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(class.contains("bad"), "overdue is red: {class}");
    let task = client
        .find(Locator::Css("[data-figure=task]"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!task.contains("bad"), "nothing overdue is not red: {task}");
    wait_for_text_containing(
        &client,
        "[data-page=officer] tr.item[data-item=PA-1] .item-summary",
        "Rác thải chưa được thu gom",
        StdDuration::from_secs(10),
    )
    .await;
    let officer_column: bool = serde_json::from_value(
        client.execute("return [...document.querySelectorAll('[data-page=officer] .item-officer')].some(e => e.offsetParent !== null);", vec![]).await.unwrap(),
    ).unwrap();
    assert!(!officer_column, "no column repeating his name");
    driver.assert_console_clean(&client, &[]).await;

    // A chief of Ba Đình opening an officer who works only in Hoàn Kiếm.
    client.execute("return fetch('/api/v1/logout', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{}'}).then(() => true);", vec![]).await.unwrap();
    client.goto(&format!("{}/?unit=001&view=officer&officer=cb-9", server.base)).await.unwrap();
    log_in(&client, "truong.badinh", "chief-password-1").await;
    wait_for_text_containing(
        &client,
        "[data-refused=officer]",
        "Không có cán bộ này",
        StdDuration::from_secs(10),
    )
    .await;
    let page = text_of(&client, "[data-page=officer]").await.unwrap_or_default();
    assert!(!page.contains("no officer"), "no raw server text: {page}");
    driver.assert_console_clean(&client, &["404"]).await;
    server.cleanup().await;
}
