//! The dashboard at `/`: log in, then the overview of a scope — top bar, tiles, the ranking of
//! the children, late officers, complaints by field and channel — kept live.

use crate::act;
use crate::api;
use crate::live::{ConnState, LiveClient, LiveSignals};
use crate::route::{self, View};
use crate::ui::{self, rate_tone, window_label, Freshness};
use crate::work::{self, Scope};
use chrono::DateTime;
use ioc_shared::access::{LoginRequest, Role};
use ioc_shared::format::{self, Lang};
use ioc_shared::summary::{ChildFigures, Summary, UnitBrief, Window};
use leptos::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// What the dashboard shows before the figures.
#[derive(Clone, PartialEq)]
enum Gate {
    Checking,
    Login {
        error: Option<String>,
    },
    In(api::Person),
    /// The server did not answer; retried every few seconds.
    Unreachable,
}

/// The dashboard's title in the browser's tab.
fn title(lang: Lang) -> &'static str {
    lang.pick("IOC — Trung tâm điều hành", "IOC — Operations centre")
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let gate = RwSignal::new(Gate::Checking);
    // Before login, the address's language (`?lang=en`) is the page's.
    let lang = route::read().lang;
    ui::set_document(lang, title(lang));
    check_me(gate);
    view! {
        {move || match gate.get() {
            Gate::Checking => view! { <div class="loading">{lang.pick("Đang tải…", "Loading…")}</div> }.into_any(),
            Gate::Unreachable => view! { <div class="loading">{lang.pick("Không kết nối được máy chủ; đang thử lại…", "The server does not answer; trying again…")}</div> }.into_any(),
            Gate::Login { error } => view! { <LoginForm gate=gate error=error lang=lang /> }.into_any(),
            Gate::In(me) => view! { <Workspace me=me /> }.into_any(),
        }}
    }
}

fn check_me(gate: RwSignal<Gate>) {
    leptos::task::spawn_local(async move {
        match api::signed().await {
            Ok(api::Signed::Display) => {
                // A paired wall screen belongs on the wall page.
                if let Some(window) = web_sys::window() {
                    let _ = window.location().set_href("/wall");
                }
            }
            Ok(api::Signed::Person(me)) => gate.set(Gate::In(me)),
            Ok(api::Signed::Nobody) => gate.set(Gate::Login { error: None }),
            Err(_) => {
                gate.set(Gate::Unreachable);
                set_timeout(move || check_me(gate), Duration::from_secs(3));
            }
        }
    });
}

#[component]
fn LoginForm(gate: RwSignal<Gate>, error: Option<String>, lang: Lang) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        let request =
            LoginRequest { username: username.get_untracked(), password: password.get_untracked() };
        leptos::task::spawn_local(async move {
            match api::log_in(&request).await {
                Ok(me) => gate.set(Gate::In(me)),
                Err(failure) => {
                    busy.set(false);
                    let error = match failure.status {
                        401 => lang
                            .pick("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password.")
                            .to_owned(),
                        429 => format!(
                            "{} ({})",
                            lang.pick(
                                "Đăng nhập sai quá nhiều lần, tạm thời bị khóa.",
                                "Too many failed logins; locked for a while."
                            ),
                            failure.message
                        ),
                        0 => lang
                            .pick("Không kết nối được máy chủ.", "The server does not answer.")
                            .to_owned(),
                        _ => failure.message,
                    };
                    gate.set(Gate::Login { error: Some(error) });
                }
            }
        });
    };
    view! {
        <form class="login" on:submit=submit>
            <h1>{lang.pick("Trung tâm điều hành", "Operations centre")}</h1>
            <p class="muted">{lang.pick("Đăng nhập để xem số liệu trực tuyến.", "Log in to see the live figures.")}</p>
            <label>{lang.pick("Tên đăng nhập", "Username")}
                <input name="username" type="text" autocomplete="username" required=true
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
            </label>
            <label>{lang.pick("Mật khẩu", "Password")}
                <input name="password" type="password" autocomplete="current-password" required=true
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
            </label>
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <button type="submit" disabled=move || busy.get()>{lang.pick("Đăng nhập", "Log in")}</button>
        </form>
    }
}

