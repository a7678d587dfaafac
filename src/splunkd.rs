//! splunkd's REST API, as the input's session key allows: the credential store, the input's own
//! settings, and streamed search results. Every call is made in the app's namespace
//! (`servicesNS/nobody/TA-incode`), with `output_mode=json`, and never through a proxy.
//! How splunkd's certificate is checked is [`Splunkd::new`]'s TLS policy (see `tls_client`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufReader;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::blocking::{Client, ClientBuilder, RequestBuilder};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::{Host, Url};

use crate::http::{self, CertificateProblem, USER_AGENT};
use crate::secret::Secret;
use crate::server_conf::{ServerConf, ServerConfError, under};

/// The app whose namespace every call uses.
pub const APP: &str = "TA-incode";

/// The most a non-streamed splunkd answer may hold.
const MAX_BODY: u64 = 4 << 20;

/// Only RFC 3986's unreserved characters stay as they are in a path segment; `/` and `:` are
/// encoded too, as Splunk's SDK does for entity names.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What went wrong talking to splunkd. Messages say what to check.
#[derive(Debug, thiserror::Error)]
pub enum SplunkdError {
    /// `server_uri` is not a URL.
    #[error("splunkd's server_uri \"{0}\" is not an http(s) URL")]
    BadUri(String),
    /// A CA file could not be used.
    #[error(
        "cannot use {file} to verify splunkd's certificate ({reason}): it must be a PEM file of \
         certificate authorities"
    )]
    CaFile {
        /// The CA file.
        file: CaFile,
        /// Why it cannot be used.
        reason: String,
    },
    /// server.conf could not be read to find the CA file named by `sslRootCAPath`.
    #[error(
        "looking for splunkd's certificate authority (server.conf [sslConfig] sslRootCAPath): {0}"
    )]
    ServerConf(#[from] ServerConfError),
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTPS client for splunkd: {0}")]
    Client(String),
    /// No answer: splunkd down, wrong port, TLS refused, timeout.
    #[error(
        "cannot reach splunkd at {uri} for {what} ({detail}); check that splunkd is running and \
         listening there"
    )]
    Unreachable {
        /// splunkd's URI.
        uri: String,
        /// The call.
        what: &'static str,
        /// The transport error, with its causes.
        detail: String,
    },
    /// splunkd's TLS certificate is refused.
    #[error("splunkd's TLS certificate at {uri} is refused ({what}): {problem}")]
    Certificate {
        /// splunkd's URI.
        uri: String,
        /// The call.
        what: &'static str,
        /// What is wrong with the certificate and what to do.
        problem: String,
    },
    /// 401: the session key is not (or no longer) valid.
    #[error(
        "splunkd rejected the input's session key for {what} (401 Unauthorized); the next run \
         gets a new key — if this repeats, restart Splunk"
    )]
    Unauthorized {
        /// The call.
        what: &'static str,
    },
    /// 403: the input's user lacks a capability.
    #[error(
        "splunkd refused {what} (403 Forbidden): the user running the input needs the \
         capability {capability}"
    )]
    Forbidden {
        /// The call.
        what: &'static str,
        /// The capability that is probably missing.
        capability: &'static str,
    },
    /// Another HTTP status.
    #[error("splunkd answered {status} to {what}: {message}")]
    Status {
        /// The call.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// splunkd's messages, or the start of the body.
        message: String,
    },
    /// An answer that is not the JSON splunkd sends.
    #[error("splunkd's answer to {what} is not what splunkd sends: {detail}")]
    Malformed {
        /// The call.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The search reported an error, or its result stream broke off.
    #[error("the search for Incode webhook events failed: {0}")]
    Search(String),
    /// The search did not finish within its time.
    #[error(
        "the search for Incode webhook events did not finish within {} s ({rows} rows read); \
         the next search covers less index time",
        .timeout.as_secs()
    )]
    SearchTimeout {
        /// The time it had.
        timeout: Duration,
        /// The rows read before it ran out.
        rows: u64,
    },
}

/// Index-time bounds of an export, in epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexWindow {
    /// `index_earliest` (inclusive).
    pub earliest: i64,
    /// `index_latest`.
    pub latest: i64,
    /// `earliest_time`: how far back `_time` may lie (events indexed late keep an old `_time`).
    pub earliest_time: i64,
}

/// A CA file splunkd's certificate may chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFile {
    /// The file.
    pub path: PathBuf,
    /// The server.conf whose `[sslConfig] sslRootCAPath` names it; `None` for
    /// `$SPLUNK_HOME/etc/auth/cacert.pem`.
    pub named_by: Option<PathBuf>,
}

