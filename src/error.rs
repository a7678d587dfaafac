//! The errors that end a mode, and the one place that turns them into log lines and exit codes.

use std::io;
use std::process::ExitCode;

use crate::config::ConfigErrors;
use crate::modinput::DefinitionError;

/// What stops `incode` from doing its job. Every message says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument splunkd never passes.
    #[error(
        "unknown command line {0:?}: incode is started by splunkd with no argument (a run), \
         --scheme or --validate-arguments"
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
    /// stdout is gone or full.
    #[error(
        "cannot write to stdout ({0}): splunkd stopped reading; the next run starts again \
         from the last checkpoint"
    )]
    WriteStdout(io::Error),
}

/// Logs an error as one ERROR line (the input is named by the logger's context).
pub fn report(error: &Error) {
    log::error!("{error}");
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
