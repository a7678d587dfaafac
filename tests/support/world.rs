//! A test world: a fake splunkd (HTTPS, Splunk-like certificates), a fake Incode, a
//! SPLUNK_HOME and a checkpoint folder, and the binary run against them as splunkd runs it.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::fake_incode::{FakeIncode, TOKEN_PREFIX};
use super::fake_splunkd::FakeSplunkd;
use super::*;

pub const EMAIL: &str = "splunk-reader@example.com";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The score the fake Incode gives an interview without a script.
pub fn default_score() -> String {
    std::fs::read_to_string(fixture_path(
        "incode/score_response_onboarding_via_sonio.json",
    ))
    .unwrap()
}

/// One score event from stdout.
#[derive(Debug)]
pub struct ScoreEvent {
    pub time: String,
    pub sourcetype: String,
    pub index: Option<String>,
    pub stanza: String,
    pub data: Value,
    /// `<data>` as written.
    pub text: String,
}

/// A test world: a fake splunkd, a fake Incode, a SPLUNK_HOME and a checkpoint folder.
pub struct World {
    pub splunkd: FakeSplunkd,
    pub incode: FakeIncode,
    pub dir: PathBuf,
    pub params: Vec<(String, String)>,
}

impl World {
    pub fn new(name: &str) -> World {
        let pki = tls::splunk_like();
        let dir = std::env::temp_dir().join(format!("ta-incode-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home/etc/auth")).unwrap();
        std::fs::write(dir.join("home/etc/auth/cacert.pem"), &pki.ca_pem).unwrap();
        let splunkd = FakeSplunkd::start(&pki, SESSION_KEY);
        let incode = FakeIncode::start(API_KEY, EMAIL, PASSWORD, &default_score());
        let params = vec![
            ("api_url", incode.url.clone()),
            ("api_key", API_KEY.into()),
            ("admin_email", EMAIL.into()),
            ("admin_password", PASSWORD.into()),
            ("max_concurrency", "4".into()),
            ("index", "incode".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        World {
            splunkd,
            incode,
            dir,
            params,
        }
    }

    /// Replaces the fake Incode with one serving HTTPS with `pki`'s server certificate, and
    /// points api_url at it (`https://127.0.0.1:<port>`).
    pub fn incode_over_tls(&mut self, pki: &tls::Pki) {
        self.incode = FakeIncode::start_tls(API_KEY, EMAIL, PASSWORD, &default_score(), pki);
        let url = self.incode.url.clone();
        self.set("api_url", &url);
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.into(), value.into()));
    }

    pub fn document(&self) -> String {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        format!(
            "<input><server_host>sh1</server_host><server_uri>{}</server_uri>\
             <session_key>{SESSION_KEY}</session_key><checkpoint_dir>{}</checkpoint_dir>\
             <configuration><stanza name=\"incode://prod\" app=\"TA-incode\">{}</stanza></configuration></input>",
            self.splunkd.uri,
            native_path(&self.checkpoint_dir()),
            super::params(&params)
        )
    }

    /// The `--validate-arguments` document for this input.
    pub fn validation_document(&self) -> String {
        self.document()
            .replace("<input>", "<items>")
            .replace("</input>", "</items>")
            .replace(
                "<configuration><stanza name=\"incode://prod\" app=\"TA-incode\">",
                "<item name=\"prod\">",
            )
            .replace("</stanza></configuration>", "</item>")
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.dir.join("modinputs/incode")
    }

    pub fn run(&self) -> Run {
        self.run_with_env(&[])
    }

    /// Makes the fake splunkd hold the input as the test's parameters say (what inputs.conf
    /// holds now): splunkd hands a run its saved input, and validation compares with it.
    pub fn save(&self) {
        let settings = self.params.iter().cloned().collect();
        self.splunkd
            .state
            .lock()
            .unwrap()
            .inputs
            .insert("prod".into(), settings);
    }

