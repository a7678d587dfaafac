//! Helpers shared by the integration tests: fixtures, XML comparison, running the binary.

#![allow(dead_code)] // each test crate uses a different part of this module

pub mod conf;
pub mod fake_incode;
pub mod fake_proxy;
pub mod fake_splunkd;
pub mod http_server;
pub mod markdown;
pub mod tls;
pub mod world;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The copies of Splunk's SDK and Incode's sample documents under `tests/fixtures/`.
pub fn fixture_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// A fixture's bytes, as stored (some SDK files are UTF-16 with a BOM).
pub fn fixture_bytes(relative: &str) -> Vec<u8> {
    std::fs::read(fixture_path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A fixture as text, decoding UTF-16 (BOM) and UTF-8.
pub fn fixture_text(relative: &str) -> String {
    let bytes = fixture_bytes(relative);
    match bytes.as_slice() {
        [0xFE, 0xFF, rest @ ..] => {
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).unwrap()
        }
        _ => String::from_utf8(bytes).unwrap(),
    }
}

/// An element tree with whitespace-only text dropped, for comparing documents by meaning.
#[derive(Debug, PartialEq, Eq)]
pub struct Node {
    pub tag: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

/// Parses XML text (a leading declaration naming another encoding is ignored: the text is
/// already decoded) into a [`Node`] tree.
pub fn tree(xml: &str) -> Node {
    let xml = match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => &rest[rest.find("?>").expect("declaration end") + 2..],
        None => xml,
    };
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    node(doc.root_element())
}

fn node(n: roxmltree::Node<'_, '_>) -> Node {
    let mut attributes: Vec<(String, String)> = n
        .attributes()
        .map(|a| (a.name().to_owned(), a.value().to_owned()))
        .collect();
    attributes.sort();
    let text: String = n
        .children()
        .filter(|c| c.is_text())
        .map(|c| c.text().unwrap_or_default())
        .collect();
    Node {
        tag: n.tag_name().name().to_owned(),
        attributes,
        text: if text.trim().is_empty() {
            String::new()
        } else {
            text
        },
        children: n.children().filter(|c| c.is_element()).map(node).collect(),
    }
}

impl Node {
    /// The first child element with this tag.
    pub fn child(&self, tag: &str) -> &Node {
        self.children
            .iter()
            .find(|c| c.tag == tag)
            .unwrap_or_else(|| panic!("<{}> has no <{tag}>", self.tag))
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stderr lines.
    pub fn log_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The ERROR lines.
    pub fn errors(&self) -> Vec<&str> {
        self.at_level("ERROR ")
    }

    /// The WARN lines.
    pub fn warnings(&self) -> Vec<&str> {
        self.at_level("WARN ")
    }

    fn at_level(&self, prefix: &str) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    /// Each stderr line starts with a level splunkd knows.
    pub fn assert_levels(&self) {
        for line in self.log_lines() {
            assert!(
                ["DEBUG ", "INFO ", "WARN ", "ERROR ", "FATAL "]
                    .iter()
                    .any(|l| line.starts_with(l)),
                "line without a level: {line:?}"
            );
        }
    }
}

/// Runs `incode` the way splunkd does: arguments, a document on stdin which is then closed.
pub fn incode(args: &[&str], stdin: &[u8]) -> Run {
    incode_with_env(args, stdin, &[])
}

/// The variables that name a proxy. The binary runs without the test runner's own (a developer's
/// shell may set them); a test that wants one passes it in `env`.
pub const PROXY_VARIABLES: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The executable under test, and what runs it: by default the one cargo built for this host;
/// with `TA_INCODE_BIN` (and `TA_INCODE_RUNNER`), another one, such as the ARM64 build under
/// `qemu-aarch64` or the Windows build under Wine (`./test.sh` runs the tests for all three).
pub struct Target {
    /// The executable.
    pub bin: PathBuf,
    /// The emulator or loader it runs under, with its arguments.
    pub runner: Vec<String>,
}

impl Target {
    /// Whether the executable is a Windows one (run under Wine): it sees paths as `Z:\…`, and
    /// stops on a console event rather than a POSIX signal.
    pub fn windows(&self) -> bool {
        self.bin.extension().is_some_and(|e| e == "exe")
    }

    /// Whether it runs under an emulator: timings are looser there.
    pub fn emulated(&self) -> bool {
        !self.runner.is_empty()
    }
}

/// The target of this test run.
pub fn target() -> &'static Target {
    static TARGET: std::sync::OnceLock<Target> = std::sync::OnceLock::new();
    TARGET.get_or_init(|| Target {
        bin: std::env::var_os("TA_INCODE_BIN").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_incode")),
            PathBuf::from,
        ),
        runner: std::env::var("TA_INCODE_RUNNER")
            .map(|r| r.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}

/// A command that starts the executable under test, without the runner's proxy variables.
pub fn command() -> Command {
    let target = target();
    let mut command = match target.runner.split_first() {
        Some((runner, args)) => {
            let mut c = Command::new(runner);
            c.args(args).arg(&target.bin);
            c
        }
        None => Command::new(&target.bin),
    };
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    if target.windows() {
        // Wine's own diagnostics would mix with the executable's stderr.
        command.env("WINEDEBUG", "-all");
    }
    command
}

/// Whether a test cannot run against this target, for the reason given (printed): the few
/// behaviours an emulator does not reproduce. Each use says which, and what covers it instead.
pub fn not_under_wine(reason: &str) -> bool {
    let skip = target().windows();
    if skip {
        eprintln!("not run under Wine: {reason}");
    }
    skip
}

/// A path as the executable under test names it: under Wine, Linux's `/` is drive `Z:`.
pub fn native_path(path: &Path) -> String {
    let text = path.to_str().expect("test paths are UTF-8");
    if target().windows() {
        format!("Z:{}", text.replace('/', "\\"))
    } else {
        text.to_owned()
    }
}

/// [`incode`] with extra environment variables.
pub fn incode_with_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    let mut child = command()
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start incode");
    let mut stdin_pipe = child.stdin.take().unwrap();
    // A mode that does not read stdin may exit before the write: a broken pipe is fine then.
    let _ = stdin_pipe.write_all(stdin);
    drop(stdin_pipe);
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        status: status.code(),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// The four metadata elements splunkd sends, as in Splunk's SDK fixtures.
pub const METADATA: &str = "<server_host>tiny</server_host>\
    <server_uri>https://127.0.0.1:8089</server_uri>\
    <session_key>SESSIONKEY-123102983109283019283</session_key>\
    <checkpoint_dir>/opt/splunk/var/lib/splunk/modinputs/incode</checkpoint_dir>";

/// `<param>` elements, values escaped.
pub fn params(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            format!(
                "<param name=\"{k}\">{}</param>",
                v.replace('&', "&amp;").replace('<', "&lt;")
            )
        })
        .collect()
}

/// A `--validate-arguments` document for input `name`.
pub fn items_document(name: &str, p: &[(&str, &str)]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<items>{METADATA}<item name=\"{name}\">{}</item></items>",
        params(p)
    )
}

/// A run's `<input>` document with one `incode://name` stanza.
pub fn input_document(name: &str, p: &[(&str, &str)]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<input>{METADATA}<configuration>\
         <stanza name=\"incode://{name}\" app=\"TA-incode\">{}</stanza></configuration></input>",
        params(p)
    )
}

/// Clear secrets used by the tests; no output may ever contain them.
pub const API_KEY: &str = "APIKEY-7f3a9c";
pub const PASSWORD: &str = "PASSWORD-s3cr3t";
pub const SESSION_KEY: &str = "SESSIONKEY-123102983109283019283";

/// A complete, valid set of arguments (clear secrets).
pub fn valid_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("api_url", "https://demo-api.incodesmile.com"),
        ("api_key", API_KEY),
        ("admin_email", "splunk-reader@example.com"),
        ("admin_password", PASSWORD),
        ("disabled", "0"),
        ("host", "$decideOnStartup"),
        ("index", "incode"),
        ("interval", "300"),
    ]
}

/// Fails if any secret shows up in the run's output.
pub fn assert_no_secret(run: &Run) {
    for secret in [API_KEY, PASSWORD, SESSION_KEY, "hunter2"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret leaked: {run:?}"
        );
    }
}