/// Everything the screen's parts read and write.
#[derive(Clone, Copy)]
struct Screen {
    unit: RwSignal<String>,
    /// The page of the scope: overview, a list, an officer.
    view: RwSignal<View>,
    window: RwSignal<Window>,
    lang: RwSignal<Lang>,
    path: RwSignal<Vec<UnitBrief>>,
    live: LiveSignals,
    now_ms: RwSignal<f64>,
    /// Who is logged in, for the top bar.
    user: StoredValue<(String, Option<Role>)>,
    /// The last 30 days of each tile's metric.
    sparks: RwSignal<work::Sparks>,
    /// Notifies with each new snapshot of the scope (its `as_of`): the data behind the numbers
    /// is re-read then.
    version: Signal<String>,
}

impl Screen {
    fn t(&self, vi: &'static str, en: &'static str) -> &'static str {
        self.lang.get().pick(vi, en)
    }

    /// Another scope: its overview.
    fn go(&self, unit: String) {
        self.view.set(View::Overview);
        self.unit.set(unit);
    }

    /// What the pages of the work behind the numbers need.
    fn scope(&self) -> Scope {
        let screen = *self;
        Scope {
            unit: screen.unit.into(),
            window: screen.window.into(),
            lang: screen.lang.into(),
            version: screen.version,
            open: Callback::new(move |view: View| screen.view.set(view)),
        }
    }

    fn summary(&self) -> Option<Summary> {
        let scope = (self.unit.get(), self.window.get());
        self.live.snapshots.with(|map| map.get(&scope).cloned())
    }
}

