#!/bin/bash
# The PC/SC detection source (src/detect/src_pcsc.c) run by detect_watch
# against a private pcscd with vsmartcard's virtual reader and cards: pcscd
# not there yet, pcscd coming up with its readers, a card put in, pulled and
# put in again, the firmware profile matched by reader name (and none), a
# card already in when the source starts, pcscd going away and coming back.
# Prints the measured detection latencies.
set -euo pipefail
if [ "${UKEY_TEST_STORE:-sqlite}" = pg ]; then
	echo "SKIP (UKEY_TEST_STORE=pg): it starts no station and has no store: the SQLite pass runs it"
	exit 77
fi

SRC=${UKEY_SOURCE_DIR:?UKEY_SOURCE_DIR must be set (ctest sets it)}
BUILD=${UKEY_BUILD_DIR:?UKEY_BUILD_DIR must be set (ctest sets it)}
WATCH=$BUILD/tests/detect_watch
PROFILES=$SRC/tests/data/firmware-profiles-pcsc
[ -x "$WATCH" ] || { echo "FAIL: $WATCH is not built" >&2; exit 1; }
command -v opensc-tool >/dev/null || { echo "FAIL: opensc-tool is not installed" >&2; exit 1; }

WATCH_PID=""
OUT=""
# runs after pcsc_env.sh's cleanup (it keeps the EXIT trap set before it)
stop_watch_at_exit() {
	if [ -n "$WATCH_PID" ]; then
		kill -KILL "$WATCH_PID" 2>/dev/null || true
		wait "$WATCH_PID" 2>/dev/null || true
	fi
}
trap stop_watch_at_exit EXIT

# shellcheck source=tests/integration/pcsc_env.sh
source "$SRC/tests/integration/pcsc_env.sh"

BAY0="pcsc:$PCSC_READER0"
BAY1="pcsc:$PCSC_READER1"

fail() {
	echo "FAIL: $*" >&2
	if [ -n "$OUT" ] && [ -f "$OUT" ]; then
		echo "---- $OUT" >&2
		cat "$OUT" >&2
		echo "---- ${OUT%.jsonl}.err (last 20 lines)" >&2
		tail -20 "${OUT%.jsonl}.err" >&2
	fi
	pcsc_logs
	exit 1
}

# Reads detect_watch's JSON lines.
#   ev.py FILE nth N [KEY=VALUE...]   the N-th line matching every filter
#   ev.py FILE count [KEY=VALUE...]   how many lines match
#   ev.py FILE after N                "kind bay" of every line after line N
#   ev.py FILE lines                  how many lines there are
#   ev.py LINE get KEY                one field of a JSON line (null: "null")
# A filter value "null" matches JSON null.
cat >"$PCSC_DIR/ev.py" <<'EOF'
import json, sys

def load(path):
    with open(path) as f:
        return [l for l in f.read().split("\n") if l.strip()]

def match(obj, filters):
    for flt in filters:
        key, _, want = flt.partition("=")
        have = obj.get(key)
        if (have is None and want != "null") or (have is not None and str(have) != want):
            return False
    return True

src, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if op == "get":
    v = json.loads(src).get(args[0])
    print("null" if v is None else v)
    sys.exit(0)
lines = load(src)
if op == "lines":
    print(len(lines))
elif op == "after":
    for l in lines[int(args[0]):]:
        o = json.loads(l)
        print(o["kind"], o.get("bay", ""))
else:
    hits = [l for l in lines if match(json.loads(l), args[1:] if op == "nth" else args)]
    if op == "count":
        print(len(hits))
    elif len(hits) < int(args[0]):
        sys.exit(1)
    else:
        print(hits[int(args[0]) - 1])
EOF
ev() { python3 "$PCSC_DIR/ev.py" "$@"; }
get() { ev "$1" get "$2"; }

# wait_event N KEY=VALUE...: waits for the N-th matching line of OUT, prints it.
wait_event() {
	local n=$1 i
	shift
	for ((i = 0; i < PCSC_TIMEOUT * 10; i++)); do
		ev "$OUT" nth "$n" "$@" && return 0
		pcsc__gone "$WATCH_PID" && fail "detect_watch exited while waiting for event #$n: $*"
		sleep 0.1
	done
	fail "no event #$n with $* within ${PCSC_TIMEOUT} s"
}

