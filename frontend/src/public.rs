//! The public page at `/cong-khai`: no login, live, Vietnamese (`?lang=en`: English, for the
//! city's foreign residents and visitors). The figures of the units the
//! city made public, ranked, with the data's age; officer names only where the city publishes
//! them, never a complaint text. On a phone the table becomes stacked cards.
//!
//! Its connection (`/api/v1/public/live`) carries one message type and needs no subscription,
//! so it is a small reconnecting socket of its own rather than the dashboard's [`crate::live`].
//! Its messages are [`ioc_shared::public::PublicMessage`].

use crate::live::{field, reconnect_delay_ms, socket_url};
use ioc_shared::format::{self, Lang};
use ioc_shared::public::PublicBoard;
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// Longest wait between reconnect attempts.
const MAX_BACKOFF_MS: f64 = 10_000.0;

#[component]
pub fn PublicPage() -> impl IntoView {
    let board: RwSignal<Option<PublicBoard>> = RwSignal::new(None);
    let connected = RwSignal::new(false);
    let now_ms = RwSignal::new(js_sys::Date::now());
    let lang = crate::route::read().lang;
    connect(Link {
        board,
        connected,
        attempts: Rc::new(RefCell::new(0)),
        handlers: Rc::new(RefCell::new(None)),
    });
    let tick =
        set_interval_with_handle(move || now_ms.set(js_sys::Date::now()), Duration::from_secs(1))
            .ok();
    on_cleanup(move || {
        if let Some(tick) = tick {
            tick.clear();
        }
    });
    crate::ui::set_document(lang, TITLE.pick(lang));
    // The other language's address.
    let (other, other_name) = match lang {
        Lang::Vi => ("/cong-khai?lang=en", "English"),
        Lang::En => ("/cong-khai", "Tiếng Việt"),
    };
    view! {
        <div class="public" data-page="public">
            <header class="public-head">
                <a class="public-lang" href=other hreflang=if lang == Lang::Vi { "en" } else { "vi" }>{other_name}</a>
                <h1>{TITLE.pick(lang)}</h1>
                <p class="public-note">{lang.pick(
                    "Số liệu tháng này, cập nhật trực tiếp từ hệ thống. Chỉ các đơn vị đã công khai.",
                    "This month's figures, live from the system. Only the units the city has made public.")}</p>
                <p class="public-age" data-connected=move || connected.get().to_string()>
                    {move || age_text(board.get().as_ref(), connected.get(), now_ms.get(), lang)}
                </p>
            </header>
            {move || match board.get() {
                None => view! { <p class="public-empty">{lang.pick("Đang tải số liệu…", "Loading figures…")}</p> }.into_any(),
                Some(board) if board.units.is_empty() => view! { <p class="public-empty">{lang.pick("Chưa có đơn vị nào được công khai.", "No unit has been made public yet.")}</p> }.into_any(),
                Some(board) => view! { <BoardTable board=board lang=lang /> }.into_any(),
            }}
            <footer class="public-foot">
                {lang.pick("Dữ liệu mở: ", "Open data: ")} <a href="/open-data/v1/units.json">"units.json"</a> " · " <a href="/open-data/v1/units.csv">"units.csv"</a>
                " · " <a href="/open-data/v1/daily.csv">"daily.csv"</a> " · " <a href="/open-data/v1/">{lang.pick("mô tả", "description")}</a> {lang.pick(" — giấy phép CC BY 4.0", " — licence CC BY 4.0")}
            </footer>
        </div>
    }
}

/// The page's title in both languages.
const TITLE: Words = Words(
    "Công khai kết quả giải quyết hồ sơ và phản ánh",
    "Public results: dossiers and complaints",
);

/// A text in Vietnamese and English.
struct Words(&'static str, &'static str);

impl Words {
    fn pick(&self, lang: Lang) -> &'static str {
        lang.pick(self.0, self.1)
    }
}

/// The table's columns (header and, on a phone, each card's labels).
const COLUMNS: [Words; 7] = [
    Words("Hạng", "Rank"),
    Words("Đơn vị", "Unit"),
    Words("Điểm 766", "Index 766"),
    Words("Đúng hạn", "On time"),
    Words("Hồ sơ quá hạn", "Overdue dossiers"),
    Words("Phản ánh quá hạn", "Overdue complaints"),
    Words("Cán bộ chậm", "Late officers"),
];

