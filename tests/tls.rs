//! TLS and proxies, with certificates made at test time: Incode over HTTPS trusted through
//! ca_bundle; a wrong host name, an expired certificate and an unknown issuer each refused with
//! an ERROR line naming the cause; proxy_url and HTTP(S)_PROXY honoured for Incode and never for
//! splunkd; splunkd's expired certificate refused.

mod support;

use support::fake_proxy::{FakeProxy, basic};
use support::fake_splunkd::FakeSplunkd;
use support::tls::{Ca, EXPIRED_ON, Validity};
use support::world::*;
use support::*;

/// Names the fake Incode's certificate is issued for when it is right.
fn incode_names() -> Vec<String> {
    vec!["127.0.0.1".into(), "localhost".into()]
}

/// Writes `pem` as the input's ca_bundle.
fn use_ca_bundle(w: &mut World, pem: &str) {
    let path = w.dir.join("incode-ca.pem");
    std::fs::write(&path, pem).unwrap();
    w.set("ca_bundle", path.to_str().unwrap());
}

/// One finished interview waiting for enrichment.
fn one_interview(w: &World, id: &str) {
    let t = now();
    w.webhook(id, "ONBOARDING_FINISHED", (t - 10 - 1) as f64, t - 10);
}

fn pending(w: &World) -> i64 {
    w.checkpoint()
        .query_row(
            "SELECT count(*) FROM jobs WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn errors(run: &Run) -> Vec<&str> {
    run.log_lines()
        .into_iter()
        .filter(|l| l.starts_with("ERROR ") || l.starts_with("WARN "))
        .collect()
}

/// A refused Incode certificate: exit 1, one ERROR line (returned), no retry (a certificate
/// does not mend within a pass: retries would show at DEBUG, and take seconds of backoff), no
/// event, and the interview kept for a later pass.
fn refused(w: &mut World) -> String {
    w.set("log_level", "DEBUG");
    let started = std::time::Instant::now();
    let run = w.run();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}: {run:?}",
        started.elapsed()
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors = errors(&run);
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].starts_with("ERROR input=prod event=incode_error "),
        "{}",
        errors[0]
    );
    assert!(!run.stderr.contains("event=incode_retry"), "{run:?}");
    assert!(events(&run).is_empty(), "{run:?}");
    assert_eq!(pending(w), 1);
    errors[0].to_owned()
}

#[test]
fn incode_over_https_is_trusted_through_ca_bundle_and_refused_without_it() {
    let mut w = World::new("tls-cabundle");
    let ca = Ca::new("Corp TLS Inspection CA");
    w.incode_over_tls(&ca.pki("incode", incode_names(), Validity::Current));
    w.set("log_level", "DEBUG");
    one_interview(&w, "c-1");

    // Without ca_bundle only the system's CAs are trusted: refused, and the line says what to do.
    let error = refused(&mut w);
    let port = w.incode.url.rsplit(':').next().unwrap().to_owned();
    assert!(
        error.contains(&format!(
            "the TLS certificate of the Incode API at https://127.0.0.1:{port}/executive/log-in \
             is refused"
        )),
        "{error}"
    );
    assert!(error.contains("unknown issuer"), "{error}");
    assert!(error.contains("ca_bundle"), "{error}");

    use_ca_bundle(&mut w, &ca.pem);
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["c-1"]);
    assert_eq!(w.incode.score_requests(), ["c-1"]);
    assert_eq!(pending(&w), 0);
}

#[test]
fn a_certificate_for_another_host_name_is_refused_naming_both_names() {
    let mut w = World::new("tls-name");
    let ca = Ca::new("Corp TLS Inspection CA");
    w.incode_over_tls(&ca.pki(
        "incode.example",
        vec!["incode.example".into()],
        Validity::Current,
    ));
    use_ca_bundle(&mut w, &ca.pem);
    one_interview(&w, "n-1");
    let error = refused(&mut w);
    assert!(
        error.contains("not valid for the host name \"127.0.0.1\""),
        "{error}"
    );
    assert!(error.contains("incode.example"), "{error}");
    assert!(error.contains("api_url"), "{error}");
}

#[test]
fn an_expired_certificate_is_refused_naming_the_day_it_expired() {
    let mut w = World::new("tls-expired");
    let ca = Ca::new("Corp TLS Inspection CA");
    w.incode_over_tls(&ca.pki("incode", incode_names(), Validity::Expired));
    use_ca_bundle(&mut w, &ca.pem);
    one_interview(&w, "e-1");
    let error = refused(&mut w);
    assert!(
        error.contains(&format!("expired on {EXPIRED_ON} 00:00:00 UTC")),
        "{error}"
    );
}

