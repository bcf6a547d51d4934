# The floor reports run off the event loop (docs/reports.md, "Off the event
# loop"): while two reports are held in their threads (test hook
# UKEY_TEST_REPORT_HOLD), `ukeyctl status` and ping are answered and a token
# is produced; a third report is refused busy; a client that went away
# before its report ended costs nothing; the held report then answers as a
# report asked afterwards does; a request behind a report on the same
# connection is answered after it; a certificate issued while a
# reconciliation runs (test hook UKEY_TEST_RECONCILE_LATE) is not reported
# missing from the CA's list; a daemon stopped with a report held ends
# cleanly (under ASan: no leak, no use after free).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export TZ=UTC
today=$(date -u +%F)
hold=$STATE/report.hold
late=$STATE/late.hold
UKEY_TEST_REPORT_HOLD=$hold UKEY_TEST_RECONCILE_LATE=$late start_station
orders_ready
ctl sim plug --bay 1 --wait >/dev/null || fail "bay 1: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
waits() { grep -c "test hook UKEY_TEST_REPORT_HOLD: $1 waits while" "$STATE/ukeyd.log" || true; }
ended() { grep -c "$1 ended: replying" "$STATE/ukeyd.log" || true; }
touch "$hold"

# a client asks for a production report and goes away before it ends
PYTHONPATH=$SRC/tests/integration python3 - "$STATE/ukeyd.sock" "$STATE/ukeyd.log" "$today" <<'PY' ||
import sys, time
from ctlsock import connect, send
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "report.production", "args": {"since": sys.argv[3], "until": sys.argv[3]}})
for _ in range(600):
    if "report.production waits while" in open(sys.argv[2]).read():
        break
    time.sleep(0.1)
else:
    sys.exit("the production report did not start")
s.close()
PY
	fail "the production report of the client that went away"
# a reconciliation held in its thread
ctl --json report reconcile > "$STATE/rec-held.json" 2>&1 &
rec=$!
wait_grep 600 0.1 "report.reconcile waits while" "$STATE/ukeyd.log" || fail "the reconciliation did not start"

# the loop serves meanwhile: status, ping, a token produced
ctl status >/dev/null || fail "status while two reports run"
PYTHONPATH=$SRC/tests/integration python3 -c '
import sys
from ctlsock import connect, send, reply
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "ping"})
r = reply(s)
assert r["ok"] and "version" in r["result"], r' "$STATE/ukeyd.sock" || fail "ping while two reports run"
ctl sim plug --bay 2 --wait >/dev/null || fail "production while two reports run: $(bay_field 2 reason)"
ctl sim unplug --bay 2 >/dev/null
# a third report: refused, with the reason
expect_exit 75 "report.service_times: 2 reports are under way; try again when one has ended" -- \
	ctl report service-times
expect_exit 75 "report.production: 2 reports are under way" -- \
	ctl report production --since "$today" --until "$today"
# answered while the reports are still held
kill -0 "$rec" 2>/dev/null || fail "reconcile answered while its thread was held: $(cat "$STATE/rec-held.json")"
[ "$(ended report.)" = 0 ] || fail "a report ended while held"
echo "ok: status, ping and a token answered while two reports were held; a third refused busy"

rm -f "$hold"
wait "$rec" || fail "reconcile: $(cat "$STATE/rec-held.json")"
wait_grep 600 0.1 "report.production ended: replying" "$STATE/ukeyd.log" ||
	fail "the production report of the client that went away did not end"
ctl status >/dev/null || fail "status after a report's client went away"
ctl --json report reconcile > "$STATE/rec.json" || fail "reconcile afterwards"
cmp -s "$STATE/rec-held.json" "$STATE/rec.json" ||
	fail "the held reconciliation differs: $(cat "$STATE/rec-held.json") / $(cat "$STATE/rec.json")"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and d["issuances"] == 2 and d["ca_certificates"] == 2, d' "$STATE/rec.json" ||
	fail "reconcile figures: $(cat "$STATE/rec.json")"
echo "ok: the held reconciliation answered as one asked afterwards; the gone client's reply dropped"

# behind a report on one connection, a ping is answered after it; the
# report's pages go on with next as before
PYTHONPATH=$SRC/tests/integration python3 - "$STATE/ukeyd.sock" <<'PY' || fail "a request behind a report"
import sys
from ctlsock import connect, send, reply
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "report.service_times", "args": {"limit": 1}})
send(s, {"v": 1, "cmd": "ping"})
first, second = reply(s), reply(s)
assert first["ok"] and len(first["result"]["orders"]) == 1, first
assert first.get("next") == 1, first
assert second["ok"] and "version" in second["result"], second
send(s, {"v": 1, "cmd": "report.service_times", "args": {"limit": 1, "after": first["next"]}})
third = reply(s)
assert third["ok"] and third["result"]["orders"][0]["id"] != first["result"]["orders"][0]["id"], third
PY
echo "ok: a ping behind a report answered after it; pages go on"

# a certificate issued after the reconciliation read the CA's list, and
# before it read the station's records, is looked up in the CA's list again
# rather than reported missing from it
touch "$late"
ctl --json report reconcile > "$STATE/rec-late.json" 2>&1 &
rec=$!
wait_grep 600 0.1 "UKEY_TEST_RECONCILE_LATE: report.reconcile read the CA's list" \
	"$STATE/ukeyd.log" || fail "the reconciliation did not reach the late hold"
ctl sim plug --bay 1 --wait >/dev/null || fail "bay 1 during the reconciliation: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
rm -f "$late"
wait "$rec" || fail "reconcile with a late certificate: $(cat "$STATE/rec-late.json")"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and d["issuances"] == 3 and not d["mismatches"], d' "$STATE/rec-late.json" ||
	fail "reconcile with a late certificate: $(cat "$STATE/rec-late.json")"
echo "ok: a certificate issued while the reconciliation ran is found in the CA's list"

# a daemon stopped while a report is held ends it and stops cleanly
touch "$hold"
n=$(($(waits report.reconcile) + 1))
ctl report reconcile > "$STATE/rec-stop.out" 2>&1 &
rec=$!
for _ in $(seq 600); do [ "$(waits report.reconcile)" = "$n" ] && break; sleep 0.1; done
[ "$(waits report.reconcile)" = "$n" ] || fail "the last reconciliation did not start"
stop_station
wait "$rec" || true
echo "ok: stopped with a report held"
