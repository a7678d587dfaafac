//! The three ways splunkd starts `incode`: `--scheme`, `--validate-arguments`, and a run.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use log::{debug, info};

use crate::config::{self, InputConfig};
use crate::error::{self, Error};
use crate::modinput::{EventWriter, InputDefinition, Metadata, Stanza, ValidationDefinition};
use crate::shutdown::Shutdown;
use crate::{pass, validation};

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No argument: one pass over the input definition on stdin.
    Run,
    /// `--scheme`: print the introspection scheme.
    Scheme,
    /// `--validate-arguments`: check an input's arguments.
    ValidateArguments,
    /// `--version`: print the version (for administrators and support).
    Version,
    /// `--help` (or `-h`): print how splunkd runs the executable.
    Help,
}

impl Mode {
    /// Reads the arguments after the program name; anything splunkd never passes is an error,
    /// never a run.
    pub fn from_args(args: impl IntoIterator<Item = OsString>) -> Result<Mode, Error> {
        let args: Vec<OsString> = args.into_iter().collect();
        match args.as_slice() {
            [] => Ok(Mode::Run),
            [one] if one == "--scheme" => Ok(Mode::Scheme),
            [one] if one == "--validate-arguments" => Ok(Mode::ValidateArguments),
            [one] if one == "--version" => Ok(Mode::Version),
            [one] if one == "--help" || one == "-h" => Ok(Mode::Help),
            _ => Err(Error::Usage(
                args.iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
        }
    }
}

/// `--scheme`.
pub fn print_scheme(mut out: impl Write) -> Result<(), Error> {
    writeln!(out, "{}", config::scheme().to_xml())
        .and_then(|()| out.flush())
        .map_err(Error::WriteStdout)
}

/// `--version`.
pub fn print_version(mut out: impl Write) -> Result<(), Error> {
    writeln!(out, "incode {}", env!("CARGO_PKG_VERSION")).map_err(Error::WriteStdout)
}

/// `--help`.
pub fn print_help(mut out: impl Write) -> Result<(), Error> {
    write!(
        out,
        "incode {version}: the modular input of TA-incode, the Incode Identity Verification \
         Add-on for Splunk.\n\
         \n\
         splunkd runs it; an administrator configures it in Settings > Data inputs > Incode.\n\
         \n\
         Usage:\n  \
           incode                       one enrichment pass (splunkd's <input> document on \
         stdin)\n  \
           incode --scheme              the input's arguments, for splunkd's introspection\n  \
           incode --validate-arguments  checks an input's arguments (splunkd's <items> \
         document on stdin)\n  \
           incode --version             the version\n  \
           incode --help                this help\n\
         \n\
         Do not run a pass by hand: its events would go to the terminal while its checkpoint \
         records them as done.\nSee the app's README and docs/operations.md.\n",
        version = env!("CARGO_PKG_VERSION")
    )
    .and_then(|()| out.flush())
    .map_err(Error::WriteStdout)
}

/// `--validate-arguments`: nothing on stdout when the input is valid; otherwise
/// `<error><message>…</message></error>`, which Splunk Web shows to the administrator.
pub fn validate_arguments(input: impl Read, mut out: impl Write) -> Result<(), Error> {
    let outcome = read_document(input, "items")
        .and_then(|bytes| {
            ValidationDefinition::parse(&bytes).map_err(|source| Error::Definition {
                document: "items",
                source,
            })
        })
        .and_then(|definition| {
            crate::log::set_input(&definition.item.name);
            let config = input_config(&definition.item.name, &definition.item)?;
            validation::check(&config, &definition.metadata)
        });
    if let Err(e) = &outcome {
        let message = match e {
            Error::InvalidInput { errors, .. } => errors.to_string(),
            other => other.to_string(),
        };
        out.write_all(crate::modinput::validation_error(&message).as_bytes())
            .and_then(|()| out.flush())
            .map_err(Error::WriteStdout)?;
    }
    outcome
}

/// A run: one pass for each input in the definition, events on stdout.
pub fn run(input: impl Read, out: impl Write) -> Result<(), Error> {
    let bytes = read_document(input, "input")?;
    let definition = InputDefinition::parse(&bytes).map_err(|source| Error::Definition {
        document: "input",
        source,
    })?;
    // SIGTERM or SIGINT: start no new request, write what has finished, commit, exit.
    let shutdown = Shutdown::install().map_err(Error::Signals)?;
    let stop = shutdown.flag();
    let mut events = EventWriter::new(out);
    if definition.stanzas.is_empty() {
        info!("splunkd sent no input to run; nothing to do");
    }
    // splunkd runs one process per input; should it send several, each gets its pass and all
    // but the last failure are logged here, the last one by the caller.
    let mut last_error = None;
    for stanza in &definition.stanzas {
        if let Err(e) = run_stanza(stanza, &definition.metadata, &mut events, stop)
            && let Some(previous) = last_error.replace(e)
        {
            error::report(&previous);
        }
    }
    events.finish().map_err(Error::WriteStdout)?;
    last_error.map_or(Ok(()), Err)
}

fn run_stanza(
    stanza: &Stanza,
    metadata: &Metadata,
    events: &mut EventWriter<impl Write>,
    stop: &Arc<AtomicBool>,
) -> Result<(), Error> {
    let name = stanza
        .name
        .strip_prefix(config::SCHEME)
        .and_then(|rest| rest.strip_prefix("://"))
        .filter(|name| !name.is_empty())
        .ok_or_else(|| Error::NotIncodeStanza(stanza.name.clone()))?;
    crate::log::set_input(name);
    let config = input_config(name, stanza)?;
    crate::log::set_level(config.log_level);
    debug!(
        "configuration api_url={} max_concurrency={} backfill_hours={} request_timeout_s={} \
         proxy={} ca_bundle={} index={}",
        config.api_url,
        config.max_concurrency,
        config.backfill_hours,
        config.request_timeout.as_secs(),
        config
            .proxy
            .as_ref()
            .map_or("none".into(), |p| p.url.to_string()),
        config
            .ca_bundle
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string()),
        config.index.as_deref().unwrap_or("(input default)"),
    );
    pass::run(&config, metadata, events, stop)
}

fn input_config(name: &str, stanza: &Stanza) -> Result<InputConfig, Error> {
    InputConfig::from_stanza(name, stanza).map_err(|errors| Error::InvalidInput { errors })
}

/// splunkd closes stdin after the document, so read to the end; a document this large is not
/// one splunkd wrote.
fn read_document(input: impl Read, document: &'static str) -> Result<Vec<u8>, Error> {
    const MAX_BYTES: u64 = 4 << 20;
    let mut bytes = Vec::new();
    input
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::ReadStdin { document, source })?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::ReadStdin {
            document,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "it is larger than 4 MiB, which splunkd never sends",
            ),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(args: &[&str]) -> Result<Mode, Error> {
        Mode::from_args(args.iter().map(OsString::from))
    }

    #[test]
    fn only_splunkds_command_lines_are_accepted() {
        assert_eq!(mode(&[]).unwrap(), Mode::Run);
        assert_eq!(mode(&["--scheme"]).unwrap(), Mode::Scheme);
        assert_eq!(
            mode(&["--validate-arguments"]).unwrap(),
            Mode::ValidateArguments
        );
        assert_eq!(mode(&["--version"]).unwrap(), Mode::Version);
        assert_eq!(mode(&["--help"]).unwrap(), Mode::Help);
        assert_eq!(mode(&["-h"]).unwrap(), Mode::Help);
        for bad in [
            &["--run"][..],
            &["--scheme", "x"],
            &["--help", "x"],
            &["help"],
            &[""],
        ] {
            assert!(matches!(mode(bad), Err(Error::Usage(_))), "{bad:?}");
        }
    }

    #[test]
    fn oversized_stdin_is_refused() {
        let big = vec![b' '; (4 << 20) + 1];
        let err = read_document(&big[..], "input").unwrap_err();
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
        assert_eq!(read_document(&big[1..], "input").unwrap().len(), 4 << 20);
    }
}
