# Dual control: with [dual_control], an identity check override, an unblock
# and a wipe asked for by one user (games) are held as pending requests and
# nothing is done; the requester cannot confirm, nor can a user without the
# command's role (bin) or without any role (nobody); a second user (daemon)
# confirms and the command runs as the requester's, the audit log naming
# both. A request whose order or bay changed meanwhile is refused and closed,
# the requester can cancel, an expired request cannot be confirmed, and
# without [dual_control] the commands act at once.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "this test runs ukeyctl as other users and must run as root"
command -v runuser >/dev/null || fail "runuser is not installed"
for u in nobody daemon bin games; do
	id "$u" >/dev/null 2>&1 || fail "system account $u is missing"
done

# games and daemon: operator, reviewer and admin; bin: operator only;
# nobody: no role
write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[roles]
operator = daemon, games, bin
reviewer = daemon, games
admin = daemon, games
[dual_control]
actions = wipe, unblock, override
timeout = 15m
EOT
start_station
grepq "dual control action" "$STATE/ukeyd.log" && fail "the table of held commands is inconsistent"
share_station

# held USER ukeyctl-args...: the command exits 3 and prints its request id
held() {
	local out rc
	set +e
	out=$(as "$@" 2>&1)
	rc=$?
	set -e
	[ "$rc" = 3 ] || fail "exit $rc (want 3, held) from $*: $out"
	sed -n 's/^pending confirmation \([0-9]*\): .*/\1/p' <<<"$out" | grep . || fail "no request id in: $out"
}
req_state() { db "SELECT state FROM dual_requests WHERE id = $1"; }
# dual_of ACTION REQUEST: requested_by|confirmed_by of that audit record
dual_of() {
	db "SELECT actor || '|' || json_extract(detail, '\$.dual_control.requested_by') || '|' ||
	    json_extract(detail, '\$.dual_control.confirmed_by') FROM audit WHERE action = '$1'
	    AND CAST(json_extract(detail, '\$.dual_control.request') AS integer) = $2"
}

orders_ready	# as root: approvals without an override are not held
python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$STATE/fail.json" \
	DC-F:1:legal_rep=1x1:account_uscc=91350211M0000XUF46 \
	DC-G:1:legal_rep=1x1:account_uscc=91350211M0000XUF46 \
	DC-H:1:legal_rep=1x1:account_uscc=91350211M0000XUF46
ctl order import "$STATE/fail.json" >/dev/null || fail "import the orders that fail their checks"
id_of() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
F=$(id_of DC-F) G=$(id_of DC-G) H=$(id_of DC-H)

# ---- override at approval: held, nothing done
n=$(held games order approve "$F" --override-reason "licence original checked")
[ "$(db "SELECT state || '|' || coalesce(override_reason, '-') FROM orders WHERE id = $F")" = "pending|-" ] ||
	fail "a held override changed the order"
[ "$(req_state "$n")" = pending ] || fail "request $n is not pending"
[ "$(db "SELECT action || '|' || command || '|' || requested_by || '|' || requester_roles FROM dual_requests WHERE id = $n")" = \
	"override|order.approve|games|operator, reviewer, admin" ] || fail "request $n row"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'dual.request' AND actor = 'games' AND order_id = $F")" = 1 ] ||
	fail "the request is not audited"
as daemon pending | grepq "^$n  *override  *order.approve" || fail "pending does not list request $n: $(as daemon pending)"
as bin --json pending | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert len(rows) == 1, rows
r = rows[0]
assert list(r) == ["id", "action", "command", "args", "subject", "requested_by", "requester_roles",
    "requested_at", "expires_at", "state", "confirmed_by", "confirmed_at", "remark", "closed_by",
    "closed_at", "close_reason"], list(r)
assert r["id"] == int(sys.argv[1]) and r["state"] == "pending" and r["requested_by"] == "games", r
assert r["confirmed_by"] is None and r["close_reason"] is None, r
assert r["args"]["override_reason"] == "licence original checked", r
assert r["subject"]["order"] == int(sys.argv[2]) and r["subject"]["state"] == "pending", r
' "$n" "$F" || fail "pending --json"

# the requester, a user without the reviewer role and one without any role cannot confirm
expect_exit 77 "games asked for it and cannot confirm it too" -- as games confirm "$n"
expect_exit 77 "confirming order.approve needs the role reviewer; user bin has the role operator" -- \
	as bin confirm "$n"
expect_exit 77 "pending.confirm: permission denied" -- as nobody confirm "$n"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'access.denied' AND json_extract(detail, '\$.command') = 'pending.confirm'")" = 3 ] ||
	fail "the refused confirmations are not audited"
