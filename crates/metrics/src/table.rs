//! Plain-text and Markdown tables in the layouts of seqeval and scikit-learn.

use std::fmt::Write;

use crate::Scores;

const HEADERS: [&str; 4] = ["precision", "recall", "f1-score", "support"];
const LONGEST_AVERAGE: &str = "weighted avg";

fn width<'a>(names: impl Iterator<Item = &'a str>, digits: usize) -> usize {
    names
        .map(|name| name.chars().count())
        .chain([LONGEST_AVERAGE.len(), digits])
        .max()
        .unwrap_or(0)
}

fn header(width: usize) -> String {
    let mut out = format!("{:>width$} ", "");
    for h in HEADERS {
        write!(out, " {h:>9}").unwrap();
    }
    out
}

fn row(name: &str, s: &Scores, width: usize, digits: usize) -> String {
    format!(
        "{name:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}",
        s.precision, s.recall, s.f1, s.support
    )
}

/// seqeval's `classification_report` layout: rows, a blank line, the three averages.
pub(crate) fn seqeval(
    rows: &[(&str, &Scores)],
    averages: [(&str, &Scores); 3],
    digits: usize,
) -> String {
    let width = width(rows.iter().map(|(name, _)| *name), digits);
    let mut lines: Vec<String> = rows
        .iter()
        .map(|(name, s)| row(name, s, width, digits))
        .collect();
    lines.push(String::new());
    lines.extend(averages.iter().map(|(name, s)| row(name, s, width, digits)));
    lines.push(String::new());
    format!("{}\n\n{}", header(width), lines.join("\n"))
}

/// scikit-learn's `classification_report` layout, with its `accuracy` line.
pub(crate) fn sklearn(
    rows: &[(&str, &Scores)],
    accuracy: f64,
    support: u64,
    averages: [(&str, &Scores); 2],
    digits: usize,
) -> String {
    let width = width(rows.iter().map(|(name, _)| *name), digits);
    let mut out = header(width);
    out.push_str("\n\n");
    for (name, s) in rows {
        out.push_str(&row(name, s, width, digits));
        out.push('\n');
    }
    out.push('\n');
    writeln!(
        out,
        "{:>width$}  {:>9} {:>9} {accuracy:>9.digits$} {support:>9}",
        "accuracy", "", ""
    )
    .unwrap();
    for (name, s) in averages {
        out.push_str(&row(name, s, width, digits));
        out.push('\n');
    }
    out
}

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|")
}

/// A Markdown table of named score rows followed by emphasised summary rows.
pub(crate) fn markdown(
    first_column: &str,
    rows: &[(&str, &Scores)],
    summary: &[(&str, Scores)],
    digits: usize,
) -> String {
    let mut out = format!(
        "| {first_column} | precision | recall | f1-score | support |\n| :--- | ---: | ---: | ---: | ---: |\n"
    );
    let mut line = |name: String, s: &Scores| {
        writeln!(
            out,
            "| {name} | {:.digits$} | {:.digits$} | {:.digits$} | {} |",
            s.precision, s.recall, s.f1, s.support
        )
        .unwrap();
    };
    for (name, s) in rows {
        line(escape(name), s);
    }
    for (name, s) in summary {
        line(format!("*{}*", escape(name)), s);
    }
    out
}
