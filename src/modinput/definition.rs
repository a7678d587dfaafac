//! The documents splunkd writes on a modular input's stdin: the input definition of a run
//! (`<input>`) and the validation request of `--validate-arguments` (`<items>`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::Secret;

/// What is wrong with a document on stdin.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// Neither UTF-8 nor UTF-16 with a byte-order mark.
    #[error("it is not UTF-8 text ({0})")]
    Encoding(String),
    /// Not the document this mode expects.
    #[error("its root element is <{found}>, expected <{expected}>")]
    WrongRoot {
        /// The root element found (empty when there is none).
        found: String,
        /// The root element this mode reads.
        expected: &'static str,
    },
    /// Not well-formed XML, or missing or unexpected elements.
    #[error("{0}")]
    Xml(String),
    /// A validation request must name exactly one input.
    #[error("it holds {0} <item> elements, expected exactly one")]
    ItemCount(usize),
}

/// The four values splunkd sends with every document.
#[derive(Debug)]
pub struct Metadata {
    /// The Splunk server's host name.
    pub server_host: String,
    /// splunkd's management URI, e.g. `https://127.0.0.1:8089`.
    pub server_uri: String,
    /// A session key for splunkd's REST API (the input runs as splunk-system-user).
    pub session_key: Secret,
    /// The folder where this scheme's inputs keep their checkpoints.
    pub checkpoint_dir: PathBuf,
}

/// One value of a stanza: `<param>` or `<param_list>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    /// `<param name="…">value</param>`
    Single(String),
    /// `<param_list name="…"><value>…</value>…</param_list>`
    List(Vec<String>),
}

/// One configured input: its full name (`incode://<name>` in a run, the bare name in validation)
/// and its parameters as splunkd sent them.
#[derive(Debug)]
pub struct Stanza {
    /// The stanza or item name.
    pub name: String,
    /// The app whose configuration holds the input, when splunkd says.
    pub app: Option<String>,
    /// Parameters by name; a repeated name keeps its last value, as Splunk's SDK does.
    pub params: BTreeMap<String, ParamValue>,
}

impl Stanza {
    /// The value of a single-valued parameter (the first value of a list).
    pub fn param(&self, name: &str) -> Option<&str> {
        match self.params.get(name)? {
            ParamValue::Single(v) => Some(v),
            ParamValue::List(values) => values.first().map(String::as_str),
        }
    }
}

/// The `<input>` document of a run.
#[derive(Debug)]
pub struct InputDefinition {
    /// Server and session values.
    pub metadata: Metadata,
    /// The inputs to run (one per process in splunkd's default mode).
    pub stanzas: Vec<Stanza>,
}

/// The `<items>` document of `--validate-arguments`.
#[derive(Debug)]
pub struct ValidationDefinition {
    /// Server and session values.
    pub metadata: Metadata,
    /// The input being created or edited.
    pub item: Stanza,
}

impl InputDefinition {
    /// Parses a run's stdin.
    pub fn parse(bytes: &[u8]) -> Result<Self, DefinitionError> {
        let (metadata, stanzas) = parse_document(bytes, "input")?;
        let stanzas = stanzas.into_iter().map(RawStanza::into_stanza).collect();
        Ok(InputDefinition { metadata, stanzas })
    }
}

impl ValidationDefinition {
    /// Parses the stdin of `--validate-arguments`.
    pub fn parse(bytes: &[u8]) -> Result<Self, DefinitionError> {
        let (metadata, mut items) = parse_document(bytes, "items")?;
        if items.len() != 1 {
            return Err(DefinitionError::ItemCount(items.len()));
        }
        let item = items.remove(0).into_stanza();
        Ok(ValidationDefinition { metadata, item })
    }
}

/// Both documents share one shape: four metadata elements, then stanzas under `<configuration>`
/// (a run) or `<item>` elements (validation). Other root children are ignored, as the SDK does;
/// inside a stanza only `param` and `param_list` are allowed.
#[derive(Deserialize)]
struct RawDocument {
    server_host: String,
    server_uri: String,
    session_key: String,
    checkpoint_dir: String,
    #[serde(default)]
    configuration: Option<RawConfiguration>,
    #[serde(default)]
    item: Vec<RawStanza>,
}