    /// `--validate-arguments` for this input's parameters, as splunkd runs it when the form is
    /// saved (the saved input is whatever the last [`World::save`] or run left).
    pub fn validate(&self) -> Run {
        let run = incode(
            &["--validate-arguments"],
            self.validation_document().as_bytes(),
        );
        assert_no_secret(&run);
        run
    }

    /// [`World::run`] with extra environment variables (`HTTPS_PROXY`, …).
    pub fn run_with_env(&self, env: &[(&str, &str)]) -> Run {
        self.run_document(&self.document(), env)
    }

    /// [`World::run_with_env`] with splunkd handing the input another `server_uri` (such as
    /// `https://<a name of this host>:<the fake's port>`).
    pub fn run_at(&self, server_uri: &str, env: &[(&str, &str)]) -> Run {
        let document = self.document().replace(
            &format!("<server_uri>{}</server_uri>", self.splunkd.uri),
            &format!("<server_uri>{server_uri}</server_uri>"),
        );
        self.run_document(&document, env)
    }

    /// `$SPLUNK_HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    /// Writes `$SPLUNK_HOME/etc/<layer>/server.conf` (`layer`: `system/local`,
    /// `apps/<app>/default`, …); its path.
    pub fn server_conf(&self, layer: &str, text: &str) -> PathBuf {
        let path = self.home().join("etc").join(layer).join("server.conf");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run_document(&self, document: &str, env: &[(&str, &str)]) -> Run {
        self.save();
        let home = native_path(&self.home());
        let mut env = env.to_vec();
        env.push(("SPLUNK_HOME", &home));
        let run = incode_with_env(&[], document.as_bytes(), &env);
        assert_no_secret(&run);
        assert!(
            !run.stdout.contains(TOKEN_PREFIX) && !run.stderr.contains(TOKEN_PREFIX),
            "{run:?}"
        );
        run
    }

    /// Indexes an onboarding-status webhook, `age` seconds ago by index time.
    pub fn webhook(&self, interview: &str, status: &str, time: f64, index_time: i64) {
        self.splunkd.index(
            json!({"interviewId": interview, "onboardingStatus": status, "clientId": "acme",
                   "flowId": "flow-1", "externalCustomerId": format!("cust-{interview}")}),
            time,
            index_time,
        );
    }

    /// `count` finished sessions `<prefix>000`, `<prefix>001`…, indexed 10 s ago a millisecond
    /// apart; their ids, in order.
    pub fn finished_sessions(&self, prefix: &str, count: usize) -> Vec<String> {
        let t = now();
        let ids: Vec<String> = (0..count).map(|i| format!("{prefix}{i:03}")).collect();
        for (i, id) in ids.iter().enumerate() {
            self.webhook(
                id,
                "ONBOARDING_FINISHED",
                (t - 11) as f64 + i as f64 / 1000.0,
                t - 10,
            );
        }
        ids
    }

    pub fn checkpoint(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.checkpoint_dir().join("prod.sqlite")).unwrap()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn events(run: &Run) -> Vec<ScoreEvent> {
    let doc = tree(&run.stdout);
    assert_eq!(doc.tag, "stream", "{run:?}");
    doc.children
        .iter()
        .map(|e| {
            assert_eq!(e.attribute("unbroken"), Some("1"));
            assert!(e.children.iter().any(|c| c.tag == "done"));
            let text = |tag: &str| {
                e.children
                    .iter()
                    .find(|c| c.tag == tag)
                    .map(|c| c.text.clone())
            };
            ScoreEvent {
                time: text("time").unwrap(),
                sourcetype: text("sourcetype").unwrap(),
                index: text("index"),
                stanza: e.attribute("stanza").unwrap().to_owned(),
                data: serde_json::from_str(&text("data").unwrap()).unwrap(),
                text: text("data").unwrap(),
            }
        })
        .collect()
}

pub fn ids(events: &[ScoreEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.data["interviewId"].as_str().unwrap().to_owned())
        .collect()
}

pub fn summary(run: &Run) -> &str {
    run.log_lines()
        .into_iter()
        .find(|l| l.starts_with("INFO input=prod event=pass_finished "))
        .unwrap_or_else(|| panic!("no summary line: {run:?}"))
}
