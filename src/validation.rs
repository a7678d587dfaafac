//! What `--validate-arguments` checks beyond each argument's own rules ([`crate::config`]):
//! what only splunkd and Incode can tell. A stored secret goes nowhere new unless it is typed
//! again, and secrets typed in clear are tried against Incode while the administrator is still
//! on the form.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use url::Url;

use crate::config::{ConfigErrors, FieldError, InputConfig, SCHEME, SecretField};
use crate::error::Error;
use crate::incode::{Credentials, Incode, IncodeError};
use crate::modinput::Metadata;
use crate::retry::Backoff;
use crate::secret::Secret;
use crate::secrets;
use crate::splunkd::{self, Splunkd};

/// Runs the checks on a configuration that passed its own rules.
pub fn check(config: &InputConfig, metadata: &Metadata) -> Result<(), Error> {
    let splunkd = || {
        Splunkd::new(
            &metadata.server_uri,
            &metadata.session_key,
            splunkd::splunk_home().as_deref(),
        )
    };
    stored_secrets_stay_where_they_were(config, splunkd)?;
    live_check(config, splunkd)
}

/// A masked secret stands for the value stored when the input was saved, for the destination it
/// had then. If `api_url`, the proxy's host or `ca_bundle` differ from the input splunkd holds
/// now, saving would send the stored API key and password somewhere new without the
/// administrator typing them (a proxy's password: to a new proxy): refused, asking for them.
fn stored_secrets_stay_where_they_were(
    config: &InputConfig,
    splunkd: impl Fn() -> Result<Splunkd, splunkd::SplunkdError>,
) -> Result<(), Error> {
    let masked = |field: &SecretField| matches!(field, SecretField::Masked);
    let credentials: Vec<&'static str> = [
        ("api_key", &config.api_key),
        ("admin_password", &config.admin_password),
    ]
    .into_iter()
    .filter_map(|(name, field)| masked(field).then_some(name))
    .collect();
    let proxy_password = config
        .proxy
        .as_ref()
        .and_then(|p| p.password.as_ref())
        .is_some_and(masked);
    if credentials.is_empty() && !proxy_password {
        return Ok(());
    }
    let mut all_masked = credentials.clone();
    if proxy_password {
        all_masked.push("proxy_url");
    }
    let refuse = |fields: &[&'static str], problem: String| {
        Err(Error::InvalidInput {
            errors: ConfigErrors(
                fields
                    .iter()
                    .map(|&field| FieldError {
                        field,
                        problem: problem.clone(),
                    })
                    .collect(),
            ),
        })
    };
    let saved = match splunkd().and_then(|s| s.input(SCHEME, &config.name)) {
        Ok(Some(saved)) => saved,
        Ok(None) => {
            return refuse(
                &all_masked,
                format!(
                    "holds the mask (********), but there is no saved input \"{}\" whose \
                     stored secret it could stand for: type the value",
                    config.name
                ),
            );
        }
        Err(e) => {
            return refuse(
                &all_masked,
                format!(
                    "holds the mask (********), and the saved input could not be read to check \
                     that its stored secret would go where it went before ({e}): type the value \
                     again"
                ),
            );
        }
    };
    let value = |key: &str| saved.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let saved_proxy = value("proxy_url").and_then(|v| Url::parse(v).ok());
    let proxy_host_changed =
        proxy_host(saved_proxy.as_ref()) != proxy_host(config.proxy.as_ref().map(|p| &p.url));
    let mut changed = Vec::new();
    if value("api_url").and_then(|v| Url::parse(v).ok()).as_ref() != Some(&config.api_url) {
        changed.push("api_url");
    }
    if proxy_host_changed {
        changed.push("the host of proxy_url");
    }
    if value("ca_bundle").map(Path::new) != config.ca_bundle.as_deref() {
        changed.push("ca_bundle");
    }
    if !credentials.is_empty() && !changed.is_empty() {
        return refuse(
            &credentials,
            format!(
                "holds the mask (********) for the stored secret, but {} changed: type the API \
                 key and the password again, so that the stored ones are never sent to a new \
                 destination without you",
                changed.join(" and ")
            ),
        );
    }
    if proxy_password && proxy_host_changed {
        return refuse(
            &["proxy_url"],
            "holds the mask (********) for the stored proxy password, but the proxy's host \
             changed: type the proxy password again in proxy_url"
                .into(),
        );
    }
    Ok(())
}

