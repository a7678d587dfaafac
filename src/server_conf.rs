//! splunkd's `server.conf` as splunkd layers it, for the one thing the splunkd client needs from
//! it: the CA file named by `[sslConfig] sslRootCAPath`, which a site that replaced splunkd's
//! certificate with one from its own certificate authority sets.
//!
//! Layers (server.conf is read in Splunk's global context), highest precedence first:
//! `etc/system/local`, then every enabled app's `local`, then every enabled app's `default`, then
//! `etc/system/default`; apps in ASCII order of their folder names, "A" before "B" before "a".
//! The syntax is Splunk's: `[stanza]` headers, `key = value` lines, `#` comment lines, a
//! backslash at the very end of a line continuing the value on the next, settings outside any
//! stanza belonging to `[default]`, the last definition in a file winning.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// A configuration file that exists but cannot be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read {path} ({source}): the input runs as splunkd's user, which must be able to read \
     splunkd's configuration"
)]
pub struct ServerConfError {
    /// The file or folder.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// A setting's value and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value, trimmed; continuation lines joined with a line feed.
    pub value: String,
    /// The `server.conf` that set it.
    pub file: PathBuf,
}

/// The `server.conf` layers of one Splunk installation, parsed.
#[derive(Debug)]
pub struct ServerConf {
    home: PathBuf,
    /// Highest precedence first; missing files left out.
    layers: Vec<(PathBuf, Conf)>,
}

impl ServerConf {
    /// Reads every layer of `$SPLUNK_HOME/etc/**/server.conf`. A missing file is an absent
    /// layer, not an error.
    pub fn load(splunk_home: &Path) -> Result<ServerConf, ServerConfError> {
        let etc = splunk_home.join("etc");
        let apps = enabled_apps(&etc.join("apps"))?;
        let files = std::iter::once(under(&etc, "system/local/server.conf"))
            .chain(apps.iter().map(|app| under(app, "local/server.conf")))
            .chain(apps.iter().map(|app| under(app, "default/server.conf")))
            .chain(std::iter::once(under(&etc, "system/default/server.conf")));
        let mut layers = Vec::new();
        for file in files {
            if let Some(conf) = read(&file)? {
                layers.push((file, conf));
            }
        }
        Ok(ServerConf {
            home: splunk_home.to_owned(),
            layers,
        })
    }

    /// `[stanza] key` as splunkd sees it: from the highest layer that sets it in that stanza,
    /// else from the highest layer that sets it in `[default]`.
    pub fn get(&self, stanza: &str, key: &str) -> Option<Setting> {
        [stanza, DEFAULT].into_iter().find_map(|stanza| {
            self.layers.iter().find_map(|(file, conf)| {
                conf.get(stanza, key).map(|value| Setting {
                    value: value.to_owned(),
                    file: file.clone(),
                })
            })
        })
    }

    /// The file `[sslConfig] sslRootCAPath` names, with `$SPLUNK_HOME` expanded and a relative
    /// path taken from `caPath` (by default `$SPLUNK_HOME/etc/auth`), as server.conf.spec says;
    /// `None` when it is not set or set empty. The setting's `file` is the server.conf that
    /// set it.
    pub fn ssl_root_ca_path(&self) -> Option<(PathBuf, Setting)> {
        let setting = self
            .get(SSL_CONFIG, "sslRootCAPath")
            .filter(|s| !s.value.is_empty())?;
        let ca_path = self
            .get(SSL_CONFIG, "caPath")
            .filter(|s| !s.value.is_empty())
            .map(|s| expand_splunk_home(&s.value, &self.home))
            .unwrap_or_else(|| under(&self.home, "etc/auth"));
        Some((
            ca_path.join(expand_splunk_home(&setting.value, &self.home)),
            setting,
        ))
    }
}

const DEFAULT: &str = "default";
const SSL_CONFIG: &str = "sslConfig";

/// `$SPLUNK_HOME` in `value` replaced by `splunk_home` (`$SPLUNK_HOMEX` is another variable and
/// stays as it is).
fn expand_splunk_home(value: &str, splunk_home: &Path) -> PathBuf {
    const VARIABLE: &str = "$SPLUNK_HOME";
    let home = splunk_home.to_string_lossy();
    let mut expanded = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(VARIABLE) {
        let after = &rest[at + VARIABLE.len()..];
        expanded.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            expanded.push_str(VARIABLE);
        } else {
            expanded.push_str(&home);
        }
        rest = after;
    }
    expanded.push_str(rest);
    PathBuf::from(expanded)
}

