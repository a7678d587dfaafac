//! The introspection scheme that `--scheme` prints: what splunkd shows in Settings → Data inputs
//! and which arguments an input has.
//!
//! Elements are written in the order of Splunk's Python SDK, so its test documents serve as golden
//! files; optional elements are written when set, and this add-on sets all of them because
//! splunkd's defaults for missing ones differ from the SDK's.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};

/// How splunkd reads the events on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamingMode {
    /// Plain text, broken into events by props.conf.
    Simple,
    /// `<stream><event>…` documents.
    Xml,
}

/// An argument's type as splunkd knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// Free text.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
}

/// One argument of the scheme.
#[derive(Debug, Clone)]
pub struct Argument {
    /// The parameter name in inputs.conf.
    pub name: &'static str,
    /// The label in Splunk Web.
    pub title: Option<&'static str>,
    /// The help text in Splunk Web.
    pub description: Option<&'static str>,
    /// A splunkd-side validation expression (ignored under external validation).
    pub validation: Option<&'static str>,
    /// The value's type.
    pub data_type: DataType,
    /// Whether an edit must resend the value.
    pub required_on_edit: bool,
    /// Whether creating an input needs the value.
    pub required_on_create: bool,
}

/// A modular-input scheme.
#[derive(Debug, Clone)]
pub struct Scheme {
    /// The input type's name in Splunk Web.
    pub title: &'static str,
    /// Its description.
    pub description: Option<&'static str>,
    /// Whether splunkd runs `--validate-arguments` on create and edit.
    pub use_external_validation: bool,
    /// One process for all inputs (true) or one per input (false).
    pub use_single_instance: bool,
    /// The output format.
    pub streaming_mode: StreamingMode,
    /// The arguments.
    pub arguments: Vec<Argument>,
}

impl Scheme {
    /// The scheme document, with an XML declaration.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 4);
        let result: std::io::Result<()> = (|| {
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
            w.create_element("scheme").write_inner_content(|w| {
                text(w, "title", self.title)?;
                if let Some(d) = self.description {
                    text(w, "description", d)?;
                }
                text(
                    w,
                    "use_external_validation",
                    flag(self.use_external_validation),
                )?;
                text(w, "use_single_instance", flag(self.use_single_instance))?;
                let mode = match self.streaming_mode {
                    StreamingMode::Simple => "simple",
                    StreamingMode::Xml => "xml",
                };
                text(w, "streaming_mode", mode)?;
                w.create_element("endpoint").write_inner_content(|w| {
                    w.create_element("args").write_inner_content(|w| {
                        self.arguments.iter().try_for_each(|a| a.write(w))
                    })?;
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })();
        result.expect("writing XML into memory cannot fail");
        String::from_utf8(w.into_inner()).expect("the writer only writes UTF-8")
    }
}

impl Argument {
    /// The `<arg>` element alone, as Splunk's SDK renders one.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 4);
        self.write(&mut w)
            .expect("writing XML into memory cannot fail");
        String::from_utf8(w.into_inner()).expect("the writer only writes UTF-8")
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        w.create_element("arg")
            .with_attribute(("name", self.name))
            .write_inner_content(|w| {
                for (tag, value) in [
                    ("title", self.title),
                    ("description", self.description),
                    ("validation", self.validation),
                ] {
                    if let Some(v) = value {
                        text(w, tag, v)?;
                    }
                }
                let data_type = match self.data_type {
                    DataType::String => "string",
                    DataType::Number => "number",
                    DataType::Boolean => "boolean",
                };
                text(w, "data_type", data_type)?;
                text(w, "required_on_edit", flag(self.required_on_edit))?;
                text(w, "required_on_create", flag(self.required_on_create))
            })?;
        Ok(())
    }
}

fn text(w: &mut Writer<Vec<u8>>, tag: &str, value: &str) -> std::io::Result<()> {
    // Only `&`, `<` and `>` need escaping in text; quotes are left readable.
    let escaped = quick_xml::escape::partial_escape(value);
    w.create_element(tag)
        .write_text_content(quick_xml::events::BytesText::from_escaped(escaped))?;
    Ok(())
}

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}