#[test]
fn an_unknown_issuer_is_refused_even_with_another_ca_in_ca_bundle() {
    let mut w = World::new("tls-issuer");
    let signer = Ca::new("Some Other CA");
    w.incode_over_tls(&signer.pki("incode", incode_names(), Validity::Current));
    use_ca_bundle(&mut w, &Ca::new("Corp TLS Inspection CA").pem);
    one_interview(&w, "u-1");
    let error = refused(&mut w);
    assert!(error.contains("unknown issuer"), "{error}");
    assert!(error.contains("ca_bundle"), "{error}");

    // The add-on's form (--validate-arguments) says the same about api_url.
    let run = incode_with_env(
        &["--validate-arguments"],
        w.validation_document().as_bytes(),
        &[("SPLUNK_HOME", w.dir.join("home").to_str().unwrap())],
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    let message = tree(&run.stdout).child("message").text.clone();
    assert!(message.contains("api_url"), "{message}");
    assert!(message.contains("unknown issuer"), "{message}");
}

#[test]
fn a_ca_of_the_same_name_but_another_key_is_refused() {
    let mut w = World::new("tls-samename");
    w.incode_over_tls(&Ca::new("Corp TLS Inspection CA").pki(
        "incode",
        incode_names(),
        Validity::Current,
    ));
    use_ca_bundle(&mut w, &Ca::new("Corp TLS Inspection CA").pem);
    one_interview(&w, "s-1");
    let error = refused(&mut w);
    assert!(
        error.contains("does not verify with the trusted certificate authority of the same name"),
        "{error}"
    );
    assert!(error.contains("ca_bundle"), "{error}");
}

/// The one ERROR line of a run splunkd's certificate stopped.
fn splunkd_refused(w: &World) -> String {
    let run = w.run();
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors = errors(&run);
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].starts_with("ERROR input=prod event=splunkd_error splunkd's TLS certificate at "),
        "{}",
        errors[0]
    );
    assert!(w.splunkd.state.lock().unwrap().seen.is_empty());
    errors[0].to_owned()
}

#[test]
fn a_splunkd_certificate_from_another_ca_is_refused_naming_cacert_pem() {
    let mut w = World::new("tls-splunkd-issuer");
    let pki = Ca::new("SplunkCommonCA").pki("SplunkServerDefaultCert", vec![], Validity::Current);
    w.splunkd = FakeSplunkd::start(&pki, SESSION_KEY);
    std::fs::write(
        w.dir.join("home/etc/auth/cacert.pem"),
        Ca::new("Corp Root CA").pem,
    )
    .unwrap();
    let error = splunkd_refused(&w);
    assert!(error.contains("(unknown issuer)"), "{error}");
    assert!(
        error.contains(&format!(
            "check that {} holds the certificate authority that signed splunkd's server \
             certificate",
            w.dir.join("home/etc/auth/cacert.pem").display()
        )),
        "{error}"
    );
}

#[test]
fn an_expired_splunkd_certificate_is_refused_naming_the_day_it_expired() {
    let mut w = World::new("tls-splunkd-expired");
    let ca = Ca::new("SplunkCommonCA");
    let pki = ca.pki("SplunkServerDefaultCert", vec![], Validity::Expired);
    std::fs::write(w.dir.join("home/etc/auth/cacert.pem"), &ca.pem).unwrap();
    w.splunkd = FakeSplunkd::start(&pki, SESSION_KEY);
    let error = splunkd_refused(&w);
    assert!(
        error.contains(&format!(
            "expired on {EXPIRED_ON} 00:00:00 UTC; renew splunkd's server certificate"
        )),
        "{error}"
    );
}

const PROXY_USER: &str = "svc-splunk";
/// One of the secrets `World::run` checks never shows in stdout or stderr.
const PROXY_PASSWORD: &str = "hunter2";

/// Fails if the proxy password is in any file of the checkpoint folder.
fn assert_not_on_disk(w: &World, secret: &str) {
    for entry in std::fs::read_dir(w.checkpoint_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} on disk"
        );
    }
}

fn port_of(url: &str) -> String {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
}

#[test]
fn proxy_url_tunnels_incode_with_its_credentials_and_keeps_the_password_secret() {
    let mut w = World::new("proxy-url");
    let ca = Ca::new("Corp TLS Inspection CA");
    w.incode_over_tls(&ca.pki("incode", incode_names(), Validity::Current));
    use_ca_bundle(&mut w, &ca.pem);
    let proxy = FakeProxy::start(Some((PROXY_USER, PROXY_PASSWORD)));
    let clear = format!(
        "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
        proxy.port
    );
    w.set("proxy_url", &clear);
    w.set("log_level", "DEBUG");
    one_interview(&w, "p-1");

    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["p-1"]);
    let incode = format!("127.0.0.1:{}", port_of(&w.incode.url));
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(s.method, "CONNECT", "{s:?}");
        assert_eq!(s.target, incode, "{s:?}");
        assert_eq!(
            s.authorization.as_deref(),
            Some(basic(PROXY_USER, PROXY_PASSWORD).as_str())
        );
        assert!(s.allowed);
    }
    assert_eq!(w.incode.logins(), 1);
    assert_eq!(w.incode.score_requests(), ["p-1"]);

    // The password went to the credential store and proxy_url was masked.
    let masked = format!("http://{PROXY_USER}:********@127.0.0.1:{}/", proxy.port);
    {
        let s = w.splunkd.state.lock().unwrap();
        assert_eq!(
            s.passwords["incode\\://prod:proxy_password:"].password,
            PROXY_PASSWORD
        );
        assert_eq!(s.input_edits.len(), 1);
        assert_eq!(s.input_edits[0].1["proxy_url"], masked);
    }
    assert!(!run.stderr.contains(PROXY_PASSWORD) && !run.stdout.contains(PROXY_PASSWORD));
    assert_not_on_disk(&w, PROXY_PASSWORD);

    // A later run reads the password back from the store.
    w.set("proxy_url", &masked);
    one_interview(&w, "p-2");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["p-2"]);
    let again = &proxy.seen()[seen.len()..];
    assert!(!again.is_empty());
    assert!(again.iter().all(|s| s.allowed
        && s.authorization.as_deref() == Some(basic(PROXY_USER, PROXY_PASSWORD).as_str())));
    assert_not_on_disk(&w, PROXY_PASSWORD);

    // The proxy refuses a wrong password to CONNECT.
    refused_for_a_wrong_password(&mut w, &proxy, "p-3");
    assert_eq!(w.incode.score_requests(), ["p-1", "p-2"]);
}

