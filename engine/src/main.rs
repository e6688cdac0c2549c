//! The `driftgauge` binary; everything but process wiring is in [`driftgauge_engine::cli`].

use std::process::ExitCode;

// See the workspace Cargo.toml for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    driftgauge_engine::stream::source::kafka::reuse_fetch_buffers();
    let code = driftgauge_engine::cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(code)
}