#[component]
fn Workspace(me: api::Person) -> impl IntoView {
    let initial = route::read();
    // Who is logged in: a name and, for a person, the role (named in the chosen language).
    let (role, home) = (me.role, me.unit.clone());
    let user_label = (me.username, Some(me.role));
    let unit = RwSignal::new(initial.unit.clone().or(home.clone()).unwrap_or_default());
    // A unit the caller may not see (or that does not exist): its code and the answer's status.
    let refused: RwSignal<Option<(String, u16)>> = RwSignal::new(None);
    // Until the first unit is checked: a stale address after login falls back to the own unit.
    let first_check = StoredValue::new(true);
    let home = StoredValue::new(home);
    // The last unit the server confirmed the caller may see: subscriptions and panels follow
    // this one, so nothing is asked for a unit before it is known to be in scope.
    let checked = RwSignal::new(String::new());
    let window = RwSignal::new(initial.window);
    let live = LiveSignals::new();
    // Not a Memo: two snapshots within one second share `as_of`, and each must re-read.
    let version = Signal::derive(move || {
        live.snapshots.with(|map| {
            map.get(&(unit.get(), window.get())).map(|s| s.as_of.clone()).unwrap_or_default()
        })
    });
    let screen = Screen {
        unit,
        view: RwSignal::new(initial.view.clone()),
        window,
        lang: RwSignal::new(initial.lang),
        path: RwSignal::new(Vec::new()),
        live,
        now_ms: RwSignal::new(js_sys::Date::now()),
        user: StoredValue::new(user_label),
        sparks: work::sparklines(checked.into(), version),
        version,
    };

    // No unit yet: show the (first) root the caller may see.
    if screen.unit.get_untracked().is_empty() {
        leptos::task::spawn_local(async move {
            if let Ok(roots) = api::roots().await {
                if let Some(root) = roots.into_iter().next() {
                    screen.unit.set(root.code);
                }
            }
        });
    }

    let client = LiveClient::start(screen.live, ui::reload);
    {
        let client = client.clone();
        Effect::new(move |_| {
            let unit = checked.get();
            let window = screen.window.get();
            if !unit.is_empty() {
                client.show(vec![(unit.clone(), window)]);
                client.follow_alerts(Some(unit));
            }
        });
    }
    Effect::new(move |_| {
        let unit = screen.unit.get();
        if unit.is_empty() {
            return;
        }
        route::write(&unit, screen.window.get(), screen.lang.get(), &screen.view.get());
        leptos::task::spawn_local(async move {
            let answer = api::unit_info(&unit).await;
            let first = first_check.get_value();
            first_check.set_value(false);
            if screen.unit.get_untracked() != unit {
                return;
            }
            match answer {
                Ok(info) => {
                    refused.set(None);
                    if checked.get_untracked() != unit {
                        checked.set(unit);
                    }
                    screen.path.set(info.path);
                }
                Err(failure) if matches!(failure.status, 403 | 404) => {
                    match home.get_value().filter(|own| first && *own != unit) {
                        // The address of someone else's session: the own unit instead.
                        Some(own) => screen.go(own),
                        None => refused.set(Some((unit, failure.status))),
                    }
                }
                Err(_) => {}
            }
        });
    });
    Effect::new(move |_| {
        let lang = screen.lang.get();
        ui::set_document(lang, title(lang));
    });
    // Back and forward buttons move between scopes.
    let _ = window_event_listener(leptos::ev::popstate, move |_| {
        let route = route::read();
        if let Some(unit) = route.unit {
            screen.unit.set(unit);
        }
        screen.view.set(route.view);
        screen.window.set(route.window);
        screen.lang.set(route.lang);
    });
    // One tick a second: the clock, the data age, and the connection watchdog (which also
    // sends a logged-out screen back to the login page).
    let _ = set_interval_with_handle(
        move || {
            let now = js_sys::Date::now();
            screen.now_ms.set(now);
            client.watchdog(now);
        },
        Duration::from_secs(1),
    );

    let unit_known = Memo::new(move |_| {
        checked.with(|checked| !checked.is_empty() && *checked == screen.unit.get())
    });
    // Every panel and page of the workspace reads the screen (and the scope) from here.
    provide_context(screen);
    provide_context(screen.scope());
    provide_context(act::Acting { alerts: screen.live.alerts, role, home });
    // Which page component is on screen: turning a list's page keeps it (and its state).
    let component = Memo::new(move |_| screen.view.with(View::first_page));
    let page = move || {
        // A page is drawn anew in the other language: its headings need no closures of their
        // own (each costs the first load).
        screen.lang.track();
        if let Some((code, status)) = refused.get().filter(|(code, _)| *code == screen.unit.get()) {
            let lang = screen.lang.get();
            let message = if status == 403 {
                lang.pick(
                    "Đơn vị này nằm ngoài phạm vi bạn được xem.",
                    "This unit is outside what you may see.",
                )
            } else {
                lang.pick("Không có đơn vị này.", "There is no such unit.")
            };
            let href = match home.get_value() {
                Some(own) => {
                    route::href(&own, screen.window.get_untracked(), lang, &View::Overview)
                }
                None => "/".to_owned(),
            };
            let back = lang.pick("Về đơn vị của bạn", "Back to your unit");
            return view! {
                <div class="refused" role="alert" data-refused=code>
                    <p>{message}</p>
                    <a href=href on:click=move |ev| {
                        // Without an own unit, the link's "/" itself leads to the caller's root.
                        if let Some(own) = home.get_value() {
                            ev.prevent_default();
                            screen.go(own);
                        }
                    }>{back}</a>
                </div>
            }
            .into_any();
        }
        if !unit_known.get() {
            // Before the caller's root is known: no request names an empty unit.
            view! { <div class="loading">{screen.t("Đang tải…", "Loading…")}</div> }.into_any()
        } else {
            match component.get() {
                View::Overview => view! {
                    {move || match screen.summary() {
                        None => view! { <div class="loading">{screen.t("Đang tải số liệu…", "Loading figures…")}</div> }.into_any(),
                        Some(summary) => view! { <Overview summary=summary /> }.into_any(),
                    }}
                    <section class="panels work">
                        <div class="acting">
                            <act::AlertsPanel />
                            <act::Requests open_only=true />
                        </div>
                        <work::MostOverdue />
                        <work::SlowProcedures />
                        <work::Trend />
                        <work::ScoreCard go=Callback::new(move |code: String| screen.go(code)) />
                    </section>
                }
                .into_any(),
                View::List { kind, state, .. } => {
                    let at = Signal::derive(move || match screen.view.get() {
                        View::List { page, .. } => page,
                        _ => ioc_shared::route::ListPage::FIRST,
                    });
                    view! { <work::ListPage kind=kind state=state at=at /> }.into_any()
                }
                View::Officer(id) => view! { <work::OfficerPage officer=id /> }.into_any(),
                View::Officers { .. } => {
                    let at = Signal::derive(move || match screen.view.get() {
                        View::Officers { page } => page,
                        _ => 1,
                    });
                    view! { <work::OfficersPage at=at /> }.into_any()
                }
                View::Inbox => view! { <act::Requests open_only=false /> }.into_any(),
            }
        }
    };
    view! {
        <div class="screen">
            <TopBar />
            {page}
        </div>
    }
}

