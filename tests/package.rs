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
    assert_eq!(executables, [format!("{APP}/linux_x86_64/bin/incode")]);
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
    assert_eq!(defaults.get("start_by_shell"), Some("false"));
}

#[test]
#[ignore = "needs ./package.sh; run by ./test.sh"]
fn the_binary_is_a_static_x86_64_executable_that_runs() {
    let entries = entries();
    let bytes = file(&entries, "linux_x86_64/bin/incode");
    let elf = goblin::elf::Elf::parse(bytes).unwrap();
    assert_eq!(elf.header.e_machine, goblin::elf::header::EM_X86_64);
    assert!(elf.is_64);
    assert_eq!(elf.interpreter, None, "a dynamic loader is needed");
    assert!(
        elf.libraries.is_empty(),
        "shared libraries: {:?}",
        elf.libraries
    );
    // Position-independent (ET_DYN): AppInspect's aarch64 check passes static-pie executables.
    assert_eq!(elf.header.e_type, goblin::elf::header::ET_DYN);

    let dir = std::env::temp_dir().join(format!("ta-incode-package-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("incode");
    std::fs::write(&exe, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(&exe)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("incode {VERSION}\n")
    );
    let out = std::process::Command::new(&exe)
        .arg("--scheme")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        support::tree(&String::from_utf8(out.stdout).unwrap()).tag,
        "scheme"
    );
    std::fs::remove_dir_all(&dir).unwrap();
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
