//! TLS and proxies, with certificates made at test time: Incode over HTTPS trusted through
//! ca_bundle; a wrong host name, an expired certificate and an unknown issuer each refused with
//! an ERROR line naming the cause; proxy_url and HTTP(S)_PROXY honoured for Incode and never for
//! splunkd; splunkd's own certificate accepted whatever it is on loopback, and verified against
//! cacert.pem and server.conf's sslRootCAPath elsewhere.

mod support;

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::PathBuf;

use support::fake_proxy::{FakeProxy, basic};
use support::fake_splunkd::FakeSplunkd;
use support::tls::{Ca, EXPIRED_ON, Pki, Validity};
use support::world::*;
use support::*;

/// Names the fake Incode's certificate is issued for when it is right.
fn incode_names() -> Vec<String> {
    vec!["127.0.0.1".into(), "localhost".into()]
}

/// Why the tests that trust Incode through `ca_bundle` do not run against the Windows build under
/// Wine: rustls-platform-verifier adds extra roots on Windows with a chain engine whose
/// `CERT_CHAIN_ENGINE_CONFIG.hExclusiveRoot` is set (`src/verification/windows.rs`, 0.7.1), and
/// Wine 8's crypt32 refuses that configuration ("Invalid parameter"), so the client cannot be
/// built there. Windows supports it; the same Rust code is tested on both Linux builds.
const WINE_EXTRA_ROOTS: &str =
    "ca_bundle needs a chain engine with extra roots, which Wine 8's crypt32 refuses";

/// Writes `pem` as the input's ca_bundle.
fn use_ca_bundle(w: &mut World, pem: &str) {
    let path = w.dir.join("incode-ca.pem");
    std::fs::write(&path, pem).unwrap();
    w.set("ca_bundle", &native_path(&path));
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
        &[("SPLUNK_HOME", &native_path(&w.dir.join("home")))],
    );
    assert_eq!(run.status, Some(1), "{run:?}");
    let message = tree(&run.stdout).child("message").text.clone();
    assert!(message.contains("api_url"), "{message}");
    assert!(message.contains("unknown issuer"), "{message}");
}

#[test]
fn a_ca_of_the_same_name_but_another_key_is_refused() {
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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

/// A run that did its job: exit 0, no error, the interview enriched.
fn enriched(run: &Run, id: &str) {
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(errors(run).is_empty(), "{run:?}");
    assert_eq!(ids(&events(run)), [id]);
}

/// The one ERROR line of a run splunkd's certificate stopped.
fn splunkd_refused(w: &World, run: &Run) -> String {
    assert_eq!(run.status, Some(1), "{run:?}");
    let errors = errors(run);
    assert_eq!(errors.len(), 1, "{run:?}");
    assert!(
        errors[0].starts_with("ERROR input=prod event=splunkd_error splunkd's TLS certificate at "),
        "{}",
        errors[0]
    );
    assert!(w.splunkd.state.lock().unwrap().seen.is_empty());
    errors[0].to_owned()
}

/// Replaces the fake splunkd with one serving `pki`'s certificate (before any webhook is indexed).
fn splunkd_serves(w: &mut World, pki: &Pki) {
    w.splunkd = FakeSplunkd::start(pki, SESSION_KEY);
}

/// Writes `pem` under `$SPLUNK_HOME/etc/auth/`; its path.
fn auth_file(w: &World, name: &str, pem: &str) -> PathBuf {
    let path = w.home().join("etc/auth").join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, pem).unwrap();
    path
}

// splunkd on loopback (server_uri https://127.0.0.1:<port>, as splunkd normally hands it): TLS
// without certificate verification, so any certificate splunkd serves works.

#[test]
fn a_loopback_splunkd_with_a_certificate_from_the_sites_ca_in_ssl_root_ca_path_works() {
    // The site replaced serverCert and keeps its CA in sslRootCAPath; cacert.pem still holds
    // Splunk's own CA (World::new writes it).
    let mut w = World::new("tls-loopback-site-ca");
    let site = Ca::new("Example Corp Issuing CA");
    splunkd_serves(
        &mut w,
        &site.pki(
            "sh1.example.com",
            vec!["sh1.example.com".into(), "127.0.0.1".into()],
            Validity::Current,
        ),
    );
    auth_file(&w, "site/ca.pem", &site.pem);
    w.server_conf(
        "system/local",
        &ssl_root_ca_path("$SPLUNK_HOME/etc/auth/site/ca.pem"),
    );
    one_interview(&w, "l-1");
    enriched(&w.run(), "l-1");
}

#[test]
fn a_loopback_splunkd_with_a_certificate_for_the_hosts_fqdn_from_an_unknown_ca_works() {
    let mut w = World::new("tls-loopback-fqdn");
    splunkd_serves(
        &mut w,
        &Ca::new("Example Corp Issuing CA").pki(
            "sh1.example.com",
            vec!["sh1.example.com".into()],
            Validity::Current,
        ),
    );
    one_interview(&w, "f-1");
    enriched(&w.run(), "f-1");
}

