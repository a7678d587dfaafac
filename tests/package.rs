//! The packaged app (`dist/TA-incode-<version>.tgz`, built by `./package.sh`) has the layout,
//! modes and metadata of contract §1. Ignored by a plain `cargo test` because it needs the
//! package; the project's test command (`./test.sh`) builds it first and runs this too.

mod support;

use std::io::Read;
use std::path::PathBuf;

use support::conf::Conf;

const APP: &str = "TA-incode";
const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Entry {
    path: String,
    mode: u32,
    uid: u64,
    gid: u64,
    is_dir: bool,
    bytes: Vec<u8>,
}

fn tarball() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("dist/{APP}-{VERSION}.tgz"))
}

fn entries() -> Vec<Entry> {
    let path = tarball();
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run ./package.sh first", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let header = e.header().clone();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            Entry {
                path: e.path().unwrap().to_string_lossy().into_owned(),
                mode: header.mode().unwrap(),
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                is_dir: header.entry_type().is_dir(),
                bytes,
            }
        })
        .collect()
}

fn file<'a>(entries: &'a [Entry], path: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|e| e.path == format!("{APP}/{path}"))
        .unwrap_or_else(|| panic!("{path} is not in the package"))
        .bytes
}

fn text(entries: &[Entry], path: &str) -> String {
    String::from_utf8(file(entries, path).to_vec()).unwrap()
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn one_top_folder_and_nothing_that_must_not_ship() {
    let entries = entries();
    assert!(!entries.is_empty());
    for e in &entries {
        let p = e.path.trim_end_matches('/');
        assert!(
            p == APP || p.starts_with(&format!("{APP}/")),
            "outside {APP}/: {p}"
        );
        for part in p.split('/') {
            assert!(!part.starts_with('.'), "dot-file: {p}");
            assert_ne!(part, "__MACOSX", "{p}");
            assert_ne!(part, "local", "{p}");
            assert_ne!(part, "local.meta", "{p}");
        }
    }
    // Reproducible: names sorted (GNU tar's --sort=name orders each folder's entries), owner 0.
    let names: Vec<Vec<&str>> = entries
        .iter()
        .map(|e| e.path.trim_end_matches('/').split('/').collect())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(entries.iter().all(|e| e.uid == 0 && e.gid == 0));
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn modes_dirs_755_files_644_executables_only_under_bin() {
    let entries = entries();
    let mut executables = Vec::new();
    for e in &entries {
        let mode = e.mode & 0o7777;
        if e.is_dir {
            assert_eq!(mode, 0o755, "{}", e.path);
        } else if mode & 0o111 != 0 {
            assert_eq!(mode, 0o755, "{}", e.path);
            let parent = e.path.rsplit('/').nth(1).unwrap();
            assert_eq!(
                parent, "bin",
                "executable outside a bin/ folder: {}",
                e.path
            );
            executables.push(e.path.as_str());
        } else {
            assert_eq!(mode, 0o644, "{}", e.path);
        }
    }
    executables.sort();
    assert_eq!(
        executables,
        [
            "bin/incode",
            "linux_aarch64/bin/incode",
            "linux_x86_64/bin/incode",
            "windows_x86_64/bin/incode.exe",
        ]
        .map(|p| format!("{APP}/{p}"))
    );
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn app_conf_identifies_the_app_and_its_version() {
    let entries = entries();
    let app = Conf::parse("app.conf", &text(&entries, "default/app.conf")).unwrap();
    let get = |stanza: &str, key: &str| app.stanza(stanza).get(key).unwrap().to_owned();
    assert_eq!(get("package", "id"), APP);
    assert_eq!(get("id", "name"), APP);
    assert_eq!(get("id", "version"), VERSION);
    assert_eq!(get("launcher", "version"), VERSION);
    let parts: Vec<u64> = VERSION.split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "semver");
    let build: u64 = get("install", "build").parse().unwrap();
    assert_eq!(build, parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]);
    assert!(build > 0);
    assert_eq!(get("install", "is_configured"), "false");
    let label = get("ui", "label");
    assert!((5..=80).contains(&label.chars().count()), "{label}");
    assert!(get("launcher", "description").chars().count() <= 200);
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn inputs_spec_declares_every_argument_and_interval() {
    let entries = entries();
    let spec = text(&entries, "README/inputs.conf.spec");
    let settings: String = spec
        .lines()
        .filter(|l| !l.starts_with('*') && !l.starts_with("  "))
        .map(|l| format!("{l}\n"))
        .collect();
    let spec = Conf::parse("inputs.conf.spec", &settings).unwrap();
    let mut declared: Vec<&String> = spec
        .stanza("incode://<name>")
        .entries
        .iter()
        .map(|(k, _)| k)
        .collect();
    declared.sort();
    let mut expected: Vec<String> = ta_incode::config::scheme()
        .arguments
        .iter()
        .map(|a| a.name.to_owned())
        .collect();
    expected.push("interval".into());
    expected.sort();
    assert_eq!(declared, expected.iter().collect::<Vec<_>>());
    let inputs = Conf::parse("inputs.conf", &text(&entries, "default/inputs.conf")).unwrap();
    let defaults = inputs.stanza("incode");
    assert_eq!(defaults.get("interval"), Some("300"));
    // The scheme's default stanza may hold what the app's spec declares for the scheme, plus
    // what inputs.conf.spec (10.4.2) allows every input ("GENERAL SETTINGS") or names for
    // modular inputs; anything else is an invalid key to `btool check`. start_by_shell is
    // specified for [script://] stanzas only.
    const GENERAL: [&str; 8] = [
        "host",
        "index",
        "source",
        "sourcetype",
        "queue",
        "_TCP_ROUTING",
        "_SYSLOG_ROUTING",
        "_INDEX_AND_FORWARD_ROUTING",
    ];
    const MODULAR: [&str; 3] = ["python.version", "python.required", "run_introspection"];
    for (key, _) in &defaults.entries {
        assert!(
            expected.contains(key)
                || GENERAL.contains(&key.as_str())
                || MODULAR.contains(&key.as_str()),
            "default/inputs.conf [incode]: {key} is not a setting of a modular input"
        );
    }
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn app_conf_ships_with_its_version_and_no_placeholder() {
    let entries = entries();
    let app = text(&entries, "default/app.conf");
    assert!(!app.contains('@'), "a placeholder is left: {app}");
    assert!(
        !app.to_lowercase().contains("placeholder"),
        "a comment still speaks of placeholders: {app}"
    );
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn the_apps_readme_is_the_administrators() {
    let entries = entries();
    let readme = text(&entries, "README.md");
    let source =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("APP-README.md"))
            .unwrap();
    assert_eq!(readme, source, "README.md in the package is APP-README.md");
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn every_relative_link_in_shipped_markdown_resolves_inside_the_package() {
    use support::markdown::{anchors, links};
    let entries = entries();
    let paths: Vec<&str> = entries
        .iter()
        .map(|e| e.path.trim_end_matches('/'))
        .collect();
    let markdown: Vec<&Entry> = entries
        .iter()
        .filter(|e| !e.is_dir && e.path.ends_with(".md"))
        .collect();
    assert!(markdown.len() >= 7, "{} Markdown files", markdown.len());
    let mut checked = 0;
    for file in &markdown {
        let text = String::from_utf8(file.bytes.clone()).unwrap();
        let dir = file.path.rsplit_once('/').map_or("", |(d, _)| d);
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let at = format!("{}:{line}: {target}", file.path);
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let resolved = if path.is_empty() {
                file.path.clone()
            } else {
                let mut parts: Vec<&str> = dir.split('/').collect();
                for part in path.trim_end_matches('/').split('/') {
                    match part {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        part => parts.push(part),
                    }
                }
                parts.join("/")
            };
            assert!(
                resolved.starts_with(&format!("{APP}/")) && paths.contains(&resolved.as_str()),
                "{at}: not in the package"
            );
            if !fragment.is_empty() {
                let target_text = text_of(&entries, &resolved);
                assert!(
                    anchors(&target_text).iter().any(|a| a == fragment),
                    "{at}: no heading #{fragment} in {resolved}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}

fn text_of(entries: &[Entry], full_path: &str) -> String {
    let entry = entries.iter().find(|e| e.path == full_path).unwrap();
    String::from_utf8(entry.bytes.clone()).unwrap()
}

/// Checks a Linux build: this architecture, fully static (no loader, no shared library), and
/// position-independent (ET_DYN), which AppInspect's aarch64 check lets through for x86-64.
fn assert_static_elf(bytes: &[u8], machine: u16) {
    let elf = goblin::elf::Elf::parse(bytes).unwrap();
    assert_eq!(elf.header.e_machine, machine);
    assert!(elf.is_64);
    assert_eq!(elf.interpreter, None, "a dynamic loader is needed");
    assert!(
        elf.libraries.is_empty(),
        "shared libraries: {:?}",
        elf.libraries
    );
    if machine == goblin::elf::header::EM_X86_64 {
        assert_eq!(elf.header.e_type, goblin::elf::header::ET_DYN);
    }
}

/// The package unpacked into a temporary folder, with its modes, removed on drop.
struct Unpacked(PathBuf);

impl Unpacked {
    fn new(entries: &[Entry], label: &str) -> Unpacked {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("ta-incode-package-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for e in entries.iter().filter(|e| !e.is_dir) {
            let path = dir.join(&e.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &e.bytes).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(e.mode)).unwrap();
        }
        Unpacked(dir)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.0.join(APP).join(relative)
    }
}

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_runs(command: &mut std::process::Command) {
    let out = command.arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("incode {VERSION}\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn the_linux_x86_64_binary_is_static_and_runs() {
    let entries = entries();
    assert_static_elf(
        file(&entries, "linux_x86_64/bin/incode"),
        goblin::elf::header::EM_X86_64,
    );
    let app = Unpacked::new(&entries, "x86");
    let exe = app.path("linux_x86_64/bin/incode");
    assert_runs(&mut std::process::Command::new(&exe));
    let out = std::process::Command::new(&exe)
        .arg("--scheme")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        support::tree(&String::from_utf8(out.stdout).unwrap()).tag,
        "scheme"
    );
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn the_linux_arm64_binary_is_static() {
    // It runs under qemu-aarch64 in tests/cross/run.sh.
    assert_static_elf(
        file(&entries(), "linux_aarch64/bin/incode"),
        goblin::elf::header::EM_AARCH64,
    );
}

/// What 64-bit Windows Server 2016 and later ship: the input needs no runtime installed.
const WINDOWS_DLLS: [&str; 9] = [
    "advapi32.dll",
    "api-ms-win-core-synch-l1-2-0.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "crypt32.dll",
    "kernel32.dll",
    "msvcrt.dll",
    "ntdll.dll",
    "ws2_32.dll",
];

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn the_windows_binary_is_a_64_bit_console_program_that_needs_only_windows_dlls() {
    let entries = entries();
    let bytes = file(&entries, "windows_x86_64/bin/incode.exe");
    let pe = goblin::pe::PE::parse(bytes).unwrap();
    assert!(pe.is_64);
    assert!(!pe.is_lib);
    assert_eq!(
        pe.header.coff_header.machine,
        goblin::pe::header::COFF_MACHINE_X86_64
    );
    let optional = pe.header.optional_header.unwrap();
    // A console program: splunkd reads its stdout and stderr and sends it console events.
    assert_eq!(
        optional.windows_fields.subsystem,
        goblin::pe::subsystem::IMAGE_SUBSYSTEM_WINDOWS_CUI
    );
    let mut dlls: Vec<String> = pe
        .libraries
        .iter()
        .map(|l| l.to_ascii_lowercase())
        .collect();
    dlls.sort();
    dlls.dedup();
    for dll in &dlls {
        assert!(
            WINDOWS_DLLS.contains(&dll.as_str()),
            "{dll} is not part of Windows: {dlls:?}"
        );
    }
    assert!(dlls.iter().any(|d| d == "kernel32.dll"), "{dlls:?}");
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn bin_incode_starts_the_build_for_the_machine_or_names_the_supported_platforms() {
    use std::os::unix::fs::PermissionsExt;
    let app = Unpacked::new(&entries(), "dispatch");
    let dispatcher = app.path("bin/incode");
    // On this machine: the x86-64 build.
    assert_runs(&mut std::process::Command::new(&dispatcher));
    // Elsewhere, as `uname` reports it: the ARM64 build, or an error that says what to do.
    let fake = app.0.join("fake-uname");
    std::fs::create_dir_all(&fake).unwrap();
    let uname = fake.join("uname");
    let answer = |s: &str, m: &str| {
        std::fs::write(
            &uname,
            format!(
                "#!/bin/sh\ncase $1 in -s) echo {s};; -m) echo {m};; -sm) echo {s} {m};; esac\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&uname, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
        std::process::Command::new(&dispatcher)
            .arg("--version")
            .env("PATH", path)
            .output()
            .unwrap()
    };
    // Which executable it chose shows in what the shell reports when that one cannot start here
    // (ARM64 without binfmt): replace it with a script that names itself.
    let arm = app.path("linux_aarch64/bin/incode");
    std::fs::write(&arm, "#!/bin/sh\necho arm64 build \"$@\"\n").unwrap();
    let out = answer("Linux", "aarch64");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "arm64 build --version\n"
    );
    let out = answer("Linux", "x86_64");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("incode {VERSION}\n")
    );
    for (s, m) in [
        ("Linux", "s390x"),
        ("Darwin", "arm64"),
        ("FreeBSD", "amd64"),
    ] {
        let out = answer(s, m);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "FATAL TA-incode has no build of its modular input for {s} {m}"
            )) && stderr.contains("Linux x86-64, Linux ARM64 and Windows x86-64"),
            "{stderr}"
        );
    }
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn icons_have_splunks_sizes() {
    let entries = entries();
    for (path, size) in [("static/appIcon.png", 36), ("static/appIcon_2x.png", 72)] {
        let png = file(&entries, path);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{path}");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (size, size), "{path}");
    }
}
