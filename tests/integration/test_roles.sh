# Roles from the socket peer's credentials: system accounts mapped to roles in
# [roles], ukeyctl run as each of them (runuser); denials are exit 77 with the
# role needed, and each is audited (access.denied) with the user.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "this test runs ukeyctl as other users and must run as root"
command -v runuser >/dev/null || fail "runuser is not installed"
for u in nobody daemon bin sys games; do
	id "$u" >/dev/null 2>&1 || fail "system account $u is missing"
done
getent group sys >/dev/null || fail "system group sys is missing"

# nobody: no role; daemon: operator; bin: reviewer; group sys (user sys):
# auditor; games: operator and admin (the union of two lines)
write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[roles]
operator = daemon, games
reviewer = bin
auditor = @sys
admin = games
EOT
sed -i 's/^\[station\]$/[station]\nsocket_group = games/' "$STATE/ukeyd.conf"
start_station
grepq "has no roles in the dispatch table" "$STATE/ukeyd.log" &&
	fail "a command of the dispatch table has no roles row"
grepq "listed twice in the dispatch table" "$STATE/ukeyd.log" &&
	fail "a command is listed twice in the dispatch table"
[ "$(stat -c %G "$STATE/ukeyd.sock")" = games ] || fail "socket_group did not set the socket's group"
[ "$(stat -c %a "$STATE/ukeyd.sock")" = 660 ] || fail "socket mode is not 0660"

share_station


denials() {	# denials USER COMMAND: access.denied rows for them
	db "SELECT count(*) FROM audit WHERE action = 'access.denied' AND actor = '$1'
	    AND json_extract(detail, '\$.command') = '$2'"
}

ctl order import "$SRC/examples/orders-sample.json" >/dev/null || fail "import as root"
n_audit0=$(db "SELECT count(*) FROM audit WHERE action = 'access.denied'")
[ "$n_audit0" = 0 ] || fail "denials recorded before any were made"

# status is for everyone, and shows the roles
as nobody --json status | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["user"] == "nobody" and r["roles"] == [], r' || fail "status as nobody"
as games --json status | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["user"] == "games" and r["roles"] == ["operator", "admin"], r' || fail "status as games"
as sys --json status | grepq '"auditor"' || fail "group @sys did not give user sys the auditor role"

# a user with no role: only status
expect_exit 77 "needs the role reviewer; user nobody has no role" -- as nobody order approve 1
expect_exit 77 "permission denied" -- as nobody bays
[ "$(denials nobody order.approve)" = 1 ] || fail "no access.denied row for nobody's approve"
[ "$(denials nobody bay.list)" = 1 ] || fail "no access.denied row for nobody's bays"

# operator: lists bays and plugs, cannot approve, cannot see full ID numbers
as daemon bays >/dev/null || fail "operator cannot list bays"
as daemon order list >/dev/null || fail "operator cannot list orders"
expect_exit 77 "needs the role reviewer; user daemon has the role operator" -- as daemon order approve 1
[ "$(denials daemon order.approve)" = 1 ] || fail "no access.denied row for the operator's approve"
[ "$(db "SELECT state FROM orders WHERE id = 1")" = pending ] || fail "a denied approve changed the order"
reveal() {	# reveal USER: order.show with reveal=true on the raw socket; prints the error code
	(cd / && runuser -u "$1" -- env PYTHONPATH="$STATE/bin" python3 - "$STATE/ukeyd.sock" <<'PY')
import sys
from ctlsock import connect, send, reply
s = connect(sys.argv[1])
send(s, {"v": 1, "cmd": "order.show", "args": {"id": 1, "reveal": True}})
rep = reply(s)
print("ok" if rep["ok"] else rep["error"]["code"] + ": " + rep["error"]["message"])
PY
}
out=$(reveal daemon)
echo "$out" | grepq "^permission: order.show with reveal: permission denied: needs one of the roles reviewer, auditor, admin" ||
	fail "reveal as operator: $out"
expect_exit 77 "order.show with reveal: permission denied: needs one of the roles reviewer, auditor, admin; user daemon has the role operator" -- \
	as daemon order show 1 --reveal
as daemon --json order show 1 | grepq '\*\*\*\*' || fail "operator's order show is not masked"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'access.denied' AND actor = 'daemon'
    AND json_extract(detail, '\$.argument') = 'reveal'")" = 2 ] || fail "no access.denied rows for reveal"
[ "$(reveal bin)" = ok ] || fail "reveal as reviewer refused: $(reveal bin)"
[ "$(reveal sys)" = ok ] || fail "reveal as auditor refused: $(reveal sys)"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'order.reveal' AND actor IN ('bin', 'sys')")" = 2 ] ||
	fail "the allowed reveals are not audited as order.reveal"

# reviewer: approves, cannot wipe, cannot take payment
as bin order approve 1 >/dev/null || fail "reviewer cannot approve"
[ "$(db "SELECT state FROM orders WHERE id = 1")" = approved ] || fail "approve as reviewer did not approve"
[ "$(db "SELECT actor FROM audit WHERE action LIKE 'order.approve%' ORDER BY id DESC LIMIT 1")" = bin ] ||
	fail "the approval is not recorded with the reviewer's name"
expect_exit 77 "needs the role admin; user bin has the role reviewer" -- as bin bay wipe --bay 1
[ "$(denials bin bay.wipe)" = 1 ] || fail "no access.denied row for the reviewer's wipe"
expect_exit 77 "needs the role admin" -- as bin order pay 1 --payment-no 202108311743133254271557329797

