# Installs what building and testing TA-incode need, once, on a fresh Debian/Ubuntu machine with
# rustup: the Rust targets of the three shipped executables (scripts/build.sh), rustfmt and
# clippy, Debian's musl-tools and mingw-w64 (C compilers for the crates with C parts) and libmagic
# (for AppInspect), Node.js and npm (the dashboard tests), a Python venv with the pinned Splunk
# tools and Zig in scripts/requirements.txt, and for the tests that run the ARM64 and Windows
# builds, qemu-user and Wine. Sourced by package.sh and test.sh; every step is skipped when
# already done, so a second run costs a few milliseconds.

# (No `grep -q` at the end of a pipe: it exits at the first match, the writer gets SIGPIPE, and
# pipefail in the calling scripts would then read the check as failed.)
TA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The executable this machine runs natively (tests, benches), then the other shipped ones.
TA_TARGET=x86_64-unknown-linux-musl
TA_TARGETS="$TA_TARGET aarch64-unknown-linux-musl x86_64-pc-windows-gnu"
TA_VENV="$TA_ROOT/.venv"

ta_say() { printf '==> %s\n' "$*" >&2; }

ta_apt_install() { # package...
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  ta_say "installing Debian packages: $*"
  $sudo apt-get install -y -q "$@" >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$@" >/dev/null
  }
}

ta_bootstrap_rust() {
  local target installed
  installed=$(rustup target list --installed)
  for target in $TA_TARGETS; do
    if ! grep -x "$target" >/dev/null <<<"$installed"; then
      ta_say "adding the Rust target $target"
      rustup target add "$target" >/dev/null
    fi
  done
  local component
  for component in rustfmt clippy; do
    if ! rustup component list --installed | grep "^$component" >/dev/null; then
      rustup component add "$component" >/dev/null
    fi
  done
  command -v musl-gcc >/dev/null || ta_apt_install musl-tools
  command -v x86_64-w64-mingw32-gcc >/dev/null || ta_apt_install gcc-mingw-w64-x86-64
}

# What runs the ARM64 and Windows executables here: qemu-user and Wine (64-bit).
TA_QEMU_AARCH64=qemu-aarch64
TA_WINE=/usr/lib/wine/wine64
ta_bootstrap_emulators() {
  command -v "$TA_QEMU_AARCH64" >/dev/null || ta_apt_install qemu-user
  [ -x "$TA_WINE" ] || ta_apt_install wine64
}

# Readies a Windows executable to run under Wine here, for the tests and the bench: a copy in
# `folder` beside a test-only bcryptprimitives.dll (Wine 8 has none, and Rust's standard library
# imports its ProcessPrng on Windows 10+; the shim answers with Wine's RtlGenRandom; it never
# ships), and a prefix of the repository's own whose wineserver is started once with its stdio
# closed: one that Wine starts on demand would inherit a test's pipes and keep them open after
# the test. Sets TA_WINE_EXE; the caller's EXIT trap stops the wineserver.
ta_wine_prepare() { # exe, folder
  mkdir -p "$2"
  cp "$1" "$2/"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$2/bcryptprimitives.dll" \
    "$TA_ROOT/tests/cross/wine/bcryptprimitives.c" "$TA_ROOT/tests/cross/wine/bcryptprimitives.def" \
    -ladvapi32
  TA_WINE_EXE=$2/$(basename "$1")
  export WINEPREFIX=$TA_ROOT/target/cross/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  mkdir -p "$WINEPREFIX"
  "$(dirname "$TA_WINE")/wineserver" -p </dev/null >/dev/null 2>&1
  "$TA_WINE" wineboot --init </dev/null >/dev/null 2>&1
}

ta_wine_stop() {
  "$(dirname "$TA_WINE")/wineserver" -k 2>/dev/null || true
}

ta_bootstrap_python() {
  python3 -c 'import ctypes.util, sys; sys.exit(not ctypes.util.find_library("magic"))' ||
    ta_apt_install libmagic1
  local stamp="$TA_VENV/.requirements"
  if ! cmp -s "$TA_ROOT/scripts/requirements.txt" "$stamp" 2>/dev/null; then
    ta_say "creating the Python venv $TA_VENV with the pinned Splunk tools"
    rm -rf "$TA_VENV"
    python3 -m venv "$TA_VENV"
    "$TA_VENV/bin/pip" install -q --disable-pip-version-check -r "$TA_ROOT/scripts/requirements.txt"
    cp "$TA_ROOT/scripts/requirements.txt" "$stamp"
  fi
}

ta_bootstrap_node() {
  command -v npm >/dev/null || ta_apt_install nodejs npm
}

ta_bootstrap() {
  ta_bootstrap_rust
  ta_bootstrap_python
  ta_bootstrap_node
}
