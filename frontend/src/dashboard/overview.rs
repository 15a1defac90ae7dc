//! The overview's figures: tiles, the ranking of the units below, late officers, complaints
//! by field and channel.

use super::*;

#[component]
pub(super) fn Overview(summary: Summary) -> impl IntoView {
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