# held units: an operator releases one, a reviewer cancels one
expect_exit 77 "needs the role reviewer; user daemon has the role operator" -- as daemon unit cancel 1 --remark x
expect_exit 77 "needs the role operator; user bin has the role reviewer" -- as bin unit release 1 --remark x
[ "$(denials daemon unit.cancel)" = 1 ] && [ "$(denials bin unit.release)" = 1 ] ||
	fail "no access.denied rows for unit cancel and release"

# auditor (through its group): verifies the audit log, cannot plug
as sys audit verify >/dev/null || fail "auditor cannot verify the audit log"
expect_exit 77 "needs the role operator; user sys has the role auditor" -- as sys sim plug --bay 1
[ "$(denials sys sim.plug)" = 1 ] || fail "no access.denied row for the auditor's plug"
expect_exit 77 "needs the role auditor" -- as daemon audit verify

# a refused export leaves no file behind, and an earlier one as it was;
# the auditor's export replaces it whole
mkdir -m 1777 "$STATE/out"
expect_exit 77 "needs the role auditor" -- as daemon audit export --output "$STATE/out/export.jsonl"
[ ! -e "$STATE/out/export.jsonl" ] || fail "a refused audit export left $STATE/out/export.jsonl"
[ -z "$(ls -A "$STATE/out")" ] || fail "a refused audit export left files: $(ls "$STATE/out")"
as sys audit export --output "$STATE/out/export.jsonl" 2>/dev/null || fail "auditor cannot export"
cp "$STATE/out/export.jsonl" "$STATE/export.before"
chmod 0666 "$STATE/out/export.jsonl"
expect_exit 77 "needs the role auditor" -- as daemon audit export --output "$STATE/out/export.jsonl"
cmp -s "$STATE/out/export.jsonl" "$STATE/export.before" || fail "a refused audit export clobbered the earlier one"
[ "$(ls "$STATE/out")" = export.jsonl ] || fail "a refused audit export left files: $(ls "$STATE/out")"

# reports: the floor's own figures for every role; the reconciliation,
# which names payments and refunds, for reviewer, auditor and admin
as daemon report production --since 2026-01-01 --until 2026-01-31 >/dev/null ||
	fail "operator cannot run the production report"
as daemon report service-times >/dev/null || fail "operator cannot run the service times report"
expect_exit 77 "report.reconcile: permission denied: needs one of the roles reviewer, auditor, admin; user daemon has the role operator" -- \
	as daemon report reconcile
expect_exit 77 "needs one of the roles operator, reviewer, auditor, admin; user nobody has no role" -- \
	as nobody report production --since 2026-01-01 --until 2026-01-31
[ "$(denials daemon report.reconcile)" = 1 ] && [ "$(denials nobody report.production)" = 1 ] ||
	fail "no access.denied rows for the refused reports"
as bin report reconcile >/dev/null || fail "reviewer cannot reconcile"
as sys report reconcile >/dev/null || fail "auditor cannot reconcile"
# revocation is for reviewers and admins; the expiry report for every role,
# the CRL for every role, neither for a user with none
expect_exit 77 "needs one of the roles reviewer, admin; user daemon has the role operator" -- \
	as daemon cert revoke 0A1B --reason keyCompromise --remark x
expect_exit 77 "needs one of the roles reviewer, admin; user sys has the role auditor" -- \
	as sys cert revoke 0A1B --reason keyCompromise --remark x
[ "$(denials daemon cert.revoke)" = 1 ] && [ "$(denials sys cert.revoke)" = 1 ] ||
	fail "no access.denied rows for the revocations refused"
expect_exit 2 "issued no certificate with this serial" -- as bin cert revoke 0A1B --reason keyCompromise --remark x
for u in daemon bin sys games; do
	as "$u" audit expiring --within 30 >/dev/null || fail "$u cannot list certificates expiring"
	as "$u" ca crl >/dev/null || fail "$u cannot read the CRL"
done
expect_exit 77 "permission denied" -- as nobody audit expiring --within 30
[ "$(denials nobody audit.expiring)" = 1 ] || fail "no access.denied row for nobody's expiry report"
as daemon status | grepq -x "expiring within 30 days: 0" || fail "status summary for an operator"
as nobody status | grepq "expiring within" && fail "status summary shown to a user with no role"

# an order's service point is a reviewer's (or admin's) to set
expect_exit 77 "needs one of the roles reviewer, admin; user daemon has the role operator" -- \
	as daemon order set-service-point 1 dali --remark x
[ "$(denials daemon order.set_service_point)" = 1 ] || fail "no access.denied row for the operator's set-service-point"
as bin order set-service-point 1 dali --remark "客户在大理领取" >/dev/null ||
	fail "a reviewer cannot set the service point"

# admin (with operator): takes the payment, and plugs
as games order pay 1 --payment-no 202108311743133254271557329797 >/dev/null || fail "admin cannot take payment"
as games sim plug --bay 1 >/dev/null || fail "admin+operator cannot plug"

# every denial is one row, and the log still verifies
n=$(db "SELECT count(*) FROM audit WHERE action = 'access.denied'")
[ "$n" = 19 ] || fail "expected 19 access.denied rows, found $n"
ctl audit verify >/dev/null || fail "audit log does not verify"
stop_station
echo "roles: 19 denials refused with exit 77 or code permission and audited; 4 roles, 5 accounts"
