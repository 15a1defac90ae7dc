//! The demo feed: realistic Hanoi events pushed through the same ingest path as a source system.
//!
//! On first start it backfills 90 days of history (so every window has figures), then
//! produces a live stream with a day's rhythm (busy office hours, quiet nights). Real units come
//! from the catalog; procedures, fields and channels are the ones Hanoi's systems use; some
//! dossiers run late, some complaints and tasks go overdue, and a few items fall due within
//! minutes so the deadline engine can be watched turning them overdue with no event arriving.

use crate::accounts::manage::Actor;
use crate::catalog::Unit;
use crate::state::AppState;
use chrono::{DateTime, Duration, Timelike, Utc};
use ioc_shared::access::{Role, WallView};
use ioc_shared::event::{
    ComplaintChannel, DossierChannel, Event, EventBody, Officer, Outcome, Satisfaction,
};
use ioc_shared::summary::Window;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;

/// Source name of everything the simulator sends.
pub const SOURCE: &str = "demo-simulator";
/// Days of history written on first start: enough for trends, the month, the quarter and the
/// previous periods to show at once.
const BACKFILL_DAYS: i64 = 90;
/// Open items the simulator remembers to move forward later; older ones are left as they are.
const MAX_OPEN_ITEMS: usize = 20_000;

/// (procedure, field, typical legal time limit in hours): procedures of Hanoi's one-stop shops,
/// grouped by field, with their usual time limits.
const PROCEDURES: [(&str, &str, i64); 30] = [
    ("Đăng ký khai sinh", "Hộ tịch", 8),
    ("Đăng ký kết hôn", "Hộ tịch", 24),
    ("Đăng ký khai tử", "Hộ tịch", 8),
    ("Xác nhận tình trạng hôn nhân", "Hộ tịch", 24),
    ("Trích lục hộ tịch", "Hộ tịch", 8),
    ("Chứng thực bản sao từ bản chính", "Chứng thực", 4),
    ("Chứng thực chữ ký", "Chứng thực", 4),
    ("Chứng thực hợp đồng, giao dịch", "Chứng thực", 16),
    ("Đăng ký thường trú", "Cư trú", 56),
    ("Đăng ký tạm trú", "Cư trú", 24),
    ("Xóa đăng ký thường trú", "Cư trú", 24),
    ("Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 120),
    ("Cấp giấy phép sửa chữa, cải tạo công trình", "Xây dựng", 120),
    ("Cấp giấy chứng nhận quyền sử dụng đất lần đầu", "Đất đai", 240),
    ("Đăng ký biến động đất đai", "Đất đai", 80),
    ("Chuyển mục đích sử dụng đất", "Đất đai", 120),
    ("Đăng ký hộ kinh doanh", "Đăng ký kinh doanh", 24),
    ("Thay đổi nội dung đăng ký hộ kinh doanh", "Đăng ký kinh doanh", 24),
    ("Tạm ngừng kinh doanh hộ kinh doanh", "Đăng ký kinh doanh", 24),
    ("Cấp giấy phép kinh doanh karaoke", "Văn hóa", 40),
    ("Công nhận gia đình văn hóa", "Văn hóa", 40),
    ("Trợ cấp xã hội hàng tháng", "Bảo trợ xã hội", 56),
    ("Hỗ trợ chi phí mai táng", "Bảo trợ xã hội", 24),
    ("Xác nhận hộ nghèo, hộ cận nghèo", "Bảo trợ xã hội", 56),
    ("Cấp giấy xác nhận thông tin về cư trú", "Cư trú", 24),
    ("Cấp giấy chứng nhận an toàn thực phẩm", "Y tế", 120),
    ("Cấp giấy phép thu gom, vận chuyển chất thải", "Môi trường", 160),
    ("Đăng ký kế hoạch bảo vệ môi trường", "Môi trường", 80),
    ("Cấp phép đào đường, vỉa hè", "Giao thông", 40),
    ("Cấp phép sử dụng tạm thời lòng đường, hè phố", "Giao thông", 40),
];
const COMPLAINT_FIELDS: [&str; 7] = [
    "Môi trường",
    "Giao thông",
    "Trật tự đô thị",
    "Đất đai",
    "Điện, nước",
    "An ninh trật tự",
    "Y tế",
];
const FAMILY: [&str; 10] =
    ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô"];
const MIDDLE: [&str; 6] = ["Văn", "Thị", "Minh", "Thu", "Đức", "Ngọc"];
const GIVEN: [&str; 12] =
    ["An", "Bình", "Cường", "Dung", "Hà", "Hùng", "Lan", "Long", "Mai", "Nam", "Phương", "Tuấn"];

/// Source name of the demo's ingest key.
pub const DEMO_KEY_SOURCE: &str = "demo-feed";
/// Name of the demo's wall display.
const DEMO_DISPLAY: &str = "Màn hình tường (demo)";

/// What the demo prints at start: where to go and how to get in.
#[derive(Debug)]
pub struct Welcome {
    /// (username, password, what the account may do)
    pub accounts: Vec<(String, String, String)>,
    pub ingest_key: String,
    pub pairing_code: String,
}

impl Welcome {
    pub fn render(&self, base: &str) -> String {
        let mut out = format!(
            "\n  IOC demo is running: {base}/\n\n  Accounts (new passwords at every start):\n"
        );
        for (username, password, what) in &self.accounts {
            out.push_str(&format!("    {username:<20} {password}   {what}\n"));
        }
        out.push_str(&format!(
            "\n  Ingest key for POST /api/v1/events (source `{DEMO_KEY_SOURCE}`): {}\n",
            self.ingest_key
        ));
        out.push_str(&format!(
            "  Wall display: open {base}/wall#pair={} (or open {base}/wall and type {})\n",
            self.pairing_code, self.pairing_code
        ));
        out.push_str(&format!(
            "  Public page (no login): {base}/cong-khai — open data: {base}/open-data/v1/ — Open311: {base}/open311/v2/services.json\n\n  Press Ctrl-C to stop.\n"
        ));
        out
    }
}

/// Random password of 16 unambiguous characters.
fn random_password() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|_| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[rng.random_range(0..32)]))
        .collect()
}

