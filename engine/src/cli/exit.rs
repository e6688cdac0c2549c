//! Exit codes, shared by every command.

/// Exit code: the check found no dataset drift (or a command succeeded).
pub const EXIT_OK: u8 = 0;
/// Exit code: the check found dataset drift.
pub const EXIT_DRIFT: u8 = 1;
/// Exit code: the command failed; the message on stderr says why.
pub const EXIT_ERROR: u8 = 2;
