//! The input's configuration: the scheme that declares its arguments, and the typed, validated
//! values read from a stanza. Runs and `--validate-arguments` share [`InputConfig::from_stanza`],
//! so what validation accepts is exactly what a run can use.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::{Host, Url};

use crate::log::LogLevel;
use crate::modinput::{Argument, DataType, Scheme, Stanza, StreamingMode};
use crate::secret::Secret;

/// The scheme name: stanzas are `incode://<name>`.
pub const SCHEME: &str = "incode";

const API_URL_EXAMPLE: &str = "https://saas-api.incodesmile.com";

/// The scheme `incode --scheme` prints.
pub fn scheme() -> Scheme {
    let arg = |name, title, description, data_type, required_on_create| Argument {
        name,
        title: Some(title),
        description: Some(description),
        validation: None,
        data_type,
        // An edit, including the add-on's own masking of secrets, must not have to resend
        // every value.
        required_on_edit: false,
        required_on_create,
    };
    use DataType::{Number, String};
    Scheme {
        title: "Incode",
        description: Some(
            "Enriches finished Incode identity-verification sessions with their verification \
             scores. Reads the Incode webhook events indexed in Splunk, fetches each finished \
             session's scores from the Incode API and writes them as incode:score events.",
        ),
        use_external_validation: true,
        use_single_instance: false,
        streaming_mode: StreamingMode::Xml,
        arguments: vec![
            arg(
                "api_url",
                "Incode API URL",
                "Base URL of your Incode API, for example https://saas-api.incodesmile.com \
                 (demo: https://demo-api.incodesmile.com). HTTPS only.",
                String,
                true,
            ),
            arg(
                "api_key",
                "API key",
                "Your Incode API key (sent as x-api-key). Moved to Splunk's encrypted credential \
                 store on the first run; inputs.conf then holds only ********.",
                String,
                true,
            ),
            arg(
                "admin_email",
                "Executive user email",
                "Email of the Incode Dashboard (executive) user the add-on signs in as to read \
                 scores. A dedicated user with the least rights that can read scores is best.",
                String,
                true,
            ),
            arg(
                "admin_password",
                "Executive user password",
                "Password of that user. Moved to Splunk's encrypted credential store on the \
                 first run; inputs.conf then holds only ********.",
                String,
                true,
            ),
            arg(
                "max_concurrency",
                "Concurrent requests",
                "Score requests to Incode in flight at once, 1 to 64. Default 8. Lower it if \
                 Incode answers 429 Too Many Requests.",
                Number,
                false,
            ),
            arg(
                "backfill_hours",
                "Backfill (hours)",
                "On its first run the input looks this many hours back, by index time, for \
                 finished sessions, 0 to 8760. Default 24.",
                Number,
                false,
            ),
            arg(
                "request_timeout",
                "Request timeout (seconds)",
                "Seconds before one Incode request is abandoned and retried, 1 to 300. \
                 Default 30.",
                Number,
                false,
            ),
            arg(
                "proxy_url",
                "Proxy URL",
                "Optional proxy for Incode calls only (never for splunkd): \
                 http://host:port or https://host:port, optionally with user:password@. \
                 The password is moved to the credential store like the other secrets.",
                String,
                false,
            ),
            arg(
                "ca_bundle",
                "Extra CA certificates",
                "Optional absolute path of a PEM file with CA certificates to trust for the \
                 Incode API in addition to the system's, for corporate TLS inspection.",
                String,
                false,
            ),
            arg(
                "log_level",
                "Log level",
                "DEBUG, INFO (default), WARN or ERROR: the lowest level this input writes to \
                 splunkd.log. DEBUG lines appear only when splunkd logs its ExecProcessor \
                 category at DEBUG (category.ExecProcessor=DEBUG in \
                 $SPLUNK_HOME/etc/log-local.cfg).",
                String,
                false,
            ),
        ],
    }
}

/// A secret argument as the input holds it: typed in clear, or already moved to the credential
/// store and replaced by the mask (a run of `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretField {
    /// The clear value, still to be stored.
    Clear(Secret),
    /// Only the mask: the value is in storage/passwords.
    Masked,
}

impl SecretField {
    fn from_value(value: &str) -> SecretField {
        if value.bytes().all(|b| b == b'*') {
            SecretField::Masked
        } else {
            SecretField::Clear(Secret::new(value))
        }
    }
}