/// Why the demo could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo account {username}: {source}")]
    Account { username: String, source: crate::accounts::AccountError },
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountError),
}

/// One account per role with fresh passwords, a fresh ingest key (older demo keys revoked),
/// and the demo wall display with a fresh pairing code.
pub async fn prepare_demo(state: &AppState) -> Result<Welcome, DemoError> {
    let accounts_wanted: [(&str, Role, Option<&str>, &str); 3] = [
        ("admin", Role::Admin, None, "admin: every unit; manages users, displays, keys"),
        ("lanhdao", Role::Leader, None, "leader: every unit"),
        ("truongquan.badinh", Role::Chief, Some("001"), "chief: Quận Ba Đình (001) and its wards"),
    ];
    let actor = Actor { label: "demo".to_owned(), address: None };
    let mut accounts = Vec::new();
    for (username, role, unit, what) in accounts_wanted {
        if unit.is_some_and(|u| !state.catalog.contains(u)) {
            continue;
        }
        let password = random_password();
        let result = match state.accounts.user(username).await {
            Ok(_) => state.manage.reset_password(&actor, username, &password).await.map(|_| ()),
            Err(_) => {
                state.manage.add_user(&actor, username, &password, role, unit).await.map(|_| ())
            }
        };
        result.map_err(|source| DemoError::Account { username: username.to_owned(), source })?;
        accounts.push((username.to_owned(), password, what.to_owned()));
    }
    for key in state.accounts.list_keys().await? {
        if key.source == DEMO_KEY_SOURCE && !key.revoked {
            state.manage.revoke_key(&actor, key.id).await?;
        }
    }
    let (_, ingest_key) = state
        .manage
        .create_key(&actor, DEMO_KEY_SOURCE, None, crate::accounts::Expectation::default())
        .await?;
    let root = state.catalog.roots().first().cloned().unwrap_or_default();
    let mut playlist = vec![WallView {
        unit: root.clone(),
        window: Window::Today,
        seconds: 20,
        view: Default::default(),
    }];
    playlist.push(WallView {
        unit: root.clone(),
        window: Window::Month,
        seconds: 15,
        view: ioc_shared::live::View::Score,
    });
    for child in state.catalog.children(&root).iter().take(2) {
        playlist.push(WallView {
            unit: child.clone(),
            window: Window::Today,
            seconds: 15,
            view: Default::default(),
        });
    }
    // So that /cong-khai has something to show: the districts (or provinces) public, officers
    // not named. Only when nothing is public yet; a real deployment starts with none.
    if state.accounts.public_units().await?.is_empty() {
        for child in state.catalog.children(&root).iter().take(12) {
            state.manage.make_public(&actor, child, false).await?;
        }
    }
    let existing = state.accounts.list_displays().await?;
    let pairing_code = match existing.iter().find(|d| d.name == DEMO_DISPLAY && !d.revoked) {
        Some(display) => state.manage.new_pairing(&actor, display.id).await?.1,
        None => state.manage.create_display(&actor, DEMO_DISPLAY, &root, &playlist).await?.1,
    };
    Ok(Welcome { accounts, ingest_key, pairing_code })
}