[ "$(req_state "$n")" = pending ] || fail "a refused confirmation closed request $n"
[ "$(db "SELECT state FROM orders WHERE id = $F")" = pending ] || fail "a refused confirmation approved the order"

# a second reviewer confirms: the approval runs as the requester's
out=$(as daemon confirm "$n" --remark "seen the licence too") || fail "confirm $n: $out"
grepq "request $n confirmed: order $F: approved" <<<"$out" || fail "confirm said: $out"
[ "$(db "SELECT state || '|' || override_reason || '|' || override_by || '|' || reviewer FROM orders WHERE id = $F")" = \
	"approved|licence original checked|games|games" ] || fail "the confirmed override: $(db "SELECT * FROM orders WHERE id = $F")"
[ "$(db "SELECT state || '|' || confirmed_by || '|' || remark FROM dual_requests WHERE id = $n")" = \
	"confirmed|daemon|seen the licence too" ] || fail "request $n not recorded as confirmed"
[ "$(db "SELECT actor || '|' || json_extract(detail, '\$.requested_by') FROM audit WHERE action = 'dual.confirm' AND CAST(json_extract(detail, '\$.request') AS integer) = $n")" = \
	"daemon|games" ] || fail "the confirmation is not audited with both"
[ "$(dual_of order.override "$n")" = "games|games|daemon" ] || fail "order.override record: $(dual_of order.override "$n")"
[ "$(dual_of order.approve "$n")" = "games|games|daemon" ] || fail "order.approve record: $(dual_of order.approve "$n")"
expect_exit 1 "request $n is confirmed" -- as games confirm "$n"

# the order changed meanwhile: the confirmation is refused and the request closed
n=$(held games order override "$G" --reason "licence original checked")
ctl order reject "$G" --remark "wrong account" >/dev/null || fail "reject G"
expect_exit 1 "request $n refused and closed: order $G: cannot override" -- as daemon confirm "$n"
[ "$(req_state "$n")" = refused ] || fail "request $n is $(req_state "$n"), not refused"
db "SELECT close_reason FROM dual_requests WHERE id = $n" | grepq "rejected" || fail "no reason kept"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'dual.refuse' AND actor = 'daemon' AND order_id = $G")" = 1 ] ||
	fail "the refusal is not audited"
[ "$(db "SELECT coalesce(override_reason, '-') FROM orders WHERE id = $G")" = - ] || fail "G overridden after all"

# the requester may cancel; nobody else may
n=$(held games order approve "$H" --override-reason "licence original checked")
expect_exit 77 "only games, who asked for it, can cancel it" -- as daemon pending cancel "$n"
as games pending cancel "$n" --remark "wrong order" >/dev/null || fail "cancel $n"
[ "$(req_state "$n")" = cancelled ] || fail "request $n not cancelled"
expect_exit 1 "request $n is cancelled (cancelled by games: wrong order)" -- as daemon confirm "$n"
[ "$(db "SELECT state FROM orders WHERE id = $H")" = pending ] || fail "a cancelled request acted"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'dual.cancel' AND actor = 'games'")" = 1 ] || fail "cancel not audited"

# ---- unblock: an issued token comes back (refused) to bay 2
ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
tok=$(ls "$STATE/sim/tokens" | tail -1)
tserial=$(bay_field 1 token_serial)
ctl bay take-pin --bay 1 >/dev/null || fail "initial PIN"
ctl sim unplug --bay 1 >/dev/null
ctl sim plug --bay 2 --token "$((10#$tok))" --wait >/dev/null 2>&1 || true
[ "$(bay_field 2 state)" = refused ] || fail "the issued token should be refused, is $(bay_field 2 state)"
n=$(held games token unblock --bay 2 --remark "customer forgot the PIN")
[ "$(db "SELECT count(*) FROM audit WHERE action = 'token.unblock'")" = 0 ] || fail "a held unblock ran"
[ "$(bay_field 2 pin_to_show)" != True ] || fail "a held unblock set a PIN"
expect_exit 77 "cannot confirm it too" -- as games confirm "$n"
expect_exit 77 "confirming token.unblock needs the role admin; user bin has the role operator" -- as bin confirm "$n"
out=$(as daemon confirm "$n") || fail "confirm unblock: $out"
grepq "request $n confirmed: token $tserial: new user PIN set" <<<"$out" || fail "confirm unblock said: $out"
[ "$(db "SELECT actor || '|' || json_extract(detail, '\$.result') || '|' || json_extract(detail, '\$.dual_control.confirmed_by')
    FROM audit WHERE action = 'token.unblock'")" = "games|done|daemon" ] || fail "token.unblock record"
