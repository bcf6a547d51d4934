# The CLI's contract: clear messages and exit codes for a missing daemon, bad
# arguments, bad input and illegal transitions; --json everywhere.
. "$(dirname "$0")/lib.sh"

expect_exit 69 "not running" -- ctl queue
start_station
expect_exit 64 "usage" -- ctl order pay 1
expect_exit 64 "not a non-negative integer" -- ctl order show abc
expect_exit 64 "unknown command" -- ctl frobnicate
expect_exit 66 "cannot read" -- ctl order import /nonexistent.json
printf '{"orders": [{"portal_ref": "X-1"}]}' > "$STATE/bad.json"
expect_exit 65 "nothing imported" -- ctl order import "$STATE/bad.json"
expect_exit 65 "account_uscc" -- ctl order import "$STATE/bad.json"
[ "$(db "SELECT count(*) FROM orders")" = 0 ] || fail "a bad file changed the database"

ctl order import "$SRC/examples/orders-sample.json" >/dev/null
again=$(ctl order import "$SRC/examples/orders-sample.json")
echo "$again" | grepq "unchanged" || fail "second import should report unchanged: $again"
[ "$(db "SELECT count(*) FROM orders")" = 2 ] || fail "re-import duplicated orders"
expect_exit 2 "no such order" -- ctl order show 99
expect_exit 1 "only approved" -- ctl order pay 1 --payment-no 202108311743133254271557329797
expect_exit 65 "remark" -- ctl order reject 1 --remark ""
expect_exit 65 "payment_no" -- ctl order pay 1 --payment-no "12 34"
ctl order approve 1 >/dev/null
expect_exit 1 "only pending" -- ctl order approve 1
ctl order pay 1 --payment-no 202108311743133254271557329797 >/dev/null
ctl order approve 2 >/dev/null
expect_exit 1 "already used" -- ctl order pay 2 --payment-no 202108311743133254271557329797
ctl order reject 2 --remark "资料不全" >/dev/null 2>&1 && fail "reject after approve"

# ID numbers are masked in listings and JSON
ctl --json order show 1 | grepq '"id_number":"[0-9]\{4\}\*\{10\}' || ctl --json order show 1 |
	grepq '"id_number": *"[0-9]\{4\}\*\{10\}' || fail "order show does not mask ID numbers"
if ctl --json order show 1 | grepq '530102199003070016'; then fail "full ID number shown"; fi
for cmd in "order list" "queue" "bays" "jobs" "audit serials" "audit log"; do
	# shellcheck disable=SC2086
	[ "$(ctl --json $cmd | cut -c 1 | sed -n 1p)" = "[" ] || fail "--json $cmd is not a JSON array"
done
[ "$(ctl --json queue | grep -c '"unit"')" = "$(db "SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id WHERE i.order_id = 1")" ] ||
	fail "only the paid order's units are queued"

# a malformed or oversize request on the socket is refused, the daemon lives on
python3 - "$STATE/ukeyd.sock" <<'PY' || fail "raw socket checks"
import socket, struct, sys, json
def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data
def reply(s):
    n = struct.unpack(">I", recv_exact(s, 4))[0]
    return json.loads(recv_exact(s, n))
def call(payload):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(struct.pack(">I", len(payload)) + payload)
    return reply(s)
r = call(b"not json"); assert r["ok"] is False and r["error"]["code"] == "protocol", r
r = call(b'{"v":1,"cmd":"order.show","args":{"id":"x"}}'); assert r["error"]["code"] == "invalid", r
r = call(b'{"v":2,"cmd":"ping"}'); assert r["error"]["code"] == "protocol", r
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack(">I", 64 * 1024 * 1024))
r = reply(s); assert r["error"]["code"] == "protocol" and "larger" in r["error"]["message"], r
PY
ctl status >/dev/null || fail "daemon died after bad requests"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: CLI exit codes and messages"
