//! `incode`: the modular input as splunkd runs it (contract §2).

use std::io;
use std::process::ExitCode;

use ta_incode::error;
use ta_incode::log;
use ta_incode::modes::{self, Mode};

// musl's allocator maps and unmaps memory for the many short-lived allocations of a pass (JSON
// trees, HTTP buffers, SQLite statements), which cost more CPU in page faults than the work
// itself; jemalloc keeps and reuses that memory. Measured with benches/run.sh against
// `x86_64-system-allocator` (2026-12-03, two runs each): 13% less CPU per enrichment at 100 ms
// latency and 25-28% less at 20 ms, for about 1 ms more CPU in a pass with nothing new (its
// start-up), 1 MB more peak memory and 0.5 MB more binary. Only there: jemalloc fixes
// the page size when it is built, and ARM64 kernels run with 4 KiB or 64 KiB pages; Windows's own
// allocator does not return memory to the system on every free as musl's does.
#[cfg(all(feature = "jemalloc", target_os = "linux", target_arch = "x86_64"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    log::init();
    std::panic::set_hook(Box::new(|info| {
        log::fatal(&format_args!(
            "incode stopped on an internal error ({info}); please report it with this line"
        ));
    }));
    let outcome = Mode::from_args(std::env::args_os().skip(1)).and_then(|mode| match mode {
        Mode::Scheme => modes::print_scheme(io::stdout().lock()),
        Mode::ValidateArguments => {
            modes::validate_arguments(io::stdin().lock(), io::stdout().lock())
        }
        Mode::Run => modes::run(io::stdin().lock(), io::stdout().lock()),
        Mode::Version => modes::print_version(io::stdout().lock()),
        Mode::Help => modes::print_help(io::stdout().lock()),
    });
    error::exit_code(outcome)
}
