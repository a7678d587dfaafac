//! The built `incode` binary, run the way splunkd runs it: argv, a document on stdin, then the
//! exit code, stdout and stderr.

mod support;

use support::world::*;
use support::*;

fn with(overrides: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut p = valid_params();
    for (k, v) in overrides {
        p.retain(|(name, _)| name != k);
        p.push((k, v));
    }
    p
}

/// Exactly one ERROR line, containing every `needle`.
fn assert_one_error(run: &Run, needles: &[&str]) {
    run.assert_levels();
    let errors: Vec<_> = run.errors();
    assert_eq!(errors.len(), 1, "{run:?}");
    for n in needles {
        assert!(errors[0].contains(n), "{n:?} not in {:?}", errors[0]);
    }
}

#[test]
fn scheme_declares_every_argument_explicitly() {
    let run = incode(&["--scheme"], b"");
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stderr, "");
    assert!(
        run.stdout
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
    );
    let scheme = tree(&run.stdout);
    assert_eq!(scheme.tag, "scheme");
    assert_eq!(scheme.child("title").text, "Incode");
    assert!(!scheme.child("description").text.is_empty());
    assert_eq!(scheme.child("streaming_mode").text, "xml");
    assert_eq!(scheme.child("use_external_validation").text, "true");
    assert_eq!(scheme.child("use_single_instance").text, "false");
    let args = &scheme.child("endpoint").child("args").children;
    let names: Vec<_> = args.iter().map(|a| a.attribute("name").unwrap()).collect();
    assert_eq!(
        names,
        [
            "api_url",
            "api_key",
            "admin_email",
            "admin_password",
            "max_concurrency",
            "backfill_hours",
            "request_timeout",
            "proxy_url",
            "ca_bundle",
            "log_level"
        ]
    );
    for arg in args {
        let name = arg.attribute("name").unwrap();
        let tags: Vec<_> = arg.children.iter().map(|c| c.tag.as_str()).collect();
        assert_eq!(
            tags,
            [
                "title",
                "description",
                "data_type",
                "required_on_edit",
                "required_on_create"
            ],
            "{name}"
        );
        assert!(arg.child("title").text.len() >= 3, "{name}");
        assert!(arg.child("description").text.len() >= 20, "{name}");
        assert_eq!(arg.child("required_on_edit").text, "false", "{name}");
        let required = ["api_url", "api_key", "admin_email", "admin_password"].contains(&name);
        assert_eq!(
            arg.child("required_on_create").text,
            required.to_string(),
            "{name}"
        );
        let numeric = ["max_concurrency", "backfill_hours", "request_timeout"].contains(&name);
        let expected_type = if numeric { "number" } else { "string" };
        assert_eq!(arg.child("data_type").text, expected_type, "{name}");
    }
}

#[test]
fn unknown_command_lines_are_one_error_and_exit_1() {
    for args in [
        &["--run"][..],
        &["--scheme", "--validate-arguments"],
        &["scheme"],
        &["--help", "--scheme"],
    ] {
        let run = incode(args, b"");
        assert_eq!(run.status, Some(1), "{args:?}");
        assert_eq!(run.stdout, "");
        assert_eq!(run.log_lines().len(), 1, "{run:?}");
        assert_one_error(
            &run,
            &["unknown command line", "--scheme", "--validate-arguments"],
        );
    }
}

#[test]
fn help_says_how_splunkd_runs_the_executable_and_exits_0() {
    for flag in ["--help", "-h"] {
        let run = incode(&[flag], b"");
        assert_eq!((run.status, run.stderr.as_str()), (Some(0), ""), "{run:?}");
        for mode in ["--scheme", "--validate-arguments", "--version", "--help"] {
            assert!(
                run.stdout.contains(&format!("incode {mode}")),
                "{}",
                run.stdout
            );
        }
        assert!(
            run.stdout
                .starts_with(&format!("incode {}: ", env!("CARGO_PKG_VERSION"))),
            "{}",
            run.stdout
        );
        assert!(run.stdout.contains("Settings > Data inputs > Incode"));
    }
}

