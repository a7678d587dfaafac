//! A fake of splunkd's REST API, shaped on its documented wire formats: the `Splunk <key>`
//! authorization, `servicesNS/nobody/<app>/` paths, JSON feeds and `messages`, storage/passwords
//! entity names (`realm:name:`, `:` escaped), the input's own entity (read and edit), and
//! `search/jobs/export` streaming one JSON object per line, newest `_time` first as splunkd
//! streams events, honouring the index-time bounds, the `fields` list and an `append`ed
//! `makeresults` row.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::http_server::{self, Body, Request, Response};
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
    /// 200 and an empty body, as splunkd answers some failed searches (an eval error, a lookup
    /// that fails): no rows, and no last-row mark.
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

/// One export as the fake streamed it.
#[derive(Clone, Debug)]
pub struct Streamed {
    /// The form of the request.
    pub form: BTreeMap<String, String>,
    /// Result rows sent.
    pub rows: usize,
    /// Whether the whole body reached the client (false: it went away, e.g. on a timeout).
    pub complete: bool,
    /// From the request to the end of the body (or the client leaving).
    pub took: Duration,
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
    /// The `incode://<name>` inputs splunkd holds now: name → settings, as `GET
    /// data/inputs/incode/<name>` shows them; edits update them.
    pub inputs: BTreeMap<String, BTreeMap<String, String>>,
    /// Each input edit: (input name, fields).
    pub input_edits: Vec<(String, BTreeMap<String, String>)>,
    pub export_failure: Option<ExportFailure>,
    /// How long the export waits before it answers (a stalled search).
    pub export_delay: Duration,
    /// How long the export takes for each result row (a search over many buckets).
    pub row_delay: Duration,
    pub seen: Vec<Seen>,
    pub streamed: Vec<Streamed>,
}

/// A running fake splunkd; it stops when dropped.
pub struct FakeSplunkd {
    pub uri: String,
    pub state: Arc<Mutex<State>>,
    _server: http_server::Server,
}

impl FakeSplunkd {
    /// Serves HTTPS with the given server certificate on 127.0.0.1.
    pub fn start(pki: &Pki, session_key: &str) -> FakeSplunkd {
        let state = Arc::new(Mutex::new(State {
            session_key: session_key.to_owned(),
            ..State::default()
        }));
        let handler: http_server::Handler = {
            let state = state.clone();
            Arc::new(move |request| handle(request, &state))
        };
        let server = http_server::start_tls(handler, pki);
        FakeSplunkd {
            uri: format!("https://127.0.0.1:{}", server.port),
            state,
            _server: server,
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

    /// The discovery searches so far (exports of triggering webhook events).
    pub fn exports(&self) -> Vec<Seen> {
        self.searches()
            .into_iter()
            .filter(|s| s.form["search"].contains("onboardingStatus IN ("))
            .collect()
    }

    /// Every export request so far.
    pub fn searches(&self) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path.ends_with("/search/jobs/export"))
            .cloned()
            .collect()
    }

    /// The exports streamed so far, in the order they ended.
    pub fn streamed(&self) -> Vec<Streamed> {
        self.state.lock().unwrap().streamed.clone()
    }
}

const BASE: &str = "/servicesNS/nobody/TA-incode/";

fn json_response(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", "application/json".to_owned())],
        body: Body::Full(body.to_string()),
    }
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

fn handle(request: Request, state: &Arc<Mutex<State>>) -> Response {
    let received = Instant::now();
    let (path, query) = request
        .url
        .split_once('?')
        .map_or((request.url.clone(), String::new()), |(p, q)| {
            (p.to_owned(), q.to_owned())
        });
    let seen = Seen {
        method: request.method.clone(),
        path: path.clone(),
        query: pairs(&query),
        form: pairs(&request.body),
        authorization: request
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default(),
    };
    let mut s = state.lock().unwrap();
    s.seen.push(seen.clone());
    if seen.authorization != format!("Splunk {}", s.session_key) {
        return json_response(401, message("ERROR", "Unauthorized"));
    }
    if seen.query.get("output_mode").map(String::as_str) != Some("json")
        && seen.form.get("output_mode").map(String::as_str) != Some("json")
    {
        return Response {
            status: 200,
            headers: vec![("Content-Type", "text/xml".to_owned())],
            body: Body::Full("<feed/>".to_owned()),
        };
    }
    let Some(endpoint) = path.strip_prefix(BASE) else {
        return json_response(404, message("ERROR", "Not Found"));
    };
    match (seen.method.as_str(), endpoint) {
        ("POST", "search/jobs/export") => {
            let response = export(&s, &seen.form, state.clone(), received);
            let delay = s.export_delay;
            drop(s);
            std::thread::sleep(delay);
            response
        }
        ("POST", "storage/passwords") => {
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
                ("GET", Some(c)) => json_response(200, feed(&entity, c)),
                ("POST", Some(c)) => {
                    c.password = seen.form["password"].clone();
                    json_response(200, feed(&entity, c))
                }
                _ => json_response(405, message("ERROR", "Method not allowed")),
            }
        }
        (method, path) if path.starts_with("data/inputs/incode/") => {
            let name = decode(&path["data/inputs/incode/".len()..]);
            let mut fields = seen.form.clone();
            fields.remove("output_mode");
            match method {
                "GET" => match s.inputs.get(&name) {
                    Some(settings) => json_response(200, input_feed(&name, settings)),
                    None => json_response(
                        404,
                        message(
                            "ERROR",
                            &format!("Could not find object id=incode://{name}"),
                        ),
                    ),
                },
                "POST" => {
                    s.input_edits.push((name.clone(), fields.clone()));
                    let settings = s.inputs.entry(name.clone()).or_default();
                    settings.extend(fields);
                    let settings = settings.clone();
                    json_response(200, input_feed(&name, &settings))
                }
                _ => json_response(405, message("ERROR", "Method not allowed")),
            }
        }
        _ => json_response(404, message("ERROR", "Not Found")),
    }
}

