//! Golden tests: the protocol code against Splunk's own SDK test documents
//! (`tests/fixtures/splunklib/`, copied from splunk-sdk-python).

mod support;

use support::{fixture_bytes, fixture_text, tree};
use ta_incode::modinput::{
    Argument, DataType, DefinitionError, Event, EventTime, EventWriter, InputDefinition,
    ParamValue, Scheme, StreamingMode, ValidationDefinition, validation_error,
};

const NON_ASCII: &str = "\u{c3bc} and \u{c3b6} and <&> f\u{fc}r";

fn arg2(title: Option<&'static str>) -> Argument {
    Argument {
        name: "arg2",
        title,
        description: Some(NON_ASCII),
        validation: Some("is_pos_int('some_name')"),
        data_type: DataType::Number,
        required_on_edit: true,
        required_on_create: true,
    }
}

fn scheme_without_defaults(arg2_title: Option<&'static str>) -> Scheme {
    Scheme {
        title: "abcd",
        description: Some(NON_ASCII),
        use_external_validation: false,
        use_single_instance: true,
        streaming_mode: StreamingMode::Simple,
        arguments: vec![
            Argument {
                name: "arg1",
                title: None,
                description: None,
                validation: None,
                data_type: DataType::String,
                required_on_edit: false,
                required_on_create: false,
            },
            arg2(arg2_title),
        ],
    }
}

#[test]
fn scheme_documents_match_the_sdk() {
    let with_defaults = Scheme {
        title: "abcd",
        description: None,
        use_external_validation: true,
        use_single_instance: false,
        streaming_mode: StreamingMode::Xml,
        arguments: vec![],
    };
    assert_eq!(
        tree(&with_defaults.to_xml()),
        tree(&fixture_text("splunklib/scheme_with_defaults.xml"))
    );
    assert_eq!(
        tree(&scheme_without_defaults(None).to_xml()),
        tree(&fixture_text("splunklib/scheme_without_defaults.xml"))
    );
    assert_eq!(
        tree(&scheme_without_defaults(Some("Argument for ``test_scheme``")).to_xml()),
        tree(&fixture_text(
            "splunklib/scheme_without_defaults_and_argument_title.xml"
        ))
    );
}

#[test]
fn argument_documents_match_the_sdk() {
    let with_defaults = Argument {
        name: "some_name",
        title: None,
        description: None,
        validation: None,
        data_type: DataType::String,
        required_on_edit: false,
        required_on_create: false,
    };
    assert_eq!(
        tree(&with_defaults.to_xml()),
        tree(&fixture_text("splunklib/argument_with_defaults.xml"))
    );
    let without_defaults = Argument {
        name: "some_name",
        data_type: DataType::Boolean,
        ..arg2(None)
    };
    assert_eq!(
        tree(&without_defaults.to_xml()),
        tree(&fixture_text("splunklib/argument_without_defaults.xml"))
    );
}