/// An item the simulator will move forward later.
struct OpenItem {
    body: EventBody,
    unit: String,
    /// When it was received, so later events never precede it.
    since: DateTime<Utc>,
    assigned: bool,
    paused: bool,
}

struct Simulator {
    rng: StdRng,
    /// Units events are attributed to (districts and wards).
    units: Vec<Unit>,
    open: VecDeque<OpenItem>,
    serial: u64,
    run_id: String,
}

/// Runs the feed until the process ends.
pub async fn run(state: AppState, rate_per_second: f64) {
    let mut sim = Simulator::new(&state);
    if sim.units.is_empty() {
        tracing::warn!(
            "demo simulator: the catalog has no units below its roots; nothing to simulate"
        );
        return;
    }
    match state.store.has_events_from(SOURCE).await {
        Ok(false) => {
            let events = sim.backfill(state.clock.now());
            tracing::info!(
                events = events.len(),
                "demo simulator: backfilling {BACKFILL_DAYS} days of history"
            );
            for chunk in events.chunks(2000) {
                send(&state, chunk).await;
            }
        }
        Ok(true) => tracing::info!("demo simulator: history already present; continuing live"),
        Err(error) => {
            tracing::warn!(%error, "demo simulator: cannot read history; continuing live")
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = state.clock.now();
        let expected = rate_per_second.max(0.0) * rhythm(now);
        // Poisson-like: the whole part always, the fraction by chance.
        let mut count = expected.floor() as usize;
        if sim.rng.random_bool((expected - expected.floor()).clamp(0.0, 1.0)) {
            count += 1;
        }
        let events: Vec<Event> = (0..count).filter_map(|_| sim.live_step(now)).collect();
        if !events.is_empty() {
            send(&state, &events).await;
        }
    }
}

async fn send(state: &AppState, events: &[Event]) {
    let values: Vec<crate::ingest::body::Entry> = events
        .iter()
        .map(|e| serde_json::to_value(e).map_err(crate::ingest::Rejection::NotJson))
        .collect();
    match state.ingestor.ingest(&crate::ingest::Sender::Trusted, values).await {
        Ok(response) if !response.rejected.is_empty() => {
            tracing::warn!(rejected = ?response.rejected.first(), count = response.rejected.len(), "demo simulator: events rejected");
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "demo simulator: batch not stored"),
    }
}

/// Share of the peak rate at a local hour: office hours busy, nights quiet.
fn rhythm(at: DateTime<Utc>) -> f64 {
    match at.with_timezone(&ioc_shared::time::local_offset()).hour() {
        8..=11 | 13..=16 => 1.0,
        7 | 12 | 17 => 0.5,
        18..=21 => 0.25,
        _ => 0.08,
    }
}

impl Simulator {
    fn new(state: &AppState) -> Simulator {
        Simulator::for_catalog(&state.catalog)
    }

    fn for_catalog(catalog: &crate::catalog::Catalog) -> Simulator {
        let mut units: Vec<Unit> =
            catalog.units().filter(|u| u.parent.is_some()).cloned().collect();
        units.sort_by(|a, b| a.code.cmp(&b.code));
        Simulator {
            rng: StdRng::from_os_rng(),
            units,
            open: VecDeque::new(),
            serial: 0,
            run_id: format!("{:x}", Utc::now().timestamp_millis()),
        }
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}-{}-{}", self.run_id, self.serial)
    }

    fn event(&mut self, at: DateTime<Utc>, unit: &str, body: EventBody) -> Event {
        Event { id: self.next_id("ev"), source: SOURCE.to_owned(), at, unit: unit.to_owned(), body }
    }

    /// Officers of a unit: three per unit, named deterministically from its code.
    fn officer(&mut self, unit: &str) -> Officer {
        let which = self.rng.random_range(0..3_u64);
        let seed =
            unit.bytes().fold(which, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
        let name = format!(
            "{} {} {}",
            FAMILY[(seed % 10) as usize],
            MIDDLE[((seed / 10) % 6) as usize],
            GIVEN[((seed / 60) % 12) as usize]
        );
        Officer { id: format!("cb-{unit}-{which}"), name }
    }

    /// Any unit below a root (district or ward), uniformly: wards, being many, get most work.
    fn pick_unit(&mut self) -> String {
        let index = self.rng.random_range(0..self.units.len());
        self.units[index].code.clone()
    }

    fn new_dossier(&mut self, at: DateTime<Utc>) -> (Event, OpenItem) {
        let unit = self.pick_unit();
        let (procedure, field, hours) = PROCEDURES[self.rng.random_range(0..PROCEDURES.len())];
        let dossier = self.next_id("HS");
        let channel = match self.rng.random_range(0..10) {
            0..=5 => DossierChannel::Online,
            6..=8 => DossierChannel::Direct,
            _ => DossierChannel::Postal,
        };
        // A few fall due within minutes, to show the deadline engine at work.
        let due = if self.rng.random_bool(0.03) {
            at + Duration::minutes(self.rng.random_range(1..10))
        } else {
            // Land and construction dossiers often run late in Hanoi: their time limits are
            // tight for the work they take, so the demo's "slowest procedures" are realistic.
            let strictness = match field {
                "Đất đai" => 0.35,
                "Xây dựng" => 0.55,
                _ => 1.0,
            };
            at + Duration::minutes((hours as f64 * 60.0 * strictness) as i64)
        };
        let body = EventBody::DossierReceived {
            dossier,
            procedure: procedure.to_owned(),
            field: field.to_owned(),
            channel,
            due,
            due_in: None,
        };
        let event = self.event(at, &unit, body.clone());
        (event, OpenItem { body, unit, since: at, assigned: false, paused: false })
    }

    fn new_complaint(&mut self, at: DateTime<Utc>) -> (Event, OpenItem) {
        let unit = self.pick_unit();
        let field = COMPLAINT_FIELDS[self.rng.random_range(0..COMPLAINT_FIELDS.len())];
        let channel = match self.rng.random_range(0..20) {
            0..=6 => ComplaintChannel::Zalo,
            7..=12 => ComplaintChannel::Hotline,
            13..=15 => ComplaintChannel::App,
            16..=18 => ComplaintChannel::Portal,
            _ => ComplaintChannel::Direct,
        };
        // Complaint deadlines are set in working time, as the complaint rules set them.
        let due_in = ioc_shared::calendar::DueIn::WorkingHours(self.rng.random_range(8..48));
        let body = EventBody::ComplaintReceived {
            complaint: self.next_id("PA"),
            field: field.to_owned(),
            channel,
            due: crate::calendar::active().due(at, due_in).unwrap_or(at + Duration::hours(96)),
            due_in: Some(due_in),
            summary: Some(format!("Phản ánh về {} tại địa bàn", field.to_lowercase())),
            needs_routing: false,
        };
        let event = self.event(at, &unit, body.clone());
        (event, OpenItem { body, unit, since: at, assigned: false, paused: false })
    }

    fn new_task(&mut self, at: DateTime<Utc>) -> (Event, OpenItem) {
        let unit = self.pick_unit();
        let officer = self.officer(&unit);
        let body = EventBody::TaskAssigned {
            task: self.next_id("NV"),
            officer,
            due: at + Duration::hours(self.rng.random_range(2..72)),
            due_in: None,
            title: Some("Kiểm tra, báo cáo kết quả xử lý".to_owned()),
        };
        let event = self.event(at, &unit, body.clone());
        (event, OpenItem { body, unit, since: at, assigned: true, paused: false })
    }

    /// Moves an open item one step (assign, pause, resume or resolve) at time `at`.
    fn advance(&mut self, item: &mut OpenItem, at: DateTime<Utc>) -> Option<(Event, bool)> {
        let at = at.max(item.since + Duration::minutes(1));
        let unit = item.unit.clone();
        let (body, finished) = match &item.body {
            EventBody::DossierReceived { dossier, .. } => {
                let dossier = dossier.clone();
                if !item.assigned {
                    item.assigned = true;
                    let officer = self.officer(&unit);
                    (EventBody::DossierAssigned { dossier, officer }, false)
                } else if item.paused {
                    item.paused = false;
                    (EventBody::DossierResumed { dossier }, false)
                } else if self.rng.random_bool(0.05) {
                    item.paused = true;
                    (EventBody::DossierPaused { dossier }, false)
                } else {
                    let outcome = match self.rng.random_range(0..20) {
                        0 => Outcome::Withdrawn,
                        1 => Outcome::Rejected,
                        _ => Outcome::Completed,
                    };
                    {
                        // Some one-stop shops ask the citizen how it went.
                        let satisfaction = match self.rng.random_range(0..10) {
                            0..=4 => Some(Satisfaction::Satisfied),
                            5 => Some(Satisfaction::Neutral),
                            6 => Some(Satisfaction::Dissatisfied),
                            _ => None,
                        };
                        (EventBody::DossierResolved { dossier, outcome, satisfaction }, true)
                    }
                }
            }
            EventBody::ComplaintReceived { complaint, .. } => {
                let complaint = complaint.clone();
                if !item.assigned {
                    item.assigned = true;
                    let officer = self.officer(&unit);
                    (EventBody::ComplaintAssigned { complaint, officer }, false)
                } else {
                    let satisfaction = match self.rng.random_range(0..10) {
                        0..=5 => Some(Satisfaction::Satisfied),
                        6 => Some(Satisfaction::Neutral),
                        7 => Some(Satisfaction::Dissatisfied),
                        _ => None,
                    };
                    (EventBody::ComplaintResolved { complaint, satisfaction }, true)
                }
            }
            EventBody::TaskAssigned { task, .. } => {
                (EventBody::TaskCompleted { task: task.clone() }, true)
            }
            _ => return None,
        };
        Some((self.event(at, &unit, body), finished))
    }

    /// One live event: a new item or a step of an open one.
    fn live_step(&mut self, now: DateTime<Utc>) -> Option<Event> {
        let roll = self.rng.random_range(0..100);
        if roll < 30 || self.open.is_empty() {
            let (event, item) = match roll % 10 {
                0..=5 => self.new_dossier(now),
                6..=8 => self.new_complaint(now),
                _ => self.new_task(now),
            };
            self.remember(item);
            return Some(event);
        }
        // Older items are more likely to move: pick from the front half.
        let index = self.rng.random_range(0..self.open.len().div_ceil(2));
        let mut item = self.open.remove(index)?;
        let (event, finished) = self.advance(&mut item, now)?;
        if !finished {
            self.open.push_back(item);
        }
        Some(event)
    }

    fn remember(&mut self, item: OpenItem) {
        if self.open.len() >= MAX_OPEN_ITEMS {
            self.open.pop_front();
        }
        self.open.push_back(item);
    }

    /// Events of the last [`BACKFILL_DAYS`] days, all in the past.
    fn backfill(&mut self, now: DateTime<Utc>) -> Vec<Event> {
        let mut events = Vec::new();
        let start = now - Duration::days(BACKFILL_DAYS);
        let mut t = start;
        while t < now {
            // Older days are written thinner: the demo starts in seconds, trends still show.
            let density = if now - t > Duration::days(30) { 0.4 } else { 1.0 };
            let per_hour = (60.0 * rhythm(t) * density).round() as usize;
            for _ in 0..per_hour {
                let at = t + Duration::seconds(self.rng.random_range(0..3600));
                if at >= now {
                    continue;
                }
                let (event, mut item) = match self.rng.random_range(0..10) {
                    0..=5 => self.new_dossier(at),
                    6..=8 => self.new_complaint(at),
                    _ => self.new_task(at),
                };
                events.push(event);
                // Walk the item forward in time; stop at now, keeping it open.
                let mut when = at;
                loop {
                    let limit_hours = match &item.body {
                        EventBody::DossierReceived { due, .. }
                        | EventBody::ComplaintReceived { due, .. } => {
                            ((*due - at).num_hours().max(1) as f64 * 1.25) as i64
                        }
                        EventBody::TaskAssigned { due, .. } => {
                            ((*due - at).num_hours().max(1) as f64 * 1.2) as i64
                        }
                        _ => 24,
                    };
                    // Some items are neglected: left open, many of them to run past due.
                    if self.rng.random_bool(0.06) {
                        self.remember(item);
                        break;
                    }
                    let step = Duration::minutes(
                        self.rng.random_range(10..(limit_hours.max(1) * 60 / 2).max(11)),
                    );
                    when += step;
                    if when >= now {
                        self.remember(item);
                        break;
                    }
                    let Some((event, finished)) = self.advance(&mut item, when) else { break };
                    events.push(event);
                    if finished {
                        break;
                    }
                }
            }
            t += Duration::hours(1);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: complaints carried both `due` and `due_in` and ingest refused every one of
    /// them, so the demo showed no complaints at all. Whatever the simulator makes, ingest takes.
    #[test]
    fn every_event_the_simulator_makes_passes_the_ingest_contract() {
        let catalog = crate::catalog::Catalog::load(None).unwrap_or_else(|e| panic!("{e}"));
        let mut sim = Simulator::for_catalog(&catalog);
        // A fixed moment: the first minutes of a year, after a backfill across the turn.
        let now = ioc_shared::time::parse_rfc3339("2027-01-01T00:20:00+07:00").unwrap_or_default();
        let mut events = sim.backfill(now);
        events.extend((0..2000).filter_map(|_| sim.live_step(now)));
        assert!(events.len() > 1000);
        for event in &events {
            let value = serde_json::to_value(event).unwrap_or_default();
            if let Err(error) =
                ioc_shared::event::parse_incoming_event(&value, now, crate::calendar::active())
            {
                panic!("{error}: {value}");
            }
        }
    }

    #[test]
    fn office_hours_are_busier_than_nights() {
        let at = |text: &str| ioc_shared::time::parse_rfc3339(text).unwrap_or_default();
        assert!(rhythm(at("2026-11-23T09:00:00+07:00")) > rhythm(at("2026-11-23T02:00:00+07:00")));
    }
}
