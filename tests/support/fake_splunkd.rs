//! A fake of splunkd's REST API, shaped on its documented wire formats: the `Splunk <key>`
//! authorization, `servicesNS/nobody/<app>/` paths, JSON feeds and `messages`, storage/passwords
//! entity names (`realm:name:`, `:` escaped), the input edit endpoint, and `search/jobs/export`
//! streaming one JSON object per line and honouring the index-time bounds.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Map, Value, json};
use tiny_http::{Header, Method, Response, Server, SslConfig, StatusCode};

use super::tls::Pki;

/// One webhook event as splunkd has indexed it.
#[derive(Clone, Debug)]
pub struct Indexed {
    /// The webhook's JSON.
    pub raw: Value,
    /// `_time`, epoch seconds.
    pub time: f64,
    /// `_indextime`, epoch seconds.
    pub index_time: i64,
}

/// How the next exports fail.
#[derive(Clone, Debug)]
pub enum ExportFailure {
    /// An HTTP error with splunkd's message body.
    Http(u16, &'static str, &'static str),
    /// 200, the rows, then a `messages` line of this type and text.
    Message(&'static str, &'static str),
    /// The stream stops in the middle of a row.
    Broken,
    /// 200 and an empty body, as splunkd answers some failed searches.
    EmptyOk,
}

/// A request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub form: BTreeMap<String, String>,
    pub authorization: String,
}

/// A stored credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub realm: String,
    pub name: String,
    pub password: String,
}

/// `count` result rows made by `row(i)`.
#[derive(Clone, Copy)]
pub struct Generated {
    pub count: usize,
    pub row: fn(usize) -> Value,
}

#[derive(Default)]
pub struct State {
    pub session_key: String,
    pub events: Vec<Indexed>,
    /// Rows generated on the fly instead of `events` (large exports).
    pub generated: Option<Generated>,
    pub passwords: BTreeMap<String, Credential>,
    /// Each input edit: (input name, fields).
    pub input_edits: Vec<(String, BTreeMap<String, String>)>,
    pub export_failure: Option<ExportFailure>,
    /// How long the export waits before it answers (a stalled search).
    pub export_delay: std::time::Duration,
    pub seen: Vec<Seen>,
}

/// A running fake splunkd.
pub struct FakeSplunkd {
    pub uri: String,
    pub state: Arc<Mutex<State>>,
    _threads: Vec<JoinHandle<()>>,
}

impl FakeSplunkd {
    /// Serves HTTPS with the given server certificate.
    pub fn start(pki: &Pki, session_key: &str) -> FakeSplunkd {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        no_delay(&listener);
        let server = Server::from_listener(
            listener,
            Some(SslConfig {
                certificate: pki.cert_pem.clone().into_bytes(),
                private_key: pki.key_pem.clone().into_bytes(),
            }),
        )
        .unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let server = Arc::new(server);
        let state = Arc::new(Mutex::new(State {
            session_key: session_key.to_owned(),
            ..State::default()
        }));
        let threads = (0..4)
            .map(|_| {
                let (server, state) = (server.clone(), state.clone());
                std::thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        handle(request, &state);
                    }
                })
            })
            .collect();
        FakeSplunkd {
            uri: format!("https://127.0.0.1:{port}"),
            state,
            _threads: threads,
        }
    }

    /// Indexes a webhook event.
    pub fn index(&self, raw: Value, time: f64, index_time: i64) {
        self.state.lock().unwrap().events.push(Indexed {
            raw,
            time,
            index_time,
        });
    }

    /// The export requests so far.
    pub fn exports(&self) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path.ends_with("/search/jobs/export"))
            .cloned()
            .collect()
    }
}

const BASE: &str = "/servicesNS/nobody/TA-incode/";

/// TCP_NODELAY on the listening socket, which the accepted ones inherit: tiny_http writes a
/// response in several small writes, and with Nagle's algorithm each waits for the client's
/// delayed acknowledgement (40 ms), which would be charged to the binary under test.
fn no_delay(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a pointer to a c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt TCP_NODELAY");
}

