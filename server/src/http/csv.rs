//! CSV downloads for spreadsheets: UTF-8 with a byte-order mark (so Excel reads Vietnamese),
//! RFC 4180 quoting, no cell a spreadsheet would run as a formula, and a layout the caller
//! picks with `delimiter`:
//!
//! - `comma` (the default): comma-separated, decimal points — for programs and spreadsheets in
//!   English-style locales;
//! - `semicolon`: semicolon-separated, decimal commas — what Excel in the Vietnamese locale
//!   (whose list separator is `;`) opens in columns. The dashboard in Vietnamese links this one.

use super::error::ApiError;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Comma,
    Semicolon,
}

impl Layout {
    /// The `delimiter` parameter (`comma` or `semicolon`; absent: comma).
    pub fn from_params(params: &HashMap<String, String>) -> Result<Layout, ApiError> {
        match params.get("delimiter").map(String::as_str) {
            None | Some("comma") => Ok(Layout::Comma),
            Some("semicolon") => Ok(Layout::Semicolon),
            Some(other) => Err(ApiError::BadRequest(format!(
                "unknown delimiter `{other}`; expected `comma` or `semicolon`"
            ))),
        }
    }

    /// `value` with `places` decimals, in this layout's decimal mark.
    pub fn decimal(self, value: f64, places: usize) -> String {
        let text = format!("{value:.places$}");
        match self {
            Layout::Comma => text,
            Layout::Semicolon => text.replace('.', ","),
        }
    }
}

/// A cell a spreadsheet will not run as a formula.
fn safe_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The download: `headers`, then `rows`, as `filename`.
pub fn download(
    layout: Layout,
    headers: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
    filename: &str,
) -> Result<Response, ApiError> {
    let delimiter = match layout {
        Layout::Comma => b',',
        Layout::Semicolon => b';',
    };
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_writer(Vec::new());
    writer.write_record(headers).map_err(ApiError::internal)?;
    for row in rows {
        writer.write_record(row.iter().map(|cell| safe_cell(cell))).map_err(ApiError::internal)?;
    }
    let body = writer.into_inner().map_err(|e| ApiError::internal(e.into_error()))?;
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend(body);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_pairs_its_delimiter_with_its_decimal_mark() {
        assert_eq!(Layout::Comma.decimal(12.25, 1), "12.2");
        assert_eq!(Layout::Semicolon.decimal(12.26, 1), "12,3");
        let params = |v: &str| HashMap::from([("delimiter".to_owned(), v.to_owned())]);
        assert_eq!(Layout::from_params(&HashMap::new()).ok(), Some(Layout::Comma));
        assert_eq!(Layout::from_params(&params("semicolon")).ok(), Some(Layout::Semicolon));
        assert!(Layout::from_params(&params("tab")).is_err());
    }

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+1"), "'+1");
        assert_eq!(safe_cell("-1"), "'-1");
        assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_cell("Đăng ký khai sinh"), "Đăng ký khai sinh");
    }
}
