# Helpers for integration tests: a throwaway station (state directory,
# ukeyd on its own socket) driven with ukeyctl, and checks that fail loudly.
# Every tool a test needs must be present: a missing one fails the test.
# shellcheck shell=bash
set -euo pipefail

SRC=${UKEY_SOURCE_DIR:?UKEY_SOURCE_DIR must be set (ctest sets it)}
BUILD=${UKEY_BUILD_DIR:?UKEY_BUILD_DIR must be set (ctest sets it)}
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
export UKEY_BUILD_DIR=$BUILD
# the tests' Python snippets import tests/integration/ctlsock.py: no
# __pycache__ written into the source tree
export PYTHONDONTWRITEBYTECODE=1

for tool in pkcs11-tool openssl sqlite3 softhsm2-util python3; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
[ -r "$SOFTHSM_MODULE" ] || { echo "FAIL: $SOFTHSM_MODULE missing" >&2; exit 1; }

STATE=$(mktemp -d /tmp/ukey-test.XXXXXX)
DAEMON_PID=""

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$STATE/ukeyd.log" ]; then
		echo "---- ukeyd.log (last 40 lines)" >&2
		tail -40 "$STATE/ukeyd.log" >&2
	fi
	exit 1
}

# grep that reads all of its input: "cmd | grep -q" under pipefail fails when
# grep exits at the first match and cmd then dies writing to the closed pipe.
grepq() { grep "$@" >/dev/null; }

# wait_grep TRIES PAUSE GREP-ARGS...: grepq GREP-ARGS (a pattern and a
# file) until it finds a line, tried TRIES times PAUSE seconds apart and
# once more at the end; its status is that last try's
wait_grep() {
	local tries=$1 pause=$2
	shift 2
	for _ in $(seq "$tries"); do
		grepq "$@" && return 0
		sleep "$pause"
	done
	grepq "$@"
}

# expect_exit CODE PATTERN -- command...: the command exits with CODE and
# says PATTERN (stdout and stderr together).
expect_exit() {
	local want=$1 pat=$2 out rc
	shift 3
	set +e
	out=$("$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "exit $rc (want $want) from: $* -> $out"
	grepq -- "$pat" <<<"$out" || fail "message from '$*' lacks '$pat': $out"
}

ctl() { "$BUILD/ukeyctl" --state "$STATE" "$@"; }

# The station's store: station.db (SQLite), or with UKEY_TEST_STORE=pg a
# PostgreSQL 15 server of the test's own (tests/tools/pg-test-server: a
# cluster in a temporary directory, its Unix socket there, no TCP), started
# by write_config or start_station, written into ukeyd.conf as
# `[store] url`, and stopped by cleanup. The embedded CA's ca.db stays
# SQLite in both modes.
UKEY_TEST_STORE=${UKEY_TEST_STORE:-sqlite}
case $UKEY_TEST_STORE in
sqlite | pg) ;;
*) echo "FAIL: UKEY_TEST_STORE=$UKEY_TEST_STORE (sqlite or pg)" >&2; exit 1 ;;
esac
PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=""
PG_CONN=""
pg_mode() { [ "$UKEY_TEST_STORE" = pg ]; }

# pg_skip REASON: in pg mode, the test is skipped (exit 77, ctest's SKIP)
# and says why; docs/testing.md lists the tests that do this.
pg_skip() {
	pg_mode || return 0
	echo "SKIP (UKEY_TEST_STORE=pg): $*"
	exit 77
}

pg_psql() {	# pg_psql ARGS...: psql on the test's database, unaligned, no header
	PGOPTIONS="-c search_path=public,ukey_test_compat" "$PG_BIN/psql" -X -q -t -A -F '|' \
		-v ON_ERROR_STOP=1 -h "$PG_DIR" -U ukey_admin -d ukey "$@"
}

