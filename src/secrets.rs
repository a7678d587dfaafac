//! Contract §2 step 1: secrets typed in clear are moved to splunkd's credential store and
//! replaced by the mask in inputs.conf; masked ones are read back from the store.

use log::{error, info};

use crate::config::{InputConfig, SCHEME, SecretField};
use crate::error::Error;
use crate::incode::Credentials;
use crate::secret::Secret;
use crate::splunkd::Splunkd;

/// What the add-on writes in place of a stored secret.
pub const MASK: &str = "********";

/// The credential store's realm of an input's secrets: its stanza name, so an administrator
/// reading `passwords.conf` sees which input each belongs to.
pub fn realm(input: &str) -> String {
    format!("{SCHEME}://{input}")
}

/// The input's clear credentials. Clear ones are stored first and then masked; a failed mask is
/// logged (the clear value stays in inputs.conf until a later run masks it) but does not stop
/// the pass, which already has what it needs.
pub fn resolve(splunkd: &Splunkd, config: &InputConfig) -> Result<Credentials, Error> {
    let realm = realm(&config.name);
    let mut masks: Vec<(&str, String)> = Vec::new();
    let mut take = |field: &'static str, value: &SecretField| -> Result<Secret, Error> {
        match value {
            SecretField::Clear(secret) => {
                splunkd.write_password(&realm, field, secret)?;
                masks.push((field, MASK.to_owned()));
                Ok(secret.clone())
            }
            SecretField::Masked => {
                splunkd
                    .read_password(&realm, field)?
                    .ok_or_else(|| Error::MissingSecret {
                        field,
                        realm: realm.clone(),
                    })
            }
        }
    };
    let api_key = take("api_key", &config.api_key)?;
    let password = take("admin_password", &config.admin_password)?;
    let proxy_password = match config.proxy.as_ref().and_then(|p| p.password.as_ref()) {
        Some(field) => Some(take("proxy_password", field)?),
        None => None,
    };
    // The proxy password lives inside proxy_url: mask it there.
    if let Some(i) = masks.iter().position(|(f, _)| *f == "proxy_password") {
        let mut url = config
            .proxy
            .as_ref()
            .expect("a proxy password has a proxy")
            .url
            .clone();
        let _ = url.set_password(Some(MASK));
        masks[i] = ("proxy_url", url.to_string());
    }
    if !masks.is_empty() {
        let fields: Vec<(&str, &str)> = masks.iter().map(|(f, v)| (*f, v.as_str())).collect();
        let names: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
        match splunkd.update_input(SCHEME, &config.name, &fields) {
            Ok(()) => info!(
                "event=secrets_stored fields={} the clear values are now in Splunk's credential \
                 store and masked in inputs.conf",
                names.join(",")
            ),
            Err(e) => error!(
                "event=splunkd_error fields={} stored in Splunk's credential store, but masking \
                 them in inputs.conf failed: {e}. The next run tries again; until then the clear \
                 values stay in inputs.conf",
                names.join(",")
            ),
        }
    }
    Ok(Credentials {
        api_key,
        email: config.admin_email.clone(),
        password,
        proxy_password,
    })
}
