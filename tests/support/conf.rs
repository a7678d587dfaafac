//! Reader for Splunk .conf files: `[stanza]` headers, `key = value` lines, whole-line `#`
//! comments, and a backslash at the end of a line continuing the value on the next line (the
//! line break is kept, as splunkd keeps it in multi-line searches).

use std::fs;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Stanza {
    pub name: String,
    /// Keys in file order.
    pub entries: Vec<(String, String)>,
}

impl Stanza {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `(class, value)` of every `<prefix><class>` key, sorted by class: splunkd applies
    /// `TRANSFORMS-`, `EXTRACT-`, `FIELDALIAS-`, `EVAL-` and `LOOKUP-` classes in ASCII order.
    pub fn classes(&self, prefix: &str) -> Vec<(&str, &str)> {
        let mut found: Vec<(&str, &str)> = self
            .entries
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|class| (class, v.as_str())))
            .collect();
        found.sort();
        found
    }
}

#[derive(Debug, Clone)]
pub struct Conf {
    pub file: String,
    pub stanzas: Vec<Stanza>,
}

impl Conf {
    /// Loads a file of the repository, e.g. `default/props.conf`.
    pub fn load(relative: &str) -> Conf {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Conf::parse(relative, &text).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    /// Parses conf text; duplicate stanzas and duplicate keys in a stanza are errors (splunkd
    /// would silently keep the last one, which in a shipped file is always a mistake).
    pub fn parse(file: &str, text: &str) -> Result<Conf, String> {
        let mut stanzas: Vec<Stanza> = Vec::new();
        let mut lines = text.lines().enumerate();
        while let Some((number, line)) = lines.next() {
            let mut line = line.trim_end_matches('\r').to_string();
            while line.ends_with('\\') {
                line.pop();
                match lines.next() {
                    Some((_, next)) => {
                        line.push('\n');
                        line.push_str(next.trim_end_matches('\r'));
                    }
                    None => {
                        return Err(format!("line {}: continuation at end of file", number + 1));
                    }
                }
            }
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                if stanzas.iter().any(|s| s.name == name) {
                    return Err(format!("line {}: duplicate stanza [{name}]", number + 1));
                }
                stanzas.push(Stanza {
                    name: name.to_string(),
                    entries: Vec::new(),
                });
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!(
                    "line {}: neither a stanza, a comment nor key = value",
                    number + 1
                ));
            };
            let (key, value) = (key.trim().to_string(), value.trim().to_string());
            let Some(stanza) = stanzas.last_mut() else {
                return Err(format!(
                    "line {}: setting {key} outside any stanza",
                    number + 1
                ));
            };
            if stanza.get(&key).is_some() {
                return Err(format!(
                    "line {}: duplicate key {key} in [{}]",
                    number + 1,
                    stanza.name
                ));
            }
            stanza.entries.push((key, value));
        }
        Ok(Conf {
            file: file.to_string(),
            stanzas,
        })
    }

    pub fn stanza(&self, name: &str) -> &Stanza {
        self.find(name)
            .unwrap_or_else(|| panic!("{}: no stanza [{name}]", self.file))
    }

    pub fn find(&self, name: &str) -> Option<&Stanza> {
        self.stanzas.iter().find(|s| s.name == name)
    }
}
