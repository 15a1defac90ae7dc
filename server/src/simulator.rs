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
use ioc_shared::event::ItemKind;
use ioc_shared::event::{
    ComplaintChannel, DossierChannel, Event, EventBody, Officer, Outcome, Satisfaction,
};
use ioc_shared::summary::Window;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Source name of everything the simulator sends.
pub const SOURCE: &str = "demo-simulator";
/// Days of history written on first start, at the live rate: the last 30 days and the 30
/// before them, so today, the week, the month and the 30 days each compare with a whole
/// previous period. (The quarter's and the year's previous periods stay empty, and show no
/// change.)
pub const BACKFILL_DAYS: i64 = 61;

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

/// Units whose work runs late far more often than the city's: about one in fifty, chosen by
/// their code so the same wards stand out at every start.
fn unit_penalty(code: &str) -> f64 {
    let hash = code.bytes().fold(7_u64, |acc, b| acc.wrapping_mul(131).wrapping_add(u64::from(b)));
    if hash % 50 == 0 {
        STRUGGLING_UNIT_LATE
    } else {
        0.0
    }
}

/// Events per batch while writing the history.
const BACKFILL_BATCH: usize = 2000;

/// Share of dossiers resolved late in an ordinary unit.
const DOSSIER_LATE: f64 = 0.015;
/// Share of complaints handled late in an ordinary unit.
const COMPLAINT_LATE: f64 = 0.07;
/// Share of tasks done late in an ordinary unit.
const TASK_LATE: f64 = 0.06;
/// What a struggling unit adds to those shares.
const STRUGGLING_UNIT_LATE: f64 = 0.25;
/// What the slowest procedures add: their legal time limits are tight for the work they take.
const SLOW_PROCEDURE_LATE: f64 = 0.22;
const SLOW_PROCEDURES: [&str; 3] = [
    "Đăng ký biến động đất đai",
    "Chuyển mục đích sử dụng đất",
    "Cấp giấy phép xây dựng nhà ở riêng lẻ",
];
/// Items left lying for weeks, so the "most overdue" lists have their long cases.
const NEGLECTED: f64 = 0.003;
/// Events an item makes on average (received, assigned, resolved; a few pauses): turns the
/// events-per-second rate into items per hour.
const EVENTS_PER_ITEM: f64 = 2.95;

/// One planned event, ordered by its time (then by when it was planned).
struct Planned {
    at: DateTime<Utc>,
    order: u64,
    event: Event,
}