# start_watch NAME PROFILE_DIR: runs detect_watch pcsc, output in $PCSC_DIR/NAME.jsonl.
start_watch() {
	OUT=$PCSC_DIR/$1.jsonl
	"$WATCH" --profiles "$2" pcsc >"$OUT" 2>"$PCSC_DIR/$1.err" &
	WATCH_PID=$!
	wait_event 1 kind=started >/dev/null
}

# stop_watch: SIGTERM; detect_watch must end within 10 s with status 0
# (under ASan that includes no leaks).
stop_watch() {
	local i rc=0
	kill -TERM "$WATCH_PID"
	for ((i = 0; i < 100; i++)); do
		pcsc__gone "$WATCH_PID" && break
		sleep 0.1
	done
	pcsc__gone "$WATCH_PID" || fail "detect_watch did not stop within 10 s of SIGTERM"
	wait "$WATCH_PID" || rc=$?
	WATCH_PID=""
	[ "$rc" -eq 0 ] || fail "detect_watch exited with status $rc"
}

# counts_are ARRIVED LEFT: true when OUT holds exactly that many of each.
counts_are() {
	[ "$(ev "$OUT" count kind=arrived)" = "$1" ] && [ "$(ev "$OUT" count kind=left)" = "$2" ]
}

# expect FIELD WANT LINE
expect() {
	local have
	have=$(get "$3" "$1")
	[ "$have" = "$2" ] || fail "$1 is '$have', expected '$2' in: $3"
}

# The ATR pcscd logged for the last card it saw in READER, as upper-case hex.
pcscd_atr() {
	awk -v r="Card inserted into $1" 'index($0, r) { want = 1; next }
		want && /Card ATR:/ { sub(/.*Card ATR: */, ""); gsub(/ /, ""); atr = $0; want = 0 }
		END { print toupper(atr) }' "$PCSC_DIR/pcscd.log"
}

# ---- 1. pcscd is not running yet
start_watch watch-match "$PROFILES/match"
line=$(wait_event 1 kind=source-down)
expect message "pcscd is not running (SCARD_E_NO_SERVICE)" "$line"
expect bay "" "$line"

# ---- 2. pcscd starts: the source connects and reports both vpcd slots
pcsc_start
line=$(wait_event 1 kind=source-up)
case $(get "$line" message) in
*"$PCSCLITE_CSOCK_NAME"*) ;;
*) fail "source-up does not name the socket $PCSCLITE_CSOCK_NAME: $line" ;;
esac
line=$(wait_event 1 kind=reader-added bay="$BAY0")
expect reader "$PCSC_READER0" "$line"
expect atr "" "$line"
wait_event 1 kind=reader-added bay="$BAY1" >/dev/null
[ "$(ev "$OUT" count kind=arrived)" = 0 ] || fail "a card was reported before any was inserted"

# ---- 3. a card goes in: arrival with reader, ATR and the matching profile
t0=$(pcsc_now_ms)
vicc_insert 0
t0c=$(pcsc_now_ms)	# vicc is connected to vpcd
arrived=$(wait_event 1 kind=arrived)
expect bay "$BAY0" "$arrived"
expect reader "$PCSC_READER0" "$arrived"
expect source pcsc "$arrived"
expect profile test-vpcd-card "$arrived"
atr=$(get "$arrived" atr)
[[ $atr =~ ^([0-9A-F]{2})+$ ]] || fail "ATR '$atr' is not upper-case hex bytes"
[ "$atr" = "$(pcscd_atr "$PCSC_READER0")" ] ||
	fail "ATR '$atr' differs from the one pcscd logged ($(pcscd_atr "$PCSC_READER0"))"
case $(get "$arrived" device) in
*"$PCSC_READER0"*"$atr"*) ;;
*) fail "device does not name the reader and ATR: $arrived" ;;
esac
lat_in=$(($(printf '%.0f' "$(get "$arrived" t_ms)") - t0))
lat_in_conn=$(($(printf '%.0f' "$(get "$arrived" t_ms)") - t0c))

# ---- 3b. a program using the card (connect, power-up, APDU, disconnect,
# power-down) is not mistaken for a card swap
opensc-tool --reader "$PCSC_READER0" --send-apdu 00A4040000 >"$PCSC_DIR/opensc-tool.out" 2>&1 ||
	fail "opensc-tool could not talk to the card: $(cat "$PCSC_DIR/opensc-tool.out")"
sleep 1.5	# nothing may happen here: three of pcscd's 400 ms polls
counts_are 1 0 || fail "using the card produced token events"