impl fmt::Display for CaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.named_by {
            Some(conf) => write!(
                f,
                "{} (sslRootCAPath in {})",
                self.path.display(),
                conf.display()
            ),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// What a verified splunkd certificate had to chain to, for the advice when it does not.
#[derive(Debug)]
struct Trusted {
    /// Whether the system's CA store was among them: a host may have none.
    system: bool,
    /// Splunk's CA files.
    files: Vec<CaFile>,
}

/// A client for one splunkd.
pub struct Splunkd {
    http: Client,
    /// `{server_uri}/servicesNS/nobody/TA-incode/`
    base: Url,
    uri: String,
    auth: HeaderValue,
    /// What splunkd's certificate is verified against; `None` when it is not verified.
    trusted: Option<Trusted>,
}

impl Splunkd {
    /// A client for `server_uri` with the input's session key. splunkd's certificate is not
    /// verified on a loopback `server_uri`, and verified normally anywhere else (see
    /// `tls_client`).
    pub fn new(
        server_uri: &str,
        session_key: &Secret,
        splunk_home: Option<&Path>,
    ) -> Result<Splunkd, SplunkdError> {
        let root = Url::parse(server_uri.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| SplunkdError::BadUri(server_uri.to_owned()))?;
        let (http, trusted) = tls_client(&root, splunk_home)?;
        let mut base = root.clone();
        base.set_path(&format!(
            "{}/servicesNS/nobody/{APP}/",
            root.path().trim_end_matches('/')
        ));
        let mut auth =
            HeaderValue::from_str(&format!("Splunk {}", session_key.expose())).map_err(|_| {
                SplunkdError::Client("the session key is not a valid header value".into())
            })?;
        auth.set_sensitive(true);
        Ok(Splunkd {
            http,
            base,
            uri: root.to_string(),
            auth,
            trusted,
        })
    }

    /// The clear password stored under `realm` and `name`, or `None` when there is none.
    pub fn read_password(&self, realm: &str, name: &str) -> Result<Option<Secret>, SplunkdError> {
        const WHAT: &str = "reading a credential from storage/passwords";
        let path = format!(
            "storage/passwords/{}",
            encode(&credential_entity(realm, name))
        );
        let Some(credential) = self.entity::<Credential>(WHAT, &path, "list_storage_passwords")?
        else {
            return Ok(None);
        };
        let clear = credential
            .clear_password
            .ok_or_else(|| SplunkdError::Malformed {
                what: WHAT,
                detail: "no clear_password in the entry".into(),
            })?;
        Ok(Some(Secret::new(clear)))
    }

    /// Stores a password under `realm` and `name`: updates it when it exists, creates it
    /// otherwise.
    pub fn write_password(
        &self,
        realm: &str,
        name: &str,
        secret: &Secret,
    ) -> Result<(), SplunkdError> {
        const WHAT: &str = "storing a credential in storage/passwords";
        let entity = self.url(&format!(
            "storage/passwords/{}",
            encode(&credential_entity(realm, name))
        ));
        let update = || {
            self.send(
                WHAT,
                self.http
                    .post(entity.clone())
                    .form(&[("password", secret.expose())]),
            )
        };
        let (status, body) = self.send(WHAT, self.http.get(entity.clone()))?;
        let (status, body) = match status {
            StatusCode::NOT_FOUND => {
                let create = self.http.post(self.url("storage/passwords")).form(&[
                    ("name", name),
                    ("password", secret.expose()),
                    ("realm", realm),
                ]);
                match self.send(WHAT, create)? {
                    // Created meanwhile by another run: update it instead.
                    (StatusCode::CONFLICT, _) => update()?,
                    created => created,
                }
            }
            s if s.is_success() => update()?,
            _ => (status, body),
        };
        if status.is_success() {
            Ok(())
        } else {
            Err(self.status_error(WHAT, status, &body, "edit_storage_passwords"))
        }
    }

