#!/usr/bin/env bash
# Builds the installable app: dist/TA-incode-<version>.tgz, then inspects it with Splunk
# AppInspect (precert with all checks, and with the cloud tag) and fails on any failure or error.
#
#   ./package.sh        build, package, inspect
#
# The version comes from Cargo.toml alone; the build number derives from it.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh
. scripts/build.sh
ta_bootstrap

version=$(cargo pkgid | sed 's/.*[@#]//')
IFS=. read -r major minor patch <<<"${version%%-*}"
build=$(( major * 1000000 + minor * 1000 + patch ))
[ "$build" -gt 0 ] || build=1
app=TA-incode
stage=dist/$app
tarball=dist/$app-$version.tgz

for target in $TA_TARGETS; do
  ta_say "building the static binary for $target"
  ta_build "$target"
done

ta_say "assembling $stage"
rm -rf "$stage" "$tarball"
mkdir -p "$stage"
# The repo keeps the app's conf files in default/ and the rest of the app in splunk_app/; the
# admin documentation (APP-README.md, docs/), LICENSE and CHANGELOG.md sit at the repo's root.
# The repo's README.md is for developers and stays out: APP-README.md becomes the app's README.
# Dot-files never ship.
tar -c --exclude=".*" default bin docs -C splunk_app $(cd splunk_app && echo *) | tar -x -C "$stage"
cp APP-README.md "$stage/README.md"
cp LICENSE CHANGELOG.md "$stage/"
for target in $TA_TARGETS; do
  place=$(ta_place "$target")
  mkdir -p "$stage/$(dirname "$place")"
  cp "$(ta_binary "$target")" "$stage/$place"
done
# default/app.conf says @VERSION@ and @BUILD@ where the version and build number go.
sed -i -e "s/@VERSION@/$version/g" -e "s/@BUILD@/$build/g" "$stage/default/app.conf"
if grep -rq '@VERSION@\|@BUILD@' "$stage"; then
  echo "package.sh: a version placeholder was left in $stage" >&2; exit 1
fi
find "$stage" -type d -exec chmod 755 {} +
find "$stage" -type f -exec chmod 644 {} +
# The executables, and bin/incode: the dispatcher for a Linux host whose platform folder splunkd
# does not name (ARM64's is undocumented).
for target in $TA_TARGETS; do chmod 755 "$stage/$(ta_place "$target")"; done
chmod 755 "$stage/bin/incode"

# Reproducible: sorted names, numeric owner 0, every mtime set to the last commit's time, no
# gzip timestamp.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=gnu \
  -C dist -cf - "$app" | gzip -9 -n >"$tarball"
sizes=$(for target in $TA_TARGETS; do
  place=$(ta_place "$target")
  printf ' %s %s KiB' "${place%%/*}" "$(du -k "$(ta_binary "$target")" | cut -f1)"
done)
ta_say "built $tarball ($(du -k "$tarball" | cut -f1) KiB; binaries:$sizes)"

# AppInspect exits 0 clean, 101 failures, 103 warnings only, 104 future failures, 1-3 when it
# could not inspect; the JSON report is the verdict.
inspect() { # label, extra arguments...
  local label=$1 report=dist/appinspect-$1.json rc=0
  shift
  "$TA_VENV/bin/splunk-appinspect" inspect "$tarball" --mode precert \
    --skip-trusted-libraries-update --ci --data-format json --output-file "$report" "$@" \
    >"dist/appinspect-$label.log" 2>&1 || rc=$?
  "$TA_VENV/bin/python" - "$report" "$label" "$rc" <<'PY'
import json, sys
path, label, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    report = json.load(open(path))
except (OSError, ValueError) as e:
    sys.exit(f"AppInspect ({label}) wrote no report (exit {rc}, {e}); see {path[:-5]}.log")
s = report["summary"]
print(f"AppInspect {label}: " + ", ".join(f"{k} {s.get(k, 0)}" for k in
      ("failure", "error", "future_failure", "warning", "success", "not_applicable", "skipped")))
bad = []
for group in report["reports"][0]["groups"]:
    for check in group["checks"]:
        if check["result"] in ("failure", "error", "warning", "future_failure"):
            where = "; ".join(f'{m.get("message_filename") or ""}:{m.get("message_line") or ""} {m["message"]}'
                              for m in check["messages"])[:400]
            print(f"  {check['result']}: {check['name']}: {where}")
        if check["result"] in ("failure", "error"):
            bad.append(check["name"])
if bad or s.get("failure", 0) or s.get("error", 0) or rc not in (0, 103, 104):
    sys.exit(f"AppInspect ({label}) rejects the package (exit {rc}): {', '.join(bad) or 'see the report'}")
PY
}
inspect precert
inspect cloud --included-tags cloud
ta_say "ok: $tarball"
