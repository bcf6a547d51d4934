#!/bin/bash
# The Debian package (debian/, docs/packaging.md): built by scripts/package
# (dpkg-buildpackage in a copy of the tree), the tree stays as it was; lintian
# finds no error, and no warning that docs/packaging.md does not explain;
# installed with dpkg --root into an empty directory (maintainer scripts run
# outside it with DPKG_ROOT, as dpkg's --force-script-chrootless does), its
# postinst creates user and group ukey there and nowhere else; the man
# pages, the conffile, the unit and the rest are where the package's file
# list says, as they are in the tree; the installed ukeyd and ukeyctl run
# and report the package's version; a purge removes it all.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
pg_skip "it starts no station and has no store: the SQLite pass runs it"

for tool in dpkg-buildpackage dpkg-parsechangelog dh lintian systemd-sysusers cmake; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
T0=$(date +%s)
ARCH=$(dpkg --print-architecture)
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
# a native package of this project: its version is the project's
cmake_version=$(sed -n 's/^project(ukey-station VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$cmake_version" ] || fail "no project version in CMakeLists.txt"
[ "$VERSION" = "$cmake_version" ] ||
	fail "debian/changelog says $VERSION, CMakeLists.txt project(VERSION) $cmake_version"

# ---- build (scripts/package: in a copy of the tree, files to --out)
tree_state() {
	if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRC" status --porcelain --untracked-files=all
	else
		find "$SRC" -path "$SRC/build*" -prune -o -newer "$STATE" -print
	fi
}
before=$(tree_state)
UKEY_JOBS=2 "$SRC/scripts/package" --out "$STATE/pkg" >"$STATE/build.log" 2>&1 ||
	{ tail -40 "$STATE/build.log" >&2; fail "scripts/package"; }
DEB=$STATE/pkg/ukey-station_${VERSION}_$ARCH.deb
CHANGES=$STATE/pkg/ukey-station_${VERSION}_$ARCH.changes
[ -s "$DEB" ] && [ -s "$CHANGES" ] || fail "no $DEB or $CHANGES: $(ls "$STATE/pkg")"
T_BUILD=$(($(date +%s) - T0))

# ---- lintian: no error; each warning explained in docs/packaging.md
set +e
lintian --tag-display-limit 0 --fail-on error "$CHANGES" >"$STATE/lintian.out" 2>&1
rc=$?
set -e
grep -E '^E: ' "$STATE/lintian.out" >&2 && fail "lintian errors (above)"
[ "$rc" -eq 0 ] || { cat "$STATE/lintian.out" >&2; fail "lintian exited $rc"; }
for tag in $(awk '/^W: / { print $3 }' "$STATE/lintian.out" | sort -u); do
	grepq -F "\`$tag\`" "$SRC/docs/packaging.md" ||
		fail "lintian warning $tag is not explained in docs/packaging.md: $(grep -F " $tag " "$STATE/lintian.out")"
done

# ---- install into an empty root
R=$STATE/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
host_users=$(cat /etc/passwd /etc/group | sha256sum)
# the libraries it needs are the host's, not packages of the empty root
dpkg --root="$R" --force-script-chrootless --force-depends -i "$DEB" >"$STATE/dpkg.log" 2>&1 ||
	{ cat "$STATE/dpkg.log" >&2; fail "dpkg --root -i"; }
[ "$(dpkg-query --root="$R" -W -f='${Status}' ukey-station)" = "install ok installed" ] ||
	fail "not installed: $(dpkg-query --root="$R" -W -f='${Status}' ukey-station)"
[ "$(cat /etc/passwd /etc/group | sha256sum)" = "$host_users" ] || fail "the postinst changed the host's users"

# postinst: user and group ukey in the root, as the sysusers entry says
grepq '^ukey:x:[0-9]*:[0-9]*:ukey-station daemon:/var/lib/ukey-station:' "$R/etc/passwd" ||
	fail "no user ukey in the root: $(cat "$R/etc/passwd" 2>&1)"
grepq '^ukey:x:[0-9]*:' "$R/etc/group" || fail "no group ukey in the root"

# ---- the files: every one the package lists is there
dpkg --root="$R" -L ukey-station >"$STATE/files.txt"
while read -r f; do
	[ -e "$R$f" ] || fail "$f: listed by the package, not installed"
done <"$STATE/files.txt"
listed() {	# listed PATH: in the package's list and a file of the root
	grepq -xF "$1" "$STATE/files.txt" || fail "$1: not in the package"
	[ -f "$R$1" ] || fail "$1: not a file in the root"
}
for f in /usr/bin/ukeyd /usr/bin/ukeyctl /usr/libexec/ukey-station/ukey-worker \
    /usr/libexec/ukey-station/ukey-signer; do
	listed "$f"
	[ -x "$R$f" ] || fail "$f: not executable"
done
# man pages: each of man/, in its section, compressed by dh_compress
n=0
for page in "$SRC"/man/*.[1-8]; do
	p=${page##*/}
	listed "/usr/share/man/man${p##*.}/$p.gz"
	zcat "$R/usr/share/man/man${p##*.}/$p.gz" | cmp -s - "$page" || fail "$p: installed page differs from man/$p"
	n=$((n + 1))
