//! The report as Markdown.

use std::fmt::Write as _;

use super::tables::sections;
use crate::engine::report::{HeatMap, Report};

/// A table cell: no line breaks, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn row<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    let cells: Vec<String> = cells.iter().map(|c| cell(c.as_ref())).collect();
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn table<S: AsRef<str>>(out: &mut String, headers: &[&str], rows: &[Vec<S>]) {
    row(out, headers);
    let _ = writeln!(out, "|{}", "---|".repeat(headers.len()));
    for r in rows {
        row(out, r);
    }
    out.push('\n');
}

fn heat_map(out: &mut String, title: &str, map: &HeatMap) {
    let _ = writeln!(
        out,
        "**{title}**: risks by likelihood (rows, 5 to 1) and severity (columns, 1 to 5)\n"
    );
    let rows: Vec<Vec<String>> = (0..5)
        .rev()
        .map(|l| {
            std::iter::once((l + 1).to_string())
                .chain(map.cells[l].iter().map(u32::to_string))
                .collect()
        })
        .collect();
    table(out, &["likelihood", "1", "2", "3", "4", "5"], &rows);
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "# AI management system report\n\n{}\n\n",
        super::tables::headline(r)
    );
    for s in sections(r) {
        let _ = writeln!(out, "## {}\n", s.title);
        for (caption, map) in &s.heat_maps {
            heat_map(&mut out, caption, map);
        }
        if s.rows.is_empty() {
            out.push_str("None.\n\n");
        } else {
            table(&mut out, s.headers, &s.rows);
        }
    }
    out
}
