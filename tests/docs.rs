//! The administrator's documentation against what it describes: the samples in
//! docs/fields.md are the webhook and score corpus (tests/webhooks/), its field tables list
//! exactly the corpus's fields, the input-form tables name the scheme's arguments with their
//! titles in Splunk Web, the quick start's test webhook is a corpus payload that triggers no
//! Incode call, and troubleshooting searches go through the `incode_modinput_logs` macro.

#[allow(dead_code)] // package.rs uses the link helpers
#[path = "support/markdown.rs"]
mod markdown;

use std::collections::BTreeSet;
use std::path::Path;

use markdown::{code_blocks, compact_json, quoted, table};

/// The Markdown files that ship in the app (the app's README.md is built from APP-README.md),
/// except the developer-facing ones.
const ADMIN_DOCS: [&str; 9] = [
    "APP-README.md",
    "docs/quickstart.md",
    "docs/incode.md",
    "docs/fields.md",
    "docs/operations.md",
    "docs/parsing.md",
    "docs/dashboards.md",
    "docs/platforms.md",
    "docs/detections.md",
];

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The top-level keys of every JSON file in one corpus folder.
fn corpus_fields(folder: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/webhooks")
        .join(folder);
    let mut fields = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            fields.extend(json.as_object().unwrap().keys().cloned());
        }
    }
    fields
}

/// The part of `markdown` under the `## ` heading `title`, up to the next `## ` heading.
fn section<'a>(markdown: &'a str, title: &str) -> &'a str {
    let heading = format!("\n## {title}\n");
    let start = markdown
        .find(&heading)
        .unwrap_or_else(|| panic!("no section {title}"))
        + heading.len();
    let end = markdown[start..]
        .find("\n## ")
        .map_or(markdown.len(), |e| start + e);
    &markdown[start..end]
}

#[test]
fn field_reference_samples_are_the_corpus() {
    let doc = read("docs/fields.md");
    let mut samples = Vec::new();
    for block in code_blocks(&doc) {
        let Some(file) = block
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix("corpus:"))
        else {
            continue;
        };
        let file = file.trim();
        let corpus = read(&format!("tests/webhooks/{file}"));
        assert_eq!(
            compact_json(&block.body),
            compact_json(&corpus),
            "docs/fields.md line {}: the sample differs from tests/webhooks/{file}",
            block.line
        );
        samples.push((
            file.to_owned(),
            serde_json::from_str::<serde_json::Value>(&corpus).unwrap(),
        ));
    }
    // One sample per webhook family and per kind of score event, each under its sourcetype.
    let has = |folder: &str, test: &dyn Fn(&serde_json::Value) -> bool| {
        samples
            .iter()
            .any(|(file, json)| file.starts_with(folder) && test(json))
    };
    let status = |json: &serde_json::Value, key: &str, value: &str| json[key] == value;
    assert!(has("onboarding/", &|j| status(
        j,
        "onboardingStatus",
        "ONBOARDING_FINISHED"
    )));
    assert!(has("onboarding/", &|j| j.get("interviewIds").is_some()));
    assert!(has("session/", &|_| true));
    assert!(has("score/", &|j| status(j, "enrichment_status", "ok")
        && status(j, "trigger", "ONBOARDING_FINISHED")));
    assert!(has("score/", &|j| status(j, "enrichment_status", "error")));
    assert!(has("score/", &|j| j["trigger"]
        .as_str()
        .is_some_and(|t| t.starts_with("MANUAL_REVIEW_"))));
    for (sourcetype, folder) in [
        ("`incode:onboarding`", "onboarding/"),
        ("`incode:session`", "session/"),
        ("`incode:score`", "score/"),
    ] {
        let part = section(&doc, sourcetype);
        for (file, _) in samples.iter().filter(|(f, _)| f.starts_with(folder)) {
            assert!(
                part.contains(&format!("<!-- corpus: {file} -->")),
                "{file} is shown outside the {sourcetype} section"
            );
        }
    }
}

#[test]
fn field_reference_tables_list_exactly_the_corpus_fields() {
    let doc = read("docs/fields.md");
    for (sourcetype, folder) in [
        ("`incode:onboarding`", "onboarding"),
        ("`incode:session`", "session"),
        ("`incode:score`", "score"),
    ] {
        let part = section(&doc, sourcetype);
        let listed: BTreeSet<String> = table(part, "| field | meaning | example |")
            .iter()
            .flat_map(|row| quoted(&row[0]))
            .collect();
        assert_eq!(
            listed,
            corpus_fields(folder),
            "docs/fields.md, {sourcetype}: the table's fields and the corpus's differ"
        );
    }
}

#[test]
fn input_form_tables_give_each_argument_its_title_in_splunk_web() {
    let scheme = ta_incode::config::scheme();
    for file in ["APP-README.md", "docs/operations.md"] {
        let rows = table(&read(file), "| Title in Splunk Web | argument |");
        for argument in &scheme.arguments {
            let matching: Vec<&Vec<String>> = rows
                .iter()
                .filter(|row| quoted(&row[1]) == [argument.name])
                .collect();
            assert_eq!(matching.len(), 1, "{file}: one row for {}", argument.name);
            assert_eq!(
                matching[0][0],
                argument.title.unwrap(),
                "{file}: the title of {}",
                argument.name
            );
        }
        for row in &rows {
            let name = quoted(&row[1]).concat();
            assert!(
                scheme.arguments.iter().any(|a| a.name == name)
                    || ["interval", "index"].contains(&name.as_str()),
                "{file}: {name} is not an argument of the input"
            );
        }
    }
}

#[test]
fn quick_start_posts_a_corpus_webhook_that_triggers_no_incode_call() {
    for file in ["docs/quickstart.md", "APP-README.md"] {
        let doc = read(file);
        let curl = code_blocks(&doc)
            .into_iter()
            .find(|b| b.body.contains("curl "))
            .unwrap_or_else(|| panic!("{file}: no curl command"));
        let body = curl
            .body
            .split("-d '")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{file}: the curl command has no -d '…' body"));
        let payload = std::fs::read_dir(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/onboarding"),
        )
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|text| compact_json(text) == body)
        .unwrap_or_else(|| {
            panic!("{file}: the posted body is no file of tests/webhooks/onboarding")
        });
        let json: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let status = json["onboardingStatus"].as_str().unwrap();
        assert!(
            !ta_incode::score::TRIGGERS.contains(&status),
            "{file}: {status} would make the input call Incode"
        );
        let id = json["interviewId"].as_str().unwrap();
        assert!(
            doc.contains(&format!("interviewId={id}")),
            "{file}: no search for the posted interviewId {id}"
        );
    }
}

#[test]
fn troubleshooting_searches_go_through_the_log_macro() {
    for file in ADMIN_DOCS {
        for block in code_blocks(&read(file)) {
            assert!(
                !block.body.contains("index=_internal"),
                "{file} line {}: search the input's logs with `incode_modinput_logs`",
                block.line
            );
            // The macro ends in a pipeline of rex commands: a search term written after it
            // would become an argument of the last one.
            for line in block.body.lines() {
                if let Some((_, after)) = line.split_once("`incode_modinput_logs`") {
                    let after = after.trim();
                    assert!(
                        after.is_empty() || after.starts_with('|'),
                        "{file} line {}: `incode_modinput_logs` {after}: put a | search before the terms",
                        block.line
                    );
                }
            }
        }
    }
    for file in ["APP-README.md", "docs/operations.md"] {
        assert!(read(file).contains("`incode_modinput_logs`"), "{file}");
    }
}
