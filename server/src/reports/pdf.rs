//! A report as an A4 PDF: its figures in Vietnamese with an embedded TrueType font (so every
//! diacritic prints and can be searched), a bar chart of the children's dossiers, and the
//! digest in every page's footer. Made from the stored report (the same frozen figures).

use ioc_shared::format::{self, Lang};
use ioc_shared::report::Report;
use printpdf::{
    Color, IndirectFontRef, Line, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference, Point,
    Rect, Rgb,
};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("report font {path} cannot be read")]
    Font {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("report font {path} cannot be embedded")]
    Embed {
        path: String,
        #[source]
        source: printpdf::Error,
    },
    #[error("the PDF's creation time {0} is out of range")]
    Time(i64),
    #[error("the PDF cannot be written")]
    Pdf(#[from] printpdf::Error),
    /// The blocking thread that made it stopped (a panic, or the runtime shutting down).
    #[error("the PDF was not made")]
    Stopped(#[from] tokio::task::JoinError),
}

const PAGE_WIDTH: f32 = 210.0;
const PAGE_HEIGHT: f32 = 297.0;
const MARGIN: f32 = 18.0;
/// Lines of body text per page before a new page starts.
const LOWEST: f32 = 30.0;

/// Writes pages top to bottom, starting a new one when the current is full.
struct Writer {
    doc: PdfDocumentReference,
    font: IndirectFontRef,
    layer: PdfLayerReference,
    y: f32,
    footer: String,
}

impl Writer {
    fn line(&mut self, text: &str, size: f32) {
        if self.y < LOWEST {
            self.page();
        }
        self.layer.use_text(text, size, Mm(MARGIN), Mm(self.y), &self.font);
        self.y -= size * 0.5 + 1.5;
    }

    fn gap(&mut self, mm: f32) {
        self.y -= mm;
    }

    fn page(&mut self) {
        let (page, layer) = self.doc.add_page(Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "Trang");
        self.layer = self.doc.get_page(page).get_layer(layer);
        self.y = PAGE_HEIGHT - MARGIN;
        self.stamp_footer();
    }

    fn stamp_footer(&self) {
        self.layer.use_text(&self.footer, 7.0, Mm(MARGIN), Mm(10.0), &self.font);
    }

    /// Horizontal bars, one per (label, value), scaled to the largest.
    fn bars(&mut self, rows: &[(String, u64)]) {
        let largest = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f32;
        let width = PAGE_WIDTH - 2.0 * MARGIN - 70.0;
        for (label, value) in rows {
            if self.y < LOWEST {
                self.page();
            }
            self.layer.use_text(label, 8.0, Mm(MARGIN), Mm(self.y), &self.font);
            let length = (*value as f32 / largest * width).max(0.3);
            self.layer.set_fill_color(Color::Rgb(Rgb::new(0.12, 0.38, 0.67, None)));
            self.layer.add_rect(Rect::new(
                Mm(MARGIN + 60.0),
                Mm(self.y - 0.5),
                Mm(MARGIN + 60.0 + length),
                Mm(self.y + 2.5),
            ));
            self.layer.set_fill_color(Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)));
            self.layer.use_text(
                value.to_string(),
                8.0,
                Mm(MARGIN + 62.0 + length),
                Mm(self.y),
                &self.font,
            );
            self.y -= 5.0;
        }
    }

    fn rule(&mut self) {
        self.layer.add_line(Line {
            points: vec![
                (Point::new(Mm(MARGIN), Mm(self.y + 3.5)), false),
                (Point::new(Mm(PAGE_WIDTH - MARGIN), Mm(self.y + 3.5)), false),
            ],
            is_closed: false,
        });
        self.y -= 2.0;
    }
}

fn rate(value: Option<f64>) -> String {
    value.map_or("—".to_owned(), |r| format::percent(r, Lang::Vi))
}

/// The name a report's PDF is downloaded and mailed under.
pub fn file_name(id: i64) -> String {
    format!("bao-cao-{id}.pdf")
}

/// [`render`] on a blocking thread (setting a page of text takes milliseconds of CPU), for the
/// download and the scheduled email alike.
pub async fn render_off_thread(
    report: Report,
    font_path: String,
    created: i64,
) -> Result<Vec<u8>, PdfError> {
    tokio::task::spawn_blocking(move || render(&report, &font_path, created))
        .await
        .map_err(PdfError::Stopped)?
}

