//! The Incode Omni API: executive login and score fetches, with retries, one fresh login on 401,
//! and a shared pause when Incode throttles.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Client, RequestBuilder};
use serde_json::Value;
use url::Url;

use crate::config::{InputConfig, Proxy};
use crate::http::{self, CertificateProblem, USER_AGENT};
use crate::retry::{Backoff, MAX_RETRY_AFTER, parse_retry_after};
use crate::score::Score;
use crate::secret::Secret;
use crate::splunkd::describe;

/// Incode's bodies are small; 10 MB is its own documented request cap.
const MAX_BODY: u64 = 10 << 20;

const LOGIN: &str = "POST /executive/log-in";
const SCORE: &str = "GET /omni/get/score";

/// A wait longer than this is not spent inside the pass: the job is left for a later pass.
const MAX_IN_PASS_WAIT: Duration = Duration::from_secs(60);

/// What went wrong talking to Incode.
#[derive(Debug, thiserror::Error)]
pub enum IncodeError {
    /// The client could not be built (proxy or CA bundle).
    #[error("cannot set up the HTTPS client for Incode: {0}")]
    Setup(String),
    /// No answer: DNS, connection, TLS, proxy.
    #[error(
        "cannot reach the Incode API at {url} ({detail}); check api_url, the network path to \
         Incode, proxy_url and ca_bundle"
    )]
    Unreachable {
        /// The URL called (no secrets: the score URL holds only the interview id).
        url: String,
        /// The transport error and its causes.
        detail: String,
    },
    /// The server's TLS certificate is refused: no retry mends that within a pass.
    #[error("the TLS certificate of the Incode API at {url} is refused: {problem}")]
    Certificate {
        /// The URL called.
        url: String,
        /// What is wrong with the certificate and what to do.
        problem: String,
    },
    /// 407 from a proxy: every request of the pass would get it.
    #[error("{}", proxy_refused(what, *configured))]
    ProxyRefused {
        /// The call.
        what: &'static str,
        /// Whether the proxy is `proxy_url` (else it came from the environment).
        configured: bool,
    },
    /// No answer within `request_timeout`.
    #[error("Incode did not answer {what} within {0:?} (request_timeout)", .timeout)]
    Timeout {
        /// The call.
        what: &'static str,
        /// The timeout.
        timeout: Duration,
    },
    /// 403 on login: the API key is wrong.
    #[error(
        "Incode rejected the API key (403 Forbidden on /executive/log-in): check api_key in \
         Settings > Data inputs > Incode"
    )]
    BadApiKey,
    /// 401 on login: the email or password is wrong.
    #[error(
        "Incode rejected the executive user's email or password (401 Unauthorized on \
         /executive/log-in): check admin_email and admin_password"
    )]
    BadCredentials,
    /// Any other HTTP status.
    #[error("Incode answered HTTP {status} to {what}: {message}")]
    Status {
        /// The call.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// Incode's error message, or the start of the body.
        message: String,
        /// The `Retry-After` delay, when sent.
        retry_after: Option<Duration>,
    },
    /// A body that is not the expected JSON.
    #[error("Incode's answer to {what} is not valid: {detail}")]
    Malformed {
        /// The call.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Not sent: Incode throttles this input for longer than a pass waits.
    #[error("not sent: Incode asked to wait {} s before the next request (429 Retry-After)", .wait.as_secs())]
    Throttled {
        /// How long is left to wait.
        wait: Duration,
    },
    /// The input is shutting down.
    #[error("not sent: the input is shutting down")]
    Stopped,
    /// Every score request of a pass failed with Incode unavailable: an outage.
    #[error(
        "every score request of this pass failed ({sessions} sessions; the last: {last}); they \
         are tried again at the next pass, and an outage counts no failed attempt against \
         them. Check Incode's status and the network path to api_url"
    )]
    Unavailable {
        /// The sessions whose requests failed.
        sessions: usize,
        /// The last failure.
        last: String,
    },
}