# pg_store_up: the test's PostgreSQL server, started once. Besides
# cleanup, a watcher outside the test's process tree stops it when the test
# shell is gone, for the tests whose own EXIT trap does not call cleanup.
pg_store_up() {
	pg_mode || return 0
	[ -z "$PG_CONN" ] || return 0
	PG_DIR=$(mktemp -d /tmp/ukey-pg.XXXXXX)
	PG_CONN=$("$SRC/tests/tools/pg-test-server" start "$PG_DIR") || fail "PostgreSQL test server did not start"
	echo "store: PostgreSQL 15, a test server on a socket in $PG_DIR"
	local shell=$$ dir=$PG_DIR
	( (while kill -0 "$shell" 2>/dev/null; do sleep 1; done
	   "$SRC/tests/tools/pg-test-server" stop "$dir") </dev/null >/dev/null 2>&1 &)
	# SQLite's json_extract and group_concat for the tests' own queries
	# (db), in a schema the daemon's connection does not search
	pg_psql -f "$SRC/tests/integration/pg_compat.sql" >/dev/null || fail "pg_compat.sql"
}

# store_reset: the station's store empty again (a new state directory
# with its new master key): on PostgreSQL the database made anew
store_reset() {
	if pg_mode; then
		[ -n "$PG_CONN" ] || return 0
		pg_psql -d postgres -c "DROP DATABASE ukey WITH (FORCE)" -c "CREATE DATABASE ukey" ||
			fail "recreating the test database"
		pg_psql -f "$SRC/tests/integration/pg_compat.sql" >/dev/null || fail "pg_compat.sql"
	else
		rm -f "$STATE/station.db" "$STATE/station.db-wal" "$STATE/station.db-shm"
	fi
}

pg_store_down() {
	[ -n "$PG_DIR" ] || return 0
	"$SRC/tests/tools/pg-test-server" stop "$PG_DIR" >/dev/null 2>&1 || true
}

# store_conf FILE: in pg mode, the `[store] url` of the test's server at the
# top of the station configuration FILE (unless it has a [store] section),
# so that lines a test appends still go to the section that was last
store_conf() {
	pg_mode || return 0
	pg_store_up
	grepq '^\[store\]' "$1" && return 0
	{ printf '[store]\nurl = %s\n' "$PG_CONN"; cat "$1"; } > "$1.store"
	mv "$1.store" "$1"
}

# db SQL: runs SQL on the station's store (sqlite3 on station.db, or psql)
db() {
	if pg_mode; then
		[ -n "$PG_CONN" ] || fail "db before the station's store exists"
		pg_psql -c "$*"
	else
		# the daemon writes meanwhile: wait for its lock as it would
		sqlite3 -cmd ".timeout 10000" "$STATE/station.db" "$@"
	fi
}

# db_dump: every row of the station's store as text (to look for secrets)
db_dump() {
	if pg_mode; then
		"$PG_BIN/pg_dump" -h "$PG_DIR" -U ukey_admin --data-only ukey
	else
		sqlite3 -cmd ".timeout 10000" "$STATE/station.db" .dump
	fi
}

# issued_cert_pem SERIAL: the issued certificate as PEM on stdout
issued_cert_pem() {
	local hex
	if pg_mode; then
		hex=$(db "SELECT encode(cert, 'hex') FROM issuances WHERE cert_serial = '$1'")
	else
		hex=$(db "SELECT hex(cert) FROM issuances WHERE cert_serial = '$1'")
	fi
	[ -n "$hex" ] || fail "no issued certificate $1"
	python3 -c 'import ssl, sys
sys.stdout.write(ssl.DER_cert_to_PEM_cert(bytes.fromhex(sys.argv[1])))' "$hex"
}

# share_station: lets the machine's other accounts reach the running
# station's socket and run a copy of ukeyctl ($STATE/bin/ukeyctl), for tests
# of roles; then `as USER ukeyctl-args...` runs ukeyctl as USER (runuser).
# A copy of ctlsock.py there serves their raw requests (PYTHONPATH=$STATE/bin).
share_station() {
	chmod 0711 "$STATE"
	chmod 0666 "$STATE/ukeyd.sock"
	mkdir -p -m 0755 "$STATE/bin"
	cp "$BUILD/ukeyctl" "$STATE/bin/ukeyctl"
	chmod 0755 "$STATE/bin/ukeyctl"
	install -m 0644 "$SRC/tests/integration/ctlsock.py" "$STATE/bin/ctlsock.py"
}

as() {
	local u=$1
	shift
	(cd / && runuser -u "$u" -- "$STATE/bin/ukeyctl" --socket "$STATE/ukeyd.sock" "$@")
}

write_config() {
	cat > "$STATE/ukeyd.conf" <<EOT
[station]
id = test-station
profile_dirs = $SRC/firmware-profiles, $SRC/tests/data/firmware-profiles
cert_profile_dir = $SRC/cert-profiles
worker = $BUILD/ukey-worker
[sim]
bays = 4
EOT
	store_conf "$STATE/ukeyd.conf"
}