# the new PIN is the confirming user's to show
expect_exit 77 "shown only to daemon, who confirmed its unblock" -- as games bay take-pin --bay 2
new_pin=$(as daemon --json bay take-pin --bay 2 | python3 -c 'import json, sys; print(json.load(sys.stdin)["user_pin"])') ||
	fail "the confirming user cannot take the new PIN"
[ -n "$new_pin" ] || fail "no new PIN"
if db_dump | grepq -- "$new_pin"; then fail "the new PIN is in the database"; fi

# the bay changed meanwhile: the token left
n=$(held games token unblock --bay 2)
ctl sim unplug --bay 2 >/dev/null
expect_exit 1 "request $n refused and closed: bay 2 holds no token to unblock" -- as daemon confirm "$n"
[ "$(req_state "$n")" = refused ] || fail "unblock request $n not refused"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'token.unblock'")" = 1 ] || fail "a refused unblock ran"

# ---- wipe: a token the station initialised whose job failed (the CA's
# certificate was for another key, as in test_refusals.sh) comes back
echo wrong-key > "$STATE/ca/fault"
if ctl sim plug --bay 3 --wait >/dev/null 2>&1; then fail "a wrong-key certificate was accepted"; fi
rm -f "$STATE/ca/fault"
wtok=$(ls "$STATE/sim/tokens" | tail -1)
ctl sim unplug --bay 3 >/dev/null
ctl sim plug --bay 3 --token "$((10#$wtok))" --wait >/dev/null 2>&1 || true
[ "$(bay_field 3 state)" = refused ] || fail "the token should be refused in bay 3, is $(bay_field 3 state)"
n=$(held games bay wipe --bay 3)
[ "$(bay_field 3 state)" = refused ] || fail "a held wipe changed bay 3: $(bay_field 3 state)"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'bay.wipe_allowed'")" = 0 ] || fail "a held wipe ran"
expect_exit 77 "cannot confirm it too" -- as games confirm "$n"
out=$(as daemon confirm "$n") || fail "confirm wipe: $out"
grepq "request $n confirmed: bay 3: wiping allowed" <<<"$out" || fail "confirm wipe said: $out"
[ "$(dual_of bay.wipe_allowed "$n")" = "games|games|daemon" ] || fail "bay.wipe_allowed record: $(dual_of bay.wipe_allowed "$n")"
ctl bay wait --bay 3 --timeout 120 >/dev/null || fail "the wiped token was not issued: $(bay_field 3 reason)"
[ "$(db "SELECT operator FROM jobs ORDER BY id DESC LIMIT 1")" = games ] || fail "the wipe's job is not the requester's"
ctl sim unplug --bay 3 >/dev/null
ctl audit verify >/dev/null || fail "audit verify"

# ---- a request not confirmed in time expires (restart with a 1 s timeout;
# the requests stored before are still there)
stop_station
sed -i 's/^timeout = 15m$/timeout = 1/' "$STATE/ukeyd.conf"
start_station
chmod 0666 "$STATE/ukeyd.sock"
n=$(held games order approve "$H" --override-reason "licence original checked")
sleep 2
expect_exit 1 "request $n expired at" -- as daemon confirm "$n"
[ "$(req_state "$n")" = expired ] || fail "request $n is $(req_state "$n"), not expired"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'dual.expire' AND CAST(json_extract(detail, '\$.request') AS integer) = $n")" = 1 ] ||
	fail "the expiry is not audited"
[ "$(db "SELECT state FROM orders WHERE id = $H")" = pending ] || fail "an expired request acted"
[ "$(db "SELECT count(*) FROM dual_requests")" -ge 6 ] || fail "requests were lost at the restart"

# ---- without [dual_control] the same command acts at once
stop_station
sed -i '/^\[dual_control\]$/,$d' "$STATE/ukeyd.conf"
start_station
chmod 0666 "$STATE/ukeyd.sock"
before=$(db "SELECT count(*) FROM dual_requests")
as games order approve "$H" --override-reason "licence original checked" >/dev/null ||
	fail "approve with an override without dual control"
[ "$(db "SELECT state || '|' || override_by FROM orders WHERE id = $H")" = "approved|games" ] ||
	fail "the override did not act at once"
[ "$(db "SELECT count(*) FROM dual_requests")" = "$before" ] || fail "a request was held without [dual_control]"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'order.override' AND order_id = $H AND json_extract(detail, '\$.dual_control') IS NULL")" = 1 ] ||
	fail "a direct override names a confirmation"
ctl audit verify >/dev/null || fail "audit verify at the end"
stop_station
echo "PASS: override, unblock and wipe held until a second user confirmed them; own, role-less, stale, cancelled and expired confirmations refused"
