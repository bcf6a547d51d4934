#!/bin/bash
# debian/postinst on its own, with stand-ins for the programs it calls
# (nothing of the host is changed): it creates the user with
# systemd-sysusers where there is one (into DPKG_ROOT when that is set),
# else with addgroup and adduser, else says that it created nothing; it
# leaves alone a user that exists; and it refuses an unknown action.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
pg_skip "it starts no station and has no store: the SQLite pass runs it"

POSTINST=$SRC/debian/postinst
[ -r "$POSTINST" ] || fail "no debian/postinst"
SH=$(command -v dash || command -v sh)

# stubs DIR PROG...: stand-ins that log "PROG ARGS" to $STATE/calls; getent
# finds a user or group only when $STATE/known holds "DB NAME"
stubs() {
	local dir=$1 p
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	for p in "$@"; do
		if [ "$p" = getent ]; then
			printf '#!%s\necho "getent $*" >>"%s/calls"\n%s -qx "$1 $2" "%s/known" 2>/dev/null\n' \
				"$SH" "$STATE" "$(command -v grep)" "$STATE" >"$dir/getent"
		else
			printf '#!%s\necho "%s $*" >>"%s/calls"\n' "$SH" "$p" "$STATE" >"$dir/$p"
		fi
		chmod +x "$dir/$p"
	done
}
# run_postinst STUBDIR [VAR=VALUE...]: postinst configure with only the stubs on PATH
run_postinst() {
	local dir=$1
	shift
	: >"$STATE/calls"
	set +e
	env -i PATH="$dir" "$@" "$SH" "$POSTINST" configure >"$STATE/out" 2>&1
	rc=$?
	set -e
}

# ---- systemd-sysusers: the sysusers entry, on the system or in DPKG_ROOT
stubs "$STATE/s1" systemd-sysusers adduser addgroup getent
run_postinst "$STATE/s1"
[ "$rc" -eq 0 ] || fail "postinst with systemd-sysusers: exit $rc: $(cat "$STATE/out")"
[ "$(cat "$STATE/calls")" = "systemd-sysusers ukey-station.conf" ] ||
	fail "with systemd-sysusers: calls were: $(cat "$STATE/calls")"
run_postinst "$STATE/s1" DPKG_ROOT="$STATE/root"
[ "$rc" -eq 0 ] || fail "postinst with DPKG_ROOT: exit $rc: $(cat "$STATE/out")"
[ "$(cat "$STATE/calls")" = "systemd-sysusers --root=$STATE/root ukey-station.conf" ] ||
	fail "with DPKG_ROOT: calls were: $(cat "$STATE/calls")"

# ---- no systemd-sysusers: addgroup and adduser, system user without a login
stubs "$STATE/s2" adduser addgroup getent
run_postinst "$STATE/s2"
[ "$rc" -eq 0 ] || fail "postinst with adduser: exit $rc: $(cat "$STATE/out")"
grepq -x "addgroup --system ukey" "$STATE/calls" || fail "no addgroup: $(cat "$STATE/calls")"
grepq -x "adduser --system --ingroup ukey --home /var/lib/ukey-station --no-create-home --gecos ukey-station daemon ukey" \
	"$STATE/calls" || fail "no adduser: $(cat "$STATE/calls")"
# a user and group that exist are left as they are
printf 'group ukey\npasswd ukey\n' >"$STATE/known"
run_postinst "$STATE/s2"
[ "$rc" -eq 0 ] || fail "postinst with an existing user: exit $rc"
! grepq -E '^(adduser|addgroup) ' "$STATE/calls" || fail "existing user made again: $(cat "$STATE/calls")"
rm -f "$STATE/known"
# adduser cannot make a user in another root: say so, change nothing
run_postinst "$STATE/s2" DPKG_ROOT="$STATE/root"
[ "$rc" -eq 0 ] || fail "postinst with adduser and DPKG_ROOT: exit $rc"
[ ! -s "$STATE/calls" ] || fail "adduser used for DPKG_ROOT: $(cat "$STATE/calls")"
grepq "create the system user and group ukey there" "$STATE/out" || fail "no note: $(cat "$STATE/out")"

# ---- neither: nothing created, and a clear note
stubs "$STATE/s3" getent
run_postinst "$STATE/s3"
[ "$rc" -eq 0 ] || fail "postinst with neither: exit $rc: $(cat "$STATE/out")"
grepq "neither systemd-sysusers nor adduser is installed: the system user and group ukey were not created" \
	"$STATE/out" || fail "no note without either: $(cat "$STATE/out")"

# ---- an unknown action is refused
set +e
env -i PATH="$STATE/s1" "$SH" "$POSTINST" frobnicate >"$STATE/out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] && grepq "unknown argument 'frobnicate'" "$STATE/out" || fail "unknown action: exit $rc: $(cat "$STATE/out")"

echo "test_postinst: ok"