/// What an error means for the interview and for the pass: the one place that decides (after
/// lychee's `should_retry`), so retries, the retry policy and the pass agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Incode, or the way to it, fails for now (408, 5xx, a timeout, a connection error): tried
    /// again within the pass, then left for a later one. Whether it counts against the
    /// interview depends on whether Incode answered the pass's other requests.
    Transient,
    /// Incode asks this input to wait (429): says nothing about the interview.
    Throttled,
    /// Incode answered about this interview and the answer is a failure (404, 400, another
    /// 4xx, a body that is not a score): the interview's own failure, not retried in the pass.
    Interview,
    /// Every request of the pass would fail alike (the API key or password refused, a proxy's
    /// 407, a refused certificate, a client that cannot be built): the pass stops.
    Fatal,
    /// Not sent or abandoned: the input is shutting down.
    Stopped,
}

impl IncodeError {
    /// The class of this error; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            IncodeError::Unreachable { .. }
            | IncodeError::Timeout { .. }
            | IncodeError::Unavailable { .. } => ErrorClass::Transient,
            IncodeError::Status { status: 429, .. } | IncodeError::Throttled { .. } => {
                ErrorClass::Throttled
            }
            IncodeError::Status {
                status: 408 | 500..=599,
                ..
            } => ErrorClass::Transient,
            IncodeError::Status { .. } | IncodeError::Malformed { .. } => ErrorClass::Interview,
            IncodeError::Setup(_)
            | IncodeError::Certificate { .. }
            | IncodeError::ProxyRefused { .. }
            | IncodeError::BadApiKey
            | IncodeError::BadCredentials => ErrorClass::Fatal,
            IncodeError::Stopped => ErrorClass::Stopped,
        }
    }

    /// The HTTP status, when Incode (or a proxy) answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            IncodeError::Status { status, .. } => Some(*status),
            IncodeError::Throttled { .. } => Some(429),
            IncodeError::ProxyRefused { .. } => Some(407),
            IncodeError::BadApiKey => Some(403),
            IncodeError::BadCredentials => Some(401),
            _ => None,
        }
    }

    /// The wait Incode asked for (at most [`MAX_RETRY_AFTER`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IncodeError::Status { retry_after, .. } => *retry_after,
            IncodeError::Throttled { wait } => Some(*wait),
            _ => None,
        }
    }
}

fn proxy_refused(what: &str, configured: bool) -> String {
    if configured {
        format!(
            "the proxy refused the user and password in proxy_url (407 Proxy Authentication \
             Required on {what}): correct them in Settings > Data inputs > Incode"
        )
    } else {
        format!(
            "the proxy named by HTTPS_PROXY, HTTP_PROXY or ALL_PROXY in Splunk's environment asks \
             for a user and password (407 Proxy Authentication Required on {what}): give the \
             proxy as proxy_url, http://user:password@host:port, in Settings > Data inputs > Incode"
        )
    }
}

/// What to do about a certificate the Incode client refused.
fn certificate_advice(problem: &CertificateProblem) -> &'static str {
    match problem {
        CertificateProblem::UnknownIssuer | CertificateProblem::IssuerKeyMismatch => {
            "if a proxy or TLS inspection re-signs the traffic to Incode, put that certificate \
             authority's certificate (PEM) in the file named by ca_bundle"
        }
        CertificateProblem::WrongName { .. } => {
            "check api_url's host name: it must be the Incode API's, e.g. \
             saas-api.incodesmile.com (or the name a TLS-inspecting proxy issues certificates for)"
        }
        CertificateProblem::Expired { .. } => {
            "the server (or a TLS-inspecting proxy) must renew it; if that date is not past, \
             correct this host's clock"
        }
        CertificateProblem::NotYetValid { .. } => {
            "correct this host's clock if it is behind; otherwise the server must use a current \
             certificate"
        }
        CertificateProblem::Revoked | CertificateProblem::Other(_) => {
            "the server (or a TLS-inspecting proxy) must present a valid certificate"
        }
    }
}

