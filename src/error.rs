//! The errors that end a mode, and the one place that turns them into log lines and exit codes.

use std::io;
use std::process::ExitCode;

use crate::checkpoint::CheckpointError;
use crate::config::ConfigErrors;
use crate::incode::IncodeError;
use crate::modinput::DefinitionError;
use crate::splunkd::SplunkdError;

/// What stops `incode` from doing its job. Every message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument splunkd never passes.
    #[error(
        "unknown command line {0:?}: incode is started by splunkd with no argument (a run), \
         --scheme or --validate-arguments (incode --help says more)"
    )]
    Usage(String),
    /// stdin could not be read.
    #[error("cannot read the {document} document from stdin: {source}")]
    ReadStdin {
        /// Which document was expected.
        document: &'static str,
        /// The I/O error.
        source: io::Error,
    },
    /// stdin did not hold the document splunkd sends.
    #[error(
        "the <{document}> document on stdin is malformed: {source}. splunkd writes this \
         document; to run incode by hand, pipe it the output of `splunk cmd splunkd \
         print-modinput-config incode incode://<name>`"
    )]
    Definition {
        /// Which document was expected.
        document: &'static str,
        /// What is wrong with it.
        source: DefinitionError,
    },
    /// A stanza of another scheme.
    #[error(
        "the stanza \"{0}\" is not an incode://<name> input: check that inputs.conf runs this \
         executable only for [incode://…] stanzas"
    )]
    NotIncodeStanza(String),
    /// The input's arguments do not validate.
    /// (The logger names the input in the same line.)
    #[error("invalid configuration: {errors} Fix it in Settings > Data inputs > Incode.")]
    InvalidInput {
        /// Every problem found.
        errors: ConfigErrors,
    },
    /// A secret is masked in inputs.conf but missing from the credential store.
    #[error(
        "{field} is masked in inputs.conf, but Splunk's credential store has no value for it \
         (realm \"{realm}\"): enter it again in Settings > Data inputs > Incode"
    )]
    MissingSecret {
        /// The argument.
        field: &'static str,
        /// The realm searched.
        realm: String,
    },
    /// A splunkd call failed.
    #[error(transparent)]
    Splunkd(#[from] SplunkdError),
    /// Incode refused the credentials or could not be used at all.
    #[error(transparent)]
    Incode(#[from] IncodeError),
    /// The checkpoint could not be used.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The signal handlers could not be installed.
    #[error("cannot listen for SIGTERM and SIGINT ({0}); the run did not start")]
    Signals(io::Error),
    /// stdout is gone or full.
    #[error(
        "cannot write to stdout ({0}): splunkd stopped reading; the next run starts again \
         from the last checkpoint"
    )]
    WriteStdout(io::Error),
}

impl Error {
    /// The `event=` token of the log line, for searches and the health dashboard.
    pub fn event(&self) -> &'static str {
        match self {
            Error::Splunkd(_) => "splunkd_error",
            Error::Incode(_) => "incode_error",
            Error::Checkpoint(_) => "checkpoint_error",
            Error::InvalidInput { .. }
            | Error::MissingSecret { .. }
            | Error::NotIncodeStanza(_) => "configuration_error",
            Error::Usage(_) | Error::ReadStdin { .. } | Error::Definition { .. } => {
                "protocol_error"
            }
            Error::WriteStdout(_) => "output_error",
            Error::Signals(_) => "runtime_error",
        }
    }
}

/// Logs an error as one ERROR line (the input is named by the logger's context).
pub fn report(error: &Error) {
    log::error!("event={} {error}", error.event());
}

/// The process's exit status for a mode's outcome, logging the error if there is one.
pub fn exit_code(outcome: Result<(), Error>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error);
            ExitCode::FAILURE
        }
    }
}