fn feed(entity: &str, c: &Credential) -> Value {
    json!({"entry": [{"name": entity, "content": {
        "clear_password": c.password, "password": "********", "encr_password": "$7$ZmFrZQ==",
        "realm": c.realm, "username": c.name}}]})
}

/// An input's entity as `data/inputs/<scheme>/<name>` shows it: the settings in `content`,
/// every value a string, with the built-ins splunkd adds.
fn input_feed(name: &str, settings: &BTreeMap<String, String>) -> Value {
    let mut content: Map<String, Value> = settings
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    content.entry("disabled").or_insert(json!(false));
    content.entry("host").or_insert(json!("$decideOnStartup"));
    content.entry("index").or_insert(json!("default"));
    json!({"entry": [{"name": name, "content": content,
                      "acl": {"app": "TA-incode", "owner": "nobody", "sharing": "app"}}]})
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

/// The fields kept by `| fields a b c` (or `| table a b c`), and whether `_raw` and `_time`
/// are kept too: `fields` keeps those internal fields unless `| fields - _*` removes them,
/// `table` keeps only what it names.
fn kept_fields(search: &str) -> (Vec<String>, bool) {
    let commands: Vec<&str> = search.split('|').map(str::trim).collect();
    let mut names = Vec::new();
    let mut internal = true;
    for command in &commands {
        let mut words = command.split_whitespace();
        match words.next() {
            Some("fields") => {
                let rest: Vec<&str> = words.collect();
                match rest.first() {
                    Some(&"-") => {
                        if rest[1..].iter().any(|w| w.trim_matches(',') == "_*") {
                            internal = false;
                        }
                    }
                    _ => {
                        names = rest
                            .iter()
                            .map(|w| w.trim_matches(',').to_owned())
                            .filter(|w| !w.is_empty() && w != "+")
                            .collect()
                    }
                }
            }
            Some("table") => {
                names = words.map(|w| w.trim_matches(',').to_owned()).collect();
                internal = false;
            }
            _ => {}
        }
    }
    (names, internal)
}

/// `_time` as export renders it: ISO 8601 with milliseconds and the offset.
fn iso(time: f64) -> String {
    let t = chrono::DateTime::from_timestamp_millis((time * 1000.0).round() as i64).unwrap();
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

fn export(
    s: &State,
    form: &BTreeMap<String, String>,
    state: Arc<Mutex<State>>,
    received: Instant,
) -> Response {
    let search = form.get("search").cloned().unwrap_or_default();
    if !search.starts_with("search ") || !search.contains("`incode_index`") {
        return json_response(400, message("FATAL", "Unknown search command"));
    }
    if let Some(ExportFailure::EmptyOk) = &s.export_failure {
        return Response {
            status: 200,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body: Body::Full(String::new()),
        };
    }
    if let Some(ExportFailure::Http(status, kind, text)) = &s.export_failure {
        return json_response(*status, message(kind, text));
    }
    // The bounds of the request, and those written inside the SPL: both apply.
    let number = |k: &str| form.get(k).and_then(|v| v.parse::<f64>().ok());
    let in_spl = |k: &str| {
        search
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let both = |a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64| match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    };
    let index_earliest = both(
        number("index_earliest"),
        in_spl("_index_earliest="),
        f64::max,
    );
    let index_latest = both(number("index_latest"), in_spl("_index_latest="), f64::min);
    let earliest_time = number("earliest_time");
    let wanted = statuses(&search);
    let (fields, internal) = kept_fields(&search);
    let row = |e: &Indexed| -> Map<String, Value> {
        let mut row: Map<String, Value> = fields
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
            .collect();
        if internal {
            row.insert("_raw".into(), json!(e.raw.to_string()));
            row.insert("_time".into(), json!(iso(e.time)));
        }
        row
    };
    let mut matching: Vec<&Indexed> = s
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
        .collect();
    // Events stream newest first.
    matching.sort_by(|a, b| b.time.total_cmp(&a.time));
    if search.contains("| stats count by sourcetype") {
        return stats_by_sourcetype(&matching);
    }
    let rows: Vec<Value> = matching
        .into_iter()
        .map(|e| Value::Object(row(e)))
        .collect();
    let generated = s.generated;
    let total = generated.map_or(rows.len(), |g| g.count);
    let row_delay = s.row_delay;
    let failure = s.export_failure.clone();
    let form = form.clone();
    let lines = (0..total).map(move |i| {
        let result = match generated {
            Some(g) => (g.row)(i),
            None => rows[i].clone(),
        };
        std::thread::sleep(row_delay);
        let mut line = json!({"preview": false, "offset": i, "result": result});
        if i + 1 == total {
            line["lastrow"] = json!(true);
        }
        line.to_string() + "\n"
    });
    // A search that found nothing still ends with the last-row mark (polarityio/splunk
    // `formatSplunkResponseBody`: "if we have no results the return payload is this:
    // {"preview":false,"lastrow":true}").
    let empty = (total == 0).then(|| "{\"preview\":false,\"lastrow\":true}\n".to_owned());
    let lines = lines.chain(empty);
    let tail: Box<dyn Iterator<Item = String> + Send> = match failure {
        Some(ExportFailure::Message(kind, text)) => {
            Box::new(std::iter::once(message(kind, text).to_string() + "\n"))
        }
        Some(ExportFailure::Broken) => Box::new(std::iter::once(
            "{\"preview\":false,\"offset\":99,\"result\":{\"interviewId\":\"trunc".to_owned(),
        )),
        _ => Box::new(std::iter::empty()),
    };
    let record = Recorder {
        state,
        streamed: Streamed {
            form,
            rows: 0,
            complete: false,
            took: Duration::ZERO,
        },
        received,
    };
    Response {
        status: 200,
        headers: vec![("Content-Type", "application/json".to_owned())],
        body: Body::Stream(Box::new(Recorded {
            lines: Box::new(lines.chain(tail)),
            record,
            total,
        })),
    }
}

/// The sourcetype props.conf gives a webhook: session webhooks carry `event_type` (or
/// `eventType`), onboarding-status webhooks do not.
fn sourcetype(raw: &Value) -> &'static str {
    if raw
        .get("event_type")
        .or_else(|| raw.get("eventType"))
        .is_some()
    {
        "incode:session"
    } else {
        "incode:onboarding"
    }
}

/// `| stats count by sourcetype`: a transforming search, which export answers with preview sets
/// before the final one (splunk-sdk-python's docs: "A reporting (transforming) search returns a
/// set of previews followed by the final events"); each set ends with `lastrow`.
fn stats_by_sourcetype(events: &[&Indexed]) -> Response {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events {
        *counts.entry(sourcetype(&e.raw)).or_default() += 1;
    }
    let set = |preview: bool, rows: &BTreeMap<&str, usize>| -> String {
        if rows.is_empty() {
            return format!("{{\"preview\":{preview},\"lastrow\":true}}\n");
        }
        rows.iter()
            .enumerate()
            .map(|(i, (st, n))| {
                let mut line = json!({"preview": preview, "offset": i,
                                      "result": {"sourcetype": st, "count": n.to_string()}});
                if i + 1 == rows.len() {
                    line["lastrow"] = json!(true);
                }
                line.to_string() + "\n"
            })
            .collect()
    };
    // The preview has seen part of the events only.
    let partial: BTreeMap<&str, usize> = counts.iter().map(|(k, v)| (*k, v / 2)).collect();
    Response {
        status: 200,
        headers: vec![("Content-Type", "application/json".to_owned())],
        body: Body::Full(set(true, &partial) + &set(false, &counts)),
    }
}

/// Counts what an export sent; records it when the body ends or the client goes away.
struct Recorder {
    state: Arc<Mutex<State>>,
    streamed: Streamed,
    received: Instant,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.streamed.took = self.received.elapsed();
        let streamed = self.streamed.clone();
        if let Ok(mut s) = self.state.lock() {
            s.streamed.push(streamed);
        }
    }
}

/// The export body, line by line, so a large export is never held in memory by the fake
/// either.
struct Recorded {
    lines: Box<dyn Iterator<Item = String> + Send>,
    record: Recorder,
    total: usize,
}

impl Iterator for Recorded {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        match self.lines.next() {
            Some(line) => {
                let streamed = &mut self.record.streamed;
                if streamed.rows < self.total {
                    streamed.rows += 1;
                }
                Some(line.into_bytes())
            }
            None => {
                self.record.streamed.complete = true;
                None
            }
        }
    }
}