/// The Incode credentials, clear.
pub struct Credentials {
    /// `x-api-key`.
    pub api_key: Secret,
    /// The executive user's email.
    pub email: String,
    /// Its password.
    pub password: Secret,
    /// The proxy's password, when `proxy_url` has one.
    pub proxy_password: Option<Secret>,
}

/// Counters for the pass summary.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests sent again after a transient failure.
    pub retries: AtomicU64,
    /// 429 answers.
    pub throttled: AtomicU64,
}

/// The executive token of this pass (never persisted) and how many times it was replaced.
struct Token {
    value: Option<Secret>,
    generation: u64,
}

/// A client for one Incode environment, shared by the pass's workers.
pub struct Incode {
    http: Client,
    base: Url,
    /// `{base}omni/get/score`, parsed once.
    score_url: Url,
    email: String,
    password: Secret,
    timeout: Duration,
    /// Whether `proxy_url` is set (a 407 names it, or else the environment's proxy).
    proxy_configured: bool,
    backoff: Backoff,
    token: tokio::sync::Mutex<Token>,
    /// After a 429, no worker sends before this instant.
    paused_until: Mutex<Option<Instant>>,
    stop: Arc<AtomicBool>,
    /// Raised by [`Incode::cancel`]: the pass will write nothing more.
    cancelled: AtomicBool,
    /// Counters for the summary line.
    pub stats: Stats,
}