#[test]
fn an_expired_loopback_splunkd_certificate_works() {
    let mut w = World::new("tls-loopback-expired");
    let ca = Ca::new("SplunkCommonCA");
    auth_file(&w, "cacert.pem", &ca.pem);
    splunkd_serves(
        &mut w,
        &ca.pki("SplunkServerDefaultCert", vec![], Validity::Expired),
    );
    one_interview(&w, "x-1");
    enriched(&w.run(), "x-1");
}

#[test]
fn localhost_is_loopback_too() {
    let w = World::new("tls-localhost");
    one_interview(&w, "h-1");
    let uri = format!("https://localhost:{}", port_of(&w.splunkd.uri));
    enriched(&w.run_at(&uri, &[]), "h-1");
}

// splunkd at a server_uri that is not loopback: chain and host name verified against the
// system's CAs, cacert.pem and the file sslRootCAPath names. The fake splunkd listens on
// 127.0.0.1, so it is reached through a name of this host that resolves there.

/// A name of this host that the add-on does not take for loopback (neither `localhost` nor an
/// address) but that resolves to 127.0.0.1, where the fake splunkd listens: the host name, else
/// another alias of 127.0.0.1 in /etc/hosts.
fn this_hosts_name() -> String {
    let resolves_here = |name: &str| {
        (name, 0)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.any(|a| a.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST)))
    };
    let usable = |name: &str| {
        !name.eq_ignore_ascii_case("localhost")
            && name.parse::<IpAddr>().is_err()
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && resolves_here(name)
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned();
    if usable(&hostname) {
        return hostname;
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let mut words = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace();
        if words.next() == Some("127.0.0.1")
            && let Some(name) = words.find(|name| usable(name))
        {
            return name.to_owned();
        }
    }
    panic!(
        "the tests of a non-loopback server_uri need a name of this host, other than \
         localhost, that resolves to 127.0.0.1 (the host name {hostname:?} does not, nor does \
         any alias of 127.0.0.1 in /etc/hosts): add a line such as `127.0.0.1 {hostname}` to \
         /etc/hosts"
    )
}

/// `https://<name>:<the fake splunkd's port>`.
fn uri_for(w: &World, name: &str) -> String {
    format!("https://{name}:{}", port_of(&w.splunkd.uri))
}

/// A world whose splunkd serves a certificate for [`this_hosts_name`] from a new CA; the world,
/// the `server_uri` through that name, and the CA.
fn non_loopback_world(test: &str) -> (World, String, Ca) {
    let name = this_hosts_name();
    let mut w = World::new(test);
    let ca = Ca::new("Example Corp Issuing CA");
    splunkd_serves(
        &mut w,
        &ca.pki(&name, vec![name.clone()], Validity::Current),
    );
    let uri = uri_for(&w, &name);
    (w, uri, ca)
}

/// A server.conf that sets `[sslConfig] sslRootCAPath`.
fn ssl_root_ca_path(value: impl std::fmt::Display) -> String {
    format!("[sslConfig]\nsslRootCAPath = {value}\n")
}

#[test]
fn a_non_loopback_splunkd_is_trusted_through_the_ca_in_ssl_root_ca_path() {
    let (w, uri, site) = non_loopback_world("tls-remote-rootca");
    auth_file(&w, "mycerts/site-ca.pem", &site.pem);
    // $SPLUNK_HOME in the value is expanded.
    w.server_conf(
        "system/local",
        &ssl_root_ca_path("$SPLUNK_HOME/etc/auth/mycerts/site-ca.pem"),
    );
    one_interview(&w, "r-1");
    enriched(&w.run_at(&uri, &[]), "r-1");
}

#[test]
fn ssl_root_ca_path_is_read_from_server_conf_as_splunkd_layers_it() {
    let (w, uri, site) = non_loopback_world("tls-remote-layers");
    let right = auth_file(&w, "site-ca.pem", &site.pem);
    let wrong = auth_file(&w, "old-ca.pem", &Ca::new("Example Corp Old CA").pem);

    // system/local over system/default.
    w.server_conf("system/default", &ssl_root_ca_path(native_path(&wrong)));
    let local = w.server_conf("system/local", &ssl_root_ca_path(native_path(&right)));
    one_interview(&w, "y-1");
    enriched(&w.run_at(&uri, &[]), "y-1");

    // An app's default over system/default, an app's local over it.
    std::fs::remove_file(local).unwrap();
    w.server_conf(
        "apps/site_tls/default",
        &ssl_root_ca_path(native_path(&right)),
    );
    one_interview(&w, "y-2");
    enriched(&w.run_at(&uri, &[]), "y-2");
    w.server_conf(
        "apps/site_tls/local",
        &ssl_root_ca_path(native_path(&wrong)),
    );
    one_interview(&w, "y-3");
    w.splunkd.state.lock().unwrap().seen.clear();
    let error = splunkd_refused(&w, &w.run_at(&uri, &[]));
    assert!(error.contains(&native_path(&wrong)), "{error}");
    assert!(
        error.contains(&native_path(
            &w.home().join("etc/apps/site_tls/local/server.conf")
        )),
        "{error}"
    );
}

