# Helpers for integration tests: a throwaway station (state directory,
# ukeyd on its own socket) driven with ukeyctl, and checks that fail loudly.
# Every tool a test needs must be present: a missing one fails the test.
# shellcheck shell=bash
set -euo pipefail

SRC=${UKEY_SOURCE_DIR:?UKEY_SOURCE_DIR must be set (ctest sets it)}
BUILD=${UKEY_BUILD_DIR:?UKEY_BUILD_DIR must be set (ctest sets it)}
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
export UKEY_BUILD_DIR=$BUILD

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
db() { sqlite3 "$STATE/station.db" "$@"; }

# share_station: lets the machine's other accounts reach the running
# station's socket and run a copy of ukeyctl ($STATE/bin/ukeyctl), for tests
# of roles; then `as USER ukeyctl-args...` runs ukeyctl as USER (runuser).
share_station() {
	chmod 0711 "$STATE"
	chmod 0666 "$STATE/ukeyd.sock"
	mkdir -p -m 0755 "$STATE/bin"
	cp "$BUILD/ukeyctl" "$STATE/bin/ukeyctl"
	chmod 0755 "$STATE/bin/ukeyctl"
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
}

start_station() {
	[ -f "$STATE/ukeyd.conf" ] || write_config
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
}

cleanup() {
	local rc=$?
	if [ -n "$DAEMON_PID" ]; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
	fi
	if [ $rc -eq 0 ]; then rm -rf "$STATE"; else echo "state kept in $STATE" >&2; fi
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
