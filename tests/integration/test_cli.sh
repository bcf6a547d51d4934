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

# --json after the command too, on every listing, as before it
for cmd in "order list" "queue" "bays" "jobs" "audit serials" "audit log" "pending" "sources" \
    "profiles"; do
	# shellcheck disable=SC2086
	out=$(ctl $cmd --json) || fail "$cmd --json: exit $?"
	python3 -c 'import json, sys; assert isinstance(json.load(sys.stdin), list)' <<<"$out" ||
		fail "$cmd --json is not a JSON array: $out"
	# shellcheck disable=SC2086
	[ "$out" = "$(ctl --json $cmd)" ] || fail "$cmd: --json after the command differs from before it"
done
python3 -c 'import json, sys; assert "events" in json.load(sys.stdin)' <<<"$(ctl events --json)" ||
	fail "events --json"
ctl order show 1 --json | grepq '"id_number": *"[0-9]\{4\}\*\{10\}' || fail "order show ID --json"

# help: the whole usage, a command's, a group's; exit 0 on stdout
help=$(ctl --help)
for verb in "order import" "order list" "order show" "order approve" "order reject" "order override" \
    "order edit" "order resubmit" "order pay" "order deliver" "order cancel" "order invoice" queue \
    "unit release" "unit cancel" bays "bay wait" "bay take-pin" "bay wipe" "token inspect" \
    "token unblock" jobs "job abandon" events sources "sim plug" "sim unplug" "audit serials" \
    "audit verify" "audit export" "audit checkpoint" "audit pubkey" "audit log" "ca show" pending \
    confirm "pending cancel" status profiles "profiles check" "profiles udev-rules" help \
    "completion bash" "cert revoke" "ca crl" "audit expiring"; do
	grepq -- "^  $verb\( \|$\)" <<<"$help" || fail "ukeyctl --help lacks $verb"
done
grepq "64 usage; 65 invalid" <<<"$help" || fail "ukeyctl --help lacks the exit codes"
[ "$(ctl help)" = "$help" ] || fail "ukeyctl help differs from ukeyctl --help"
expect_exit 0 '^usage: ukeyctl order approve ID \[--override-reason TEXT\]$' -- ctl help order approve
expect_exit 0 '^options: --override-reason TEXT, --json, --help$' -- ctl order approve --help
expect_exit 0 "usage: ukeyctl audit verify \[--db FILE" -- ctl audit verify -h
expect_exit 0 "usage: ukeyctl pending cancel ID" -- ctl pending cancel --help
expect_exit 0 "^  order invoice ID" -- ctl help order
expect_exit 0 "^  order pay ID" -- ctl order --help
[ -z "$(ctl order approve --help 2>&1 >/dev/null)" ] || fail "order approve --help wrote to stderr"
expect_exit 64 'help: no command "frob"' -- ctl help frob

# an option a command does not take, an unknown option, verb or command:
# named, with the nearest commands, exit 64, nothing sent to the daemon
before=$(db "SELECT count(*) FROM audit")
expect_exit 64 "option --json is not accepted here: 'ukeyctl profiles udev-rules' does not take --json" \
	-- ctl profiles udev-rules --json
expect_exit 64 "'ukeyctl order approve' does not take --bay" -- ctl order approve 2 --bay 1
expect_exit 64 "usage: ukeyctl order approve ID" -- ctl order approve 2 --bay 1
expect_exit 64 "unknown option --frob for 'ukeyctl queue'" -- ctl queue --frob
expect_exit 64 "option --socket goes before the command" -- ctl queue --socket x
expect_exit 64 'unknown command "ordr"; did you mean: order?' -- ctl ordr list
expect_exit 64 'order: unknown verb "aprove"; did you mean: approve?' -- ctl order aprove 2
expect_exit 64 'order: unknown verb "re"; did you mean: reject, resubmit?' -- ctl order re 2
expect_exit 64 "order: which one?" -- ctl order
expect_exit 64 "order show: ID is required" -- ctl order show
expect_exit 64 'order show: unexpected argument "2"' -- ctl order show 1 2
expect_exit 64 "remark needs a value" -- ctl order reject 2 --remark
expect_exit 64 "unknown option --frob before the command" -- ctl --frob queue
expect_exit 64 "option --bay goes after the command" -- ctl --bay 1 bay wipe
[ "$(db "SELECT count(*) FROM audit")" = "$before" ] || fail "a refused command reached the daemon"
[ "$(db "SELECT state FROM orders WHERE id = 2")" = approved ] || fail "order 2 changed"

# bash completion from the same table
grepq "complete -F _ukeyctl ukeyctl" <<<"$(bash -c 'source <("$1" completion bash); complete -p ukeyctl' \
	_ "$BUILD/ukeyctl")" || fail "the completion script does not load"
cmp -s "$BUILD/ukeyctl.bash-completion" <("$BUILD/ukeyctl" completion bash) ||
	fail "the built completion script is not what ukeyctl completion bash prints"
# complete WORD...: what bash offers for the last word
complete_words() {
	bash -c 'source <("$1" completion bash); shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_ukeyctl; echo "${COMPREPLY[*]}"' _ "$BUILD/ukeyctl" "$@"
}
[ "$(complete_words ukeyctl or)" = order ] || fail "complete 'ukeyctl or': $(complete_words ukeyctl or)"
[ "$(complete_words ukeyctl order a)" = approve ] || fail "complete 'ukeyctl order a'"
[ "$(complete_words ukeyctl --state /x order re)" = "reject resubmit" ] ||
	fail "complete 'ukeyctl --state /x order re': $(complete_words ukeyctl --state /x order re)"
[ "$(complete_words ukeyctl order approve 3 --o)" = --override-reason ] ||
	fail "complete 'ukeyctl order approve 3 --o'"
[ "$(complete_words ukeyctl pending '')" = cancel ] || fail "complete 'ukeyctl pending '"
[ "$(complete_words ukeyctl pending cancel 3 --)" = "--remark --json --help" ] ||
	fail "complete 'ukeyctl pending cancel 3 --': $(complete_words ukeyctl pending cancel 3 --)"
[ "$(complete_words ukeyctl bay wipe --bay 2 --)" = "--bay --json --help" ] ||
	fail "complete 'ukeyctl bay wipe --bay 2 --'"

# a malformed or oversize request on the socket is refused, the daemon lives on
PYTHONPATH=$SRC/tests/integration python3 - "$STATE/ukeyd.sock" <<'PY' || fail "raw socket checks"
import struct, sys
from ctlsock import connect, send, reply
def call(payload):
    s = connect(sys.argv[1])
    send(s, payload)
    return reply(s)
r = call(b"not json"); assert r["ok"] is False and r["error"]["code"] == "protocol", r
r = call(b'{"v":1,"cmd":"order.show","args":{"id":"x"}}'); assert r["error"]["code"] == "invalid", r
r = call(b'{"v":2,"cmd":"ping"}'); assert r["error"]["code"] == "protocol", r
s = connect(sys.argv[1])
s.sendall(struct.pack(">I", 64 * 1024 * 1024))
r = reply(s); assert r["error"]["code"] == "protocol" and "larger" in r["error"]["message"], r
PY
ctl status >/dev/null || fail "daemon died after bad requests"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: CLI exit codes and messages"