#[test]
fn a_non_loopback_splunkd_certificate_from_an_unknown_ca_is_refused_naming_the_files_tried() {
    // Its CA is nowhere: sslRootCAPath names another one.
    let (w, uri, _) = non_loopback_world("tls-remote-issuer");
    let site = auth_file(&w, "site-ca.pem", &Ca::new("Example Corp Root CA").pem);
    let conf = w.server_conf("system/local", &ssl_root_ca_path(native_path(&site)));
    one_interview(&w, "i-1");
    let error = splunkd_refused(&w, &w.run_at(&uri, &[]));
    assert!(error.contains("(unknown issuer)"), "{error}");
    let cacert = native_path(&w.home().join("etc/auth/cacert.pem"));
    // Wine has no system CA store of its own, and the message says so.
    let system = match target().windows() {
        true => "(this host has no system CA store)",
        false => "the system's CA store",
    };
    for tried in [
        system.to_owned(),
        cacert.clone(),
        format!(
            "{} (sslRootCAPath in {})",
            native_path(&site),
            native_path(&conf)
        ),
    ] {
        assert!(error.contains(&tried), "{tried} not in {error}");
    }
    assert!(
        error.contains(&format!(
            "check that {} holds the certificate authority that signed splunkd's server \
             certificate",
            native_path(&site)
        )),
        "{error}"
    );
    // cacert.pem is Splunk's own file: named as tried, never as the place for another CA.
    assert_eq!(error.matches("cacert.pem").count(), 1, "{error}");
}

#[test]
fn a_non_loopback_splunkd_certificate_for_another_name_is_refused_naming_both_names() {
    let name = this_hosts_name();
    let mut w = World::new("tls-remote-name");
    let ca = Ca::new("SplunkCommonCA");
    auth_file(&w, "cacert.pem", &ca.pem);
    splunkd_serves(
        &mut w,
        &ca.pki(
            "sh1.example.com",
            vec!["sh1.example.com".into()],
            Validity::Current,
        ),
    );
    one_interview(&w, "n-1");
    let error = splunkd_refused(&w, &w.run_at(&uri_for(&w, &name), &[]));
    assert!(
        error.contains(&format!(
            "it is not valid for the host name \"{name}\" (only for sh1.example.com)"
        )),
        "{error}"
    );
    assert!(error.contains("server_uri"), "{error}");
}

#[test]
fn an_expired_non_loopback_splunkd_certificate_is_refused_naming_the_day_it_expired() {
    let name = this_hosts_name();
    let mut w = World::new("tls-remote-expired");
    let ca = Ca::new("SplunkCommonCA");
    auth_file(&w, "cacert.pem", &ca.pem);
    splunkd_serves(
        &mut w,
        &ca.pki(&name, vec![name.clone()], Validity::Expired),
    );
    one_interview(&w, "e-1");
    let error = splunkd_refused(&w, &w.run_at(&uri_for(&w, &name), &[]));
    assert!(
        error.contains(&format!(
            "expired on {EXPIRED_ON} 00:00:00 UTC; renew splunkd's server certificate"
        )),
        "{error}"
    );
}

#[test]
fn without_a_system_ca_store_splunks_ca_files_are_trusted_alone() {
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
    // rustls-native-certs reads only these when they are set: a host without a CA store.
    let no_store = [
        ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ];
    let (mut w, uri, site) = non_loopback_world("tls-remote-nostore");
    let path = auth_file(&w, "site-ca.pem", &site.pem);
    let conf = w.server_conf("system/local", &ssl_root_ca_path(native_path(&path)));
    // Incode's client needs a CA of its own on such a host (any will do for the fake's plain
    // HTTP).
    use_ca_bundle(&mut w, &site.pem);
    one_interview(&w, "s-1");
    enriched(&w.run_at(&uri, &no_store), "s-1");

    // No CA at all: the certificate is refused, saying so (the client is still set up).
    std::fs::remove_file(conf).unwrap();
    std::fs::remove_file(w.home().join("etc/auth/cacert.pem")).unwrap();
    one_interview(&w, "s-2");
    w.splunkd.state.lock().unwrap().seen.clear();
    let error = splunkd_refused(&w, &w.run_at(&uri, &no_store));
    assert!(error.contains("(unknown issuer)"), "{error}");
    assert!(
        error.contains("this host has no system CA store"),
        "{error}"
    );
    assert!(
        error.contains("no cacert.pem and no sslRootCAPath"),
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
    if not_under_wine(WINE_EXTRA_ROOTS) {
        return;
    }
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