impl Incode {
    /// A client for the input's Incode environment. `stop` is raised on SIGTERM/SIGINT.
    pub fn new(
        config: &InputConfig,
        credentials: Credentials,
        backoff: Backoff,
        stop: Arc<AtomicBool>,
    ) -> Result<Incode, IncodeError> {
        http::install_crypto_provider();
        let mut api_key = HeaderValue::from_str(credentials.api_key.expose())
            .map_err(|_| IncodeError::Setup("the API key is not a valid header value".into()))?;
        api_key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-api-key"), api_key);
        headers.insert(
            HeaderName::from_static("api-version"),
            HeaderValue::from_static("1.0"),
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut builder = Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)))
            .timeout(config.request_timeout);
        if let Some(proxy) = &config.proxy {
            builder = builder.proxy(proxy_for(proxy, credentials.proxy_password.as_ref())?);
        }
        if let Some(path) = &config.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| {
                IncodeError::Setup(format!("cannot read ca_bundle {}: {e}", path.display()))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                IncodeError::Setup(format!(
                    "ca_bundle {} is not a PEM bundle: {e}",
                    path.display()
                ))
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| IncodeError::Setup(describe(&e)))?;
        let mut base = config.api_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Incode {
            http,
            score_url: base.join("omni/get/score").expect("a relative path joins"),
            base,
            email: credentials.email,
            password: credentials.password,
            timeout: config.request_timeout,
            proxy_configured: config.proxy.is_some(),
            backoff,
            token: tokio::sync::Mutex::new(Token {
                value: None,
                generation: 0,
            }),
            paused_until: Mutex::new(None),
            stop,
            cancelled: AtomicBool::new(false),
            stats: Stats::default(),
        })
    }

    /// How long Incode asked every request to wait (after a 429), from now.
    pub fn pause(&self) -> Duration {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        until.map_or(Duration::ZERO, |u| {
            u.saturating_duration_since(Instant::now())
        })
    }

    /// Whether Incode's throttling outlasts what a pass waits for: no request should start.
    pub fn throttled_beyond_pass(&self) -> bool {
        self.pause() > MAX_IN_PASS_WAIT
    }

    /// Ends the waits of the requests in flight: their results would not be used.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancelled.load(Ordering::Relaxed)
    }

    /// Logs in (`POST /executive/log-in`) unless this pass already has a token.
    pub async fn login(&self) -> Result<(), IncodeError> {
        self.token().await.map(drop)
    }

    /// `GET /omni/get/score?id=<interviewId>`: the score response as Incode sent it.
    pub async fn score(&self, interview_id: &str) -> Result<Response, IncodeError> {
        // The token comes outside the retries: a login has retries of its own.
        let (mut token, generation) = self.token().await?;
        let mut logged_in_again = false;
        self.with_retries(SCORE, async || {
            match self.get_score(interview_id, &token).await {
                Err(IncodeError::Status { status: 401, .. }) if !logged_in_again => {
                    // The executive token expired or was revoked: one fresh login, then again.
                    logged_in_again = true;
                    self.forget_token(generation).await;
                    token = self.token().await?.0;
                    self.get_score(interview_id, &token).await
                }
                other => other,
            }
        })
        .await
    }

    async fn get_score(&self, interview_id: &str, token: &Secret) -> Result<Response, IncodeError> {
        let mut url = self.score_url.clone();
        url.query_pairs_mut().append_pair("id", interview_id);
        let mut hardware_id =
            HeaderValue::from_str(token.expose()).map_err(|_| IncodeError::Malformed {
                what: LOGIN,
                detail: "the token it returned is not a valid header value".into(),
            })?;
        hardware_id.set_sensitive(true);
        self.send(
            SCORE,
            self.http
                .get(url)
                .header("X-Incode-Hardware-Id", hardware_id),
        )
        .await
    }

    async fn token(&self) -> Result<(Secret, u64), IncodeError> {
        // Held while logging in, so concurrent requests wait for one login instead of each
        // making their own.
        let mut token = self.token.lock().await;
        if let Some(value) = &token.value {
            return Ok((value.clone(), token.generation));
        }
        let value = self
            .with_retries(LOGIN, async || self.log_in_once().await)
            .await?;
        token.value = Some(value.clone());
        Ok((value, token.generation))
    }

    async fn forget_token(&self, generation: u64) {
        let mut token = self.token.lock().await;
        if token.generation == generation {
            token.value = None;
            token.generation += 1;
        }
    }

    async fn log_in_once(&self) -> Result<Secret, IncodeError> {
        let body = serde_json::json!({"email": self.email, "password": self.password.expose()});
        let url = self
            .base
            .join("executive/log-in")
            .expect("a relative path joins");
        let response = match self
            .send(LOGIN, self.http.post(url).body(body.to_string()))
            .await
        {
            Err(IncodeError::Status { status: 403, .. }) => return Err(IncodeError::BadApiKey),
            Err(IncodeError::Status { status: 401, .. }) => {
                return Err(IncodeError::BadCredentials);
            }
            other => other?,
        };
        response
            .json()?
            .get("token")
            .as_str()
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| IncodeError::Malformed {
                what: LOGIN,
                detail: "no \"token\" in the answer".into(),
            })
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run out; transient
    /// failures wait with backoff and jitter, or for `Retry-After`, which a 429 imposes on every
    /// request of the pass.
    async fn with_retries<T>(
        &self,
        what: &'static str,
        mut attempt: impl AsyncFnMut() -> Result<T, IncodeError>,
    ) -> Result<T, IncodeError> {
        let mut retry = 0;
        loop {
            self.wait_for_pause().await?;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let wait = error
                .retry_after()
                .unwrap_or_else(|| self.backoff.delay(retry));
            let class = error.class();
            if class == ErrorClass::Throttled {
                // Throttling applies to the whole input: every request waits, even when the wait
                // outlasts the pass (the requests not yet sent then wait for a later pass).
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                let until = later(wait);
                let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
                *paused = Some(paused.map_or(until, |p| p.max(until)));
            }
            let retried = matches!(class, ErrorClass::Transient | ErrorClass::Throttled);
            if !retried || retry + 1 >= self.backoff.attempts || wait > MAX_IN_PASS_WAIT {
                return Err(error);
            }
            log::debug!(
                "event=incode_retry call=\"{what}\" wait_ms={} error=\"{error}\"",
                wait.as_millis()
            );
            self.sleep(wait).await?;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            retry += 1;
        }
    }

    async fn wait_for_pause(&self) -> Result<(), IncodeError> {
        let pause = self.pause();
        if pause > MAX_IN_PASS_WAIT {
            return Err(IncodeError::Throttled { wait: pause });
        }
        self.sleep(pause).await?;
        if self.stopping() {
            return Err(IncodeError::Stopped);
        }
        Ok(())
    }

    /// Sleeps, waking early when the input is told to stop.
    async fn sleep(&self, duration: Duration) -> Result<(), IncodeError> {
        let end = later(duration);
        loop {
            if self.stopping() {
                return Err(IncodeError::Stopped);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
        }
    }

    async fn send(
        &self,
        what: &'static str,
        request: RequestBuilder,
    ) -> Result<Response, IncodeError> {
        let mut response = request.send().await.map_err(|e| self.transport(what, &e))?;
        let status = response.status();
        if status == reqwest::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            return Err(self.proxy_refused(what));
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut body =
            Vec::with_capacity(response.content_length().unwrap_or(0).min(MAX_BODY) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport(what, &e))?
        {
            if (body.len() + chunk.len()) as u64 > MAX_BODY {
                return Err(IncodeError::Malformed {
                    what,
                    detail: format!("the answer is larger than {MAX_BODY} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(IncodeError::Status {
                what,
                status: status.as_u16(),
                message: error_message(&body),
                retry_after,
            });
        }
        let text =
            String::from_utf8(body).map_err(|e| malformed(what, e.to_string(), e.as_bytes()))?;
        Ok(Response { what, text })
    }

    fn transport(&self, what: &'static str, e: &reqwest::Error) -> IncodeError {
        if e.is_timeout() {
            return IncodeError::Timeout {
                what,
                timeout: self.timeout,
            };
        }
        let mut url = e.url().cloned().unwrap_or_else(|| self.base.clone());
        url.set_query(None);
        let detail = describe(e);
        if let Some(problem) = http::certificate_problem(e) {
            IncodeError::Certificate {
                url: url.to_string(),
                problem: format!("{}; {}", problem.what(), certificate_advice(&problem)),
            }
        } else if proxy_refused_connect(e) {
            self.proxy_refused(what)
        } else {
            IncodeError::Unreachable {
                url: url.to_string(),
                detail,
            }
        }
    }

    fn proxy_refused(&self, what: &'static str) -> IncodeError {
        IncodeError::ProxyRefused {
            what,
            configured: self.proxy_configured,
        }
    }
}

/// Whether a transport error is a proxy's 407 to `CONNECT` (https through a proxy). hyper-util
/// reports it as `TunnelError::ProxyAuthRequired`, a type it does not export
/// (`client/legacy/connect/proxy/tunnel.rs`, 0.1.21), so it cannot be downcast: the variant is
/// recognised by its name in the cause chain.
fn proxy_refused_connect(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if format!("{s:?}") == "ProxyAuthRequired" {
            return true;
        }
        source = s.source();
    }
    false
}

/// The instant `wait` from now; waits are bounded by [`MAX_RETRY_AFTER`], so a far-off one (a
/// hostile `Retry-After`) cannot overflow the clock.
fn later(wait: Duration) -> Instant {
    Instant::now() + wait.min(MAX_RETRY_AFTER)
}

/// The runtime the Incode calls of a process run on: one thread, which keeps every request in
/// flight on one event loop (no worker threads to wake for each answer).
pub fn runtime() -> Result<tokio::runtime::Runtime, IncodeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| IncodeError::Setup(format!("cannot start the I/O runtime: {e}")))
}