/// With a wrong password in `proxy_url`, the proxy refuses: the pass stops on one ERROR line that
/// says so, without the password.
fn refused_for_a_wrong_password(w: &mut World, proxy: &FakeProxy, interview: &str) {
    w.set(
        "proxy_url",
        &format!("http://{PROXY_USER}:wrong-one@127.0.0.1:{}", proxy.port),
    );
    one_interview(w, interview);
    let run = w.run();
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors = errors(&run);
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("the proxy refused the user and password in proxy_url"),
        "{}",
        errors[0]
    );
    assert!(!run.stderr.contains("wrong-one"), "{run:?}");
}

#[test]
fn an_environment_proxy_that_asks_for_credentials_is_named() {
    let mut w = World::new("env-proxy-auth");
    let ca = Ca::new("Corp TLS Inspection CA");
    w.incode_over_tls(&ca.pki("incode", incode_names(), Validity::Current));
    use_ca_bundle(&mut w, &ca.pem);
    one_interview(&w, "a-1");
    let proxy = FakeProxy::start(Some((PROXY_USER, PROXY_PASSWORD)));
    let run = w.run_with_env(&[("HTTPS_PROXY", &proxy.url)]);
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors = errors(&run);
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].contains("the proxy named by HTTPS_PROXY")
            && errors[0].contains("asks for a user and password")
            && errors[0].contains("proxy_url"),
        "{}",
        errors[0]
    );
    assert_eq!(pending(&w), 1);
}

#[test]
fn proxy_url_forwards_plain_http_incode_and_a_refused_password_is_named() {
    let mut w = World::new("proxy-http");
    let proxy = FakeProxy::start(Some((PROXY_USER, PROXY_PASSWORD)));
    w.set(
        "proxy_url",
        &format!(
            "http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{}",
            proxy.port
        ),
    );
    one_interview(&w, "h-1");
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["h-1"]);
    let targets: Vec<_> = proxy
        .seen()
        .iter()
        .map(|s| {
            assert!(s.allowed, "{s:?}");
            format!("{} {}", s.method, s.target)
        })
        .collect();
    assert_eq!(
        targets,
        [
            format!("POST {}/executive/log-in", w.incode.url),
            format!("GET {}/omni/get/score?id=h-1", w.incode.url),
        ]
    );

    // The proxy refuses the stored password to a forwarded request too.
    refused_for_a_wrong_password(&mut w, &proxy, "h-2");
    assert_eq!(w.incode.score_requests(), ["h-1"]);
}

#[test]
fn https_proxy_is_honoured_for_incode_and_never_for_splunkd() {
    let mut w = World::new("env-https-proxy");
    let ca = Ca::new("Corp TLS Inspection CA");
    w.incode_over_tls(&ca.pki("incode", incode_names(), Validity::Current));
    use_ca_bundle(&mut w, &ca.pem);
    one_interview(&w, "v-1");
    let proxy = FakeProxy::start(None);
    let run = w.run_with_env(&[
        ("HTTPS_PROXY", &proxy.url),
        ("ALL_PROXY", &proxy.url),
        ("HTTP_PROXY", &proxy.url),
    ]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["v-1"]);
    let incode = format!("127.0.0.1:{}", port_of(&w.incode.url));
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|s| s.method == "CONNECT" && s.target == incode),
        "only Incode goes through the proxy: {seen:?}"
    );
    // splunkd was called (secrets, search), directly.
    assert!(!w.splunkd.exports().is_empty());
}

#[test]
fn http_proxy_is_honoured_for_plain_http_incode_and_never_for_splunkd() {
    let w = World::new("env-http-proxy");
    one_interview(&w, "w-1");
    let proxy = FakeProxy::start(None);
    let run = w.run_with_env(&[("HTTP_PROXY", &proxy.url), ("ALL_PROXY", &proxy.url)]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["w-1"]);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.method != "CONNECT" && s.target.starts_with(&w.incode.url)),
        "only Incode goes through the proxy: {seen:?}"
    );
    assert!(!w.splunkd.exports().is_empty());
}
