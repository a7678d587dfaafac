# Builds the shipped `incode` executables from this Linux machine, one per platform Splunk runs
# on (docs/platforms.md). Sourced after scripts/bootstrap.sh by package.sh and benches/run.sh.
#
# Each target uses the cross toolchain that links it fully static and reproducibly:
#   x86_64-unknown-linux-musl   Debian's musl-gcc for the C parts (SQLite, ring): static-pie
#   aarch64-unknown-linux-musl  cargo-zigbuild with Zig from PyPI (pinned in requirements.txt):
#                               Debian's gcc-aarch64-linux-gnu links against glibc's headers and
#                               leaves musl symbols (open64, …) unresolved
#   x86_64-pc-windows-gnu       Debian's mingw-w64 gcc: imports only DLLs Windows itself ships

# Where the app holds a target's executable: the folder splunkd looks in on that platform
# (docs/platforms.md).
ta_place() { # target
  case $1 in
    x86_64-unknown-linux-musl) echo linux_x86_64/bin/incode ;;
    aarch64-unknown-linux-musl) echo linux_aarch64/bin/incode ;;
    x86_64-pc-windows-gnu) echo windows_x86_64/bin/incode.exe ;;
    *) echo "scripts/build.sh: no place for $1" >&2; return 1 ;;
  esac
}

# The path of the executable cargo builds for a target.
ta_binary() { # target
  case $1 in
    *windows*) echo "$TA_ROOT/target/$1/release/incode.exe" ;;
    *) echo "$TA_ROOT/target/$1/release/incode" ;;
  esac
}

ta_build() { # target
  case $1 in
    x86_64-unknown-linux-musl)
      CC_x86_64_unknown_linux_musl=musl-gcc \
        cargo build --quiet --release --locked --target "$1" ;;
    aarch64-unknown-linux-musl)
      PATH="$TA_VENV/bin:$PATH" cargo zigbuild --quiet --release --locked --target "$1" ;;
    x86_64-pc-windows-gnu)
      cargo build --quiet --release --locked --target "$1" ;;
    *) echo "scripts/build.sh: no recipe for $1" >&2; return 1 ;;
  esac
}