# ---- 4. the card is pulled: it leaves
t1=$(pcsc_now_ms)
vicc_remove 0
left=$(wait_event 1 kind=left)
expect bay "$BAY0" "$left"
expect atr "$atr" "$left"
lat_out=$(($(printf '%.0f' "$(get "$left" t_ms)") - t1))

# ---- 5. and goes in again: a second arrival in the same bay
vicc_insert 0
line=$(wait_event 2 kind=arrived)
expect bay "$BAY0" "$line"
expect profile test-vpcd-card "$line"
counts_are 2 1 || fail "expected exactly two arrivals and one departure so far"
[ "$(ev "$OUT" count bay="$BAY1")" = 1 ] || fail "events for the empty slot besides reader-added"

# ---- 6. pcscd stops with the card in: left, then its reader and the other
# one removed, then source-down, and nothing else
mark=$(ev "$OUT" lines)
pcsc_stop
line=$(wait_event 2 kind=source-down)
case $(get "$line" message) in
"lost the connection to pcscd ("*")") ;;
*) fail "unexpected source-down message: $line" ;;
esac
seq=$(ev "$OUT" after "$mark")
want=$(printf '%s\n' "left $BAY0" "reader-removed $BAY0" "reader-removed $BAY1" "source-down ")
if [ "$(sort <<<"$seq")" != "$(sort <<<"$want")" ] || [ "$(tail -1 <<<"$seq")" != "source-down " ]; then
	fail "after pcscd stopped: expected (in some order, source-down last) $want; got: $seq"
fi
[ "$(grep -n "^left $BAY0\$" <<<"$seq" | cut -d: -f1)" -lt \
	"$(grep -n "^reader-removed $BAY0\$" <<<"$seq" | cut -d: -f1)" ] ||
	fail "reader-removed came before left for $BAY0: $seq"
vicc_remove 0	# vicc ends when vpcd goes; reap it

# ---- 7. pcscd comes back: the source reconnects by itself
pcsc_start
wait_event 2 kind=source-up >/dev/null
wait_event 2 kind=reader-added bay="$BAY0" >/dev/null
wait_event 2 kind=reader-added bay="$BAY1" >/dev/null
stop_watch
pcsc_stop

# ---- 8. a card already in when the source starts (slot 1), under a profile
# set whose reader pattern does not match: reported, with no profile
pcsc_start
vicc_insert 1
for ((i = 0; i < PCSC_TIMEOUT * 10; i++)); do
	grep -q "Card inserted into $PCSC_READER1" "$PCSC_DIR/pcscd.log" && break
	sleep 0.1
done
grep -q "Card inserted into $PCSC_READER1" "$PCSC_DIR/pcscd.log" || fail "pcscd did not see the card in slot 1"
start_watch watch-nomatch "$PROFILES/nomatch"
line=$(wait_event 1 kind=arrived)
expect bay "$BAY1" "$line"
expect reader "$PCSC_READER1" "$line"
expect profile null "$line"
[ -n "$(get "$line" atr)" ] || fail "arrival without ATR: $line"
[ "$(ev "$OUT" count kind=source-down)" = 0 ] || fail "source-down with pcscd running"
vicc_remove 1
wait_event 1 kind=left bay="$BAY1" >/dev/null
pcsc_stop
wait_event 1 kind=source-down >/dev/null
wait_event 1 kind=reader-removed bay="$BAY1" >/dev/null
stop_watch
[ "$(ev "$OUT" count kind=arrived)" = 1 ] || fail "expected exactly one arrival"

# ---- 9. a pcscd that accepts connections but never answers (stopped with
# SIGSTOP): start() returns after its first-look wait, and stop() gives up on
# the thread stuck in libpcsclite instead of hanging the daemon
pcsc_start
kill -STOP "$PCSC_PCSCD_PID"
t0=$(pcsc_now_ms)
start_watch watch-frozen "$PROFILES/match"
t1=$(pcsc_now_ms)
stop_watch
t2=$(pcsc_now_ms)
kill -CONT "$PCSC_PCSCD_PID"
grep -q "stuck in libpcsclite" "$PCSC_DIR/watch-frozen.err" ||
	fail "no message about the stuck PC/SC thread"
echo "frozen pcscd: start took $((t1 - t0)) ms, stop $((t2 - t1)) ms"
pcsc_stop

echo "latency: vicc started -> arrived ${lat_in} ms (vicc connected -> arrived ${lat_in_conn} ms);" \
	"vicc killed -> left ${lat_out} ms"
echo "PASS"
