//! Aligned text tables with a header row, as `status`, `next` and
//! `history` print them: columns as wide as their widest cell, two spaces
//! apart, numbers right-aligned, no trailing blanks.

use std::fmt::Write as _;

/// A table being filled: a row at a time, each optionally followed by
/// indented lines of its own (a session's files).
pub struct Table {
    headings: Vec<&'static str>,
    right: Vec<usize>,
    rows: Vec<(Vec<String>, Vec<String>)>,
}

impl Table {
    pub fn new(headings: &[&'static str]) -> Table {
        Table {
            headings: headings.to_vec(),
            right: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Aligns these columns (0-based) to the right.
    pub fn right_aligned(mut self, columns: &[usize]) -> Table {
        self.right = columns.to_vec();
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.row_with_notes(cells, Vec::new());
    }

    /// A row with lines printed under it, indented, outside the columns.
    pub fn row_with_notes(&mut self, cells: Vec<String>, notes: Vec<String>) {
        self.rows.push((cells, notes));
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headings.iter().map(|h| h.chars().count()).collect();
        for (cells, _) in &self.rows {
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut line = String::new();
            for (column, (cell, width)) in cells.zip(&widths).enumerate() {
                let pad = width.saturating_sub(cell.chars().count());
                if self.right.contains(&column) {
                    let _ = write!(line, "{:pad$}{cell}  ", "");
                } else {
                    let _ = write!(line, "{cell}{:pad$}  ", "");
                }
            }
            line.trim_end().to_owned() + "\n"
        };
        let mut text = line(&mut self.headings.iter().copied());
        for (cells, notes) in &self.rows {
            text.push_str(&line(&mut cells.iter().map(String::as_str)));
            for note in notes {
                let _ = writeln!(text, "      {note}");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn columns_fit_their_widest_cell_and_numbers_align_right() {
        let mut table = Table::new(&["ID", "PLAN", "NEXT"]).right_aligned(&[0]);
        table.row(vec!["7".into(), "standup".into(), "-".into()]);
        table.row_with_notes(
            vec!["12".into(), "a".into(), "2026-11-30".into()],
            vec!["file x.mp4".into()],
        );
        assert_eq!(
            table.render(),
            "ID  PLAN     NEXT\n 7  standup  -\n12  a        2026-11-30\n      file x.mp4\n"
        );
    }
}
