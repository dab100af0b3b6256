//! The report as one self-contained HTML file: styles inline, the heat maps as inline SVG, print
//! styles for paper and PDF, and nothing fetched from a network.

use std::fmt::Write as _;

use super::tables::sections;
use crate::engine::{
    report::{HeatMap, Report},
    risk,
};

const STYLE: &str = "
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1b1f24;
  margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
p.meta { color: #57606a; margin-top: 0; }
nav ol { columns: 2; color: #57606a; }
table { border-collapse: collapse; width: 100%; margin: .8rem 0; font-size: 12.5px; }
th, td { border: 1px solid #d0d7de; padding: 4px 6px; text-align: left; vertical-align: top; }
th { white-space: nowrap; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
td.none { color: #57606a; font-style: italic; }
.maps { display: flex; gap: 2rem; flex-wrap: wrap; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-before: page; }
  h2:first-of-type { break-before: auto; }
  table { font-size: 8pt; }
  tr, figure { break-inside: avoid; }
  nav { display: none; }
}
";

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell's text, escaped, with line-break opportunities in long unbroken runs (image
/// digests, URIs): after `/`, `@` and `:`, and every 24 characters of a run without one, so a
/// column of digests wraps instead of running off the page.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut run = 0;
    for c in text.chars() {
        out.push_str(&esc(c.encode_utf8(&mut [0; 4])));
        if c.is_whitespace() {
            run = 0;
        } else if matches!(c, '/' | '@' | ':') || run >= 24 {
            out.push_str("<wbr>");
            run = 0;
        } else {
            run += 1;
        }
    }
    out
}

/// The colour of a cell of score `score`, by its risk level.
fn colour(score: u8) -> &'static str {
    match risk::level(score) {
        crate::api::RiskLevel::Low => "#cfe8cf",
        crate::api::RiskLevel::Medium => "#fbe7a1",
        crate::api::RiskLevel::High => "#f7b97a",
        crate::api::RiskLevel::Critical => "#ee8f8f",
    }
}

/// A 5×5 heat map as SVG: likelihood up, severity across, each cell coloured by its score and
/// showing how many risks sit there.
fn heat_map(caption: &str, map: &HeatMap) -> String {
    const CELL: u32 = 44;
    const LEFT: u32 = 28;
    const TOP: u32 = 8;
    let size = LEFT + 5 * CELL + 8;
    let mut svg = format!(
        r#"<figure><figcaption>{caption} ({total} risks)</figcaption><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{caption} heat map" width="{size}" height="{h}" viewBox="0 0 {size} {h}" font-family="sans-serif" font-size="13">"#,
        caption = esc(caption),
        total = map.total(),
        h = TOP + 5 * CELL + 40,
    );
    for l in 1..=5u8 {
        for s in 1..=5u8 {
            let x = LEFT + u32::from(s - 1) * CELL;
            let y = TOP + u32::from(5 - l) * CELL;
            let count = map.cells[usize::from(l - 1)][usize::from(s - 1)];
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{fill}" stroke="#ffffff" stroke-width="2"><title>likelihood {l}, severity {s}: {count}</title></rect>"##,
                fill = colour(l * s),
            );
            if count > 0 {
                let _ = write!(
                    svg,
                    r#"<text x="{cx}" y="{cy}" text-anchor="middle" dominant-baseline="central" font-weight="700" data-likelihood="{l}" data-severity="{s}">{count}</text>"#,
                    cx = x + CELL / 2,
                    cy = y + CELL / 2,
                );
            }
        }
        let _ = write!(
            svg,
            r##"<text x="{tx}" y="{ty}" text-anchor="end" dominant-baseline="central" fill="#57606a">{l}</text>"##,
            tx = LEFT - 8,
            ty = TOP + u32::from(5 - l) * CELL + CELL / 2,
        );
    }
    for s in 1..=5u32 {
        let _ = write!(
            svg,
            r##"<text x="{tx}" y="{ty}" text-anchor="middle" fill="#57606a">{s}</text>"##,
            tx = LEFT + (s - 1) * CELL + CELL / 2,
            ty = TOP + 5 * CELL + 16,
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{tx}" y="{ty}" text-anchor="middle" fill="#57606a">severity →  (likelihood ↑)</text></svg></figure>"##,
        tx = LEFT + 5 * CELL / 2,
        ty = TOP + 5 * CELL + 34,
    );
    svg
}

/// An id for a section's anchor.
fn anchor(title: &str) -> String {
    title
        .chars()
        .take_while(|c| *c != '(')
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() {
                Some(c.to_ascii_lowercase())
            } else if c == ' ' {
                Some('-')
            } else {
                None
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let sections = sections(r);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>AI management system report</title><style>{STYLE}</style></head><body>\
         <h1>AI management system report</h1>\
         <p class=\"meta\">{headline} ISO/IEC 42001 Annex A, crosswalked to the EU AI Act, \
         the NIST AI RMF and the CEN/CLC JTC 21 harmonised standards under preparation.</p><nav><ol>",
        headline = esc(&super::tables::headline(r)),
    );
    for s in &sections {
        let _ = write!(
            out,
            "<li><a href=\"#{}\">{}</a></li>",
            anchor(s.title),
            esc(s.title)
        );
    }
    out.push_str("</ol></nav>");
    for s in &sections {
        let _ = write!(
            out,
            "<section id=\"{}\"><h2>{}</h2>",
            anchor(s.title),
            esc(s.title)
        );
        if !s.heat_maps.is_empty() {
            out.push_str("<div class=\"maps\">");
            for (caption, map) in &s.heat_maps {
                out.push_str(&heat_map(caption, map));
            }
            out.push_str("</div>");
        }
        out.push_str("<table><thead><tr>");
        for h in s.headers {
            let _ = write!(out, "<th>{}</th>", esc(h));
        }
        out.push_str("</tr></thead><tbody>");
        if s.rows.is_empty() {
            let _ = write!(
                out,
                "<tr><td class=\"none\" colspan=\"{}\">None.</td></tr>",
                s.headers.len()
            );
        }
        for row in &s.rows {
            out.push_str("<tr>");
            for c in row {
                let _ = write!(out, "<td>{}</td>", cell(c));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></section>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn a_heat_map_shows_each_count_in_its_cell() {
        let mut map = HeatMap::default();
        map.cells[4][1] = 3; // likelihood 5, severity 2
        let svg = heat_map("Inherent risk", &map);
        assert!(svg.contains("(3 risks)"), "{svg}");
        assert!(
            svg.contains(r#"data-likelihood="5" data-severity="2">3</text>"#),
            "{svg}"
        );
        assert_eq!(svg.matches("<rect").count(), 25);
    }

    #[test]
    fn long_runs_may_wrap_and_short_words_do_not() {
        assert_eq!(cell("yes"), "yes");
        assert_eq!(cell("a <b>"), "a &lt;b&gt;");
        assert_eq!(
            cell("r.io/m@sha256:0123456789abcdef0123456789abcdef"),
            "r.io/<wbr>m@<wbr>sha256:<wbr>0123456789abcdef012345678<wbr>9abcdef"
        );
        assert_eq!(
            cell("ClusterControlBinding eu-ai-act-high-risk"),
            "ClusterControlBinding eu-ai-act-high-risk"
        );
    }

    #[test]
    fn anchors_are_plain() {
        assert_eq!(
            anchor("Statement of Applicability (ISO/IEC 42001 6.1.3)"),
            "statement-of-applicability"
        );
    }
}