#[component]
fn TopBar() -> impl IntoView {
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
            let _ = api::post_json::<_, serde::de::IgnoredAny>(
                "/api/v1/logout",
                &std::collections::BTreeMap::<String, String>::new(),
            )
            .await;
            ui::reload();
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

#[component]
fn Overview(summary: Summary) -> impl IntoView {
    let screen = expect_context::<Screen>();
    let lang = screen.lang.get_untracked();
    let tiles = ui::tiles(&summary, lang)
        .into_iter()
        .map(|tile| {
            let metric = tile.metric;
            let target = tile_target(tile.id);
            let clickable = target.is_some();
            view! {
                <div class=format!("tile {}", tile.tone.class()) class:link=clickable data-tile=tile.id
                    on:click=move |_| if let Some(view) = target.clone() { screen.view.set(view); }>
                    <div class="tile-label">{tile.label}</div>
                    <div class="tile-value">{tile.value}
                        {tile.change.map(|c| { let class = c.class(); view! { <span class=class>{c.text}</span> } })}
                    </div>
                    <div class="tile-note">{tile.note}</div>
                    {move || metric.and_then(|m| screen.sparks.with(|s| s.get(m).cloned())).map(|(values, notes)| work::sparkline(&values, &notes))}
                </div>
            }
        })
        .collect_view();
    view! {
        <section class="tiles">{tiles}</section>
        <section class="panels">
            <Ranking children=summary.children.clone() />
            <div class="side">
                <LateOfficers lang=lang summary=summary.clone() />
                <Breakdown title=lang.pick("PAKN theo lĩnh vực", "Complaints by field") counts=summary.complaints.by_field.clone() lang=lang id="by-field" />
                <Breakdown title=lang.pick("PAKN theo kênh tiếp nhận", "Complaints by channel") counts=channel_names(&summary.complaints.by_channel, lang) lang=lang id="by-channel" />
            </div>
        </section>
    }
}

/// The page each count tile opens.
fn tile_target(id: &str) -> Option<View> {
    use ioc_shared::event::ItemKind;
    use ioc_shared::items::ListState;
    let list = |kind, state| Some(View::list(kind, state));
    match id {
        "dossiers-received" => list(ItemKind::Dossier, ListState::Open),
        "on-time-rate" => list(ItemKind::Dossier, ListState::ResolvedLate),
        "dossiers-overdue" => list(ItemKind::Dossier, ListState::Overdue),
        "complaints-received" => list(ItemKind::Complaint, ListState::Open),
        "complaints-overdue" => list(ItemKind::Complaint, ListState::Overdue),
        "late-officers" => Some(View::Officers { page: 1 }),
        _ => None,
    }
}

fn role_label(role: Role, lang: Lang) -> &'static str {
    match role {
        Role::Admin => lang.pick("quản trị", "admin"),
        Role::Leader => lang.pick("lãnh đạo", "leader"),
        Role::Chief => lang.pick("trưởng đơn vị", "unit chief"),
    }
}

fn channel_names(counts: &BTreeMap<String, u64>, lang: Lang) -> BTreeMap<String, u64> {
    counts.iter().map(|(channel, n)| (format::channel_name(channel, lang).to_owned(), *n)).collect()
}