/// The optional proxy for Incode calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The proxy URL without its password.
    pub url: Url,
    /// The password from the URL's `user:password@`, percent-decoded.
    pub password: Option<SecretField>,
}

/// One input's validated configuration.
#[derive(Debug, Clone)]
pub struct InputConfig {
    /// The input's name, without `incode://`.
    pub name: String,
    /// The Incode API base URL.
    pub api_url: Url,
    /// The Incode API key.
    pub api_key: SecretField,
    /// The executive user's email.
    pub admin_email: String,
    /// The executive user's password.
    pub admin_password: SecretField,
    /// Score requests in flight at once.
    pub max_concurrency: usize,
    /// How far back the first pass looks, in hours of index time.
    pub backfill_hours: u32,
    /// Per-request timeout for Incode calls.
    pub request_timeout: Duration,
    /// Proxy for Incode calls.
    pub proxy: Option<Proxy>,
    /// Extra trusted CA certificates (PEM) for Incode calls.
    pub ca_bundle: Option<PathBuf>,
    /// The lowest level logged.
    pub log_level: LogLevel,
    /// The index events go to, when the input sets one.
    pub index: Option<String>,
    /// Seconds between runs, when `interval` is a number of seconds (it may also be a cron
    /// schedule, which splunkd, not this add-on, interprets).
    pub interval: Option<Duration>,
}

/// One problem with one argument, worded for the administrator who must fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The argument's name.
    pub field: &'static str,
    /// What is wrong and what is expected.
    pub problem: String,
}

/// Every problem found in a stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<FieldError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{} {}.", e.field, e.problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl InputConfig {
    /// Reads and checks every argument of a stanza; `name` is the input's name without
    /// `incode://`. Empty values count as absent. Every problem is reported, not just the first.
    pub fn from_stanza(name: &str, stanza: &Stanza) -> Result<InputConfig, ConfigErrors> {
        let mut r = Reader {
            stanza,
            errors: Vec::new(),
        };
        let api_url = r
            .required(
                "api_url",
                &format!("the Incode API base URL, e.g. {API_URL_EXAMPLE}"),
            )
            .and_then(|v| r.check("api_url", api_url(v.trim())));
        let api_key = r
            .required("api_key", "your Incode API key")
            .and_then(|v| r.check("api_key", api_key(v)));
        let admin_email = r
            .required(
                "admin_email",
                "the email of an Incode executive (Dashboard) user",
            )
            .and_then(|v| r.check("admin_email", email(v.trim())));
        let admin_password = r
            .required("admin_password", "the Incode executive user's password")
            .map(SecretField::from_value);
        let max_concurrency = r.integer("max_concurrency", 1, 64, 8);
        let backfill_hours = r.integer("backfill_hours", 0, 8760, 24);
        let request_timeout = r.integer("request_timeout", 1, 300, 30);
        let proxy = r
            .optional("proxy_url")
            .and_then(|v| r.check("proxy_url", proxy(v.trim())));
        let ca_bundle = r
            .optional("ca_bundle")
            .and_then(|v| r.check("ca_bundle", ca_bundle(v.trim())));
        let log_level = match r.optional("log_level") {
            None => Some(LogLevel::Info),
            Some(v) => {
                let parsed = v
                    .trim()
                    .parse()
                    .map_err(|()| format!("is \"{}\": use {}", shorten(v), LogLevel::CHOICES));
                r.check("log_level", parsed)
            }
        };
        let index = r.optional("index").map(|v| v.trim().to_owned());
        let interval = r
            .optional("interval")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&s| s > 0)
            .map(Duration::from_secs);

        match (
            api_url,
            api_key,
            admin_email,
            admin_password,
            max_concurrency,
            backfill_hours,
            request_timeout,
            log_level,
        ) {
            (
                Some(api_url),
                Some(api_key),
                Some(admin_email),
                Some(admin_password),
                Some(max_concurrency),
                Some(backfill_hours),
                Some(request_timeout),
                Some(log_level),
            ) if r.errors.is_empty() => Ok(InputConfig {
                name: name.to_owned(),
                api_url,
                api_key,
                admin_email,
                admin_password,
                max_concurrency: max_concurrency as usize,
                backfill_hours: backfill_hours as u32,
                request_timeout: Duration::from_secs(request_timeout as u64),
                proxy,
                ca_bundle,
                log_level,
                index,
                interval,
            }),
            _ => Err(ConfigErrors(r.errors)),
        }
    }
}

