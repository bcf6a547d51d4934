# Several detection sources at once, some of which cannot work here: the
# PC/SC source finds no pcscd (a socket path where none listens), and the
# udev source has no udevd unless the machine runs one. Each problem is
# reported (`ukeyctl sources`, the event stream, the log) and the simulated
# bays issue certificates all the same.
. "$(dirname "$0")/lib.sh"

export PCSCLITE_CSOCK_NAME=$STATE/no-pcscd.comm
write_config
sed -i 's/^id = test-station$/id = test-station\nsources = sim, udev, pcsc/' "$STATE/ukeyd.conf"
grep -q "^sources = sim, udev, pcsc" "$STATE/ukeyd.conf" || fail "config"
start_station
orders_ready

ctl --json sources > "$STATE/sources.json" || fail "ukeyctl sources"
python3 - "$STATE/sources.json" <<'PY' || fail "source status: $(cat "$STATE/sources.json")"
import json, sys
src = {s["source"]: s["status"] for s in json.load(open(sys.argv[1]))}
assert set(src) == {"sim", "udev", "pcsc"}, src
assert src["sim"] == "running", src
# pcsc starts and keeps retrying; udev either runs or says why it cannot
assert src["pcsc"] == "running", src
assert src["udev"] == "running" or src["udev"].startswith("cannot start: "), src
PY
for _ in $(seq 100); do
	ctl --json events | grepq '"source-down"' && break
	sleep 0.05
done
ctl --json events | python3 -c '
import json, sys
down = [e for e in json.load(sys.stdin)["events"] if e["kind"] == "source-down" and e["source"] == "pcsc"]
assert down and "pcscd" in down[0]["message"], down' || fail "pcscd missing is not reported"
grep -q "pcsc: source down: .*pcscd" "$STATE/ukeyd.log" || fail "not in the log"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'detect.source_down'")" -ge 1 ] || fail "not audited"

ctl sim plug --bay 1 --wait >/dev/null || fail "sim bay: $(bay_field 1 reason)"
[ "$(db "SELECT count(*) FROM issuances")" = 1 ] || fail "nothing issued on the simulated bay"
echo "sources: $(ctl sources | tail -n +2 | tr -s ' ' | paste -sd ';')"
stop_station
echo "PASS: a source that cannot work is reported and the others carry on"