fn json_response(status: u16, body: Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(Header::from_bytes("Content-Type", "application/json").unwrap())
}

fn message(kind: &str, text: &str) -> Value {
    json!({"messages": [{"type": kind, "text": text}]})
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn pairs(s: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>) {
    let (raw_path, raw_query) = request
        .url()
        .split_once('?')
        .map_or((request.url().to_owned(), String::new()), |(p, q)| {
            (p.to_owned(), q.to_owned())
        });
    let mut body = String::new();
    request.as_reader().read_to_string(&mut body).unwrap();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.to_string())
        .unwrap_or_default();
    let seen = Seen {
        method: request.method().to_string(),
        path: raw_path.clone(),
        query: pairs(&raw_query),
        form: pairs(&body),
        authorization: authorization.clone(),
    };
    let mut s = state.lock().unwrap();
    s.seen.push(seen.clone());
    if authorization != format!("Splunk {}", s.session_key) {
        let _ = request.respond(json_response(401, message("ERROR", "Unauthorized")));
        return;
    }
    if seen.query.get("output_mode").map(String::as_str) != Some("json")
        && seen.form.get("output_mode").map(String::as_str) != Some("json")
    {
        let _ = request.respond(Response::from_string("<feed/>").with_status_code(200));
        return;
    }
    let Some(endpoint) = raw_path.strip_prefix(BASE) else {
        let _ = request.respond(json_response(404, message("ERROR", "Not Found")));
        return;
    };
    let method = request.method().clone();
    let response = match (method, endpoint) {
        (Method::Post, "search/jobs/export") => {
            let (status, reader) = export(&s, &seen.form);
            let delay = s.export_delay;
            drop(s);
            std::thread::sleep(delay);
            let response = Response::new(
                StatusCode(status),
                vec![Header::from_bytes("Content-Type", "application/json").unwrap()],
                reader,
                None,
                None,
            );
            let _ = request.respond(response);
            return;
        }
        (Method::Post, "storage/passwords") => {
            let (realm, name) = (seen.form["realm"].clone(), seen.form["name"].clone());
            let entity = format!(
                "{}:{}:",
                realm.replace(':', "\\:"),
                name.replace(':', "\\:")
            );
            if s.passwords.contains_key(&entity) {
                json_response(
                    409,
                    message(
                        "ERROR",
                        &format!("An object with name={name} already exists"),
                    ),
                )
            } else {
                s.passwords.insert(
                    entity.clone(),
                    Credential {
                        realm,
                        name,
                        password: seen.form["password"].clone(),
                    },
                );
                json_response(201, feed(&entity, &s.passwords[&entity]))
            }
        }
        (method, path) if path.starts_with("storage/passwords/") => {
            let entity = decode(&path["storage/passwords/".len()..]);
            match (method, s.passwords.get_mut(&entity)) {
                (_, None) => json_response(
                    404,
                    message("ERROR", &format!("Could not find object id={entity}")),
                ),
                (Method::Get, Some(c)) => json_response(200, feed(&entity, c)),
                (Method::Post, Some(c)) => {
                    c.password = seen.form["password"].clone();
                    json_response(200, feed(&entity, c))
                }
                _ => json_response(405, message("ERROR", "Method not allowed")),
            }
        }
        (Method::Post, path) if path.starts_with("data/inputs/incode/") => {
            let name = decode(&path["data/inputs/incode/".len()..]);
            let mut fields = seen.form.clone();
            fields.remove("output_mode");
            s.input_edits.push((name, fields));
            json_response(200, json!({"entry": []}))
        }
        _ => json_response(404, message("ERROR", "Not Found")),
    };
    drop(s);
    let _ = request.respond(response);
}

fn feed(entity: &str, c: &Credential) -> Value {
    json!({"entry": [{"name": entity, "content": {
        "clear_password": c.password, "password": "********", "encr_password": "$7$ZmFrZQ==",
        "realm": c.realm, "username": c.name}}]})
}