/// Collects problems while reading a stanza.
struct Reader<'a> {
    stanza: &'a Stanza,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn optional(&self, field: &str) -> Option<&'a str> {
        self.stanza.param(field).filter(|v| !v.trim().is_empty())
    }

    fn required(&mut self, field: &'static str, expected: &str) -> Option<&'a str> {
        let value = self.optional(field);
        if value.is_none() {
            self.fail(field, format!("is missing: enter {expected}"));
        }
        value
    }

    fn check<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|problem| self.fail(field, problem)).ok()
    }

    /// A whole number in `min..=max`; absent means `default`.
    fn integer(&mut self, field: &'static str, min: i64, max: i64, default: i64) -> Option<i64> {
        let Some(value) = self.optional(field) else {
            return Some(default);
        };
        let expected = format!("use a whole number from {min} to {max} (default {default})");
        let result = match value.trim().parse::<i64>() {
            Err(_) => Err(format!(
                "is \"{}\", not a whole number: {expected}",
                shorten(value)
            )),
            Ok(n) if !(min..=max).contains(&n) => Err(format!("is {n}, out of range: {expected}")),
            Ok(n) => Ok(n),
        };
        self.check(field, result)
    }

    fn fail(&mut self, field: &'static str, problem: String) {
        self.errors.push(FieldError { field, problem });
    }
}

/// A value echoed in a message, cut short so a pasted blob does not flood Splunk Web.
fn shorten(value: &str) -> String {
    const MAX: usize = 40;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// Whether a URL names this host (localhost, 127.0.0.0/8, ::1).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Never echoes the value: a mistyped URL may carry credentials.
fn api_url(value: &str) -> Result<Url, String> {
    let expected = format!("give the Incode API base URL, e.g. {API_URL_EXAMPLE}");
    let url = Url::parse(value).map_err(|e| format!("is not a valid URL ({e}): {expected}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "uses http, which would send the API key in clear: use https \
                 (http is accepted only for a loopback host such as 127.0.0.1), e.g. \
                 {API_URL_EXAMPLE}"
            ));
        }
        other => return Err(format!("has the scheme \"{other}\": {expected}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "must not contain a user name or password (credentials go in api_key, admin_email \
             and admin_password): {expected}"
        ));
    }
    if url.query().is_some() {
        return Err(format!("must not have a query string (?…): {expected}"));
    }
    if url.fragment().is_some() {
        return Err(format!("must not have a fragment (#…): {expected}"));
    }
    Ok(url)
}

fn api_key(value: &str) -> Result<SecretField, String> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            "contains spaces, line breaks or control characters (a copy-and-paste slip?): \
             paste the key alone"
                .into(),
        );
    }
    Ok(SecretField::from_value(value))
}

fn email(value: &str) -> Result<String, String> {
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "is \"{}\", not an email address: enter the email the Incode executive user signs \
             in with, e.g. splunk-reader@example.com",
            shorten(value)
        ))
    }
}

fn proxy(value: &str) -> Result<Proxy, String> {
    let expected = "use http://host:port or https://host:port, optionally with user:password@";
    // Only the scheme and host are ever echoed: the value may hold a password.
    let mut url = Url::parse(value).map_err(|e| format!("is not a valid URL ({e}): {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("has the scheme \"{}\": {expected}", url.scheme()));
    }
    if url.host().is_none() {
        return Err(format!("has no host: {expected}"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "must not have a path, query or fragment: {expected}"
        ));
    }
    let password = match url.password() {
        None => None,
        Some(encoded) => {
            let clear = percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .map_err(|_| {
                    format!("has a password that is not UTF-8 once decoded: {expected}")
                })?;
            Some(SecretField::from_value(&clear))
        }
    };
    url.set_password(None)
        .expect("an http(s) URL with a host can lose its password");
    Ok(Proxy { url, password })
}

