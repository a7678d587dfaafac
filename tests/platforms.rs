//! What differs between the platforms the input runs on (Linux x86-64, Linux ARM64, Windows
//! x86-64), run against whichever build this test run targets (`support::target`; `./test.sh`
//! runs them for all three): any stanza name makes a checkpoint file of its own, Windows paths,
//! and a stream that reaches splunkd byte for byte.

mod support;

use support::world::*;
use support::*;

/// The world's input document under another input name (`prod` by default).
fn named(w: &World, name: &str) -> String {
    let escaped = name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    w.document()
        .replace("incode://prod", &format!("incode://{escaped}"))
}

fn run_named(w: &World, name: &str) -> Run {
    let home = native_path(&w.home());
    let run = incode_with_env(&[], named(w, name).as_bytes(), &[("SPLUNK_HOME", &home)]);
    assert_no_secret(&run);
    run
}

#[test]
fn any_input_name_gets_a_checkpoint_file_of_its_own() {
    let w = World::new("names");
    let t = now();
    w.webhook("n-1", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    // Reserved device names on Windows, names NTFS confuses by case, characters NTFS forbids.
    let names = ["CON", "nul.tar", "Prod", "prod", "a:b|c*d?e<f>", "com1"];
    for name in names {
        let run = run_named(&w, name);
        assert_eq!(run.status, Some(0), "{name}: {run:?}");
        assert_eq!(
            ids(&events(&run)),
            ["n-1"],
            "{name}: each input enriches on its own"
        );
    }
    // And a second run of each finds its own checkpoint: nothing new.
    for name in names {
        let run = run_named(&w, name);
        assert_eq!(events(&run).len(), 0, "{name}: {run:?}");
    }
    let files: Vec<String> = std::fs::read_dir(w.checkpoint_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".sqlite"))
        .collect();
    assert_eq!(files.len(), names.len(), "{files:?}");
}

#[test]
fn windows_paths_work_for_the_checkpoint_and_splunk_home() {
    if !target().windows() {
        eprintln!("Windows paths: only for the Windows build");
        return;
    }
    let w = World::new("winpaths");
    let t = now();
    w.webhook("p-1", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    // A verbatim (\\?\) path, as long paths are written on Windows, for the checkpoint folder.
    let verbatim = format!("\\\\?\\{}", native_path(&w.checkpoint_dir()));
    let document = w.document().replace(
        &format!(
            "<checkpoint_dir>{}</checkpoint_dir>",
            native_path(&w.checkpoint_dir())
        ),
        &format!("<checkpoint_dir>{verbatim}</checkpoint_dir>"),
    );
    let home = native_path(&w.home());
    let run = incode_with_env(&[], document.as_bytes(), &[("SPLUNK_HOME", &home)]);
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(ids(&events(&run)), ["p-1"]);
    assert!(w.checkpoint_dir().join("prod.sqlite").is_file());
}

#[test]
fn the_stream_and_the_log_lines_reach_splunkd_byte_for_byte() {
    let w = World::new("bytes");
    let t = now();
    w.webhook("b-1", "ONBOARDING_FINISHED", (t - 11) as f64, t - 10);
    let run = w.run();
    assert_eq!(run.status, Some(0), "{run:?}");
    // No CRLF translation on Windows: stdout is the XML stream exactly as written.
    assert!(
        !run.stdout.contains('\r') && !run.stderr.contains('\r'),
        "{run:?}"
    );
    assert!(
        run.stdout
            .starts_with("<stream><event stanza=\"incode://prod\" unbroken=\"1\">")
    );
    assert!(
        run.stdout.ends_with("</event></stream>\n"),
        "{}",
        run.stdout
    );
    run.assert_levels();
}

#[test]
fn the_executable_under_test_is_the_build_this_run_names() {
    // A run meant for the ARM64 or Windows build that silently started the native one would
    // prove nothing about them.
    let target = target();
    let bytes = std::fs::read(&target.bin).unwrap();
    let runner = target.runner.first().map(String::as_str).unwrap_or("");
    match goblin::Object::parse(&bytes).unwrap() {
        goblin::Object::PE(pe) => {
            assert!(target.windows() && runner.contains("wine"), "{runner}");
            assert_eq!(
                pe.header.coff_header.machine,
                goblin::pe::header::COFF_MACHINE_X86_64
            );
        }
        goblin::Object::Elf(elf) if elf.header.e_machine == goblin::elf::header::EM_AARCH64 => {
            assert!(runner.contains("qemu-aarch64"), "{runner}");
        }
        goblin::Object::Elf(elf) => {
            assert_eq!(elf.header.e_machine, goblin::elf::header::EM_X86_64);
            assert!(runner.is_empty(), "{runner}");
        }
        other => panic!("not an executable: {other:?}"),
    }
}
