//! The top bar: where one is (crumbs), the window, the badges, the clock and the connection.

use super::*;

#[component]
pub(super) fn TopBar() -> impl IntoView {
    let screen = expect_context::<Screen>();
    let crumbs = move || {
        let path = screen.path.get();
        let last = path.len().saturating_sub(1);
        path.into_iter()
            .enumerate()
            .map(|(i, unit)| {
                let code = unit.code.clone();
                let href = route::href(&unit.code, screen.window.get_untracked(), screen.lang.get_untracked(), &View::Overview);
                view! {
                    {(i > 0).then(|| view! { <span class="sep">"›"</span> })}
                    <a class="crumb" class:current=i == last href=href
                        on:click=move |ev| { ev.prevent_default(); screen.go(code.clone()); }>{unit.name}</a>
                }
            })
            .collect_view()
    };
    let windows = Window::ALL
        .into_iter()
        .map(|w| {
            view! {
                <button class="window" class:active=move || screen.window.get() == w
                    on:click=move |_| screen.window.set(w)>{move || window_label(w, screen.lang.get())}</button>
            }
        })
        .collect_view();
    let now =
        move || DateTime::from_timestamp_millis(screen.now_ms.get() as i64).unwrap_or_default();
    let connection = move || {
        let state = screen.live.state.get();
        let feed = screen.live.feed.get();
        let (freshness, reason) = Freshness::of(
            state,
            screen.live.last_message_ms.get(),
            screen.now_ms.get(),
            &feed,
            screen.lang.get(),
        );
        let (class, text) = match (state, reason) {
            (ConnState::Live, Some(reason)) => (format!("conn {}", freshness.colour()), reason),
            (ConnState::Live, None) => {
                ("conn live".to_owned(), screen.t("Trực tuyến", "Live").to_owned())
            }
            (ConnState::Connecting, _) => {
                ("conn connecting".to_owned(), screen.t("Đang kết nối…", "Connecting…").to_owned())
            }
            (ConnState::Disconnected, _) => {
                ("conn down".to_owned(), screen.t("Mất kết nối", "Disconnected").to_owned())
            }
        };
        view! { <span class=class data-freshness=freshness.colour()>{text}</span> }
    };
    let silent = move || {
        ui::silent_source_notices(&screen.live.feed.get().silent_sources, screen.lang.get())
            .into_iter()
            .map(|notice| view! { <div class="notice silent-source" role="status">{notice}</div> })
            .collect_view()
    };
    let age = move || {
        let lang = screen.lang.get();
        match screen.live.last_message_ms.get() {
            None => lang.pick("chưa có dữ liệu", "no data").to_owned(),
            Some(t) => {
                let seconds = ((screen.now_ms.get() - t) / 1000.0).max(0.0) as i64;
                format!("{} {}", lang.pick("cập nhật", "updated"), format::ago(seconds, lang))
            }
        }
    };
    let age_class = move || {
        let (freshness, _) = Freshness::of(
            screen.live.state.get(),
            screen.live.last_message_ms.get(),
            screen.now_ms.get(),
            &screen.live.feed.get(),
            screen.lang.get(),
        );
        match freshness {
            Freshness::Current => "age",
            Freshness::Aging => "age aging",
            Freshness::Stale => "age stale",
        }
    };
    let logout = move |_| {
        leptos::task::spawn_local(async {
            match (api::log_out().await, web_sys::window()) {
                // Signed in through the province's provider: its session ends there too.
                (Some(url), Some(window)) => drop(window.location().set_href(&url)),
                _ => ui::reload(),
            }
        });
    };
    let acting = expect_context::<act::Acting>();
    let badges = move || {
        let lang = screen.lang.get();
        let alerts = acting.unacknowledged();
        let requests = screen.summary().map(|s| s.explanations).unwrap_or_default();
        view! {
            <span class="badge-alerts" class:hot={alerts > 0} data-count=alerts>{format!("{} {alerts}", lang.pick("Cảnh báo", "Alerts"))}</span>
            <a class="badge-inbox" class:hot={requests.overdue > 0} data-open=requests.open data-overdue=requests.overdue
                href="#inbox"
                on:click=move |ev| { ev.prevent_default(); screen.view.set(View::Inbox); }>
                {format!("{} {}", lang.pick("Giải trình", "Explanations"), requests.open)}
            </a>
        }
    };
    view! {
        <div class="notices">{silent}</div>
        <header class="topbar">
            <nav class="crumbs">{crumbs}</nav>
            <div class="windows">{windows}</div>
            <div class="badges">{badges}</div>
            <div class="status">
                <span class="clock">{move || format!("{} {}", format::clock(now()), format::date(now()))}</span>
                {connection}
                <span class=age_class>{age}</span>
                <button class="lang" on:click=move |_| screen.lang.update(|l| *l = if *l == Lang::Vi { Lang::En } else { Lang::Vi })>
                    {move || if screen.lang.get() == Lang::Vi { "EN" } else { "VI" }}
                </button>
                <span class="user">{move || {
                    let (name, role) = screen.user.get_value();
                    let lang = screen.lang.get();
                    match role {
                        Some(role) => format!("{name} ({})", role_label(role, lang)),
                        None => name,
                    }
                }}</span>
                <a class="reports-link" href=move || format!("/bao-cao?unit={}", screen.unit.get())>{move || screen.t("Báo cáo", "Reports")}</a>
                <button class="logout" on:click=logout>{move || screen.t("Đăng xuất", "Log out")}</button>
            </div>
        </header>
    }
}

fn role_label(role: Role, lang: Lang) -> &'static str {
    match role {
        Role::Admin => lang.pick("quản trị", "admin"),
        Role::Leader => lang.pick("lãnh đạo", "leader"),
        Role::Chief => lang.pick("trưởng đơn vị", "unit chief"),
    }
}