    /// The settings of the input `<scheme>://<name>` as splunkd holds them now (every value as
    /// text), or `None` when there is no such input.
    pub fn input(
        &self,
        scheme: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, SplunkdError> {
        const WHAT: &str = "reading the input's saved settings";
        let path = format!("data/inputs/{}/{}", encode(scheme), encode(name));
        let content =
            self.entity::<Map<String, Value>>(WHAT, &path, "list_inputs or admin_all_objects")?;
        Ok(content.map(|content| {
            content
                .into_iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k, s)),
                    Value::Number(_) | Value::Bool(_) => Some((k, v.to_string())),
                    _ => None,
                })
                .collect()
        }))
    }

    /// The `content` of the entity at `path`, or `None` when splunkd has no such entity (404).
    fn entity<C: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        capability: &'static str,
    ) -> Result<Option<C>, SplunkdError> {
        let (status, body) = self.send(what, self.http.get(self.url(path)))?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let feed: Feed<C> = parse(what, &body)?;
                let entry =
                    feed.entry
                        .into_iter()
                        .next()
                        .ok_or_else(|| SplunkdError::Malformed {
                            what,
                            detail: "no entry".into(),
                        })?;
                Ok(Some(entry.content))
            }
            s => Err(self.status_error(what, s, &body, capability)),
        }
    }

    /// Sets fields of the input `incode://<name>` (the add-on's own edit that masks secrets).
    pub fn update_input(
        &self,
        scheme: &str,
        name: &str,
        fields: &[(&str, &str)],
    ) -> Result<(), SplunkdError> {
        const WHAT: &str = "masking the input's secrets in inputs.conf";
        let url = self.url(&format!("data/inputs/{}/{}", encode(scheme), encode(name)));
        let (status, body) = self.send(WHAT, self.http.post(url).form(fields))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(self.status_error(
                WHAT,
                status,
                &body,
                "edit_modinput_incode or admin_all_objects",
            ))
        }
    }

    /// Runs `search` with `search/jobs/export` over an index-time window and hands every result
    /// row to `on_row` as it arrives (see [`read_export`]); the stream is parsed incrementally,
    /// so memory does not grow with the number of results. An HTTP error is an error too, and so
    /// is a search that has not ended `timeout` after it was sent.
    pub fn export(
        &self,
        search: &str,
        window: IndexWindow,
        timeout: Duration,
        on_row: impl FnMut(&Map<String, Value>) -> bool,
    ) -> Result<ExportSummary, SplunkdError> {
        const WHAT: &str = "the search for Incode webhook events";
        let deadline = Instant::now() + timeout;
        let request = self
            .http
            .post(self.url("search/jobs/export"))
            .timeout(timeout)
            .form(&[
                ("search", search.to_owned()),
                ("output_mode", "json".to_owned()),
                ("index_earliest", window.earliest.to_string()),
                ("index_latest", window.latest.to_string()),
                ("earliest_time", window.earliest_time.to_string()),
                ("latest_time", "+1d".to_owned()),
            ]);
        let response = request
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .map_err(|e| match e.is_timeout() {
                true => SplunkdError::SearchTimeout { timeout, rows: 0 },
                false => self.unreachable(WHAT, &e),
            })?;
        let status = response.status();
        if !status.is_success() {
            let body = http::read_body(response, MAX_BODY).unwrap_or_default();
            return Err(self.status_error(WHAT, status, &body, "search"));
        }
        read_export(
            Deadline {
                inner: response,
                deadline,
            },
            on_row,
        )
        .map_err(|e| match e {
            SplunkdError::SearchTimeout { rows, .. } => {
                SplunkdError::SearchTimeout { timeout, rows }
            }
            other => other,
        })
    }

    fn url(&self, path: &str) -> Url {
        let mut url = self
            .base
            .join(path)
            .expect("a relative path joins the base URL");
        url.query_pairs_mut().append_pair("output_mode", "json");
        url
    }

    fn send(
        &self,
        what: &'static str,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Vec<u8>), SplunkdError> {
        let response = request
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .map_err(|e| self.unreachable(what, &e))?;
        let status = response.status();
        let body = http::read_body(response, MAX_BODY).map_err(|e| SplunkdError::Unreachable {
            uri: self.uri.clone(),
            what,
            detail: e.to_string(),
        })?;
        Ok((status, body))
    }

    fn unreachable(&self, what: &'static str, e: &reqwest::Error) -> SplunkdError {
        match (http::certificate_problem(e), &self.trusted) {
            (Some(problem), Some(trusted)) => SplunkdError::Certificate {
                uri: self.uri.clone(),
                what,
                problem: format!(
                    "{}; {}",
                    problem.what(),
                    certificate_advice(&problem, trusted)
                ),
            },
            _ => SplunkdError::Unreachable {
                uri: self.uri.clone(),
                what,
                detail: describe(e),
            },
        }
    }

    fn status_error(
        &self,
        what: &'static str,
        status: StatusCode,
        body: &[u8],
        capability: &'static str,
    ) -> SplunkdError {
        match status {
            StatusCode::UNAUTHORIZED => SplunkdError::Unauthorized { what },
            StatusCode::FORBIDDEN => SplunkdError::Forbidden { what, capability },
            _ => SplunkdError::Status {
                what,
                status: status.as_u16(),
                message: messages(body),
            },
        }
    }
}

