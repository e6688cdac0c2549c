//! What the terminal gets: colours only where they can be seen.

/// Whether output to `stream` is coloured: only on a terminal, and never
/// with `NO_COLOR` set to anything but the empty string (no-color.org).
pub fn colors(stream: &impl std::io::IsTerminal) -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()) && stream.is_terminal()
}