#[test]
fn scheme_elements_come_in_the_sdks_order() {
    let ours = tree(&scheme_without_defaults(Some("t")).to_xml());
    let sdk = tree(&fixture_text(
        "splunklib/scheme_without_defaults_and_argument_title.xml",
    ));
    let tags = |n: &support::Node| n.children.iter().map(|c| c.tag.clone()).collect::<Vec<_>>();
    assert_eq!(tags(&ours), tags(&sdk));
    let arg = |n: &support::Node| {
        n.child("endpoint").child("args").children[1]
            .children
            .iter()
            .map(|c| c.tag.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(arg(&ours), arg(&sdk));
}

#[test]
fn input_definition_with_two_inputs() {
    let def = InputDefinition::parse(&fixture_bytes("splunklib/conf_with_2_inputs.xml")).unwrap();
    assert_eq!(def.metadata.server_host, "tiny");
    assert_eq!(def.metadata.server_uri, "https://127.0.0.1:8089");
    assert_eq!(def.metadata.session_key.expose(), "123102983109283019283");
    assert_eq!(def.metadata.checkpoint_dir.to_str(), Some("/some/dir"));
    assert_eq!(def.stanzas.len(), 2);

    let aaa = &def.stanzas[0];
    assert_eq!(
        (aaa.name.as_str(), aaa.app.as_deref()),
        ("foobar://aaa", Some("search"))
    );
    let single = |v: &str| ParamValue::Single(v.to_owned());
    assert_eq!(
        aaa.params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect::<Vec<_>>(),
        [
            ("disabled", single("0")),
            ("index", single("default")),
            ("param1", single("value1")),
            ("param2", single("value2")),
        ]
    );

    let bbb = &def.stanzas[1];
    assert_eq!(
        (bbb.name.as_str(), bbb.app.as_deref()),
        ("foobar://bbb", Some("my_app"))
    );
    assert_eq!(bbb.param("param1"), Some("value11"));
    assert_eq!(bbb.param("param2"), Some("value22"));
    assert_eq!(
        bbb.params["multiValue"],
        ParamValue::List(vec!["value1".into(), "value2".into()])
    );
    assert_eq!(
        bbb.params["multiValue2"],
        ParamValue::List(vec!["value3".into(), "value4".into()])
    );
    assert_eq!(bbb.params.len(), 6);
}

#[test]
fn input_definition_with_no_inputs() {
    let def = InputDefinition::parse(&fixture_bytes("splunklib/conf_with_0_inputs.xml")).unwrap();
    assert!(def.stanzas.is_empty());
    assert_eq!(def.metadata.server_host, "tiny");
    assert_eq!(def.metadata.checkpoint_dir.to_str(), Some("/some/dir"));
}

#[test]
fn input_definition_with_unknown_elements_is_rejected() {
    let err = InputDefinition::parse(&fixture_bytes("splunklib/conf_with_invalid_inputs.xml"))
        .unwrap_err();
    assert!(matches!(err, DefinitionError::Xml(_)), "{err:?}");
    assert!(err.to_string().contains("editor"), "{err}");
}

#[test]
fn validation_definition() {
    let def = ValidationDefinition::parse(&fixture_bytes("splunklib/validation.xml")).unwrap();
    assert_eq!(def.metadata.server_uri, "https://127.0.0.1:8089");
    assert_eq!(def.metadata.session_key.expose(), "123102983109283019283");
    assert_eq!(
        def.metadata.checkpoint_dir.to_str(),
        Some("/opt/splunk/var/lib/splunk/modinputs")
    );
    assert_eq!(def.item.name, "aaa");
    assert_eq!(def.item.param("param1"), Some("value1"));
    assert_eq!(def.item.param("index"), Some("default"));
    assert_eq!(
        def.item.params["multiValue2"],
        ParamValue::List(vec!["value3".into(), "value4".into()])
    );
    // A run must never read a validation request as its input, nor the other way round.
    assert!(InputDefinition::parse(&fixture_bytes("splunklib/validation.xml")).is_err());
    assert!(
        ValidationDefinition::parse(&fixture_bytes("splunklib/conf_with_0_inputs.xml")).is_err()
    );
}

#[test]
fn validation_error_matches_the_sdk_byte_for_byte() {
    assert_eq!(
        validation_error("Big fat validation error!").as_bytes(),
        fixture_bytes("splunklib/validation_error.xml")
    );
}

fn maximal(time_ms: i64) -> Event<'static> {
    Event {
        stanza: "fubar",
        time: Some(EventTime(time_ms)),
        source: Some("hilda"),
        sourcetype: Some("misc"),
        index: Some("main"),
        host: Some("localhost"),
        data: "This is a test of the emergency broadcast system.",
    }
}

fn stream(events: &[Event<'_>]) -> String {
    let mut out = Vec::new();
    let mut writer = EventWriter::new(&mut out);
    for e in events {
        writer.write_event(e).unwrap();
    }
    writer.finish().unwrap();
    String::from_utf8(out).unwrap()
}

/// The single event inside a written stream.
fn only_event(events: &[Event<'_>]) -> support::Node {
    let mut doc = tree(&stream(events));
    assert_eq!(doc.tag, "stream");
    assert_eq!(doc.children.len(), 1);
    doc.children.remove(0)
}

#[test]
fn events_match_the_sdk() {
    let minimal = Event {
        stanza: "fubar",
        time: Some(EventTime(1_372_187_084_000)),
        data: "This is a test of the emergency broadcast system.",
        ..Event::default()
    };
    assert_eq!(
        only_event(&[minimal]),
        tree(&fixture_text("splunklib/event_minimal.xml"))
    );
    assert_eq!(
        only_event(&[maximal(1_372_274_622_493)]),
        tree(&fixture_text("splunklib/event_maximal.xml"))
    );
}

#[test]
fn streams_match_the_sdk() {
    assert_eq!(
        tree(&stream(&[maximal(1_372_275_124_466)])),
        tree(&fixture_text("splunklib/stream_with_one_event.xml"))
    );
    assert_eq!(
        tree(&stream(&[
            maximal(1_372_275_124_466),
            maximal(1_372_275_124_466)
        ])),
        tree(&fixture_text("splunklib/stream_with_two_events.xml"))
    );
}

#[test]
fn event_data_parses_back_unchanged() {
    for data in [
        "{\"a\":\"<tag> & \\\"quoted\\\" 'single'\"}",
        "line one\r\nline two\n\ttabbed",
        "]]> <![CDATA[ not a section",
        "é 中文 😀",
    ] {
        let event = Event {
            stanza: "incode://a \"b\" <c>",
            data,
            ..Event::default()
        };
        let written = stream(&[event]);
        let doc = roxmltree::Document::parse(&written).unwrap();
        let e = doc.root_element().first_element_child().unwrap();
        assert_eq!(e.attribute("stanza"), Some("incode://a \"b\" <c>"));
        let text = e
            .children()
            .find(|n| n.has_tag_name("data"))
            .unwrap()
            .text()
            .unwrap();
        assert_eq!(text, data);
    }
}