#[derive(Deserialize, Default)]
struct RawConfiguration {
    #[serde(default)]
    stanza: Vec<RawStanza>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStanza {
    #[serde(rename = "@name")]
    name: String,
    #[serde(rename = "@app", default)]
    app: Option<String>,
    #[serde(rename = "$value", default)]
    params: Vec<RawParam>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawParam {
    Param {
        #[serde(rename = "@name")]
        name: String,
        #[serde(rename = "$text", default)]
        value: String,
    },
    ParamList {
        #[serde(rename = "@name")]
        name: String,
        #[serde(default)]
        value: Vec<String>,
    },
}

impl RawStanza {
    fn into_stanza(self) -> Stanza {
        let params = self
            .params
            .into_iter()
            .map(|p| match p {
                RawParam::Param { name, value } => (name, ParamValue::Single(value)),
                RawParam::ParamList { name, value } => (name, ParamValue::List(value)),
            })
            .collect();
        Stanza {
            name: self.name,
            app: self.app,
            params,
        }
    }
}

fn parse_document(
    bytes: &[u8],
    expected_root: &'static str,
) -> Result<(Metadata, Vec<RawStanza>), DefinitionError> {
    let text = decode(bytes)?;
    let found = root_element(&text)?;
    if found != expected_root {
        return Err(DefinitionError::WrongRoot {
            found,
            expected: expected_root,
        });
    }
    let doc: RawDocument =
        quick_xml::de::from_str(&text).map_err(|e| DefinitionError::Xml(e.to_string()))?;
    let metadata = Metadata {
        server_host: doc.server_host,
        server_uri: doc.server_uri,
        session_key: Secret::new(doc.session_key),
        checkpoint_dir: PathBuf::from(doc.checkpoint_dir),
    };
    let stanzas = if expected_root == "items" {
        doc.item
    } else {
        doc.configuration.unwrap_or_default().stanza
    };
    Ok((metadata, stanzas))
}

/// splunkd writes UTF-8; Splunk's SDK test documents are UTF-16 with a byte-order mark. Both are
/// read; the XML declaration's `encoding` is then moot because the text is already decoded.
fn decode(bytes: &[u8]) -> Result<String, DefinitionError> {
    let utf16 = |rest: &[u8], from: fn([u8; 2]) -> u16| {
        if !rest.len().is_multiple_of(2) {
            return Err(DefinitionError::Encoding(
                "UTF-16 with an odd number of bytes".into(),
            ));
        }
        let units = rest.chunks_exact(2).map(|c| from([c[0], c[1]]));
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|e| DefinitionError::Encoding(format!("invalid UTF-16: {e}")))
    };
    match bytes {
        [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
        [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
        [0xEF, 0xBB, 0xBF, rest @ ..] | rest => String::from_utf8(rest.to_vec())
            .map_err(|e| DefinitionError::Encoding(format!("invalid UTF-8: {e}"))),
    }
}

/// The name of the first element, so an `<items>` document is never run as an `<input>`.
fn root_element(text: &str) -> Result<String, DefinitionError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Ok(e.name().into_inner().to_owned());
            }
            Ok(Event::Eof) => return Ok(String::new()),
            Ok(_) => {}
            Err(e) => return Err(DefinitionError::Xml(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(configuration: &str) -> String {
        format!(
            "<input><server_host>h</server_host><server_uri>https://127.0.0.1:8089</server_uri>\
             <session_key>k</session_key><checkpoint_dir>/cp</checkpoint_dir>{configuration}</input>"
        )
    }

    #[test]
    fn values_keep_their_whitespace_and_entities() {
        let doc = input(
            r#"<configuration><stanza name="incode://a"><param name="p">  a &amp; b&lt;  </param><param name="q"><![CDATA[x<y]]></param><param name="e"/></stanza></configuration>"#,
        );
        let def = InputDefinition::parse(doc.as_bytes()).unwrap();
        let s = &def.stanzas[0];
        assert_eq!(s.param("p"), Some("  a & b<  "));
        assert_eq!(s.param("q"), Some("x<y"));
        assert_eq!(s.param("e"), Some(""));
        assert_eq!(s.param("missing"), None);
    }

    #[test]
    fn a_repeated_param_keeps_the_last_value() {
        let doc = input(
            r#"<configuration><stanza name="incode://a"><param name="p">1</param><param name="p">2</param></stanza></configuration>"#,
        );
        let def = InputDefinition::parse(doc.as_bytes()).unwrap();
        assert_eq!(def.stanzas[0].param("p"), Some("2"));
    }

    #[test]
    fn an_empty_or_missing_configuration_has_no_stanzas() {
        for configuration in ["<configuration/>", "<configuration></configuration>", ""] {
            let def = InputDefinition::parse(input(configuration).as_bytes()).unwrap();
            assert!(def.stanzas.is_empty(), "{configuration}");
        }
    }

    #[test]
    fn a_missing_metadata_element_is_named() {
        let doc = "<input><server_host>h</server_host><server_uri>u</server_uri><session_key>k</session_key></input>";
        let err = InputDefinition::parse(doc.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("checkpoint_dir"), "{err}");
    }

    #[test]
    fn the_wrong_document_is_refused() {
        let err = ValidationDefinition::parse(input("").as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "its root element is <input>, expected <items>"
        );
        let err = InputDefinition::parse(b"").unwrap_err();
        assert_eq!(err.to_string(), "its root element is <>, expected <input>");
    }

    #[test]
    fn validation_needs_exactly_one_item() {
        let doc = "<items><server_host>h</server_host><server_uri>u</server_uri><session_key>k</session_key><checkpoint_dir>d</checkpoint_dir></items>";
        let err = ValidationDefinition::parse(doc.as_bytes()).unwrap_err();
        assert!(matches!(err, DefinitionError::ItemCount(0)), "{err}");
    }

    #[test]
    fn truncated_xml_is_an_error() {
        let doc = input(r#"<configuration><stanza name="incode://a"><param name="p">v"#);
        let doc = &doc[..doc.len() - "</input>".len()];
        assert!(matches!(
            InputDefinition::parse(doc.as_bytes()),
            Err(DefinitionError::Xml(_))
        ));
    }

    #[test]
    fn encodings() {
        let text = input("");
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let utf8_bom: Vec<u8> = [0xEF, 0xBB, 0xBF].into_iter().chain(text.bytes()).collect();
        for bytes in [utf16be.clone(), utf16le, utf8_bom] {
            assert_eq!(decode(&bytes).unwrap(), text);
        }
        assert!(decode(&utf16be[..utf16be.len() - 1]).is_err());
        assert!(decode(&[0xFE, 0xFF, 0xD8, 0x00]).is_err()); // lone surrogate
        assert!(decode(&[b'<', 0xFF, b'>']).is_err());
    }
}
