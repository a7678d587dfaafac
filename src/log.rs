//! The stderr logger: splunkd reads a modular input's stderr into `splunkd.log` (component
//! `ExecProcessor`) and takes the first word of each line as its level, treating a line without
//! one as an ERROR. So every record is exactly one line, `LEVEL input=<name> message`.

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::RwLock;

/// The levels an administrator can choose with the `log_level` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Everything, including each request made.
    Debug,
    /// A summary line per pass, plus warnings and errors (the default).
    Info,
    /// Only what went wrong, recovered or not.
    Warn,
    /// Only what stopped a pass.
    Error,
}

impl LogLevel {
    /// The spellings accepted in `log_level`, for error messages.
    pub const CHOICES: &'static str = "DEBUG, INFO, WARN or ERROR";

    fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Error => log::LevelFilter::Error,
        }
    }
}

impl FromStr for LogLevel {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_uppercase().as_str() {
            "DEBUG" => Ok(LogLevel::Debug),
            "INFO" => Ok(LogLevel::Info),
            "WARN" | "WARNING" => Ok(LogLevel::Warn),
            "ERROR" => Ok(LogLevel::Error),
            _ => Err(()),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        })
    }
}

/// The process-wide logger behind the `log` macros.
struct StderrLogger {
    /// `input=<name>` once the input is known, so the lines of several inputs can be told apart.
    context: RwLock<String>,
}

static LOGGER: StderrLogger = StderrLogger {
    context: RwLock::new(String::new()),
};

/// Installs the logger at INFO. Called once, first thing in `main`.
pub fn init() {
    // A second call (tests) finds the logger already set: that is fine.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(LogLevel::Info.filter());
}

/// Sets the lowest level written from now on.
pub fn set_level(level: LogLevel) {
    log::set_max_level(level.filter());
}

/// Names the input in every following line.
pub fn set_input(name: &str) {
    let mut context = LOGGER.context.write().unwrap_or_else(|e| e.into_inner());
    *context = format!("input={} ", quote_if_needed(name));
}

/// Writes a FATAL line whatever the level: for the panic hook, when the process cannot go on.
pub fn fatal(message: &dyn fmt::Display) {
    LOGGER.emit("FATAL", message);
}

impl StderrLogger {
    fn emit(&self, level: &str, message: &dyn fmt::Display) {
        let context = self.context.read().unwrap_or_else(|e| e.into_inner());
        let line = format_line(level, &context, message);
        // stderr is unbuffered, and one write_all per line keeps lines from several threads whole.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        // Only our own records: library crates log request details we do not vouch for.
        metadata.target().starts_with(env!("CARGO_CRATE_NAME"))
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "ERROR",
            log::Level::Warn => "WARN",
            log::Level::Info => "INFO",
            log::Level::Debug | log::Level::Trace => "DEBUG",
        };
        self.emit(level, record.args());
    }

    fn flush(&self) {}
}

/// One record as one line: line breaks inside the message would start lines without a level,
/// which splunkd would count as errors.
fn format_line(level: &str, context: &str, message: &dyn fmt::Display) -> String {
    let text = message.to_string().replace(['\r', '\n'], " ");
    format!("{level} {context}{text}\n")
}

/// Quotes a value for a `key=value` pair when it holds a space, a quote or an `=`, so Splunk's
/// automatic key-value extraction reads it whole.
pub fn quote_if_needed(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '"', '=', '\t']) {
        format!("\"{}\"", value.replace('"', "'"))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_one_line_starting_with_its_level() {
        let line = format_line("WARN", "input=prod ", &"first\nsecond\r\nthird");
        assert_eq!(line, "WARN input=prod first second  third\n");
    }

    #[test]
    fn levels_parse_case_insensitively_and_order_by_verbosity() {
        assert_eq!("debug".parse(), Ok(LogLevel::Debug));
        assert_eq!("Warn".parse(), Ok(LogLevel::Warn));
        assert_eq!("WARNING".parse(), Ok(LogLevel::Warn));
        assert_eq!("ERROR".parse(), Ok(LogLevel::Error));
        assert_eq!("verbose".parse::<LogLevel>(), Err(()));
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Warn < LogLevel::Error);
        assert_eq!(LogLevel::Debug.filter(), log::LevelFilter::Debug);
    }

    #[test]
    fn values_with_spaces_or_quotes_are_quoted() {
        assert_eq!(quote_if_needed("prod"), "prod");
        assert_eq!(quote_if_needed("my input"), "\"my input\"");
        assert_eq!(quote_if_needed("a\"b"), "\"a'b\"");
        assert_eq!(quote_if_needed(""), "\"\"");
    }
}
