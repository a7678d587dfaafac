//! A reader for Splunk .conf files, as splunkd reads them: `[stanza]` headers, `key = value`
//! lines, `#` comments, and a trailing backslash continuing a value on the next line.

use std::collections::BTreeMap;

/// Stanzas in file order; settings before the first header belong to the stanza named "default".
pub type Conf = Vec<(String, BTreeMap<String, String>)>;

/// Parses a .conf file's text.
pub fn parse(text: &str) -> Conf {
    let mut conf: Conf = vec![("default".into(), BTreeMap::new())];
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            conf.push((name.to_owned(), BTreeMap::new()));
            continue;
        }
        let (key, value) = trimmed
            .split_once('=')
            .unwrap_or_else(|| panic!("not a setting: {line:?}"));
        let mut value = value.trim().to_owned();
        while value.ends_with('\\') {
            value.pop();
            value.push('\n');
            value.push_str(lines.next().unwrap_or_default());
        }
        conf.last_mut()
            .unwrap()
            .1
            .insert(key.trim().to_owned(), value.trim_end().to_owned());
    }
    conf
}

/// A stanza's settings, or a panic naming it.
pub fn stanza<'a>(conf: &'a Conf, name: &str) -> &'a BTreeMap<String, String> {
    conf.iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no [{name}] stanza"))
}