/// The app folders under `etc/apps` whose configuration splunkd reads, in precedence order:
/// ASCII order of their names, leaving out apps whose app.conf says `[install] state =
/// disabled` ("If an app is disabled, its configurations are ignored", app.conf.spec).
fn enabled_apps(apps: &Path) -> Result<Vec<PathBuf>, ServerConfError> {
    let entries = match std::fs::read_dir(apps) {
        Ok(entries) => entries,
        Err(e) if absent(&e) => return Ok(Vec::new()),
        Err(source) => {
            return Err(ServerConfError {
                path: apps.to_owned(),
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ServerConfError {
            path: apps.to_owned(),
            source,
        })?;
        names.push(entry.file_name());
    }
    // OsString compares bytes on Unix: ASCII order, as splunkd sorts app folders.
    names.sort();
    let mut enabled = Vec::new();
    for name in names {
        let app = apps.join(name);
        let mut state = None;
        for layer in ["local", "default"] {
            if let Some(conf) = read(&app.join(layer).join("app.conf"))? {
                state = state.or_else(|| conf.get("install", "state").map(str::to_owned));
            }
        }
        if state.as_deref() != Some("disabled") {
            enabled.push(app);
        }
    }
    Ok(enabled)
}

/// A file that is not there (or under something that is not a folder) is an absent layer.
fn absent(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn read(path: &Path) -> Result<Option<Conf>, ServerConfError> {
    match std::fs::read(path) {
        // A stray byte that is not UTF-8 (in a comment, say) must not hide the other settings.
        Ok(bytes) => Ok(Some(Conf::parse(&String::from_utf8_lossy(&bytes)))),
        Err(e) if absent(&e) => Ok(None),
        Err(source) => Err(ServerConfError {
            path: path.to_owned(),
            source,
        }),
    }
}

/// One parsed .conf file: stanza → key → value.
#[derive(Debug, Default)]
struct Conf(HashMap<String, HashMap<String, String>>);

impl Conf {
    fn parse(text: &str) -> Conf {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut conf = Conf::default();
        let mut stanza = DEFAULT.to_owned();
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        while let Some(first) = lines.next() {
            // A backslash as the very last character continues the line; the line break stays
            // in the value, as ksconf's parser keeps it.
            let mut line = first.to_owned();
            while let Some(kept) = line.strip_suffix('\\') {
                line.truncate(kept.len());
                line.push('\n');
                match lines.next() {
                    Some(next) => line.push_str(next),
                    None => break,
                }
            }
            let trimmed = line.trim();
            if trimmed.starts_with('#') {
                continue;
            }
            if let Some(name) = trimmed
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                stanza = name.to_owned();
            } else if let Some((key, value)) = line.split_once('=') {
                conf.0
                    .entry(stanza.clone())
                    .or_default()
                    .insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
        conf
    }

    fn get(&self, stanza: &str, key: &str) -> Option<&str> {
        self.0.get(stanza)?.get(key).map(String::as_str)
    }
}

/// `relative` (written with `/`) under `base`, one component at a time, so that the path uses
/// the platform's separator (a Windows message then names `C:\…\etc\auth\cacert.pem`).
pub(crate) fn under(base: &Path, relative: &str) -> PathBuf {
    relative
        .split('/')
        .fold(base.to_path_buf(), |path, part| path.join(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch `$SPLUNK_HOME`, removed on drop.
    struct Home(PathBuf);

    impl Home {
        fn new(name: &str) -> Home {
            let dir = std::env::temp_dir().join(format!(
                "ta-incode-server-conf-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Home(dir)
        }

        fn write(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }

        fn conf(&self) -> ServerConf {
            ServerConf::load(&self.0).unwrap()
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn value(conf: &ServerConf, key: &str) -> Option<String> {
        conf.get("sslConfig", key).map(|s| s.value)
    }

    #[test]
    fn system_local_over_apps_local_over_apps_default_over_system_default() {
        let home = Home::new("layers");
        let system_default = home.write(
            "etc/system/default/server.conf",
            "[sslConfig]\na = system-default\nb = system-default\nc = system-default\n\
             d = system-default\n",
        );
        home.write(
            "etc/apps/b_app/default/server.conf",
            "[sslConfig]\na = b-default\nb = b-default\nc = b-default\n",
        );
        home.write(
            "etc/apps/a_app/default/server.conf",
            "[sslConfig]\na = a-default\nb = a-default\nc = a-default\n",
        );
        home.write(
            "etc/apps/b_app/local/server.conf",
            "[sslConfig]\na = b-local\nb = b-local\n",
        );
        let system_local = home.write("etc/system/local/server.conf", "[sslConfig]\na = local\n");
        let conf = home.conf();
        assert_eq!(
            conf.get("sslConfig", "a"),
            Some(Setting {
                value: "local".into(),
                file: system_local
            })
        );
        assert_eq!(value(&conf, "b").as_deref(), Some("b-local"));
        assert_eq!(
            value(&conf, "c").as_deref(),
            Some("a-default"),
            "a_app before b_app"
        );
        assert_eq!(
            conf.get("sslConfig", "d"),
            Some(Setting {
                value: "system-default".into(),
                file: system_default
            })
        );
        assert_eq!(value(&conf, "e"), None);
        assert_eq!(conf.get("general", "a"), None);
    }

    #[test]
    fn apps_sort_in_ascii_order_and_disabled_apps_are_ignored() {
        let home = Home::new("apps");
        for app in ["a_lower", "Z_upper", "1_digit"] {
            home.write(
                &format!("etc/apps/{app}/default/server.conf"),
                &format!("[sslConfig]\nk = {app}\n"),
            );
        }
        assert_eq!(value(&home.conf(), "k").as_deref(), Some("1_digit"));
        home.write(
            "etc/apps/1_digit/default/app.conf",
            "[install]\nstate = disabled\n",
        );
        assert_eq!(value(&home.conf(), "k").as_deref(), Some("Z_upper"));
        // The app's local app.conf overrides its default one.
        home.write(
            "etc/apps/1_digit/local/app.conf",
            "[install]\nstate = enabled\n",
        );
        assert_eq!(value(&home.conf(), "k").as_deref(), Some("1_digit"));
    }

    #[test]
    fn syntax_comments_continuations_whitespace_and_the_default_stanza() {
        let conf = Conf::parse(concat!(
            "\u{feff}global = outside any stanza\r\n",
            "# sslRootCAPath = /commented/out.pem\n",
            "   # indented comment = still a comment\n",
            "[sslConfig]\n",
            "  sslRootCAPath   =   /opt/ca.pem  \r\n",
            "serverCert = /first.pem\n",
            "serverCert = /last.pem\n",
            "note = a # is part of the value\n",
            "long = one\\\n",
            "two\\\n",
            "three\n",
            "no equals sign here\n",
            "empty =\n",
            "[ other ]\n",
            "sslRootCAPath = /other.pem\n",
            "[default]\n",
            "fallback = from default\n",
        ));
        assert_eq!(conf.get("sslConfig", "sslRootCAPath"), Some("/opt/ca.pem"));
        assert_eq!(
            conf.get("sslConfig", "serverCert"),
            Some("/last.pem"),
            "the last definition wins"
        );
        assert_eq!(
            conf.get("sslConfig", "note"),
            Some("a # is part of the value")
        );
        assert_eq!(conf.get("sslConfig", "long"), Some("one\ntwo\nthree"));
        assert_eq!(conf.get("sslConfig", "empty"), Some(""));
        assert_eq!(conf.get(" other ", "sslRootCAPath"), Some("/other.pem"));
        assert_eq!(conf.get("default", "global"), Some("outside any stanza"));
        assert_eq!(conf.get("default", "fallback"), Some("from default"));
        assert_eq!(conf.0.len(), 3, "{conf:?}");
        assert_eq!(conf.0["sslConfig"].len(), 5, "{conf:?}");
    }

    #[test]
    fn a_stanza_setting_in_a_lower_layer_beats_default_in_a_higher_one() {
        let home = Home::new("default-stanza");
        home.write(
            "etc/system/local/server.conf",
            "k = global\nonly = global\n",
        );
        home.write(
            "etc/system/default/server.conf",
            "[sslConfig]\nk = stanza\n",
        );
        let conf = home.conf();
        assert_eq!(value(&conf, "k").as_deref(), Some("stanza"));
        assert_eq!(value(&conf, "only").as_deref(), Some("global"));
    }

    #[test]
    fn ssl_root_ca_path_expands_splunk_home_and_follows_ca_path() {
        let home = Home::new("rootca");
        let h = home.0.display().to_string();
        assert_eq!(
            home.conf().ssl_root_ca_path(),
            None,
            "no server.conf at all"
        );

        let local = home.write(
            "etc/system/local/server.conf",
            "[sslConfig]\nsslRootCAPath = $SPLUNK_HOME/etc/auth/mycerts/ca.pem\n",
        );
        let (path, setting) = home.conf().ssl_root_ca_path().unwrap();
        assert_eq!(path, PathBuf::from(format!("{h}/etc/auth/mycerts/ca.pem")));
        assert_eq!(setting.file, local);

        home.write(
            "etc/system/local/server.conf",
            "[sslConfig]\nsslRootCAPath = mycerts/ca.pem\n",
        );
        let (path, _) = home.conf().ssl_root_ca_path().unwrap();
        assert_eq!(
            path,
            home.0.join("etc/auth/mycerts/ca.pem"),
            "caPath's default"
        );

        home.write(
            "etc/system/default/server.conf",
            "[sslConfig]\ncaPath = $SPLUNK_HOME/etc/certs\n",
        );
        let (path, _) = home.conf().ssl_root_ca_path().unwrap();
        assert_eq!(path, home.0.join("etc/certs/mycerts/ca.pem"));

        home.write(
            "etc/system/local/server.conf",
            "[sslConfig]\nsslRootCAPath = /etc/pki/splunk-ca.pem\n",
        );
        let (path, _) = home.conf().ssl_root_ca_path().unwrap();
        assert_eq!(path, PathBuf::from("/etc/pki/splunk-ca.pem"));

        // Set empty in system/local: unset, whatever a lower layer says.
        home.write(
            "etc/apps/site_ssl/default/server.conf",
            "[sslConfig]\nsslRootCAPath = /site/ca.pem\n",
        );
        home.write(
            "etc/system/local/server.conf",
            "[sslConfig]\nsslRootCAPath =\n",
        );
        assert_eq!(home.conf().ssl_root_ca_path(), None);
    }

    #[test]
    fn only_splunk_home_itself_is_expanded() {
        let home = Path::new("/opt/splunk");
        assert_eq!(
            expand_splunk_home("$SPLUNK_HOME/etc/auth/ca.pem", home),
            PathBuf::from("/opt/splunk/etc/auth/ca.pem")
        );
        assert_eq!(
            expand_splunk_home("$SPLUNK_HOME", home),
            PathBuf::from("/opt/splunk")
        );
        assert_eq!(
            expand_splunk_home("$SPLUNK_HOME_2/a:$SPLUNK_HOMEX/$SPLUNK_DB", home),
            PathBuf::from("$SPLUNK_HOME_2/a:$SPLUNK_HOMEX/$SPLUNK_DB")
        );
        assert_eq!(
            expand_splunk_home("/x/$SPLUNK_HOME-ca.pem", home),
            PathBuf::from("/x//opt/splunk-ca.pem")
        );
    }

    #[test]
    fn missing_files_and_folders_are_absent_layers() {
        let home = Home::new("missing");
        assert_eq!(home.conf().layers.len(), 0);
        // A file where a folder is expected, and an app without server.conf.
        home.write("etc/apps/README.txt", "not an app");
        home.write("etc/apps/plain/default/app.conf", "[ui]\nlabel = Plain\n");
        assert_eq!(home.conf().layers.len(), 0);
        assert!(ServerConf::load(Path::new("/nonexistent/splunk")).is_ok());
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let home = Home::new("unreadable");
        // A folder where the file should be: reading it fails with something else than
        // "not found" (permissions cannot be tested as root).
        std::fs::create_dir_all(home.0.join("etc/system/local/server.conf")).unwrap();
        let err = ServerConf::load(&home.0).unwrap_err();
        assert_eq!(err.path, home.0.join("etc/system/local/server.conf"));
        assert!(err.to_string().starts_with(&format!(
            "cannot read {}",
            home.0.join("etc/system/local/server.conf").display()
        )));
    }
}