#[component]
fn Ranking(children: Vec<ChildFigures>) -> impl IntoView {
    let screen = expect_context::<Screen>();
    let lang = screen.lang.get_untracked();
    if children.is_empty() {
        return view! {
            <div class="panel ranking">
                <h2>{lang.pick("Đơn vị trực thuộc", "Units below")}</h2>
                <p class="muted">{lang.pick("Đơn vị này không có đơn vị trực thuộc.", "This unit has no units below it.")}</p>
            </div>
        }
        .into_any();
    }
    let rows = children
        .into_iter()
        .map(|child| {
            let code = child.code.clone();
            let href = route::href(&child.code, screen.window.get_untracked(), lang, &View::Overview);
            let small = child.rated < ioc_shared::items::MIN_RATED;
            let tone = if small { ui::Tone::Empty } else { rate_tone(child.on_time_rate) };
            view! {
                <tr class="child" data-unit=child.code.clone() on:click=move |_| screen.go(code.clone())>
                    <td class="child-name"><a href=href on:click=|ev| ev.prevent_default()>{child.name}</a></td>
                    <td class="num" data-label=lang.pick("Hồ sơ", "Dossiers")>{format::integer(child.dossiers_received, lang)}</td>
                    <td class=format!("num rate {}", tone.class()) data-label=lang.pick("Đúng hạn", "On time")>
                        {child.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| "—".to_owned())}
                        {small.then(|| view! { <span class="few" title=lang.pick("ít hơn 5 hồ sơ được đánh giá", "fewer than 5 rated")>{lang.pick(" ít dữ liệu", " few data")}</span> })}
                    </td>
                    <td class="num" data-label=lang.pick("Quá hạn", "Overdue")>{format::integer(child.overdue, lang)}</td>
                    <td class="num" data-label=lang.pick("PAKN", "Complaints")>{format::integer(child.complaints_received, lang)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="panel ranking">
            <h2>{lang.pick("Xếp hạng đơn vị trực thuộc (tỷ lệ đúng hạn thấp nhất trước, từ 5 hồ sơ được đánh giá)", "Units below, worst on-time rate first (5 rated or more)")}</h2>
            <div class="table-scroll"><table>
                <thead><tr>
                    <th>{lang.pick("Đơn vị", "Unit")}</th>
                    <th class="num">{lang.pick("Hồ sơ", "Dossiers")}</th>
                    <th class="num">{lang.pick("Đúng hạn", "On time")}</th>
                    <th class="num">{lang.pick("Quá hạn", "Overdue")}</th>
                    <th class="num">{lang.pick("PAKN", "Complaints")}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table></div>
        </div>
    }
    .into_any()
}

#[component]
fn LateOfficers(lang: Lang, summary: Summary) -> impl IntoView {
    let screen = expect_context::<Screen>();
    let rows = summary
        .officers
        .top_late
        .into_iter()
        .map(|officer| {
            let id = officer.id.clone();
            view! {
                <li>
                    <a class="officer" href="#" on:click=move |ev| { ev.prevent_default(); screen.view.set(View::Officer(id.clone())); }>{officer.name}</a>
                    <span class="officer-unit">{officer.unit_name}</span>
                    <span class="count bad">{format::integer(officer.overdue, lang)}</span>
                </li>
            }
        })
        .collect_view();
    let empty = summary.officers.late == 0;
    view! {
        <div class="panel officers" data-panel="late-officers">
            <h2>{lang.pick("Cán bộ chậm muộn", "Late officers")}</h2>
            {empty.then(|| view! { <p class="muted">{lang.pick("Không có cán bộ chậm muộn.", "No officer is late.")}</p> })}
            <ol>{rows}</ol>
        </div>
    }
}

#[component]
fn Breakdown(
    title: &'static str,
    counts: BTreeMap<String, u64>,
    lang: Lang,
    id: &'static str,
) -> impl IntoView {
    let max = counts.values().copied().max().unwrap_or(0).max(1);
    let mut entries: Vec<(String, u64)> = counts.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let empty = entries.is_empty();
    let rows = entries
        .into_iter()
        .take(8)
        .map(|(name, n)| {
            // Set through the CSSOM (`style:`), which the Content-Security-Policy allows; a `style`
            // attribute would need 'unsafe-inline'.
            let width = format!("{}%", format::coordinate(100.0 * n as f64 / max as f64));
            view! {
                <li>
                    <span class="bar-label">{name}</span>
                    <span class="bar"><span class="bar-fill" style:width=width></span></span>
                    <span class="count">{format::integer(n, lang)}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="panel breakdown" data-panel=id>
            <h2>{title}</h2>
            {empty.then(|| view! { <p class="muted">{lang.pick("Chưa có dữ liệu", "No data")}</p> })}
            <ul>{rows}</ul>
        </div>
    }
}
