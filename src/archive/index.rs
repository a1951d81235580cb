//! `index.html`: the page inside the archive that lists the register and
//! links every file, and the tera templates of the archive (that page and
//! the archive email), compiled into the binary. Templates named `*.html`
//! are HTML-escaped by tera, so a subject or a reason can never inject
//! markup.

use serde::Serialize;
use tera::Tera;

use crate::config::Language;

use super::manifest;
use super::sheets::{self, Cells};
use super::{ArchiveError, Month, Summary};

pub const FILE_NAME: &str = "index.html";

/// `(name, text)` of every template the archive uses: its own, and the
/// shared email layout they extend.
macro_rules! embed {
    ($root:literal: $($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!($root, $name)))),*]
    };
}

const OWN: [(&str, &str); 11] = embed!["templates/":
    "zh/index.head.html",
    "en/index.head.html",
    "index.rows.html",
    "zh/index.tail.html",
    "en/index.tail.html",
    "zh/archive.subject.txt",
    "zh/archive.txt",
    "zh/archive.html",
    "en/archive.subject.txt",
    "en/archive.txt",
    "en/archive.html",
];

const SHARED: [(&str, &str); 8] = embed!["../../templates/":
    "base.html",
    "macros.html",
    "zh/labels.txt",
    "zh/layout.html",
    "zh/layout.txt",
    "en/labels.txt",
    "en/layout.html",
    "en/layout.txt",
];

/// The archive's compiled templates.
pub fn templates() -> Result<Tera, ArchiveError> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.set_escape_fn(escape_html);
    tera.add_raw_templates(SHARED.iter().chain(OWN.iter()).copied())
        .map_err(|e| template_error("archive templates", &e))?;
    Ok(tera)
}

/// Escapes `& < > " '`, enough in text and in quoted attributes; tera's own
/// also turns `/` into `&#x2F;`, which garbles paths in the source.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `name` with `ctx` (in `lang`, given to the template as `lang`).
pub fn render(
    tera: &Tera,
    name: &str,
    lang: Language,
    ctx: &impl Serialize,
) -> Result<String, ArchiveError> {
    let mut context = tera::Context::from_serialize(ctx).map_err(|e| template_error(name, &e))?;
    context.insert("lang", lang.as_str());
    tera.render(name, &context)
        .map_err(|e| template_error(name, &e))
}

/// A tera error with its causes (its own message is often just "Failed to
/// render").
fn template_error(name: &str, e: &dyn std::error::Error) -> ArchiveError {
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    ArchiveError::Template {
        name: name.to_string(),
        detail,
    }
}

/// What `index.html` shows.
#[derive(Debug)]
pub struct Page<'a> {
    pub month: Month,
    pub lang: Language,
    pub summary: &'a Summary,
    pub rows: &'a [Cells],
}

#[derive(Serialize)]
struct PageContext<'a> {
    month: String,
    summary: &'a Summary,
    fines: String,
    waived: String,
    headers: [&'static str; 18],
    csv: &'static str,
    xlsx: &'static str,
    manifest: &'static str,
}

#[derive(Serialize)]
struct RowsContext<'a> {
    rows: &'a [Cells],
}

/// Rows per rendering of `index.rows.html`. tera renders from a JSON copy
/// of its context: a month of a thousand people's rows at once was 16 MB,
/// the largest part of a first sync's peak memory.
const ROWS_PER_RENDER: usize = 256;

/// The page's HTML: `<lang>/index.head.html`, then `index.rows.html` (the
/// same in every language) a few hundred rows at a time, then
/// `<lang>/index.tail.html`. The rows and the tail have no leading
/// comment: tera keeps the newline after one, a blank line in the table.
pub fn page(page: &Page<'_>) -> Result<String, ArchiveError> {
    let ctx = PageContext {
        month: page.month.to_string(),
        summary: page.summary,
        fines: page.summary.fines.to_string(),
        waived: page.summary.waived.to_string(),
        headers: sheets::headers(page.lang),
        csv: sheets::CSV_NAME,
        xlsx: sheets::XLSX_NAME,
        manifest: manifest::FILE_NAME,
    };
    let tera = templates()?;
    let lang = page.lang;
    let mut html = render(
        &tera,
        &format!("{}/index.head.html", lang.as_str()),
        lang,
        &ctx,
    )?;
    for rows in page.rows.chunks(ROWS_PER_RENDER) {
        html += &render(&tera, "index.rows.html", lang, &RowsContext { rows })?;
    }
    html += &render(
        &tera,
        &format!("{}/index.tail.html", lang.as_str()),
        lang,
        &ctx,
    )?;
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(subject: &str) -> Cells {
        Cells {
            subject: subject.into(),
            ..super::sheets::sample_cells()
        }
    }

    fn render_with(lang: Language, rows: &[Cells]) -> String {
        page(&Page {
            month: "2026-11".parse().expect("month"),
            lang,
            summary: &Summary::default(),
            rows,
        })
        .expect("page")
    }

    #[test]
    fn the_page_links_every_file_and_escapes_what_mail_brings() {
        let html = render_with(Language::Zh, &[row("<script>alert(1)</script> 周报")]);
        assert!(!html.contains("<script>"), "escaped");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("20261128-215959-report-2026-W48-zhangwei-m1.eml"));
        for file in ["register.csv", "register.xlsx", "MANIFEST.sha256"] {
            assert!(html.contains(file), "links {file}");
        }
        assert!(html.contains("登记表"));
        assert!(html.contains(&"ab".repeat(32)));
    }

    #[test]
    fn the_page_follows_the_team_language() {
        let html = render_with(Language::En, &[row("weekly report")]);
        assert!(html.contains("Report archive 2026-11"), "{html}");
        assert!(html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn a_register_longer_than_one_rendering_is_one_table_in_order() {
        let rows: Vec<Cells> = (0..2 * ROWS_PER_RENDER + 7)
            .map(|i| row(&format!("周报 {i:04}")))
            .collect();
        let html = render_with(Language::Zh, &rows);
        let table =
            &html[html.find("<table>").expect("table")..html.find("</table>").expect("end")];
        assert_eq!(
            table.matches("<tr>").count(),
            rows.len() + 1,
            "header and rows"
        );
        assert!(!table.contains("\n\n"), "no blank line between renderings");
        let at: Vec<usize> = (0..rows.len())
            .map(|i| table.find(&format!("周报 {i:04}<")).expect("each subject"))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(html.ends_with("</body>\n</html>\n"));
    }
}