/// splunkd's TLS policy. A loopback `server_uri` (127.0.0.0/8, ::1, `localhost`) is what splunkd
/// hands an input when it listens there, and splunkd may serve any certificate on it: its
/// default one, one from the site's CA, one issued to the host's FQDN, even an expired one. The
/// connection is encrypted but the certificate is not verified (as Splunk's own add-on library,
/// solnlib, does for every splunkd URI), and `localhost` is pinned to 127.0.0.1 and ::1 so the
/// session key cannot leave the host whatever the resolver says; docs/operations.md says why this
/// is safe. Any other `server_uri` is verified normally, chain and host name, against the
/// system's CAs, `$SPLUNK_HOME/etc/auth/cacert.pem` and the file server.conf's
/// `[sslConfig] sslRootCAPath` names; on a host without a system CA store, against Splunk's
/// files alone. Returns what the certificate is verified against, if it is.
fn tls_client(
    root: &Url,
    splunk_home: Option<&Path>,
) -> Result<(Client, Option<Trusted>), SplunkdError> {
    http::install_crypto_provider();
    let builder = || {
        Client::builder()
            .no_proxy()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
    };
    let build = |builder: ClientBuilder| {
        builder
            .build()
            .map_err(|e| SplunkdError::Client(describe(&e)))
    };
    if root.scheme() == "http" {
        return Ok((build(builder())?, None));
    }
    if crate::config::is_loopback(root) {
        let mut loopback = builder().tls_danger_accept_invalid_certs(true);
        if let Some(Host::Domain(name)) = root.host() {
            // Port 0: the URL's own port is used.
            loopback = loopback.resolve_to_addrs(
                name,
                &[
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
                ],
            );
        }
        return Ok((build(loopback)?, None));
    }
    let files = splunk_ca_files(splunk_home)?;
    let mut certs = Vec::new();
    for file in &files {
        certs.extend(read_ca_file(file)?);
    }
    match builder().tls_certs_merge(certs.clone()).build() {
        Ok(client) => Ok((
            client,
            Some(Trusted {
                system: true,
                files,
            }),
        )),
        // Only the system's CA store differs between the two: the host has none (a minimal
        // container, say), which rustls-platform-verifier refuses when nothing else is given.
        Err(merged) => match builder().tls_certs_only(certs).build() {
            Ok(client) => {
                log::debug!(
                    "this host has no system CA store ({}): splunkd's certificate is checked \
                     against Splunk's CA files only",
                    describe(&merged)
                );
                Ok((
                    client,
                    Some(Trusted {
                        system: false,
                        files,
                    }),
                ))
            }
            Err(_) => Err(SplunkdError::Client(describe(&merged))),
        },
    }
}

/// `$SPLUNK_HOME/etc/auth/cacert.pem` when it exists, and the file server.conf's
/// `[sslConfig] sslRootCAPath` names when it is set.
fn splunk_ca_files(splunk_home: Option<&Path>) -> Result<Vec<CaFile>, SplunkdError> {
    let Some(home) = splunk_home else {
        return Ok(Vec::new());
    };
    let cacert = under(home, "etc/auth/cacert.pem");
    let mut files = Vec::new();
    if cacert.is_file() {
        files.push(CaFile {
            path: cacert,
            named_by: None,
        });
    }
    if let Some((path, setting)) = ServerConf::load(home)?.ssl_root_ca_path() {
        // sslRootCAPath may name cacert.pem itself: one file, known by the setting.
        files.retain(|f| f.path != path);
        files.push(CaFile {
            path,
            named_by: Some(setting.file),
        });
    }
    Ok(files)
}

fn read_ca_file(file: &CaFile) -> Result<Vec<reqwest::Certificate>, SplunkdError> {
    let error = |reason: String| SplunkdError::CaFile {
        file: file.clone(),
        reason,
    };
    let pem = std::fs::read(&file.path).map_err(|e| error(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("it holds no certificate".into()));
    }
    Ok(certs)
}

