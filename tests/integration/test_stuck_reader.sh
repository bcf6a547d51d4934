# A client that asks for a reply of megabytes and never reads it does not
# hold up production (and a listing answers one page, never a reply over the
# protocol's 4 MiB): the daemon queues the reply in that client's buffer,
# writes it only as the socket takes it, serves everyone else meanwhile and
# drops the client at station.client_timeout. While such a client is
# connected, a token is produced and `ukeyctl status` answers at once.
. "$(dirname "$0")/lib.sh"

TIMEOUT=20
write_config
sed -i "s/^\[station\]\$/[station]\nclient_timeout = $TIMEOUT/" "$STATE/ukeyd.conf"
start_station
orders_ready

# 8,000 pending orders make `order list` a reply of a few MiB
for part in 1 2 3 4; do
	specs=()
	for i in $(seq 2000); do specs+=("STUCK-$part-$i:0:organisation=1x1"); done
	python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" \
		"$STATE/many-$part.json" "${specs[@]}"
	ctl order import "$STATE/many-$part.json" >/dev/null || fail "importing orders, part $part"
done
size=$(ctl --json order list | wc -c)
[ "$size" -gt $((2 * 1024 * 1024)) ] || fail "order list is only $size bytes"
echo "ok: order list is $size bytes"

# stuck.py: sends order.list, reads nothing for HOLD seconds, then reads what
# the daemon sent and prints a JSON summary
cat > "$STATE/stuck.py" <<'PY'
import json, socket, sys, time
from ctlsock import connect, send
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "order.list"})
# the daemon has made the reply and begun to write it (a sanitizer build
# takes seconds to make it): seen without reading it
s.recv(1, socket.MSG_PEEK)
print("sent", flush=True)
time.sleep(float(sys.argv[2]))
got, closed = 0, False
s.settimeout(2)
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            closed = True
            break
        got += len(b)
except (socket.timeout, ConnectionResetError):
    pass
print(json.dumps({"received": got, "closed": closed}), flush=True)
PY
PYTHONPATH=$SRC/tests/integration python3 "$STATE/stuck.py" "$STATE/ukeyd.sock" $((TIMEOUT + 5)) > "$STATE/stuck.out" &
stuck=$!
wait_grep 1200 0.1 sent "$STATE/stuck.out" || fail "the stuck client got no part of its reply in 120 s"

t0=$(date +%s%N)
ctl status >/dev/null || fail "status while a client does not read"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "status took $ms ms while a client does not read"
ctl sim plug --bay 1 --wait >/dev/null || fail "production while a client does not read: $(bay_field 1 reason)"
t2=$(date +%s%N)
issued_ms=$(( (t2 - t1) / 1000000 ))
kill -0 "$stuck" 2>/dev/null || fail "the stuck client ended before the token was produced"
[ "$issued_ms" -lt $((TIMEOUT * 1000)) ] ||
	fail "the token took $issued_ms ms: it waited for the stuck client's timeout"
[ "$(db "SELECT count(*) FROM jobs WHERE state = 'issued'")" = 1 ] || fail "no job issued"
echo "ok: status in $ms ms and a token issued in $issued_ms ms while a client left a reply unread"

wait "$stuck" || fail "stuck.py failed"
summary=$(tail -1 "$STATE/stuck.out")
python3 - "$summary" "$size" <<'PY' || fail "the stuck client: $summary"
import json, sys
s, size = json.loads(sys.argv[1]), int(sys.argv[2])
assert s["closed"], "the daemon did not drop the client that stopped reading"
assert s["received"] < size, "the whole reply fit in the socket: nothing was queued"
PY
grepq "has not read its reply for $TIMEOUT s; closed" "$STATE/ukeyd.log" ||
	fail "the daemon's log does not say why it closed the client"
ctl status >/dev/null || fail "status after the stuck client was dropped"
echo "ok: the client that did not read was dropped after ${TIMEOUT}s ($summary)"

# 18,000 orders: all of them in one reply would be over the protocol's
# 4 MiB. The daemon answers one page of at most 2000 and names the key to
# go on from (a reply too large is tested with a lower limit in
# test_scale_listings.sh).
for part in 5 6 7 8 9; do
	specs=()
	for i in $(seq 2000); do specs+=("STUCK-$part-$i:0:organisation=1x1"); done
	python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" \
		"$STATE/many-$part.json" "${specs[@]}"
	ctl order import "$STATE/many-$part.json" >/dev/null || fail "importing orders, part $part"
done
PYTHONPATH=$SRC/tests/integration python3 - "$STATE/ukeyd.sock" <<'PY' || fail "order.list without limit: not one bounded page"
import json, sys
from ctlsock import connect, send, length, exactly
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "order.list"})
n = length(s)
assert n < 4 * 1024 * 1024, n
r = json.loads(exactly(s, n))
assert r["ok"] and len(r["result"]) == 2000, r.get("error")
assert r["next"] == r["result"][-1]["id"], r.get("next")
PY
ctl status >/dev/null || fail "status after a page of order.list"
echo "ok: order.list over 18,000 orders answers one page of 2000 and where to go on"
# ukeyctl asks for pages, and lists every order
n=$(ctl --json order list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
want=$(db "SELECT count(*) FROM orders")
[ "$n" = "$want" ] || fail "order list gave $n orders of $want"
echo "ok: order list, in pages, gives all $n orders"
stop_station