/// A successful answer, as received.
#[derive(Debug, Clone)]
pub struct Response {
    what: &'static str,
    /// The body, valid UTF-8.
    pub text: String,
}

impl Response {
    /// The body parsed, its strings borrowed from it; an answer that is not JSON is malformed.
    pub fn json(&self) -> Result<Score<'_>, IncodeError> {
        serde_json::from_str(&self.text)
            .map_err(|e| malformed(self.what, e.to_string(), self.text.as_bytes()))
    }
}

fn malformed(what: &'static str, detail: String, body: &[u8]) -> IncodeError {
    IncodeError::Malformed {
        what,
        // A login answer may hold the token: never quoted.
        detail: if what == LOGIN {
            detail
        } else {
            format!("{detail}; the answer starts with: {}", http::excerpt(body))
        },
    }
}

fn proxy_for(proxy: &Proxy, password: Option<&Secret>) -> Result<reqwest::Proxy, IncodeError> {
    let mut url = proxy.url.clone();
    let username = percent_encoding::percent_decode_str(url.username())
        .decode_utf8_lossy()
        .into_owned();
    let _ = url.set_username("");
    let mut p = reqwest::Proxy::all(url.as_str())
        .map_err(|e| IncodeError::Setup(format!("proxy_url: {e}")))?;
    if !username.is_empty() || password.is_some() {
        p = p.basic_auth(&username, password.map_or("", Secret::expose));
    }
    Ok(p)
}