/// Reads the body of `search/jobs/export` (`output_mode=json`: one JSON object per line, with a
/// `result` row, `results` rows or `messages`) and hands each final row to `on_row` as it is
/// parsed; `on_row` returns false to stop reading.
///
/// splunkd marks the last row of a final result set with `"lastrow": true`, and answers a
/// search that found nothing with the line `{"preview":false,"lastrow":true}` alone; a search
/// that failed without a message (an eval or lookup error) gets an empty 200. So a body without
/// that mark did not finish, and neither did one with a message of type ERROR or FATAL, a
/// warning that the results may be incomplete (a search peer down), or a stream that breaks off
/// or is not JSON: each is an error, and the window must be searched again. Rows of a preview
/// set (`"preview": true`) are not results: the final set repeats them.
pub fn read_export(
    body: impl std::io::Read,
    mut on_row: impl FnMut(&Map<String, Value>) -> bool,
) -> Result<ExportSummary, SplunkdError> {
    let mut summary = ExportSummary::default();
    let mut finished = false;
    let lines =
        serde_json::Deserializer::from_reader(BufReader::new(body)).into_iter::<ExportLine>();
    for line in lines {
        let line = line.map_err(|e| {
            if e.io_error_kind() == Some(std::io::ErrorKind::TimedOut) {
                SplunkdError::SearchTimeout {
                    timeout: Duration::ZERO,
                    rows: summary.rows,
                }
            } else {
                SplunkdError::Search(format!(
                    "the result stream broke off after {} rows ({e})",
                    summary.rows
                ))
            }
        })?;
        if let Some(m) = line.messages.iter().find(|m| {
            matches!(m.kind.as_str(), "ERROR" | "FATAL")
                || (m.kind == "WARN" && m.text.to_ascii_lowercase().contains("incomplete"))
        }) {
            return Err(SplunkdError::Search(format!(
                "splunkd says: {} {}",
                m.kind, m.text
            )));
        }
        if line.preview {
            summary.previews += 1;
            continue;
        }
        for row in line.result.iter().chain(line.results.iter().flatten()) {
            summary.rows += 1;
            if !on_row(row) {
                summary.stopped = true;
                return Ok(summary);
            }
        }
        finished |= line.lastrow;
    }
    if !finished {
        return Err(SplunkdError::Search(format!(
            "splunkd's answer ended after {} rows without its last-row mark, so the search did \
             not finish: it may have failed without a message (run the search of the \
             incode_index macro in Splunk Web to see an error in it)",
            summary.rows
        )));
    }
    Ok(summary)
}

/// A response body that fails with `TimedOut` once its deadline has passed: the export's
/// timeout covers the whole stream, not each read.
struct Deadline<R> {
    inner: R,
    deadline: Instant,
}

impl<R: std::io::Read> std::io::Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.inner.read(buf).map_err(|e| {
            // reqwest reports its own timeout as another kind of I/O error.
            if Instant::now() >= self.deadline {
                std::io::ErrorKind::TimedOut.into()
            } else {
                e
            }
        })
    }
}

/// What an export returned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Result rows handed to the callback.
    pub rows: u64,
    /// Preview lines skipped.
    pub previews: u64,
    /// Whether the callback stopped the reading (the rest was not read).
    pub stopped: bool,
}

/// `$SPLUNK_HOME`, from the environment splunkd gives its inputs, else from this executable's
/// place in `$SPLUNK_HOME/etc/apps/TA-incode/linux_x86_64/bin/incode`.
pub fn splunk_home() -> Option<PathBuf> {
    std::env::var_os("SPLUNK_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let home = exe.ancestors().nth(6)?;
            under(home, "etc/apps").is_dir().then(|| home.to_path_buf())
        })
}