/// The host and port a proxy URL names.
fn proxy_host(url: Option<&Url>) -> Option<(String, Option<u16>)> {
    url.map(|u| {
        (
            u.host_str().unwrap_or_default().to_ascii_lowercase(),
            u.port_or_known_default(),
        )
    })
}

/// With secrets given in clear (a new input, or a secret typed again), signs in to Incode so a
/// wrong key or password is refused while the administrator is still on the form; a secret
/// still masked is read from the credential store for it (the proxy's password too). Masked
/// secrets alone were checked when they were typed: nothing new to test.
fn live_check(
    config: &InputConfig,
    splunkd: impl Fn() -> Result<Splunkd, splunkd::SplunkdError>,
) -> Result<(), Error> {
    let clear = |field: &SecretField| match field {
        SecretField::Clear(secret) => Some(secret.clone()),
        SecretField::Masked => None,
    };
    let (api_key, password) = (clear(&config.api_key), clear(&config.admin_password));
    if api_key.is_none() && password.is_none() {
        return Ok(());
    }
    let client = std::cell::OnceCell::new();
    let stored = |field: &'static str| -> Option<Secret> {
        client
            .get_or_init(|| splunkd().ok())
            .as_ref()?
            .read_password(&secrets::realm(&config.name), field)
            .ok()
            .flatten()
    };
    let (Some(api_key), Some(password)) = (
        api_key.or_else(|| stored("api_key")),
        password.or_else(|| stored("admin_password")),
    ) else {
        return Ok(());
    };
    let proxy_password = match config.proxy.as_ref().and_then(|p| p.password.as_ref()) {
        Some(SecretField::Clear(secret)) => Some(secret.clone()),
        Some(SecretField::Masked) => stored("proxy_password"),
        None => None,
    };
    let credentials = Credentials {
        api_key,
        email: config.admin_email.clone(),
        password,
        proxy_password,
    };
    let once = Backoff {
        attempts: 1,
        ..Backoff::SCORE
    };
    let incode = Incode::new(config, credentials, once, Arc::new(AtomicBool::new(false)))?;
    let problem = match crate::incode::runtime()?.block_on(incode.login()) {
        Ok(()) => return Ok(()),
        Err(IncodeError::BadApiKey) => FieldError {
            field: "api_key",
            problem: "is rejected by Incode (403 Forbidden on /executive/log-in): check that \
                      it is the API key of this Incode environment"
                .into(),
        },
        Err(IncodeError::BadCredentials) => FieldError {
            field: "admin_password",
            problem: "or admin_email is rejected by Incode (401 Unauthorized on \
                      /executive/log-in): check the executive user's email and password"
                .into(),
        },
        Err(e @ IncodeError::ProxyRefused { .. }) => FieldError {
            field: "proxy_url",
            problem: format!("is refused: {e}"),
        },
        Err(e) => FieldError {
            field: "api_url",
            problem: format!("cannot be used to sign in to Incode: {e}"),
        },
    };
    Err(Error::InvalidInput {
        errors: ConfigErrors(vec![problem]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_compare_by_host_and_port() {
        let url = |s: &str| Url::parse(s).unwrap();
        let a = url("http://bob:********@Squid.corp:3128");
        assert_eq!(
            proxy_host(Some(&a)),
            proxy_host(Some(&url("http://alice:x@squid.corp:3128/")))
        );
        assert_ne!(
            proxy_host(Some(&a)),
            proxy_host(Some(&url("http://bob:x@squid.corp:8080")))
        );
        assert_ne!(
            proxy_host(Some(&a)),
            proxy_host(Some(&url("http://bob:x@evil.example:3128")))
        );
        assert_ne!(proxy_host(Some(&a)), proxy_host(None));
    }
}
