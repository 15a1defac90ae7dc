//! The signed-in screen: its state, the page in the address, the live connection, and which
//! page is on screen.

use super::*;

#[component]
pub(super) fn Workspace(me: api::Person) -> impl IntoView {
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
