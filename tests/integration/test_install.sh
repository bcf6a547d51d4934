#!/bin/bash
# cmake --install into a throwaway prefix (and with DESTDIR): every file a
# station needs is in its place, the installed ukeyctl accepts every
# installed profile and derives the installed udev rules from them, the
# rules equal the source tree's, and the service unit starts the installed
# ukeyd (or, staged with DESTDIR, the one of the configured prefix).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
pg_skip "it starts no station and has no store: the SQLite pass runs it"

command -v cmake >/dev/null || fail "cmake is not installed"
DEST=$STATE/prefix
cmake --install "$BUILD" --prefix "$DEST" >"$STATE/install.log" 2>&1 ||
	{ cat "$STATE/install.log" >&2; fail "cmake --install --prefix"; }

# ---- the files
for f in bin/ukeyd bin/ukeyctl libexec/ukey-station/ukey-worker libexec/ukey-station/ukey-signer; do
	[ -f "$DEST/$f" ] && [ -x "$DEST/$f" ] || fail "$f: not installed as a program"
done
RULES=$DEST/lib/udev/rules.d/70-ukey-station.rules
UNIT=$DEST/lib/systemd/system/ukeyd.service
SYSUSERS=$DEST/lib/sysusers.d/ukey-station.conf
for f in "$RULES" "$UNIT" "$SYSUSERS" "$DEST/share/ukey-station/examples/ukeyd.conf.example" \
    "$DEST/share/doc/ukey-station/install.md"; do
	[ -s "$f" ] || fail "${f#"$DEST"/}: not installed"
done
for kind in firmware-profiles cert-profiles; do
	n=0
	for f in "$SRC/$kind"/*.conf; do
		cmp -s "$f" "$DEST/share/ukey-station/$kind/${f##*/}" ||
			fail "$kind/${f##*/}: not installed as it is in the source tree"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || fail "$kind: nothing in the source tree"
	[ "$(ls "$DEST/share/ukey-station/$kind" | wc -l)" -eq "$n" ] || fail "$kind: extra files installed"
done
# the bash completion, as the installed ukeyctl generates it from its table
cmp -s "$DEST/share/bash-completion/completions/ukeyctl" <("$DEST/bin/ukeyctl" completion bash) ||
	fail "share/bash-completion/completions/ukeyctl: not installed, or not what ukeyctl completion bash prints"
# nothing lands outside the prefix: the manifest lists only files under it
grep -v "^$DEST/" "$BUILD/install_manifest.txt" && fail "installed outside the prefix"

# ---- the installed ukeyctl accepts every installed profile, with no daemon
PROFILES=$DEST/share/ukey-station/firmware-profiles
"$DEST/bin/ukeyctl" --socket "$STATE/nobody.sock" profiles check "$PROFILES"/*.conf \
	>"$STATE/check.out" 2>"$STATE/check.err" || { cat "$STATE/check.err" >&2; fail "installed profiles check"; }
[ "$(grep -c ': ok (' "$STATE/check.out")" -eq "$(ls "$PROFILES"/*.conf | wc -l)" ] ||
	fail "profiles check: not every installed profile is ok"

# ---- rules: as in the source tree, and what the installed profiles give
cmp "$RULES" "$SRC/udev/70-ukey-station.rules" || fail "installed udev rules differ from udev/"
"$DEST/bin/ukeyctl" profiles udev-rules "$PROFILES" | cmp - "$RULES" ||
	fail "installed rules differ from 'ukeyctl profiles udev-rules' of the installed profiles"

# ---- the unit: runs the installed ukeyd as ukey, with its state directory
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
[ "${exec_start%% *}" = "$DEST/bin/ukeyd" ] || fail "ExecStart=$exec_start, not $DEST/bin/ukeyd"
[ -x "${exec_start%% *}" ] || fail "ExecStart names no program"
# without UKEY_CONFIG_FILE: no configuration installed, ukeyd reads the state directory's
[ "${exec_start#* }" = "--state %S/ukey-station" ] || fail "ExecStart=$exec_start: not just --state"
[ ! -e "$DEST/etc" ] || fail "a configuration was installed without UKEY_CONFIG_FILE: $(find "$DEST/etc")"
for line in "User=ukey" "Group=ukey" "StateDirectory=ukey-station" "DeviceAllow=char-usb_device rw" \
    "RestrictAddressFamilies=AF_UNIX AF_NETLINK" "SystemCallFilter=@system-service" \
    "NoNewPrivileges=yes" "ProtectSystem=strict"; do
	grep -qxF "$line" "$UNIT" || fail "unit: no line '$line'"
done
! grep -n '@[A-Z_]*@' "$UNIT" || fail "unit: a template variable was left"
grep -q "^u ukey - " "$SYSUSERS" || fail "sysusers: no user ukey"

# ---- staged with DESTDIR: files under the stage, paths of the configured prefix
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in $BUILD/CMakeCache.txt"
STAGE=$STATE/stage
DESTDIR=$STAGE cmake --install "$BUILD" >"$STATE/stage.log" 2>&1 ||
	{ cat "$STATE/stage.log" >&2; fail "DESTDIR=... cmake --install"; }
[ -x "$STAGE$prefix/bin/ukeyd" ] || fail "DESTDIR: ukeyd not under the stage"
# the manifest names the files as they will be on the target, without DESTDIR
grep -v "^$prefix/" "$BUILD/install_manifest.txt" && fail "DESTDIR: manifest names staged paths"
grep -qx "$prefix/lib/systemd/system/ukeyd.service" "$BUILD/install_manifest.txt" ||
	fail "DESTDIR: the unit is not in the manifest"
staged_exec=$(sed -n 's/^ExecStart=//p' "$STAGE$prefix/lib/systemd/system/ukeyd.service")
[ "${staged_exec%% *}" = "$prefix/bin/ukeyd" ] || fail "DESTDIR: ExecStart=$staged_exec, not $prefix/bin/ukeyd"
cmp "$STAGE$prefix/lib/udev/rules.d/70-ukey-station.rules" "$SRC/udev/70-ukey-station.rules" ||
	fail "DESTDIR: rules differ"

echo "test_install: ok"