#[test]
fn version_is_the_crates() {
    let run = incode(&["--version"], b"");
    assert_eq!(run.status, Some(0));
    assert_eq!(
        run.stdout,
        format!("incode {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn valid_arguments_give_exit_0_and_nothing_on_stdout() {
    for overrides in [
        &[("api_key", "********"), ("admin_password", "********")][..],
        &[
            ("api_key", "********"),
            ("admin_password", "********"),
            ("max_concurrency", "64"),
            ("backfill_hours", "0"),
            ("request_timeout", "1"),
            ("proxy_url", "http://proxy:********@squid.corp:3128"),
            ("log_level", "debug"),
            ("api_url", "http://127.0.0.1:9999"),
        ],
    ] {
        // Masked secrets stand for those of the input splunkd holds, with the same settings.
        let mut w = World::new("valid");
        for (k, v) in overrides {
            w.set(k, v);
        }
        w.save();
        let run = w.validate();
        assert_eq!(run.status, Some(0), "{overrides:?}: {run:?}");
        assert_eq!(run.stdout, "");
        assert_eq!(run.stderr, "");
        assert_eq!(w.incode.logins(), 0, "nothing typed, nothing to try");
    }
}

#[test]
fn stored_secrets_are_not_sent_to_a_new_destination_unless_typed_again() {
    let mut w = World::new("validate-destination");
    assert_eq!(w.run().status, Some(0)); // stores the secrets, masks them
    w.set("api_key", "********");
    w.set("admin_password", "********");
    assert_eq!(w.validate().status, Some(0), "nothing changed");
    let bundle = w.dir.join("corp-ca.pem");
    std::fs::write(&bundle, tls::pki("Corp CA", "x", vec![]).ca_pem).unwrap();
    let saved = w.params.clone();
    for (field, value, says) in [
        (
            "api_url",
            "https://incode.attacker.example",
            "api_url changed",
        ),
        ("ca_bundle", &native_path(&bundle), "ca_bundle changed"),
        (
            "proxy_url",
            "http://squid.corp:3128",
            "the host of proxy_url changed",
        ),
    ] {
        w.params = saved.clone();
        w.set(field, value);
        let run = w.validate();
        assert_eq!(run.status, Some(1), "{field}={value}: {run:?}");
        let message = tree(&run.stdout).child("message").text.clone();
        for secret in ["api_key", "admin_password"] {
            assert!(
                message.contains(&format!(
                    "{secret} holds the mask (********) for the stored secret, but {says}"
                )),
                "{message}"
            );
        }
        assert!(
            message.contains("type the API key and the password again"),
            "{message}"
        );
        assert_eq!(w.incode.logins(), 0, "nothing was sent: {field}");
    }
    // Typed again, the new destination is the administrator's choice: validation signs in.
    if not_under_wine("the sign-in trusts ca_bundle, which Wine's crypt32 cannot add") {
        return;
    }
    w.params = saved;
    w.set("ca_bundle", &native_path(&bundle));
    w.set("api_key", API_KEY);
    w.set("admin_password", PASSWORD);
    assert_eq!(w.validate().status, Some(0));
    assert_eq!(w.incode.logins(), 1);
    // Masks for an input splunkd does not hold (deleted, then created again by name).
    let mut gone = World::new("validate-destination-gone");
    gone.set("api_key", "********");
    gone.set("admin_password", "********");
    let run = gone.validate();
    assert_eq!(run.status, Some(1), "{run:?}");
    let message = tree(&run.stdout).child("message").text.clone();
    assert!(
        message.contains("there is no saved input \"prod\""),
        "{message}"
    );
}

#[test]
fn a_stored_proxy_password_goes_to_no_new_proxy_and_is_used_when_the_key_is_typed_again() {
    use support::fake_proxy::FakeProxy;
    let mut w = World::new("validate-proxy");
    let proxy = FakeProxy::start(Some(("bob", "hunter2")));
    w.set(
        "proxy_url",
        &format!("http://bob:hunter2@127.0.0.1:{}", proxy.port),
    );
    assert_eq!(w.run().status, Some(0)); // stores the three secrets, masks them
    let masked_proxy = format!("http://bob:********@127.0.0.1:{}", proxy.port);
    w.set("proxy_url", &masked_proxy);
    w.set("admin_password", "********");
    // The API key typed again: signing in goes through the proxy with its stored password.
    w.set("api_key", API_KEY);
    let run = w.validate();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(w.incode.logins(), 1, "signed in through the proxy");
    // The stored proxy password never goes to another proxy, even with the rest typed again.
    w.set("admin_password", PASSWORD);
    let other = FakeProxy::start(None);
    w.set(
        "proxy_url",
        &format!("http://bob:********@127.0.0.1:{}", other.port),
    );
    let run = w.validate();
    assert_eq!(run.status, Some(1), "{run:?}");
    let message = tree(&run.stdout).child("message").text.clone();
    assert!(
        message.contains("proxy_url holds the mask (********) for the stored proxy password, but the proxy's host changed"),
        "{message}"
    );
    assert!(other.seen().is_empty(), "nothing went to the new proxy");
}

#[test]
fn validation_signs_in_to_incode_when_secrets_are_typed_in_clear() {
    let w = World::new("validate-live");
    let run = incode(
        &["--validate-arguments"],
        w.validation_document().as_bytes(),
    );
    assert_eq!(
        (run.status, run.stdout.as_str(), run.stderr.as_str()),
        (Some(0), "", ""),
        "{run:?}"
    );
    assert_eq!(w.incode.logins(), 1);
    for (field, value, needle) in [
        (
            "api_key",
            "wrong-key",
            "api_key is rejected by Incode (403 Forbidden",
        ),
        (
            "admin_password",
            "wrong",
            "admin_password or admin_email is rejected by Incode (401",
        ),
        (
            "api_url",
            "http://127.0.0.1:9",
            "api_url cannot be used to sign in to Incode: cannot reach",
        ),
    ] {
        let mut w = World::new("validate-live-bad");
        w.set(field, value);
        let run = incode(
            &["--validate-arguments"],
            w.validation_document().as_bytes(),
        );
        assert_eq!(run.status, Some(1), "{run:?}");
        let message = tree(&run.stdout).child("message").text.clone();
        assert!(message.starts_with(needle), "{message}");
        assert_one_error(&run, &[needle]);
        assert_no_secret(&run);
    }
}

#[test]
fn validation_reads_the_stored_secret_when_only_one_is_typed_again() {
    let mut w = World::new("validate-half");
    assert_eq!(w.run().status, Some(0)); // stores both secrets
    w.set("api_key", "********");
    let run = incode(
        &["--validate-arguments"],
        w.validation_document().as_bytes(),
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        w.incode.logins(),
        1,
        "signed in with the stored API key and the typed password"
    );
}

/// One rule each: (argument, value, words the message must contain).
const VALIDATION_CASES: &[(&str, &str, &[&str])] = &[
    (
        "api_url",
        "",
        &["api_url is missing", "https://saas-api.incodesmile.com"],
    ),
    (
        "api_url",
        "saas-api.incodesmile.com",
        &["api_url is not a valid URL"],
    ),
    (
        "api_url",
        "http://saas-api.incodesmile.com",
        &["api_url uses http", "loopback"],
    ),
    (
        "api_url",
        "ftp://saas-api.incodesmile.com",
        &["api_url has the scheme \"ftp\""],
    ),
    (
        "api_url",
        "https://saas-api.incodesmile.com/?a=b",
        &["api_url must not have a query"],
    ),
    (
        "api_url",
        "https://saas-api.incodesmile.com/#x",
        &["api_url must not have a fragment"],
    ),
    (
        "api_url",
        "https://me:hunter2@saas-api.incodesmile.com",
        &["user name or password"],
    ),
    ("api_key", "", &["api_key is missing"]),
    (
        "api_key",
        "abc def",
        &["api_key contains spaces", "paste the key alone"],
    ),
    ("admin_email", "   ", &["admin_email is missing"]),
    (
        "admin_email",
        "admin",
        &["admin_email is \"admin\", not an email address"],
    ),
    ("admin_password", "", &["admin_password is missing"]),
    (
        "max_concurrency",
        "0",
        &[
            "max_concurrency is 0, out of range",
            "from 1 to 64 (default 8)",
        ],
    ),
    (
        "max_concurrency",
        "65",
        &["max_concurrency is 65, out of range"],
    ),
    (
        "max_concurrency",
        "eight",
        &["max_concurrency is \"eight\", not a whole number"],
    ),
    (
        "backfill_hours",
        "-1",
        &[
            "backfill_hours is -1, out of range",
            "from 0 to 8760 (default 24)",
        ],
    ),
    ("backfill_hours", "8761", &["backfill_hours is 8761"]),
    (
        "backfill_hours",
        "1.5",
        &["backfill_hours is \"1.5\", not a whole number"],
    ),
    (
        "request_timeout",
        "0",
        &["request_timeout is 0", "from 1 to 300 (default 30)"],
    ),
    ("request_timeout", "301", &["request_timeout is 301"]),
    (
        "request_timeout",
        "30s",
        &["request_timeout is \"30s\", not a whole number"],
    ),
    (
        "proxy_url",
        "squid:3128",
        &["proxy_url has the scheme \"squid\""],
    ),
    (
        "proxy_url",
        "http://u:hunter2@squid:3128/x",
        &["proxy_url must not have a path"],
    ),
    ("proxy_url", "::", &["proxy_url is not a valid URL"]),
    (
        "ca_bundle",
        "ca.pem",
        &["ca_bundle is \"ca.pem\", a relative path"],
    ),
    (
        "ca_bundle",
        "/nonexistent/ca.pem",
        &["ca_bundle names /nonexistent/ca.pem, which cannot be read"],
    ),
    (
        "log_level",
        "verbose",
        &["log_level is \"verbose\": use DEBUG, INFO, WARN or ERROR"],
    ),
];

#[test]
fn every_validation_rule_gives_an_actionable_error() {
    for (field, value, needles) in VALIDATION_CASES {
        // An absolute path is one of the executable's platform (`Z:\…` under Wine).
        let native = match value.starts_with('/') {
            true => native_path(std::path::Path::new(value)),
            false => value.to_string(),
        };
        let needles: Vec<String> = needles.iter().map(|n| n.replace(value, &native)).collect();
        let value: &'static str = Box::leak(native.into_boxed_str());
        let params = with(&[(field, value)]);
        let run = incode(
            &["--validate-arguments"],
            items_document("prod", &params).as_bytes(),
        );
        let context = format!("{field}={value:?}: {run:?}");
        assert_eq!(run.status, Some(1), "{context}");
        let doc = tree(&run.stdout);
        assert_eq!(doc.tag, "error", "{context}");
        let message = &doc.child("message").text;
        assert_eq!(doc.children.len(), 1, "{context}");
        for n in &needles {
            assert!(message.contains(n.as_str()), "{n:?} missing: {context}");
        }
        // Only this field is reported, and the same words reach splunkd.log.
        assert!(message.starts_with(&format!("{field} ")), "{context}");
        for other in ta_incode::config::scheme().arguments {
            let other = other.name;
            assert!(
                !message.contains(&format!(". {other} ")),
                "one problem only: {context}"
            );
        }
        assert_one_error(&run, &["input=prod", &needles[0]]);
        assert_no_secret(&run);
    }
}

#[test]
fn several_problems_are_reported_together() {
    let params = with(&[("api_url", "http://x.example"), ("max_concurrency", "0")]);
    let run = incode(
        &["--validate-arguments"],
        items_document("prod", &params).as_bytes(),
    );
    assert_eq!(run.status, Some(1));
    let message = tree(&run.stdout).child("message").text.clone();
    assert!(
        message.contains("api_url uses http") && message.contains("max_concurrency is 0"),
        "{message}"
    );
}

#[test]
fn malformed_validation_requests_are_errors_on_stdout() {
    for (stdin, needle) in [
        (&b""[..], "root element is <>"),
        (b"not xml at all", "root element is <>"),
        (b"<items><server_host>h</server_host>", "malformed"),
        (
            input_document("prod", &valid_params()).as_bytes(),
            "root element is <input>, expected <items>",
        ),
    ] {
        let run = incode(&["--validate-arguments"], stdin);
        assert_eq!(run.status, Some(1), "{run:?}");
        assert!(
            tree(&run.stdout).child("message").text.contains(needle),
            "{run:?}"
        );
        assert_one_error(&run, &[needle]);
    }
}

#[test]
fn the_sdks_utf16_validation_request_is_read() {
    // validation.xml has none of our arguments: every required one is reported missing.
    let run = incode(
        &["--validate-arguments"],
        &fixture_bytes("splunklib/validation.xml"),
    );
    assert_eq!(run.status, Some(1));
    let message = tree(&run.stdout).child("message").text.clone();
    for field in ["api_url", "api_key", "admin_email", "admin_password"] {
        assert!(
            message.contains(&format!("{field} is missing")),
            "{message}"
        );
    }
    assert_one_error(&run, &["input=aaa"]);
}

#[test]
fn a_run_with_nothing_new_writes_a_closed_empty_stream() {
    let w = World::new("cli-empty");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "<stream></stream>\n");
    run.assert_levels();
    assert!(summary(&run).contains("found=0 enriched=0"), "{run:?}");
}

#[test]
fn a_utf16_input_definition_is_read() {
    let w = World::new("cli-utf16");
    let text = w.document().replace(
        "<input>",
        "<?xml version=\"1.0\" encoding=\"utf-16\"?>\n<input>",
    );
    let bytes: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    let run = incode_with_env(
        &[],
        &bytes,
        &[("SPLUNK_HOME", &native_path(&w.dir.join("home")))],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(summary(&run).contains("found=0"));
}

#[test]
fn debug_logging_shows_the_configuration_but_no_secret() {
    let mut w = World::new("cli-debug");
    w.set("log_level", "DEBUG");
    w.set("proxy_url", "http://bob:hunter2@squid.corp:3128");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    run.assert_levels();
    let debug: Vec<_> = run
        .log_lines()
        .into_iter()
        .filter(|l| l.starts_with("DEBUG input=prod configuration "))
        .collect();
    assert_eq!(debug.len(), 1, "{run:?}");
    assert!(
        debug[0].contains(&format!("api_url={}/", w.incode.url)),
        "{}",
        debug[0]
    );
    assert!(
        debug[0].contains("proxy=http://bob@squid.corp:3128/"),
        "{}",
        debug[0]
    );
    assert!(debug[0].contains("index=incode"), "{}", debug[0]);
    // The proxy's password went to the credential store and was masked in the input.
    let s = w.splunkd.state.lock().unwrap();
    assert_eq!(
        s.passwords["incode\\://prod:proxy_password:"].password,
        "hunter2"
    );
    assert_eq!(
        s.input_edits[0].1["proxy_url"],
        "http://bob:********@squid.corp:3128/"
    );
}

#[test]
fn the_log_level_hides_lower_levels() {
    let mut w = World::new("cli-quiet");
    w.set("log_level", "WARN");
    let run = w.run();
    assert_eq!((run.status, run.stderr.as_str()), (Some(0), ""), "{run:?}");
    w.set("log_level", "DEBUG");
    let run = w.run();
    assert!(run.stderr.starts_with("DEBUG "), "{run:?}");
}

#[test]
fn an_invalid_input_fails_the_run_with_one_error_and_a_closed_stream() {
    let params = with(&[
        ("api_url", "http://saas-api.incodesmile.com"),
        ("api_key", ""),
    ]);
    let run = incode(&[], input_document("prod", &params).as_bytes());
    assert_eq!(run.status, Some(1), "{run:?}");
    assert_eq!(tree(&run.stdout).tag, "stream");
    assert_one_error(
        &run,
        &[
            "input=prod",
            "api_url uses http",
            "api_key is missing",
            "Settings > Data inputs > Incode",
        ],
    );
    assert_no_secret(&run);
}

#[test]
fn malformed_input_definitions_fail_the_run() {
    for (stdin, needle) in [
        (&b""[..], "root element is <>"),
        (b"<input><server_host>x", "malformed"),
        (b"\xff\xfe\x00", "UTF-16"),
        (b"<input>\xc3\x28</input>", "invalid UTF-8"),
        (
            &fixture_bytes("splunklib/conf_with_invalid_inputs.xml"),
            "unknown variant `editor`",
        ),
        (
            &fixture_bytes("splunklib/validation.xml"),
            "root element is <items>, expected <input>",
        ),
    ] {
        let run = incode(&[], stdin);
        assert_eq!(run.status, Some(1), "{run:?}");
        assert_eq!(
            run.stdout, "",
            "no stream for a document that was never read"
        );
        assert_one_error(&run, &[needle, "print-modinput-config"]);
    }
}

#[test]
fn a_stanza_of_another_scheme_is_refused() {
    let run = incode(&[], &fixture_bytes("splunklib/conf_with_2_inputs.xml"));
    assert_eq!(run.status, Some(1));
    assert_eq!(tree(&run.stdout).tag, "stream");
    let errors: Vec<_> = run
        .log_lines()
        .into_iter()
        .filter(|l| l.starts_with("ERROR"))
        .collect();
    assert_eq!(errors.len(), 2, "one line per refused stanza: {run:?}");
    assert!(errors[0].contains("\"foobar://aaa\" is not an incode://<name> input"));
    assert!(errors[1].contains("\"foobar://bbb\""));
}

#[test]
fn no_stanza_is_an_empty_successful_run() {
    let run = incode(&[], &fixture_bytes("splunklib/conf_with_0_inputs.xml"));
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout.trim(), "<stream></stream>");
    assert_eq!(
        run.stderr,
        "INFO splunkd sent no input to run; nothing to do\n"
    );
}