/// The report as PDF bytes, set in the font at `font_path`.
pub fn render(report: &Report, font_path: &str, created: i64) -> Result<Vec<u8>, PdfError> {
    let font_bytes = std::fs::read(font_path)
        .map_err(|source| PdfError::Font { path: font_path.to_owned(), source })?;
    let title = format!("Báo cáo {} — {}", report.unit.name, report.period);
    let (doc, page, layer) = PdfDocument::new(&title, Mm(PAGE_WIDTH), Mm(PAGE_HEIGHT), "Trang");
    let when = printpdf::OffsetDateTime::from_unix_timestamp(created)
        .map_err(|_| PdfError::Time(created))?;
    let doc = doc.with_creation_date(when).with_mod_date(when).with_metadata_date(when);
    let font = doc
        .add_external_font_with_subsetting(std::io::Cursor::new(font_bytes), true)
        .map_err(|source| PdfError::Embed { path: font_path.to_owned(), source })?;
    let layer = doc.get_page(page).get_layer(layer);
    let footer = format!("Mã kiểm tra (SHA-256): {}", report.digest);
    let mut w = Writer { doc, font, layer, y: PAGE_HEIGHT - MARGIN, footer };
    w.stamp_footer();

    let period = ioc_shared::report::period_name(&report.period);
    w.line(&format!("BÁO CÁO {} — {}", period.to_uppercase(), report.unit.name), 15.0);
    w.line(&format!("Đơn vị {} · từ {} đến {}", report.unit.code, report.from, report.to), 10.0);
    w.line(&format!("Số liệu chốt lúc {} · lập bởi {}", report.frozen_at, report.made_by), 9.0);
    w.gap(3.0);
    w.rule();

    let (now, before) = (&report.figures, &report.previous);
    w.line("Hồ sơ thủ tục hành chính (kỳ này / kỳ trước)", 11.0);
    w.line(&format!("Tiếp nhận: {} / {}", now.dossiers.received, before.dossiers.received), 9.5);
    w.line(
        &format!("Đã giải quyết: {} / {}", now.dossiers.resolved, before.dossiers.resolved),
        9.5,
    );
    w.line(
        &format!(
            "Đúng hạn: {} · Trễ hạn: {} · Tỷ lệ đúng hạn: {}",
            now.dossiers.resolved_on_time,
            now.dossiers.resolved_late,
            rate(now.dossiers.on_time_rate)
        ),
        9.5,
    );
    w.line(
        &format!(
            "Cuối kỳ: {} đang xử lý, {} quá hạn",
            report.at_end.dossiers.open, report.at_end.dossiers.overdue
        ),
        9.5,
    );
    w.gap(2.0);
    w.line("Phản ánh, kiến nghị", 11.0);
    w.line(
        &format!(
            "Tiếp nhận: {} / {} · Đã giải quyết: {}",
            now.complaints.received, before.complaints.received, now.complaints.resolved
        ),
        9.5,
    );
    w.line(
        &format!(
            "Cuối kỳ: {} đang xử lý, {} quá hạn",
            report.at_end.complaints.open, report.at_end.complaints.overdue
        ),
        9.5,
    );
    w.gap(2.0);
    w.line("Nhiệm vụ", 11.0);
    w.line(
        &format!(
            "Giao: {} · Hoàn thành: {} · Cuối kỳ quá hạn: {}",
            now.tasks.assigned, now.tasks.completed, report.at_end.tasks.overdue
        ),
        9.5,
    );
    w.gap(2.0);
    w.line(
        &format!(
            "Chỉ số phục vụ (Quyết định 766): {} / {} điểm đo được",
            format::decimal(report.score.score, 2, Lang::Vi),
            format::decimal(report.score.measured_max, 0, Lang::Vi)
        ),
        11.0,
    );
    w.gap(3.0);
    w.rule();

    if !report.children.is_empty() {
        w.line("Hồ sơ tiếp nhận theo đơn vị trực thuộc (xếp hạng theo tỷ lệ đúng hạn)", 11.0);
        let rows: Vec<(String, u64)> = report
            .children
            .iter()
            .take(30)
            .map(|c| {
                (format!("{}. {} ({})", c.rank, c.name, rate(c.on_time_rate)), c.dossiers_received)
            })
            .collect();
        w.bars(&rows);
        w.gap(2.0);
    }
    if !report.worst_procedures.is_empty() {
        w.line("Thủ tục có nhiều hồ sơ trễ hạn nhất", 11.0);
        for p in &report.worst_procedures {
            w.line(&format!("{}: {} giải quyết, {} trễ hạn", p.procedure, p.resolved, p.late), 9.0);
        }
        w.gap(2.0);
    }
    if !report.most_overdue.is_empty() {
        w.line("Hồ sơ, việc quá hạn lâu nhất khi hết kỳ", 11.0);
        for item in &report.most_overdue {
            w.line(
                &format!(
                    "{} {} ({}) — {} giờ quá hạn — {}",
                    item.kind,
                    item.id,
                    item.unit,
                    format::decimal(item.hours_overdue, 1, Lang::Vi),
                    item.officer.as_deref().unwrap_or("chưa giao")
                ),
                9.0,
            );
        }
        w.gap(2.0);
    }
    if !report.late_officers.is_empty() {
        w.line("Cán bộ có việc quá hạn khi hết kỳ", 11.0);
        for o in &report.late_officers {
            w.line(
                &format!("{} ({}): {} việc", o.name.as_deref().unwrap_or("—"), o.id, o.overdue),
                9.0,
            );
        }
        w.gap(2.0);
    }
    w.line(
        &format!(
            "Cảnh báo: {} phát sinh, {} đã xác nhận, {} đã xử lý, {} còn mở cuối kỳ",
            report.alerts.raised,
            report.alerts.acknowledged,
            report.alerts.resolved,
            report.alerts.open_at_end
        ),
        9.5,
    );
    w.line(
        &format!(
            "Yêu cầu giải trình: {} gửi, {} trả lời, {} quá hạn cuối kỳ",
            report.explanations.asked,
            report.explanations.answered,
            report.explanations.overdue_at_end
        ),
        9.5,
    );
    if !report.annotations.is_empty() {
        w.gap(2.0);
        w.line("Ghi chú trên dòng thời gian", 11.0);
        for note in &report.annotations {
            w.line(&format!("{} — {}", note.at, note.text), 9.0);
        }
    }
    let Writer { doc, .. } = w;
    Ok(doc.save_to_bytes()?)
}
