//! A fake of the Incode Omni API, shaped on Incode's documentation and the samples in
//! `tests/fixtures/incode/`: `POST /executive/log-in` (`x-api-key`, `api-version: 1.0`,
//! `{"email","password"}` → `{"token"}`; 403 for a wrong key, 401 for a wrong user) and
//! `GET /omni/get/score?id=` (`X-Incode-Hardware-Id: <token>`; Incode's error bodies).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::http_server::{self, Request, Response};
use super::tls::Pki;

/// A scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// How long this answer takes, beyond the fake's latency (a request that hangs).
    pub delay: Duration,
}

impl Answer {
    /// An Incode error body with this HTTP status.
    pub fn error(status: u16, error: &str) -> Answer {
        Answer {
            status,
            headers: vec![],
            body: json!({"timestamp": 1584639032757u64, "status": status, "error": error,
                         "message": format!("{error}."), "path": "/omni/get/score"})
            .to_string(),
            delay: Duration::ZERO,
        }
    }

    /// 429 with `Retry-After`.
    pub fn throttled(retry_after: &str) -> Answer {
        Answer {
            headers: vec![("Retry-After", retry_after.to_owned())],
            ..Answer::error(429, "Too Many Requests")
        }
    }

    /// 200 with this body.
    pub fn ok(body: &str) -> Answer {
        Answer {
            status: 200,
            headers: vec![],
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }

    /// This answer, after `delay`.
    pub fn after(self, delay: Duration) -> Answer {
        Answer { delay, ..self }
    }
}

/// A request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

pub struct State {
    pub api_key: String,
    pub email: String,
    pub password: String,
    /// Tokens that are currently valid.
    pub tokens: Vec<String>,
    pub logins: usize,
    /// The score of any interview without a script.
    pub default_score: String,
    /// Answers to give, per interview id, before the default.
    pub scripts: BTreeMap<String, VecDeque<Answer>>,
    /// Answers to the next logins, before the normal one.
    pub login_script: VecDeque<Answer>,
    /// Every score request's interview id, in arrival order.
    pub score_requests: Vec<String>,
    /// When each score request arrived.
    pub score_times: Vec<std::time::Instant>,
    pub seen: Vec<Seen>,
    /// Invalidate every token after this many score requests (token expiry mid-pass).
    pub expire_tokens_after: Option<usize>,
    /// While set, every score request gets this answer (an Incode incident).
    pub outage: Option<Answer>,
}

/// A running fake Incode.
pub struct FakeIncode {
    pub url: String,
    _server: http_server::Server,
    pub state: Arc<Mutex<State>>,
    /// Score requests being answered right now, and the most seen at once.
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    /// Time taken to answer each score request.
    pub latency: Arc<Mutex<Duration>>,
}

pub const TOKEN_PREFIX: &str = "eyJhbGciOiJIUzI1NiJ9.TOKEN-";

impl FakeIncode {
    /// Serves plain HTTP on 127.0.0.1.
    pub fn start(api_key: &str, email: &str, password: &str, default_score: &str) -> FakeIncode {
        FakeIncode::start_with(api_key, email, password, default_score, None)
    }

    /// Serves HTTPS on 127.0.0.1 with `pki`'s server certificate.
    pub fn start_tls(
        api_key: &str,
        email: &str,
        password: &str,
        default_score: &str,
        pki: &Pki,
    ) -> FakeIncode {
        FakeIncode::start_with(api_key, email, password, default_score, Some(pki))
    }