/// Incode's error body `{timestamp, status, error, message, path}`, or the start of the body.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (field("error"), field("message")) {
        (Some(e), Some(m)) => format!("{e}: {m}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) if body.is_empty() => "(empty body)".into(),
        (None, None) => http::excerpt(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_the_samples() {
        let body = std::fs::read(format!(
            "{}/tests/fixtures/incode/error_response_example_legacy_docs.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert_eq!(
            error_message(&body),
            "Spoof attempt detected: BadRequestException: Spoof attempt detected."
        );
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(
            error_message(b"<html>502 Bad Gateway</html>"),
            "<html>502 Bad Gateway</html>"
        );
    }

    #[test]
    fn a_login_answer_is_never_quoted_a_score_answer_is() {
        let answer = |what, text: &str| Response {
            what,
            text: text.to_owned(),
        };
        let token = "{\"token\": \"eyJ-secret-token\", ";
        let error = answer(LOGIN, token).json().unwrap_err().to_string();
        assert!(!error.contains("eyJ"), "{error}");
        let error = answer(SCORE, token).json().unwrap_err().to_string();
        assert!(
            error.contains("the answer starts with: {\"token\""),
            "{error}"
        );
    }

    #[test]
    fn score_keys_with_escapes_parse() {
        let answer = Response {
            what: SCORE,
            text: r#"{"\u006fverall": {"status": "OK"}}"#.to_owned(),
        };
        assert_eq!(
            answer.json().unwrap().get("overall").get("status").as_str(),
            Some("OK")
        );
    }

    #[test]
    fn classification() {
        use ErrorClass::*;
        let status = |s| IncodeError::Status {
            what: "x",
            status: s,
            message: String::new(),
            retry_after: None,
        };
        for (s, class) in [
            (408, Transient),
            (429, Throttled),
            (500, Transient),
            (502, Transient),
            (503, Transient),
            (504, Transient),
            (400, Interview),
            (401, Interview),
            (403, Interview),
            (404, Interview),
            (405, Interview),
            (422, Interview),
        ] {
            assert_eq!(status(s).class(), class, "{s}");
        }
        let timeout = IncodeError::Timeout {
            what: "x",
            timeout: Duration::ZERO,
        };
        let unreachable = IncodeError::Unreachable {
            url: String::new(),
            detail: String::new(),
        };
        let malformed = IncodeError::Malformed {
            what: "x",
            detail: String::new(),
        };
        // A certificate does not mend within a pass, and a proxy's 407 or refused credentials
        // would meet every request: the pass stops.
        let certificate = IncodeError::Certificate {
            url: String::new(),
            problem: String::new(),
        };
        let proxy = IncodeError::ProxyRefused {
            what: LOGIN,
            configured: true,
        };
        for (error, class) in [
            (timeout, Transient),
            (unreachable, Transient),
            (malformed, Interview),
            (
                IncodeError::Throttled {
                    wait: Duration::ZERO,
                },
                Throttled,
            ),
            (certificate, Fatal),
            (proxy, Fatal),
            (IncodeError::BadApiKey, Fatal),
            (IncodeError::BadCredentials, Fatal),
            (IncodeError::Setup(String::new()), Fatal),
            (IncodeError::Stopped, Stopped),
        ] {
            assert_eq!(error.class(), class, "{error:?}");
        }
    }
}