/// storage/passwords names an entity `<realm>:<name>:`, with `:` inside either part escaped as
/// `\:`.
pub fn credential_entity(realm: &str, name: &str) -> String {
    format!(
        "{}:{}:",
        realm.replace(':', "\\:"),
        name.replace(':', "\\:")
    )
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// What to do about a splunkd certificate that was refused, given what it had to chain to.
/// cacert.pem is Splunk's own file: it is named as tried, never as the place for another CA.
fn certificate_advice(problem: &CertificateProblem, trusted: &Trusted) -> String {
    const SERVER_CERT: &str = "splunkd's server certificate (server.conf [sslConfig] serverCert, \
                               by default $SPLUNK_HOME/etc/auth/server.pem)";
    match problem {
        CertificateProblem::UnknownIssuer | CertificateProblem::IssuerKeyMismatch => {
            let fix = match trusted.files.iter().find(|f| f.named_by.is_some()) {
                Some(root_ca) => format!(
                    "check that {} holds the certificate authority that signed {SERVER_CERT}",
                    root_ca.path.display()
                ),
                None => format!(
                    "name a PEM file holding the certificate authority that signed \
                     {SERVER_CERT} in server.conf [sslConfig] sslRootCAPath (splunkd then uses \
                     that file for its own TLS checks too: include every CA it must trust)"
                ),
            };
            format!("{}; {fix}", tried(trusted))
        }
        CertificateProblem::WrongName { .. } => format!(
            "{SERVER_CERT} must be issued for the host name in server_uri (as a subject \
             alternative name)"
        ),
        CertificateProblem::Expired { .. } => format!(
            "renew {SERVER_CERT} and restart Splunk; if that date is not past, correct this \
             host's clock"
        ),
        CertificateProblem::NotYetValid { .. } => {
            "correct this host's clock if it is behind".to_owned()
        }
        _ => format!("{SERVER_CERT} must be a valid certificate"),
    }
}

/// The certificate authorities a refused certificate was checked against, in words.
fn tried(trusted: &Trusted) -> String {
    let mut sources: Vec<String> = trusted.files.iter().map(CaFile::to_string).collect();
    let mut missing = Vec::new();
    if trusted.system {
        sources.insert(0, "the system's CA store".to_owned());
    } else {
        missing.push("this host has no system CA store");
    }
    if trusted.files.is_empty() {
        missing.push("there is no cacert.pem and no sslRootCAPath in server.conf");
    }
    match (sources.is_empty(), missing.is_empty()) {
        (true, _) => format!(
            "no certificate authority was tried: {}",
            missing.join(", and ")
        ),
        (false, true) => format!("the CAs tried were {}", sources.join(", ")),
        (false, false) => format!(
            "the CAs tried were {} ({})",
            sources.join(", "),
            missing.join("; ")
        ),
    }
}

/// A transport error with its causes ("connection refused", "certificate expired", …).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// splunkd's `messages` texts, or the start of a body that has none.
fn messages(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Messages {
        messages: Vec<Message>,
    }
    match serde_json::from_slice::<Messages>(body) {
        Ok(m) if !m.messages.is_empty() => m
            .messages
            .iter()
            .map(|m| format!("{} {}", m.kind, m.text))
            .collect::<Vec<_>>()
            .join("; "),
        _ => http::excerpt(body),
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<T, SplunkdError> {
    serde_json::from_slice(body).map_err(|e| SplunkdError::Malformed {
        what,
        detail: e.to_string(),
    })
}

/// An Atom feed in JSON: splunkd's answer for entities.
#[derive(Deserialize)]
#[serde(bound = "C: serde::de::DeserializeOwned")]
struct Feed<C> {
    #[serde(default)]
    entry: Vec<Entry<C>>,
}

#[derive(Deserialize)]
#[serde(bound = "C: serde::de::DeserializeOwned")]
struct Entry<C> {
    content: C,
}

/// A storage/passwords entity's content.
#[derive(Deserialize)]
struct Credential {
    clear_password: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
}

/// One line of export's JSON output.
#[derive(Deserialize)]
struct ExportLine {
    #[serde(default)]
    preview: bool,
    #[serde(default)]
    lastrow: bool,
    #[serde(default)]
    result: Option<Map<String, Value>>,
    #[serde(default)]
    results: Option<Vec<Map<String, Value>>>,
    #[serde(default)]
    messages: Vec<Message>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_names_escape_colons_like_the_sdk() {
        // splunk-sdk-python's test: realm ":start", user "u:end" → "\:start:u\:end:"
        assert_eq!(credential_entity(":start", "u:end"), "\\:start:u\\:end:");
        assert_eq!(
            credential_entity("incode://prod", "api_key"),
            "incode\\://prod:api_key:"
        );
        assert_eq!(
            encode(&credential_entity("incode://a b", "api_key")),
            "incode%5C%3A%2F%2Fa%20b%3Aapi_key%3A"
        );
    }

    #[test]
    fn the_namespace_is_the_apps() {
        let s = Splunkd::new("https://127.0.0.1:8089", &Secret::new("k"), None).unwrap();
        assert_eq!(
            s.url("search/jobs/export").as_str(),
            "https://127.0.0.1:8089/servicesNS/nobody/TA-incode/search/jobs/export?output_mode=json"
        );
        assert!(matches!(
            Splunkd::new("127.0.0.1:8089", &Secret::new("k"), None),
            Err(SplunkdError::BadUri(_))
        ));
    }

    /// A scratch `$SPLUNK_HOME` with the given files, removed on drop.
    struct Home(PathBuf);

    impl Home {
        fn new(name: &str, files: &[(&str, &str)]) -> Home {
            let dir = std::env::temp_dir()
                .join(format!("ta-incode-splunkd-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            for (relative, text) in files {
                let path = dir.join(relative);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Home(dir)
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_loopback_or_plain_http_splunkd_reads_no_ca_file() {
        // Even an unreadable sslRootCAPath does not matter: nothing is verified there.
        let home = Home::new(
            "loopback",
            &[(
                "etc/system/local/server.conf",
                "[sslConfig]\nsslRootCAPath = /nonexistent/ca.pem\n",
            )],
        );
        for uri in [
            "https://127.0.0.1:8089",
            "https://127.0.0.2:8089",
            "https://[::1]:8089",
            "https://localhost:8089",
            "http://splunk.example.com:8089",
        ] {
            let (_, trusted) = tls_client(&Url::parse(uri).unwrap(), Some(&home.0)).unwrap();
            assert!(trusted.is_none(), "{uri}");
        }
        let err = tls_client(
            &Url::parse("https://splunk.example.com:8089").unwrap(),
            Some(&home.0),
        )
        .err()
        .unwrap();
        assert!(
            err.to_string().starts_with(&format!(
                "cannot use /nonexistent/ca.pem (sslRootCAPath in {}) to verify splunkd's \
                 certificate (",
                home.0.join("etc/system/local/server.conf").display()
            )),
            "{err}"
        );
    }

    #[test]
    fn the_ca_files_are_cacert_pem_and_the_one_ssl_root_ca_path_names() {
        let home = Home::new(
            "cafiles",
            &[
                ("etc/auth/cacert.pem", ""),
                (
                    "etc/system/local/server.conf",
                    "[sslConfig]\nsslRootCAPath = $SPLUNK_HOME/etc/auth/site.pem\n",
                ),
            ],
        );
        let conf = home.0.join("etc/system/local/server.conf");
        assert_eq!(
            splunk_ca_files(Some(&home.0)).unwrap(),
            [
                CaFile {
                    path: home.0.join("etc/auth/cacert.pem"),
                    named_by: None
                },
                CaFile {
                    path: home.0.join("etc/auth/site.pem"),
                    named_by: Some(conf.clone())
                }
            ]
        );
        // sslRootCAPath naming cacert.pem itself: one file.
        std::fs::write(
            &conf,
            "[sslConfig]\nsslRootCAPath = $SPLUNK_HOME/etc/auth/cacert.pem\n",
        )
        .unwrap();
        assert_eq!(
            splunk_ca_files(Some(&home.0)).unwrap(),
            [CaFile {
                path: home.0.join("etc/auth/cacert.pem"),
                named_by: Some(conf)
            }]
        );
        assert_eq!(splunk_ca_files(None).unwrap(), []);
    }

    #[test]
    fn advice_names_the_cas_tried_and_never_cacert_pem_as_the_fix() {
        let cacert = CaFile {
            path: "/opt/splunk/etc/auth/cacert.pem".into(),
            named_by: None,
        };
        let site = CaFile {
            path: "/opt/splunk/etc/auth/site.pem".into(),
            named_by: Some("/opt/splunk/etc/system/local/server.conf".into()),
        };
        let advice = |system: bool, files: &[&CaFile]| {
            let trusted = Trusted {
                system,
                files: files.iter().map(|f| (*f).clone()).collect(),
            };
            certificate_advice(&CertificateProblem::UnknownIssuer, &trusted)
        };
        assert_eq!(
            advice(true, &[&cacert, &site]),
            "the CAs tried were the system's CA store, /opt/splunk/etc/auth/cacert.pem, \
             /opt/splunk/etc/auth/site.pem (sslRootCAPath in \
             /opt/splunk/etc/system/local/server.conf); check that \
             /opt/splunk/etc/auth/site.pem holds the certificate authority that signed \
             splunkd's server certificate (server.conf [sslConfig] serverCert, by default \
             $SPLUNK_HOME/etc/auth/server.pem)"
        );
        let without_ssl_root_ca_path = advice(false, &[&cacert]);
        assert!(
            without_ssl_root_ca_path.starts_with(
                "the CAs tried were /opt/splunk/etc/auth/cacert.pem (this host has no system CA \
                 store); name a PEM file holding the certificate authority that signed"
            ),
            "{without_ssl_root_ca_path}"
        );
        assert!(without_ssl_root_ca_path.contains("in server.conf [sslConfig] sslRootCAPath"));
        assert!(advice(true, &[]).starts_with(
            "the CAs tried were the system's CA store (there is no cacert.pem and no \
             sslRootCAPath in server.conf); name a PEM file"
        ));
        for problem in [
            CertificateProblem::UnknownIssuer,
            CertificateProblem::IssuerKeyMismatch,
            CertificateProblem::WrongName {
                expected: "splunk.example.com".into(),
                presented: vec!["SplunkServerDefaultCert".into()],
            },
            CertificateProblem::Expired { not_after: None },
            CertificateProblem::NotYetValid { not_before: None },
            CertificateProblem::Revoked,
        ] {
            let trusted = Trusted {
                system: true,
                files: vec![cacert.clone()],
            };
            let advice = certificate_advice(&problem, &trusted);
            let fix = advice.rsplit("; ").next().unwrap();
            assert!(!fix.contains("cacert.pem"), "{problem:?}: {advice}");
        }
    }

    #[test]
    fn export_bodies() {
        let mut ids = Vec::new();
        let body = concat!(
            "{\"preview\":false,\"offset\":0,\"result\":{\"interviewId\":\"a\"}}\n",
            "{\"results\":[{\"interviewId\":\"d\"}],\"messages\":[{\"type\":\"INFO\",\"text\":\"fine\"}]}\n",
            "{\"preview\":false,\"offset\":1,\"lastrow\":true,\"result\":{\"interviewId\":[\"b\",\"c\"]}}\n",
        );
        let summary = read_export(body.as_bytes(), |row| {
            ids.push(row["interviewId"].to_string());
            true
        })
        .unwrap();
        assert_eq!(summary.rows, 3);
        assert_eq!(ids, ["\"a\"", "\"d\"", "[\"b\",\"c\"]"]);
        let stopped = read_export(body.as_bytes(), |_| false).unwrap();
        assert_eq!(
            (stopped.rows, stopped.stopped),
            (1, true),
            "stops when asked"
        );
        // A search that found nothing says so with a bare last-row mark.
        let empty = read_export(&b"{\"preview\":false,\"lastrow\":true}\n"[..], |_| true).unwrap();
        assert_eq!((empty.rows, empty.stopped), (0, false));
        // A transforming search sends preview sets first; only the final set is results.
        let previews = concat!(
            "{\"preview\":true,\"offset\":0,\"result\":{\"interviewId\":\"p\"}}\n",
            "{\"preview\":true,\"offset\":1,\"lastrow\":true,\"result\":{\"interviewId\":\"q\"}}\n",
            "{\"preview\":false,\"offset\":0,\"lastrow\":true,\"result\":{\"interviewId\":\"f\"}}\n",
        );
        let mut finals = Vec::new();
        let summary = read_export(previews.as_bytes(), |row| {
            finals.push(row["interviewId"].to_string());
            true
        })
        .unwrap();
        assert_eq!((finals, summary.previews), (vec!["\"f\"".to_owned()], 2));
        for (bad, says) in [
            (
                "{\"messages\":[{\"type\":\"FATAL\",\"text\":\"Unknown search command\"}]}",
                "FATAL Unknown search command",
            ),
            (
                "{\"result\":{\"a\":\"1\"}}\n{\"result\":{\"a\":",
                "broke off after 1 rows",
            ),
            ("<html>", "broke off after 0 rows"),
            (
                "{\"messages\":[{\"type\":\"WARN\",\"text\":\"Search results might be incomplete: the search process on peer idx2 ended prematurely.\"}]}",
                "might be incomplete",
            ),
            // splunkd's empty 200 for a search that failed without a message.
            ("", "ended after 0 rows without its last-row mark"),
            (
                "{\"preview\":false,\"offset\":0,\"result\":{\"a\":\"1\"}}\n",
                "ended after 1 rows without its last-row mark",
            ),
            (
                "{\"preview\":true,\"offset\":0,\"lastrow\":true,\"result\":{\"a\":\"1\"}}\n",
                "without its last-row mark",
            ),
        ] {
            let err = read_export(bad.as_bytes(), |_| true).unwrap_err();
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn a_stream_past_its_deadline_is_a_timeout() {
        struct Slow(usize);
        impl std::io::Read for Slow {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                let line = b"{\"preview\":false,\"result\":{\"a\":\"1\"}}\n";
                self.0 += 1;
                buf[..line.len()].copy_from_slice(line);
                Ok(line.len())
            }
        }
        let body = Deadline {
            inner: Slow(0),
            deadline: Instant::now() + Duration::from_millis(100),
        };
        let err = read_export(body, |_| true).unwrap_err();
        assert!(
            matches!(err, SplunkdError::SearchTimeout { rows, .. } if (2..=6).contains(&rows)),
            "{err:?}"
        );
    }

    #[test]
    fn error_messages_come_from_splunkds_messages() {
        assert_eq!(
            messages(br#"{"messages":[{"type":"ERROR","text":"Unauthorized"}]}"#),
            "ERROR Unauthorized"
        );
        assert_eq!(messages(b"<html>oops</html>"), "<html>oops</html>");
    }
}