#[component]
fn BoardTable(board: PublicBoard, lang: Lang) -> impl IntoView {
    let label = |i: usize| COLUMNS[i].pick(lang);
    let rows = board
        .units
        .into_iter()
        .map(|unit| {
            let rate = unit.on_time_rate.map(|r| format::percent(r, lang)).unwrap_or_else(|| lang.pick("Chưa có dữ liệu", "No data yet").to_owned());
            let officers = unit.late_officers.map(|officers| {
                officers.iter().map(|o| format!("{} ({})", o.name, format::integer(o.overdue, lang))).collect::<Vec<_>>().join(", ")
            });
            view! {
                <tr class="public-unit" data-unit=unit.code.clone()>
                    <td class="rank" data-label=label(0)>{unit.rank}</td>
                    <td class="name" data-label=label(1)>{unit.name}</td>
                    <td class="num score" data-label=label(2)>{format!("{} / {} · {}", format::decimal(unit.score, 1, lang), format::decimal(unit.score_max, 0, lang), ioc_shared::score::band_label(&unit.band, lang))}</td>
                    <td class="num rate" data-label=label(3)>{rate}</td>
                    <td class="num overdue" data-label=label(4)>{format::integer(unit.dossiers_overdue, lang)}</td>
                    <td class="num complaints" data-label=label(5)>{format::integer(unit.complaints_overdue, lang)}</td>
                    // Said in words: a dash read as "none late" where names are simply not published.
                    <td class="officers" data-label=label(6)>{match officers {
                        None => lang.pick("Không công bố", "Not published").to_owned(),
                        Some(names) if names.is_empty() => lang.pick("Không có", "None").to_owned(),
                        Some(names) => names,
                    }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="items public-table">
            <thead><tr>{COLUMNS.iter().map(|c| view! { <th>{c.pick(lang)}</th> }).collect_view()}</tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

fn age_text(board: Option<&PublicBoard>, connected: bool, now_ms: f64, lang: Lang) -> String {
    let Some(board) = board else { return String::new() };
    let Some(at) = ioc_shared::time::parse_rfc3339(&board.as_of) else { return String::new() };
    let seconds = ((now_ms - at.timestamp_millis() as f64) / 1000.0).max(0.0) as i64;
    let live = if connected {
        lang.pick("trực tuyến", "live")
    } else {
        lang.pick("mất kết nối, đang kết nối lại", "disconnected, reconnecting")
    };
    let (clock, date, ago) = (format::clock(at), format::date(at), format::ago(seconds, lang));
    match lang {
        Lang::Vi => format!("Số liệu lúc {clock} ngày {date} ({ago}) — {live}"),
        Lang::En => format!("Figures at {clock} on {date} ({ago}) — {live}"),
    }
}

/// What the socket reports to, and what survives a reconnect.
#[derive(Clone)]
struct Link {
    board: RwSignal<Option<PublicBoard>>,
    connected: RwSignal<bool>,
    attempts: Rc<RefCell<u32>>,
    /// The current socket's handlers, kept alive while it may call them and dropped when a new
    /// socket replaces it (never leaked: a public screen may run for months).
    handlers: Rc<RefCell<Option<Handlers>>>,
}

struct Handlers {
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

/// Opens the public socket; on close, reopens it after a growing pause (with jitter).
fn connect(link: Link) {
    let Some(url) = socket_url("/api/v1/public/live") else { return };
    let Ok(socket) = WebSocket::new(&url) else {
        retry(link);
        return;
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let link = link.clone();
        move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else { return };
            *link.attempts.borrow_mut() = 0;
            link.connected.set(true);
            // Read straight from the browser's JSON object (no decoder of the message enum in
            // the download); heartbeats need nothing but the `connected` above.
            let Ok(message) = js_sys::JSON::parse(&text) else { return };
            if field(&message, "type").as_string().as_deref() == Some("board") {
                if let Ok(board) =
                    serde_wasm_bindgen::from_value::<PublicBoard>(field(&message, "data"))
                {
                    link.board.set(Some(board));
                }
            }
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new({
        let link = link.clone();
        move |_| {
            link.connected.set(false);
            retry(link.clone());
        }
    });
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    *link.handlers.borrow_mut() = Some(Handlers { _message: on_message, _close: on_close });
}

fn retry(link: Link) {
    let attempt = {
        let mut attempts = link.attempts.borrow_mut();
        *attempts += 1;
        *attempts
    };
    let delay = reconnect_delay_ms(attempt, MAX_BACKOFF_MS);
    set_timeout(move || connect(link), Duration::from_millis(delay as u64));
}
