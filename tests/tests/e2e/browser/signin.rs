//! Signing in with the province's account in Chromium: the button, the provider's own login
//! page, and back to the dashboard scoped to the ward.

use super::*;

/// A ward's chief clicks "Đăng nhập bằng tài khoản công vụ", logs in at the real provider
/// (npm `oidc-provider`), lands on the dashboard of Phường Trúc Bạch only, and logging out
/// takes the browser through the provider's logout.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_wards_chief_signs_in_with_the_provinces_account_and_sees_only_the_ward(pool: PgPool) {
    let accounts = json!({"cb.trucbach": {"preferred_username": "cb.trucbach", "ioc_role": "chief", "ioc_unit": "00004", "name": "Phạm Văn Trúc"}});
    let (server, provider) = TestServer::start_with_provider(&pool, &accounts, |_| {}).await;
    let driver = Driver::start();
    let client = driver.client().await;
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&format!("{}/", server.base)).await.unwrap();
    wait_for_text(&client, ".login a.sso", "Đăng nhập bằng tài khoản công vụ").await;
    driver.assert_console_clean(&client, &[]).await;
    click(&client, ".login a.sso").await;
    // The provider's own login page.
    wait_for(&client, "input[name=login]").await;
    assert!(client.current_url().await.unwrap().as_str().starts_with(&provider.issuer));
    client
        .find(Locator::Css("input[name=login]"))
        .await
        .unwrap()
        .send_keys("cb.trucbach")
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("any")
        .await
        .unwrap();
    click(&client, "button[type=submit]").await;
    // Back on the dashboard, scoped to the ward.
    wait_for_text(&client, ".crumbs a.current", "Phường Trúc Bạch").await;
    wait_for_text(&client, ".conn", "Trực tuyến").await;
    let landed = client.current_url().await.unwrap();
    assert!(landed.as_str().starts_with(&format!("{}/?unit=00004", server.base)), "{landed}");
    let crumbs = client.find_all(Locator::Css(".crumbs a")).await.unwrap();
    assert_eq!(crumbs.len(), 1, "a chief sees nothing above the ward");
    // The provider's development login page asks Google for a font (this machine has no way
    // out) and has no favicon: its own, not the dashboard's.
    driver.assert_console_clean(&client, &["fonts.googleapis.com", &provider.issuer]).await;
    // Logging out ends the provider's session too: the browser goes to its logout page.
    click(&client, "button.logout").await;
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    while !client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .starts_with(&format!("{}/session/end", provider.issuer))
    {
        assert!(tokio::time::Instant::now() < deadline, "never sent to the provider's logout");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    server.cleanup().await;
}