impl PartialEq for Planned {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Planned {}
impl PartialOrd for Planned {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Planned {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// The demo city: every item gets its whole life planned when it arrives (assigned, perhaps
/// paused, resolved on time or late), and its events are sent as the clock reaches them. So
/// resolutions always keep up with arrivals, and the figures stay where they started however
/// long the demo runs.
struct Simulator {
    rng: StdRng,
    /// Units events are attributed to (districts and wards), with the share of late work each
    /// adds.
    units: Vec<(Unit, f64)>,
    /// Events still to come, earliest first.
    planned: BinaryHeap<Reverse<Planned>>,
    serial: u64,
    /// Part of every id, so a second run never reuses the first one's.
    run_id: String,
    /// New items per hour at the busiest hours.
    items_per_peak_hour: f64,
}

/// Runs the feed until the process ends.
pub async fn run(state: AppState, rate_per_second: f64) {
    let mut sim = Simulator::for_catalog(&state.catalog, rate_per_second);
    if sim.units.is_empty() {
        tracing::warn!(
            "demo simulator: the catalog has no units below its roots; nothing to simulate"
        );
        return;
    }
    let now = state.clock.now();
    match state.store.has_events_from(SOURCE).await {
        Ok(false) => {
            tracing::info!("demo simulator: writing {BACKFILL_DAYS} days of history");
            let started = std::time::Instant::now();
            let mut hour = now - Duration::days(BACKFILL_DAYS);
            let mut batch = Vec::new();
            let mut sent = 0;
            // One batch at a time: batches in flight together only wait on each other's locks.
            while hour < now {
                batch.extend(sim.backfill_hour(hour, now));
                if batch.len() >= BACKFILL_BATCH || hour + Duration::hours(1) >= now {
                    send(&state, &batch).await;
                    sent += batch.len();
                    batch.clear();
                }
                hour += Duration::hours(1);
            }
            tracing::info!(
                events = sent,
                seconds = started.elapsed().as_secs(),
                "demo simulator: history written"
            );
        }
        Ok(true) => match state.store.open_items_from(SOURCE).await {
            Ok(open) => {
                tracing::info!(open = open.len(), "demo simulator: taking up the open items");
                for row in open {
                    sim.take_up(&row, now);
                }
            }
            Err(error) => tracing::warn!(%error, "demo simulator: cannot read the open items"),
        },
        Err(error) => {
            tracing::warn!(%error, "demo simulator: cannot read history; continuing live")
        }
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut last = state.clock.now();
    loop {
        tick.tick().await;
        let now = state.clock.now();
        let events = sim.live(last, now);
        last = now;
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

/// `from + (to − from) × share`.
fn between(from: DateTime<Utc>, to: DateTime<Utc>, share: f64) -> DateTime<Utc> {
    from + Duration::seconds(((to - from).num_seconds() as f64 * share) as i64)
}

impl Simulator {
    fn for_catalog(catalog: &crate::catalog::Catalog, rate_per_second: f64) -> Simulator {
        let mut units: Vec<(Unit, f64)> = catalog
            .units()
            .filter(|u| u.parent.is_some())
            .map(|u| (u.clone(), unit_penalty(&u.code)))
            .collect();
        units.sort_by(|a, b| a.0.code.cmp(&b.0.code));
        Simulator {
            rng: StdRng::from_os_rng(),
            units,
            planned: BinaryHeap::new(),
            serial: 0,
            run_id: format!("{:x}", Utc::now().timestamp_millis()),
            items_per_peak_hour: rate_per_second.max(0.0) * 3600.0 / EVENTS_PER_ITEM,
        }
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}-{}-{}", self.run_id, self.serial)
    }

    /// Plans `body` to happen at `at`.
    fn plan(&mut self, at: DateTime<Utc>, unit: &str, body: EventBody) {
        let event = Event {
            id: self.next_id("ev"),
            source: SOURCE.to_owned(),
            at,
            unit: unit.to_owned(),
            body,
        };
        self.serial += 1;
        self.planned.push(Reverse(Planned { at, order: self.serial, event }));
    }

    /// The planned events up to `until`, in time order.
    fn due_by(&mut self, until: DateTime<Utc>) -> Vec<Event> {
        let mut out = Vec::new();
        while self.planned.peek().is_some_and(|Reverse(p)| p.at <= until) {
            if let Some(Reverse(planned)) = self.planned.pop() {
                out.push(planned.event);
            }
        }
        out
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
    fn pick_unit(&mut self) -> (String, f64) {
        let (unit, penalty) = &self.units[self.rng.random_range(0..self.units.len())];
        (unit.code.clone(), *penalty)
    }

    /// When an item received at `at` and due at `due` ends: well inside its time if on time,
    /// some way past it if late, weeks past it if neglected.
    fn end_of(&mut self, at: DateTime<Utc>, due: DateTime<Utc>, late: f64) -> DateTime<Utc> {
        let allowed = (due - at).max(Duration::minutes(10));
        if self.rng.random_bool(NEGLECTED) {
            due + Duration::days(self.rng.random_range(10..60))
        } else if self.rng.random_bool(late.clamp(0.0, 1.0)) {
            // Late by part of its allowed time, at most ten days: past that it is neglected.
            let over = (allowed.num_seconds() as f64 * self.rng.random_range(0.05..0.6)) as i64;
            due + Duration::minutes(10) + Duration::seconds(over.min(10 * 86_400))
        } else {
            between(at, at + allowed, self.rng.random_range(0.15..0.9)).min(due)
        }
    }

    /// A new item at `at`, its whole life planned.
    fn arrive(&mut self, at: DateTime<Utc>) {
        match self.rng.random_range(0..10) {
            0..=5 => self.new_dossier(at),
            6..=8 => self.new_complaint(at),
            _ => self.new_task(at),
        }
    }

    fn new_dossier(&mut self, at: DateTime<Utc>) {
        let (unit, penalty) = self.pick_unit();
        let (procedure, field, hours) = PROCEDURES[self.rng.random_range(0..PROCEDURES.len())];
        let dossier = self.next_id("HS");
        let channel = match self.rng.random_range(0..10) {
            0..=5 => DossierChannel::Online,
            6..=8 => DossierChannel::Direct,
            _ => DossierChannel::Postal,
        };
        let mut late = DOSSIER_LATE + penalty;
        if SLOW_PROCEDURES.contains(&procedure) {
            late += SLOW_PROCEDURE_LATE;
        }
        // A few fall due within minutes, to show the deadline engine at work; half of those
        // turn overdue with no event arriving.
        let (due, due_in) = if self.rng.random_bool(0.01) {
            late = 0.5;
            (at + Duration::minutes(self.rng.random_range(1..10)), None)
        } else {
            // Time limits are set in working time, as the procedures' rules set them.
            let due_in = ioc_shared::calendar::DueIn::WorkingHours(hours as u32);
            match crate::calendar::active().due(at, due_in) {
                Some(due) => (due, Some(due_in)),
                None => (at + Duration::hours(hours * 3), None),
            }
        };
        let mut end = self.end_of(at, due, late);
        self.plan(
            at,
            &unit,
            EventBody::DossierReceived {
                dossier: dossier.clone(),
                procedure: procedure.to_owned(),
                field: field.to_owned(),
                channel,
                due,
                due_in,
            },
        );
        let assigned = between(at, end, self.rng.random_range(0.02..0.1));
        let officer = self.officer(&unit);
        self.plan(
            assigned,
            &unit,
            EventBody::DossierAssigned { dossier: dossier.clone(), officer },
        );
        // Some wait for the citizen to complete the file; the clock stops meanwhile, so the
        // resolution moves by the working time paused.
        if self.rng.random_bool(0.04) {
            let paused = between(assigned, end, 0.4);
            let resumed = paused + Duration::hours(self.rng.random_range(2..48));
            end = if due_in.is_some() {
                crate::calendar::active().extend_by_pauses(end, &[(paused, resumed)])
            } else {
                end + (resumed - paused)
            }
            .max(resumed + Duration::minutes(5));
            self.plan(paused, &unit, EventBody::DossierPaused { dossier: dossier.clone() });
            self.plan(resumed, &unit, EventBody::DossierResumed { dossier: dossier.clone() });
        }
        self.resolve_dossier(end, &unit, dossier);
    }

    fn resolve_dossier(&mut self, at: DateTime<Utc>, unit: &str, dossier: String) {
        let outcome = match self.rng.random_range(0..40) {
            0 => Outcome::Withdrawn,
            1 | 2 => Outcome::Rejected,
            _ => Outcome::Completed,
        };
        // Some one-stop shops ask the citizen how it went.
        let satisfaction = match self.rng.random_range(0..10) {
            0..=4 => Some(Satisfaction::Satisfied),
            5 => Some(Satisfaction::Neutral),
            6 => Some(Satisfaction::Dissatisfied),
            _ => None,
        };
        self.plan(at, unit, EventBody::DossierResolved { dossier, outcome, satisfaction });
    }

    fn new_complaint(&mut self, at: DateTime<Utc>) {
        let (unit, penalty) = self.pick_unit();
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
        let due = crate::calendar::active().due(at, due_in);
        let complaint = self.next_id("PA");
        let end =
            self.end_of(at, due.unwrap_or(at + Duration::hours(96)), COMPLAINT_LATE + penalty);
        self.plan(
            at,
            &unit,
            EventBody::ComplaintReceived {
                complaint: complaint.clone(),
                field: field.to_owned(),
                channel,
                due: due.unwrap_or(at + Duration::hours(96)),
                due_in: due.map(|_| due_in),
                summary: Some(format!("Phản ánh về {} tại địa bàn", field.to_lowercase())),
                needs_routing: false,
            },
        );
        let officer = self.officer(&unit);
        let assigned = between(at, end, self.rng.random_range(0.02..0.1));
        self.plan(
            assigned,
            &unit,
            EventBody::ComplaintAssigned { complaint: complaint.clone(), officer },
        );
        self.resolve_complaint(end, &unit, complaint);
    }

    fn resolve_complaint(&mut self, at: DateTime<Utc>, unit: &str, complaint: String) {
        let satisfaction = match self.rng.random_range(0..10) {
            0..=5 => Some(Satisfaction::Satisfied),
            6 => Some(Satisfaction::Neutral),
            7 => Some(Satisfaction::Dissatisfied),
            _ => None,
        };
        self.plan(at, unit, EventBody::ComplaintResolved { complaint, satisfaction });
    }

    fn new_task(&mut self, at: DateTime<Utc>) {
        let (unit, penalty) = self.pick_unit();
        let officer = self.officer(&unit);
        let task = self.next_id("NV");
        let due = at + Duration::hours(self.rng.random_range(2..72));
        let end = self.end_of(at, due, TASK_LATE + penalty);
        self.plan(
            at,
            &unit,
            EventBody::TaskAssigned {
                task: task.clone(),
                officer,
                due,
                due_in: None,
                title: Some("Kiểm tra, báo cáo kết quả xử lý".to_owned()),
            },
        );
        self.plan(end, &unit, EventBody::TaskCompleted { task });
    }

    /// Takes up an item left open by an earlier run: the rest of its life is planned from now.
    fn take_up(&mut self, row: &crate::store::OpenItemRow, now: DateTime<Utc>) {
        let Some(kind) = ItemKind::parse(&row.kind) else { return };
        let late = match kind {
            ItemKind::Dossier => DOSSIER_LATE,
            ItemKind::Complaint => COMPLAINT_LATE,
            ItemKind::Task => TASK_LATE,
        } + unit_penalty(&row.unit);
        let mut end = match row.due_extended_at.filter(|due| *due > now) {
            // Still running: it ends as a new item would, in the time it has left.
            Some(due) => self.end_of(now, due, late),
            // Already late (or paused): caught up over the next three days.
            None => now + Duration::minutes(self.rng.random_range(10..3 * 24 * 60)),
        };
        let (unit, id) = (row.unit.as_str(), row.item_id.clone());
        if !row.assigned {
            let officer = self.officer(unit);
            let at = between(now, end, 0.05);
            let body = match kind {
                ItemKind::Dossier => EventBody::DossierAssigned { dossier: id.clone(), officer },
                ItemKind::Complaint => {
                    EventBody::ComplaintAssigned { complaint: id.clone(), officer }
                }
                // A task is open only once assigned.
                ItemKind::Task => return,
            };
            self.plan(at, unit, body);
        }
        match kind {
            ItemKind::Dossier => {
                if row.paused {
                    let resumed = now + Duration::hours(self.rng.random_range(1..24));
                    end = end.max(resumed + Duration::hours(1));
                    self.plan(resumed, unit, EventBody::DossierResumed { dossier: id.clone() });
                }
                self.resolve_dossier(end, unit, id);
            }
            ItemKind::Complaint => self.resolve_complaint(end, unit, id),
            ItemKind::Task => self.plan(end, unit, EventBody::TaskCompleted { task: id }),
        }
    }

    /// How many items arrive in `seconds` at `at`'s hour: the whole part always, the fraction
    /// by chance.
    fn arrivals(&mut self, at: DateTime<Utc>, seconds: f64) -> usize {
        let expected = self.items_per_peak_hour * rhythm(at) * seconds / 3600.0;
        let mut count = expected.floor() as usize;
        if self.rng.random_bool((expected - expected.floor()).clamp(0.0, 1.0)) {
            count += 1;
        }
        count
    }

    /// The events of the hour from `hour` (none after `now`): the history written on first
    /// start, at the live rate, so every window compares like with like.
    fn backfill_hour(&mut self, hour: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Event> {
        for _ in 0..self.arrivals(hour, 3600.0) {
            let at = hour + Duration::seconds(self.rng.random_range(0..3600));
            if at < now {
                self.arrive(at);
            }
        }
        self.due_by((hour + Duration::hours(1)).min(now))
    }

    /// The events from `last` to `now`: new arrivals and what was planned for the time.
    fn live(&mut self, last: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Event> {
        let seconds = (now - last).num_milliseconds().max(0) as f64 / 1000.0;
        for _ in 0..self.arrivals(now, seconds) {
            self.arrive(now);
        }
        self.due_by(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::item::{self, counter};
    use std::collections::HashMap;

    fn at(text: &str) -> DateTime<Utc> {
        ioc_shared::time::parse_rfc3339(text).unwrap_or_else(|| panic!("bad time {text}"))
    }

    fn demo_catalog() -> crate::catalog::Catalog {
        crate::catalog::Catalog::load(None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// History from the first start at `now`, as `run` writes it.
    fn history(sim: &mut Simulator, now: DateTime<Utc>) -> Vec<Event> {
        let mut events = Vec::new();
        let mut hour = now - Duration::days(BACKFILL_DAYS);
        while hour < now {
            events.extend(sim.backfill_hour(hour, now));
            hour += Duration::hours(1);
        }
        events
    }

    /// Rated (on time + late) and late, of dossiers or complaints resolved in a time range.
    #[derive(Debug, Default, Clone, Copy)]
    struct Rated {
        on_time: u64,
        late: u64,
    }

    impl Rated {
        fn on_time_rate(&self) -> f64 {
            self.on_time as f64 / (self.on_time + self.late).max(1) as f64
        }
    }

    /// What the screens would show at `now`, folded by the server's own item logic.
    #[derive(Debug, Default)]
    struct Figures {
        dossiers_30d: Rated,
        complaints_30d: Rated,
        dossiers_by_unit: HashMap<String, Rated>,
        dossiers_by_procedure: HashMap<String, Rated>,
        open_dossiers: u64,
        overdue_dossiers: u64,
        open_complaints: u64,
        overdue_complaints: u64,
    }

    fn figures(events: &[Event], now: DateTime<Utc>) -> Figures {
        let mut by_item: HashMap<(ItemKind, &str), Vec<Event>> = HashMap::new();
        for event in events.iter().filter(|e| e.at <= now) {
            by_item.entry(event.body.item()).or_default().push(event.clone());
        }
        let since = (now - Duration::days(30)).timestamp();
        let mut out = Figures::default();
        for ((kind, _), mut events) in by_item {
            item::sort_for_fold(&mut events);
            let contribution = item::contribution(kind, &events);
            let procedure = match &events[0].body {
                EventBody::DossierReceived { procedure, .. } => procedure.clone(),
                _ => String::new(),
            };
            let unit = events[0].unit.clone();
            for count in contribution.counts.iter().filter(|c| c.at > since) {
                let tally = |rated: &mut Rated, on_time: &str, late: Option<&str>| {
                    if count.counter == on_time {
                        rated.on_time += 1;
                    } else if Some(count.counter.as_str()) == late {
                        rated.late += 1;
                    }
                };
                match kind {
                    ItemKind::Dossier => {
                        for rated in [
                            &mut out.dossiers_30d,
                            out.dossiers_by_unit.entry(unit.clone()).or_default(),
                            out.dossiers_by_procedure.entry(procedure.clone()).or_default(),
                        ] {
                            tally(rated, counter::DOSSIERS_ON_TIME, Some(counter::DOSSIERS_LATE));
                        }
                    }
                    ItemKind::Complaint => {
                        // A resolved complaint not counted on time was late.
                        if count.counter == counter::COMPLAINTS_RESOLVED {
                            out.complaints_30d.late += 1;
                        }
                        if count.counter == counter::COMPLAINTS_ON_TIME {
                            out.complaints_30d.on_time += 1;
                            out.complaints_30d.late -= 1;
                        }
                    }
                    ItemKind::Task => {}
                }
            }
            let overdue =
                contribution.due.as_ref().is_some_and(|d| d.at_ms < now.timestamp_millis());
            match (kind, contribution.open) {
                (ItemKind::Dossier, true) => {
                    out.open_dossiers += 1;
                    out.overdue_dossiers += u64::from(overdue);
                }
                (ItemKind::Complaint, true) => {
                    out.open_complaints += 1;
                    out.overdue_complaints += u64::from(overdue);
                }
                _ => {}
            }
        }
        out
    }

    /// The targets the README promises for the demo, checked on what the simulator sends.
    fn assert_looks_like_hanoi(figures: &Figures, moment: &str) {
        let rate = figures.dossiers_30d.on_time_rate();
        assert!((0.93..=0.98).contains(&rate), "{moment}: 30-day on-time rate {rate:.3}");
        let complaints_late = 1.0 - figures.complaints_30d.on_time_rate();
        assert!(
            (0.05..=0.15).contains(&complaints_late),
            "{moment}: complaints handled late {complaints_late:.3}"
        );
        let complaints_overdue =
            figures.overdue_complaints as f64 / figures.open_complaints.max(1) as f64;
        assert!(
            (0.05..=0.15).contains(&complaints_overdue),
            "{moment}: open complaints overdue {complaints_overdue:.3} ({} of {})",
            figures.overdue_complaints,
            figures.open_complaints
        );
        let dossiers_overdue =
            figures.overdue_dossiers as f64 / figures.open_dossiers.max(1) as f64;
        assert!(
            dossiers_overdue <= 0.15,
            "{moment}: open dossiers overdue {dossiers_overdue:.3} ({} of {})",
            figures.overdue_dossiers,
            figures.open_dossiers
        );
        // A handful of units and procedures clearly worse, for the ranking to show.
        let worse = |rated: &Rated| rated.on_time + rated.late >= 20 && rated.on_time_rate() < 0.85;
        let worse_units = figures.dossiers_by_unit.values().filter(|r| worse(r)).count();
        assert!((3..=30).contains(&worse_units), "{moment}: {worse_units} units below 85 %");
        for procedure in SLOW_PROCEDURES {
            let rated = figures.dossiers_by_procedure.get(procedure).copied().unwrap_or_default();
            assert!(worse(&rated), "{moment}: {procedure} is not among the worse: {rated:?}");
        }
    }

    /// Regression: the demo painted a city in collapse (on-time 24–40 %, three quarters of the
    /// open dossiers overdue), and live resolutions drew the oldest, overdue items, so the
    /// figures fell further the longer it ran. Run accelerated: the history of a first start,
    /// then a day of live feed a second at a time; the city looks like Hanoi at both ends.
    #[test]
    fn the_demo_city_stays_like_hanoi_through_a_day_of_live_feed() {
        let catalog = demo_catalog();
        let mut sim = Simulator::for_catalog(&catalog, 0.1);
        let start = at("2026-12-02T09:00:00+07:00");
        let mut events = history(&mut sim, start);
        assert_looks_like_hanoi(&figures(&events, start), "after the history");
        let mut last = start;
        for second in 1..=24 * 3600 {
            let now = start + Duration::seconds(second);
            events.extend(sim.live(last, now));
            last = now;
        }
        let end = start + Duration::hours(24);
        assert!(events.iter().all(|e| e.at <= end), "an event from the future was sent");
        assert_looks_like_hanoi(&figures(&events, end), "after 24 h live");
    }

    /// Regression: complaints carried both `due` and `due_in` and ingest refused every one of
    /// them, so the demo showed no complaints at all. Whatever the simulator makes, ingest takes.
    #[test]
    fn every_event_the_simulator_makes_passes_the_ingest_contract() {
        let catalog = demo_catalog();
        let mut sim = Simulator::for_catalog(&catalog, 0.05);
        // A fixed moment: the first minutes of a year, after a history across the turn.
        let now = at("2027-01-01T00:20:00+07:00");
        let mut events = history(&mut sim, now);
        let later = now + Duration::hours(10);
        events.extend(sim.live(now, later));
        assert!(events.len() > 1000);
        for event in &events {
            let value = serde_json::to_value(event).unwrap_or_default();
            if let Err(error) =
                ioc_shared::event::parse_incoming_event(&value, later, crate::calendar::active())
            {
                panic!("{error}: {value}");
            }
        }
    }

    #[test]
    fn open_items_of_an_earlier_run_are_taken_up_and_end() {
        let catalog = demo_catalog();
        let mut sim = Simulator::for_catalog(&catalog, 0.0);
        let now = at("2026-12-02T09:00:00+07:00");
        let row =
            |kind: &str, due: Option<DateTime<Utc>>, paused, assigned| crate::store::OpenItemRow {
                kind: kind.to_owned(),
                item_id: format!("{kind}-1"),
                unit: "00004".to_owned(),
                received_at: Some(now - Duration::days(2)),
                due_extended_at: due,
                paused,
                assigned,
            };
        sim.take_up(&row("dossier", Some(now + Duration::days(3)), false, false), now);
        sim.take_up(&row("dossier", None, true, true), now);
        sim.take_up(&row("complaint", Some(now - Duration::hours(1)), false, true), now);
        sim.take_up(&row("task", Some(now + Duration::hours(5)), false, true), now);
        let events = sim.due_by(now + Duration::days(90));
        let ends = events
            .iter()
            .filter(|e| {
                matches!(
                    e.body,
                    EventBody::DossierResolved { .. }
                        | EventBody::ComplaintResolved { .. }
                        | EventBody::TaskCompleted { .. }
                )
            })
            .count();
        assert_eq!(ends, 4, "{events:?}");
        assert!(events.iter().any(|e| matches!(e.body, EventBody::DossierAssigned { .. })));
        assert!(events.iter().any(|e| matches!(e.body, EventBody::DossierResumed { .. })));
        assert!(events.iter().all(|e| e.at >= now));
    }

    #[test]
    fn office_hours_are_busier_than_nights() {
        assert!(rhythm(at("2026-11-23T09:00:00+07:00")) > rhythm(at("2026-11-23T02:00:00+07:00")));
    }
}