    fn start_with(
        api_key: &str,
        email: &str,
        password: &str,
        default_score: &str,
        tls: Option<&Pki>,
    ) -> FakeIncode {
        let state = Arc::new(Mutex::new(State {
            api_key: api_key.into(),
            email: email.into(),
            password: password.into(),
            tokens: vec![],
            logins: 0,
            default_score: default_score.into(),
            scripts: BTreeMap::new(),
            login_script: VecDeque::new(),
            score_requests: vec![],
            score_times: vec![],
            seen: vec![],
            expire_tokens_after: None,
            outage: None,
        }));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let latency = Arc::new(Mutex::new(Duration::ZERO));
        let handler: http_server::Handler = {
            let (state, in_flight, max_in_flight, latency) = (
                state.clone(),
                in_flight.clone(),
                max_in_flight.clone(),
                latency.clone(),
            );
            Arc::new(move |request| handle(request, &state, &in_flight, &max_in_flight, &latency))
        };
        let (server, scheme) = match tls {
            None => (http_server::start(handler), "http"),
            Some(pki) => (http_server::start_tls(handler, pki), "https"),
        };
        FakeIncode {
            url: format!("{scheme}://127.0.0.1:{}", server.port),
            _server: server,
            state,
            in_flight,
            max_in_flight,
            latency,
        }
    }

    /// Scripts answers for one interview.
    pub fn script(&self, interview: &str, answers: Vec<Answer>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(interview.into(), answers.into());
    }

    pub fn score_requests(&self) -> Vec<String> {
        self.state.lock().unwrap().score_requests.clone()
    }

    pub fn logins(&self) -> usize {
        self.state.lock().unwrap().logins
    }
}

fn respond(answer: Answer) -> Response {
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    headers.extend(answer.headers);
    Response {
        status: answer.status,
        headers,
        body: answer.body.into(),
    }
}

fn handle(
    request: Request,
    state: &Mutex<State>,
    in_flight: &AtomicUsize,
    max_in_flight: &AtomicUsize,
    latency: &Mutex<Duration>,
) -> Response {
    let Request {
        method,
        url,
        headers,
        body,
    } = request;
    let mut s = state.lock().unwrap();
    s.seen.push(Seen {
        method: method.clone(),
        url: url.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let header = |k: &str| headers.get(k).cloned().unwrap_or_default();
    if header("api-version") != "1.0" {
        return respond(Answer::error(400, "Missing api-version header"));
    }
    match (method.as_str(), url.split('?').next().unwrap()) {
        ("POST", "/executive/log-in") => {
            if let Some(answer) = s.login_script.pop_front() {
                return respond(answer);
            }
            if header("x-api-key") != s.api_key {
                return respond(Answer::error(403, "Forbidden"));
            }
            let creds: Value = serde_json::from_str(&body).unwrap_or_default();
            if creds["email"] != s.email.as_str() || creds["password"] != s.password.as_str() {
                return respond(Answer::error(401, "Unauthorized"));
            }
            s.logins += 1;
            let token = format!("{TOKEN_PREFIX}{}", s.logins);
            s.tokens.push(token.clone());
            respond(Answer::ok(&json!({ "token": token }).to_string()))
        }
        ("GET", "/omni/get/score") => {
            if header("x-api-key") != s.api_key {
                return respond(Answer::error(403, "Forbidden"));
            }
            if !s.tokens.contains(&header("x-incode-hardware-id")) {
                return respond(Answer::error(401, "Unauthorized"));
            }
            let id =
                url::form_urlencoded::parse(url.split_once('?').map_or("", |(_, q)| q).as_bytes())
                    .find(|(k, _)| k == "id")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
            s.score_requests.push(id.clone());
            s.score_times.push(std::time::Instant::now());
            if s.expire_tokens_after == Some(s.score_requests.len()) {
                s.tokens.clear();
            }
            let answer = match s.outage.clone() {
                Some(outage) => outage,
                None => s
                    .scripts
                    .get_mut(&id)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_else(|| Answer::ok(&s.default_score)),
            };
            drop(s);
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_in_flight.fetch_max(now, Ordering::SeqCst);
            let latency = *latency.lock().unwrap(); // not held while sleeping
            std::thread::sleep(latency + answer.delay);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            respond(answer)
        }
        _ => respond(Answer::error(404, "Not Found")),
    }
}
