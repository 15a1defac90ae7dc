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

mod overview;
mod topbar;
mod workspace;

use overview::Overview;
use topbar::TopBar;
use workspace::Workspace;

/// What the dashboard shows before the figures.
#[derive(Clone, PartialEq)]
enum Gate {
    Checking,
    Login {
        error: Option<String>,
        /// Whether "Đăng nhập bằng tài khoản công vụ" is offered.
        oidc: bool,
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
            Gate::Login { error, oidc } => view! { <LoginForm gate=gate error=error oidc=oidc lang=lang /> }.into_any(),
            Gate::In(me) => view! { <Workspace me=me /> }.into_any(),
        }}
    }
}

fn check_me(gate: RwSignal<Gate>) {
    leptos::task::spawn_local(async move {
        match api::signed().await {
            Ok((api::Signed::Display, _)) => {
                // A paired wall screen belongs on the wall page.
                if let Some(window) = web_sys::window() {
                    let _ = window.location().set_href("/wall");
                }
            }
            Ok((api::Signed::Person(me), _)) => gate.set(Gate::In(me)),
            Ok((api::Signed::Nobody, oidc)) => gate.set(Gate::Login { error: None, oidc }),
            Err(_) => {
                gate.set(Gate::Unreachable);
                set_timeout(move || check_me(gate), Duration::from_secs(3));
            }
        }
    });
}

#[component]
fn LoginForm(gate: RwSignal<Gate>, error: Option<String>, oidc: bool, lang: Lang) -> impl IntoView {
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
                    gate.set(Gate::Login { error: Some(error), oidc });
                }
            }
        });
    };
    view! {
        <form class="login" on:submit=submit>
            <h1>{lang.pick("Trung tâm điều hành", "Operations centre")}</h1>
            <p class="muted">{lang.pick("Đăng nhập để xem số liệu trực tuyến.", "Log in to see the live figures.")}</p>
            // The server comes back to this address (its Referer).
            {oidc.then(|| view! {
                <a class="sso" href="/auth/oidc/login">{lang.pick("Đăng nhập bằng tài khoản công vụ", "Sign in with the province's account")}</a>
            })}
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