done
[ "$n" -ge 5 ] || fail "only $n man pages in man/"
# the conffile: the example configuration, and dpkg knows it as a conffile
CONF=/etc/ukey-station/ukeyd.conf
listed "$CONF"
cmp -s "$R$CONF" "$SRC/systemd/ukeyd.conf.example" || fail "$CONF is not systemd/ukeyd.conf.example"
conffiles=$(dpkg-query --root="$R" -W -f='${Conffiles}\n' ukey-station | sed '/^$/d')
[ "$(awk '{ print $1 }' <<<"$conffiles")" = "$CONF" ] || fail "conffiles are not just $CONF: $conffiles"
[ "$(awk '{ print $2 }' <<<"$conffiles")" = "$(md5sum <"$R$CONF" | awk '{ print $1 }')" ] ||
	fail "conffile checksum differs from the installed file"
# the unit: the installed ukeyd with the conffile, not enabled by the package
UNIT=/lib/systemd/system/ukeyd.service
listed "$UNIT"
grepq -xF "ExecStart=/usr/bin/ukeyd --state %S/ukey-station --config $CONF" "$R$UNIT" ||
	fail "unit: $(grep '^ExecStart' "$R$UNIT")"
grepq -xF "User=ukey" "$R$UNIT" || fail "unit: no User=ukey"
[ ! -e "$R/etc/systemd/system/multi-user.target.wants/ukeyd.service" ] || fail "the package enabled ukeyd.service"
# udev rules, sysusers entry, profiles: as in the tree
listed /lib/udev/rules.d/70-ukey-station.rules
cmp -s "$R/lib/udev/rules.d/70-ukey-station.rules" "$SRC/udev/70-ukey-station.rules" || fail "udev rules differ"
listed /usr/lib/sysusers.d/ukey-station.conf
cmp -s "$R/usr/lib/sysusers.d/ukey-station.conf" "$SRC/systemd/ukey-station.sysusers.conf" ||
	fail "sysusers entry differs"
for kind in firmware-profiles cert-profiles; do
	for f in "$SRC/$kind"/*.conf; do
		listed "/usr/share/ukey-station/$kind/${f##*/}"
		cmp -s "$f" "$R/usr/share/ukey-station/$kind/${f##*/}" || fail "$kind/${f##*/} differs"
	done
done
listed /usr/share/doc/ukey-station/copyright

# ---- the installed programs run
[ "$("$R/usr/bin/ukeyctl" --version)" = "ukeyctl $VERSION" ] ||
	fail "installed ukeyctl --version: $("$R/usr/bin/ukeyctl" --version 2>&1)"
[ "$("$R/usr/bin/ukeyd" --version)" = "ukeyd $VERSION" ] ||
	fail "installed ukeyd --version: $("$R/usr/bin/ukeyd" --version 2>&1)"
"$R/usr/bin/ukeyctl" --help | grepq '^usage: ukeyctl' || fail "installed ukeyctl --help"
P=$R/usr/share/ukey-station/firmware-profiles
"$R/usr/bin/ukeyctl" profiles check "$P"/*.conf >"$STATE/check.out" 2>&1 ||
	fail "installed ukeyctl profiles check: $(cat "$STATE/check.out")"
"$R/usr/bin/ukeyctl" profiles udev-rules "$P" | cmp -s - "$R/lib/udev/rules.d/70-ukey-station.rules" ||
	fail "installed ukeyctl profiles udev-rules differ from the installed rules"

# the installed ukeyd on a throwaway state directory, with the installed
# worker and profiles (the configured paths are those of /, not of the root)
cat >"$STATE/pkg.conf" <<EOT
[station]
id = pkg-test
sources = sim
profile_dirs = $P
cert_profile_dir = $R/usr/share/ukey-station/cert-profiles
worker = $R/usr/libexec/ukey-station/ukey-worker
[sim]
bays = 1
EOT
PSTATE=$STATE/pkg-state
"$R/usr/bin/ukeyd" --state "$PSTATE" --config "$STATE/pkg.conf" 2>>"$STATE/ukeyd.log" &
DAEMON_PID=$!
for _ in $(seq 200); do
	"$R/usr/bin/ukeyctl" --state "$PSTATE" status >/dev/null 2>&1 && break
	kill -0 "$DAEMON_PID" 2>/dev/null || fail "installed ukeyd exited at start"
	sleep 0.05
done
"$R/usr/bin/ukeyctl" --state "$PSTATE" --json status >"$STATE/status.json" || fail "installed ukeyctl status"
python3 - "$STATE/status.json" "$VERSION" <<'EOF' || fail "status: $(cat "$STATE/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["version"] == sys.argv[2], s
assert s["station"] == "pkg-test", s
EOF
stop_station

# ---- purge: the package's files and its conffile go
dpkg --root="$R" --force-script-chrootless --purge ukey-station >"$STATE/purge.log" 2>&1 ||
	{ cat "$STATE/purge.log" >&2; fail "dpkg --root --purge"; }
while read -r f; do
	[ -d "$R$f" ] || [ ! -e "$R$f" ] || fail "$f: left after purge"
done <"$STATE/files.txt"
[ ! -e "$R$CONF" ] || fail "$CONF left after purge"

# ---- the tree is as it was
[ "$(tree_state)" = "$before" ] || fail "the package build changed the source tree:
$(diff <(echo "$before") <(tree_state))"

echo "test_package: ok (build ${T_BUILD}s, total $(($(date +%s) - T0))s; lintian warnings: $(grep -c '^W: ' "$STATE/lintian.out" || true))"