fn ca_bundle(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if !path.is_absolute() {
        return Err(format!(
            "is \"{}\", a relative path: give the absolute path of a PEM file, e.g. \
             /opt/splunk/etc/auth/incode-ca.pem",
            shorten(value)
        ));
    }
    let contents = std::fs::read(&path).map_err(|e| {
        format!(
            "names {}, which cannot be read ({e}): check the path and that the user Splunk runs \
             as may read it",
            path.display()
        )
    })?;
    if !contents
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(format!(
            "names {}, which holds no PEM certificate (-----BEGIN CERTIFICATE-----): give a \
             PEM file of CA certificates",
            path.display()
        ));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modinput::ParamValue;
    use std::collections::BTreeMap;

    fn stanza(params: &[(&str, &str)]) -> Stanza {
        Stanza {
            name: "incode://t".into(),
            app: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), ParamValue::Single(v.to_string())))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    const VALID: &[(&str, &str)] = &[
        ("api_url", "https://demo-api.incodesmile.com"),
        ("api_key", "k-123"),
        ("admin_email", "reader@example.com"),
        ("admin_password", "pa ss"),
    ];

    fn with(overrides: &[(&str, &str)]) -> Result<InputConfig, ConfigErrors> {
        let mut params: BTreeMap<&str, &str> = VALID.iter().copied().collect();
        for (k, v) in overrides {
            params.insert(k, v);
        }
        let params: Vec<_> = params.into_iter().collect();
        InputConfig::from_stanza("t", &stanza(&params))
    }

    /// The single problem reported for a field.
    fn problem(overrides: &[(&str, &str)]) -> FieldError {
        let errors = with(overrides).unwrap_err().0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn defaults_apply_to_absent_and_empty_optionals() {
        let c = with(&[("max_concurrency", ""), ("proxy_url", "  ")]).unwrap();
        assert_eq!(c.max_concurrency, 8);
        assert_eq!(c.backfill_hours, 24);
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.proxy, None);
        assert_eq!(c.ca_bundle, None);
        assert_eq!(c.index, None);
        assert_eq!(c.admin_password, SecretField::Clear(Secret::new("pa ss")));
    }

    #[test]
    fn masks_are_recognised() {
        let c = with(&[("api_key", "********"), ("admin_password", "*")]).unwrap();
        assert_eq!(
            (c.api_key, c.admin_password),
            (SecretField::Masked, SecretField::Masked)
        );
    }

    #[test]
    fn every_required_field_is_reported_at_once() {
        let errors = InputConfig::from_stanza("t", &stanza(&[("api_key", "")])).unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["api_url", "api_key", "admin_email", "admin_password"]
        );
        let required: Vec<_> = scheme()
            .arguments
            .iter()
            .filter(|a| a.required_on_create)
            .map(|a| a.name)
            .collect();
        assert_eq!(fields, required, "validation and the scheme must agree");
        assert!(errors.to_string().starts_with(
            "api_url is missing: enter the Incode API base URL, e.g. https://saas-api.incodesmile.com. api_key is missing"
        ));
    }

    #[test]
    fn api_url_rules() {
        for ok in [
            "https://saas-api.incodesmile.com",
            "https://demo-api.incodesmile.com/",
            "https://gw.example.com:8443/incode",
            "http://127.0.0.1:8080",
            "http://localhost:1234",
            "http://[::1]:99",
        ] {
            assert!(with(&[("api_url", ok)]).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("saas-api.incodesmile.com", "is not a valid URL"),
            ("http://saas-api.incodesmile.com", "uses http"),
            ("http://10.0.0.1", "uses http"),
            ("ftp://saas-api.incodesmile.com", "scheme \"ftp\""),
            (
                "https://u:secretpw@saas-api.incodesmile.com",
                "user name or password",
            ),
            ("https://saas-api.incodesmile.com/?x=1", "query string"),
            ("https://saas-api.incodesmile.com/#top", "fragment"),
        ] {
            let e = problem(&[("api_url", bad)]);
            assert_eq!(e.field, "api_url");
            assert!(e.problem.contains(says), "{bad}: {}", e.problem);
            assert!(!e.problem.contains("secretpw"));
        }
    }

    #[test]
    fn numbers_are_whole_and_in_range() {
        let c = with(&[
            ("max_concurrency", " 64 "),
            ("backfill_hours", "0"),
            ("request_timeout", "300"),
        ])
        .unwrap();
        assert_eq!((c.max_concurrency, c.backfill_hours), (64, 0));
        assert_eq!(c.request_timeout, Duration::from_secs(300));
        for (field, value, says) in [
            (
                "max_concurrency",
                "0",
                "is 0, out of range: use a whole number from 1 to 64 (default 8)",
            ),
            ("max_concurrency", "65", "is 65, out of range"),
            ("max_concurrency", "8.0", "is \"8.0\", not a whole number"),
            (
                "backfill_hours",
                "-1",
                "is -1, out of range: use a whole number from 0 to 8760 (default 24)",
            ),
            ("backfill_hours", "8761", "out of range"),
            ("backfill_hours", "a day", "not a whole number"),
            ("request_timeout", "0", "from 1 to 300 (default 30)"),
            ("request_timeout", "301", "is 301, out of range"),
            (
                "request_timeout",
                "99999999999999999999",
                "not a whole number",
            ),
        ] {
            let e = problem(&[(field, value)]);
            assert_eq!(e.field, field);
            assert!(e.problem.contains(says), "{field}={value}: {}", e.problem);
        }
    }

    #[test]
    fn api_key_must_be_one_token() {
        for bad in ["abc def", "abc\n", "\tabc"] {
            let e = problem(&[("api_key", bad)]);
            assert!(e.problem.contains("paste the key alone"), "{}", e.problem);
            assert!(!e.problem.contains("abc"));
        }
    }

    #[test]
    fn admin_email_must_look_like_an_email() {
        assert_eq!(
            with(&[("admin_email", " a@b ")]).unwrap().admin_email,
            "a@b"
        );
        for bad in ["admin", "@example.com", "a@", "a@b@c", "a b@c"] {
            let e = problem(&[("admin_email", bad)]);
            assert!(e.problem.contains("not an email address"), "{bad}");
        }
    }

    #[test]
    fn proxy_rules_and_its_password_is_a_secret() {
        let c = with(&[("proxy_url", "http://squid.corp:3128")]).unwrap();
        assert_eq!(c.proxy.unwrap().url.as_str(), "http://squid.corp:3128/");
        let c = with(&[("proxy_url", "https://bob:p%40ss@squid.corp:3128")]).unwrap();
        let p = c.proxy.unwrap();
        assert_eq!(p.url.as_str(), "https://bob@squid.corp:3128/");
        assert_eq!(p.password, Some(SecretField::Clear(Secret::new("p@ss"))));
        let c = with(&[("proxy_url", "http://bob:********@squid.corp:3128")]).unwrap();
        assert_eq!(c.proxy.unwrap().password, Some(SecretField::Masked));
        for (bad, says) in [
            ("squid.corp:3128", "scheme \"squid.corp\""),
            ("socks5://squid.corp:1080", "scheme \"socks5\""),
            (
                "http://bob:hunter2@squid.corp:3128/path",
                "path, query or fragment",
            ),
            ("http://squid.corp:3128/?a", "path, query or fragment"),
            ("not a url", "not a valid URL"),
        ] {
            let e = problem(&[("proxy_url", bad)]);
            assert_eq!(e.field, "proxy_url");
            assert!(e.problem.contains(says), "{bad}: {}", e.problem);
            assert!(!e.problem.contains("hunter2"));
        }
    }

    #[test]
    fn ca_bundle_must_be_a_readable_absolute_pem_file() {
        let dir = std::env::temp_dir().join(format!("ta-incode-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("ca.pem");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let not_pem = dir.join("ca.der");
        std::fs::write(&not_pem, [0x30, 0x82, 0x01]).unwrap();
        let pem_path = pem.to_str().unwrap();
        assert_eq!(
            with(&[("ca_bundle", pem_path)]).unwrap().ca_bundle,
            Some(pem.clone())
        );
        for (bad, says) in [
            ("certs/ca.pem", "relative path"),
            ("/nonexistent/ca.pem", "cannot be read"),
            (not_pem.to_str().unwrap(), "holds no PEM certificate"),
        ] {
            let e = problem(&[("ca_bundle", bad)]);
            assert!(e.problem.contains(says), "{bad}: {}", e.problem);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn log_level_choices() {
        assert_eq!(
            with(&[("log_level", "debug")]).unwrap().log_level,
            LogLevel::Debug
        );
        let e = problem(&[("log_level", "TRACE")]);
        assert_eq!(e.problem, "is \"TRACE\": use DEBUG, INFO, WARN or ERROR");
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(100);
        let e = problem(&[("backfill_hours", &long)]);
        assert!(
            e.problem.contains(&format!("\"{}…\"", "x".repeat(40))),
            "{}",
            e.problem
        );
    }

    #[test]
    fn the_interval_is_read_when_it_is_seconds() {
        let interval = |v| with(&[("interval", v)]).unwrap().interval;
        assert_eq!(interval("300"), Some(Duration::from_secs(300)));
        assert_eq!(interval("*/5 * * * *"), None);
        assert_eq!(interval("-1"), None);
        assert_eq!(interval("0"), None);
    }

    #[test]
    fn the_index_is_kept() {
        assert_eq!(
            with(&[("index", "incode")]).unwrap().index.as_deref(),
            Some("incode")
        );
    }
}