/// The statuses listed in `onboardingStatus IN (...)` of the SPL.
fn statuses(search: &str) -> Vec<String> {
    let Some(start) = search.find("onboardingStatus IN (") else {
        return vec![];
    };
    let rest = &search[start + "onboardingStatus IN (".len()..];
    rest[..rest.find(')').unwrap()]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .collect()
}

/// The fields after `| table`.
fn table(search: &str) -> Vec<String> {
    search
        .split("| table ")
        .nth(1)
        .map(|t| {
            t.split_whitespace()
                .take_while(|w| *w != "|")
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn export(s: &State, form: &BTreeMap<String, String>) -> (u16, Box<dyn Read + Send>) {
    let search = form.get("search").cloned().unwrap_or_default();
    if !search.starts_with("search ") || !search.contains("`incode_index`") {
        return (
            400,
            Box::new(std::io::Cursor::new(
                message("FATAL", "Unknown search command").to_string(),
            )),
        );
    }
    if let Some(ExportFailure::EmptyOk) = &s.export_failure {
        return (200, Box::new(std::io::empty()));
    }
    if let Some(ExportFailure::Http(status, kind, text)) = &s.export_failure {
        return (
            *status,
            Box::new(std::io::Cursor::new(message(kind, text).to_string())),
        );
    }
    let number = |k: &str| form.get(k).and_then(|v| v.parse::<f64>().ok());
    let (index_earliest, index_latest) = (number("index_earliest"), number("index_latest"));
    let earliest_time = number("earliest_time");
    let wanted = statuses(&search);
    let fields = table(&search);
    let row = |e: &Indexed| -> Map<String, Value> {
        fields
            .iter()
            .filter_map(|f| {
                let value = match f.as_str() {
                    "t" => Some(json!(format!("{:.3}", e.time))),
                    "it" => Some(json!(e.index_time.to_string())),
                    _ => e.raw.get(f).cloned(),
                };
                value.map(|v| {
                    (
                        f.clone(),
                        match v {
                            Value::String(_) | Value::Array(_) => v,
                            other => json!(other.to_string()),
                        },
                    )
                })
            })
            .collect()
    };
    let rows: Vec<Map<String, Value>> = s
        .events
        .iter()
        .filter(|e| index_earliest.is_none_or(|b| e.index_time as f64 >= b))
        .filter(|e| index_latest.is_none_or(|b| (e.index_time as f64) < b))
        .filter(|e| earliest_time.is_none_or(|b| e.time >= b))
        .filter(|e| {
            wanted.is_empty()
                || e.raw
                    .get("onboardingStatus")
                    .and_then(Value::as_str)
                    .is_some_and(|st| wanted.iter().any(|w| w == st))
        })
        .map(row)
        .collect();
    let failure = s.export_failure.clone();
    let generated = s.generated;
    let total = generated.map_or(rows.len(), |g| g.count);
    let lines = (0..total).map(move |i| {
        let result = match generated {
            Some(g) => (g.row)(i),
            None => Value::Object(rows[i].clone()),
        };
        let mut line = json!({"preview": false, "offset": i, "result": result});
        if i + 1 == total {
            line["lastrow"] = json!(true);
        }
        line.to_string() + "\n"
    });
    let tail: Box<dyn Iterator<Item = String> + Send> = match failure {
        Some(ExportFailure::Message(kind, text)) => {
            Box::new(std::iter::once(message(kind, text).to_string() + "\n"))
        }
        Some(ExportFailure::Broken) => Box::new(std::iter::once(
            "{\"preview\":false,\"offset\":99,\"result\":{\"interviewId\":\"trunc".to_owned(),
        )),
        _ => Box::new(std::iter::empty()),
    };
    (
        200,
        Box::new(Lines {
            lines: Box::new(lines.chain(tail)),
            buffer: Vec::new(),
            at: 0,
        }),
    )
}

/// A body produced line by line, so a large export is never held in memory by the fake either.
struct Lines {
    lines: Box<dyn Iterator<Item = String> + Send>,
    buffer: Vec<u8>,
    at: usize,
}

impl Read for Lines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buffer.len() {
            match self.lines.next() {
                Some(line) => {
                    self.buffer = line.into_bytes();
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
