//! Plain text tables for people: columns padded to their widest cell, two
//! spaces apart, no trailing blanks.

use std::io::Write;

/// Writes `header` and `rows` as an aligned table.
///
/// # Errors
/// The writer's error.
pub fn write_table<const N: usize>(
    out: &mut dyn Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    out.write_all(line(header).as_bytes())?;
    for row in rows {
        out.write_all(line(row.each_ref().map(String::as_str)).as_bytes())?;
    }
    Ok(())
}
