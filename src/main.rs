//! `incode`: the modular input as splunkd runs it (contract §2).

use std::io;
use std::process::ExitCode;

use ta_incode::error;
use ta_incode::log;
use ta_incode::modes::{self, Mode};

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
    });
    error::exit_code(outcome)
}