start_station() {
	[ -f "$STATE/ukeyd.conf" ] || write_config
	store_conf "$STATE/ukeyd.conf"
	"$BUILD/ukeyd" --state "$STATE" 2>>"$STATE/ukeyd.log" &
	DAEMON_PID=$!
	for _ in $(seq 200); do
		ctl status >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || fail "ukeyd exited at start"
		sleep 0.05
	done
	fail "ukeyd did not answer on its socket"
}

stop_station() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		wait "$DAEMON_PID" || fail "ukeyd exited with an error status at stop"
	fi
	DAEMON_PID=""
	# the loop's guard (main.c) found a step that returned with the job's
	# journal uncommitted
	if [ -f "$STATE/ukeyd.log" ] && grep -q "job journal was left open" "$STATE/ukeyd.log"; then
		fail "a step left the job journal open: $(grep -m1 "job journal was left open" "$STATE/ukeyd.log")"
	fi
}

cleanup() {
	local rc=$?
	if [ -n "$DAEMON_PID" ]; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	# a check that failed exits past the test's own stopping of its
	# background loops; one left running would hold ctest's output open
	# until the test's timeout
	local left
	left=$(jobs -p)
	[ -z "$left" ] || kill $left 2>/dev/null || true
	pg_store_down
	if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
		rm -rf "$STATE"
		[ -z "$PG_DIR" ] || rm -rf "$PG_DIR"
	else
		echo "state kept in $STATE${PG_DIR:+ (the PostgreSQL cluster in $PG_DIR)}" >&2
	fi
}
trap cleanup EXIT

# Imports the sample orders and approves and pays every pending order.
orders_ready() {
	ctl order import "$SRC/examples/orders-sample.json" >/dev/null || fail "import"
	local id n=0
	for id in $(ctl order list --state pending | awk 'NR > 1 { print $1 }'); do
		ctl order approve "$id" >/dev/null || fail "approve $id"
		n=$((n + 1))
		ctl order pay "$id" --payment-no "$(printf '2026112100000000000000000000%02d' "$n")" \
			>/dev/null || fail "pay $id"
	done
}

queued_units() { db "SELECT count(*) FROM units WHERE state = 'queued'"; }

bay_field() {	# bay_field BAY FIELD
	ctl --json bays | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    if b["bay"] == int(sys.argv[1]):
        v = b.get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}

# wait_for_step BAY STEP: until the bay's running job has begun STEP.
wait_for_step() {
	local i
	for i in $(seq 300); do
		if [ "$(db "SELECT count(*) FROM jobs WHERE state = 'running' AND bay = 'sim-$1' AND step = '$2'")" = 1 ]; then
			return 0
		fi
		sleep 0.05
	done
	fail "bay $1 never reached step $2"
}

# token_conf N: the softhsm2.conf of virtual token N
token_conf() { printf '%s/sim/tokens/%04d/softhsm2.conf' "$STATE" "$1"; }

# softhsm_store DIR: an empty SoftHSM2 token store in DIR (one blank token),
# made the store of everything started from here on (SOFTHSM2_CONF)
softhsm_store() {
	mkdir -p "$1/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$1" > "$1/softhsm2.conf"
	export SOFTHSM2_CONF=$1/softhsm2.conf
}

# The CMP tests' test CA (tests/tools/cmp_test_server): cmp_test_ca makes
# its key and certificate and the station's shared secret in $STATE/cmp;
# the test starts the server and keeps its pid in CMP_PID, which stop_cmp
# stops (call it from the test's EXIT trap).
CMP_PID=""
stop_cmp() {
	if [ -n "$CMP_PID" ]; then
		kill "$CMP_PID" 2>/dev/null || true
		wait "$CMP_PID" 2>/dev/null || true
	fi
	CMP_PID=""
}
cmp_test_ca() {
	mkdir -m 0700 "$STATE/cmp"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -days 3650 \
		-subj "/CN=Test CMP CA/O=ukey-station tests" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$STATE/cmp/ca.key" -out "$STATE/cmp/ca.crt" 2>/dev/null || fail "making the test CA"
	printf 'station shared secret\n' > "$STATE/cmp/secret"
	chmod 0600 "$STATE/cmp/secret"
}
