# The whole order lifecycle through ukeyctl against a real ukeyd: import,
# reject, edit (kept as a revision), resubmit, approve, override, pay,
# production on virtual tokens, delivery both ways, invoice; cancellation
# with and without refund; every illegal step refused with the order's state
# named; list filters; ID masking and --reveal; one audit row per transition.
. "$(dirname "$0")/lib.sh"

gen() { python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$@"; }
state_of() { db "SELECT state FROM orders WHERE id = $1"; }
id_of() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
PAY_A=202108311743133254271557329797
USCC_A=91530100MA6K5U5X7R

start_station
# A: pick-up, invoice by mail; B: mailed, no invoice; C, D, E: cancelled later;
# F: an account code that fails its check character (91350211M0000XUF46)
gen "$STATE/orders.json" LC-A:0:organisation=1x1 LC-B:1:legal_rep=1x1 \
	LC-C:0:organisation=1x1 LC-D:0:organisation=1x2 LC-E:1:entrusted=2x1 \
	LC-F:1:legal_rep=1x1:account_uscc=91350211M0000XUF46
ctl order import "$STATE/orders.json" >/dev/null || fail "import"
A=$(id_of LC-A) B=$(id_of LC-B) C=$(id_of LC-C) D=$(id_of LC-D) E=$(id_of LC-E) F=$(id_of LC-F)
[ "$(db "SELECT count(*) FROM orders WHERE state = 'pending'")" = 6 ] || fail "six pending orders"

# ---- review: reject, edit, resubmit
expect_exit 64 "--remark TEXT is required" -- ctl order reject "$A"
expect_exit 65 "remark" -- ctl order reject "$A" --remark ""
expect_exit 1 "order $A: cannot edit an order in state pending (only rejected orders)" -- \
	ctl order edit "$A" "$STATE/orders.json"
expect_exit 1 "order $A: cannot resubmit an order in state pending (only rejected orders)" -- \
	ctl order resubmit "$A"
ctl order reject "$A" --remark "资料不全" | grepq "order $A: rejected" || fail "reject A"
[ "$(state_of "$A")" = rejected ] || fail "A not rejected"
expect_exit 1 "order $A: cannot approve an order in state rejected (only pending orders)" -- ctl order approve "$A"
expect_exit 1 "order $A: cannot take payment for an order in state rejected (only approved orders)" -- \
	ctl order pay "$A" --payment-no "$PAY_A"
# the new content is validated as on import and keeps the portal reference
gen "$STATE/a-bad.json" LC-A:0:organisation=2x1:wrong_amount=1
expect_exit 65 "nothing changed" -- ctl order edit "$A" "$STATE/a-bad.json"
expect_exit 65 "amount_fen: states 401.00 yuan" -- ctl order edit "$A" "$STATE/a-bad.json"
gen "$STATE/a-other.json" LC-Z:0:organisation=2x1
expect_exit 65 "portal_ref: the edit names LC-Z, but the order is LC-A" -- ctl order edit "$A" "$STATE/a-other.json"
expect_exit 65 "must be one order, not 6" -- ctl order edit "$A" "$STATE/orders.json"
expect_exit 66 "cannot read" -- ctl order edit "$A" /nonexistent.json
[ "$(db "SELECT CAST(revision AS text) || total_fen FROM orders WHERE id = $A")" = 120000 ] || fail "a refused edit changed A"
gen "$STATE/a-v2.json" LC-A:0:organisation=2x1
ctl order edit "$A" "$STATE/a-v2.json" | grepq "content changed (revision 2)" || fail "edit A"
ctl order edit "$A" "$STATE/a-v2.json" | grepq "content unchanged (revision 2)" || fail "edit A again"
[ "$(db "SELECT revision || ':' || total_fen FROM orders WHERE id = $A")" = 2:40000 ] || fail "A revision 2, 400 yuan"
[ "$(db "SELECT count(*) FROM order_revisions WHERE order_id = $A AND revision = 1 AND total_fen = 20000 AND review_remark = '资料不全'")" = 1 ] ||
	fail "A's first content is not kept as revision 1"
[ "$(db "SELECT years FROM order_items WHERE order_id = $A")" = 2 ] || fail "A's items not replaced"
ctl --json order show "$A" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["revision"] == 2 and len(o["revisions"]) == 1, o
assert o["revisions"][0]["doc"]["organisation"]["years"] == 1, o["revisions"]
assert o["doc"]["organisation"]["years"] == 2
' || fail "order show lists the revision"
ctl order resubmit "$A" | grepq "order $A: pending" || fail "resubmit A"

# ---- approval, override of check-character failures, payment
expect_exit 1 "identity check characters fail" -- ctl order approve "$F"
expect_exit 1 "ukeyctl order override $F --reason TEXT" -- ctl order approve "$F"
expect_exit 64 "--reason TEXT is required" -- ctl order override "$F"
expect_exit 1 "order $A: no identity check character fails" -- ctl order override "$A" --reason "x"
ctl order override "$F" --reason "核对营业执照原件" | grepq "order $F: pending" || fail "override F"
expect_exit 1 "already overridden" -- ctl order override "$F" --reason "again"
ctl order approve "$F" >/dev/null || fail "approve F after the override"
[ "$(db "SELECT override_reason FROM orders WHERE id = $F")" = "核对营业执照原件" ] || fail "override reason"
expect_exit 1 "order $F: cannot override the identity checks of an order in state approved (only pending orders)" -- \
	ctl order override "$F" --reason "x"
for id in "$A" "$B" "$D" "$E"; do ctl order approve "$id" | grepq "order $id: approved" || fail "approve $id"; done
expect_exit 1 "order $A: cannot edit an order in state approved (only rejected orders)" -- ctl order edit "$A" "$STATE/a-v2.json"
expect_exit 1 "order $A: cannot reject an order in state approved (only pending orders)" -- ctl order reject "$A" --remark x
expect_exit 65 "payment_no: must be 12 to 40 digits" -- ctl order pay "$A" --payment-no "12 34"
expect_exit 65 "payment_no: must be 12 to 40 digits" -- ctl order pay "$A" --payment-no "2021083117431332542715573297AB"
ctl order pay "$A" --payment-no "$PAY_A" | grepq "order $A: waiting_production" || fail "pay A"
expect_exit 1 "payment_no: already used by order $A" -- ctl order pay "$B" --payment-no "$PAY_A"
[ "$(state_of "$B")" = approved ] || fail "a refused payment changed B"
ctl order pay "$B" --payment-no 202108311743133254271557329798 >/dev/null || fail "pay B"
expect_exit 1 "order $A: cannot take payment for an order in state waiting_production (only approved orders)" -- \
	ctl order pay "$A" --payment-no 202108311743133254271557329799
expect_exit 1 "order $A: cannot request an invoice for an order in state waiting_production (only issued or delivered orders)" -- \
	ctl order invoice "$A"
expect_exit 1 "order $A: cannot deliver an order in state waiting_production (only issued orders)" -- \
	ctl order deliver "$A" --picked-up-by "王五"

# ---- cancellation: pending (C), approved (E), paid (D, refund due)
expect_exit 64 "--remark TEXT is required" -- ctl order cancel "$C"
ctl order cancel "$C" --remark "客户撤回申请" | grepq "order $C: cancelled" || fail "cancel C"
ctl order cancel "$E" --remark "重复申请" >/dev/null || fail "cancel E"
ctl order pay "$D" --payment-no 202108311743133254271557329800 >/dev/null || fail "pay D"
ctl order cancel "$D" --remark "客户撤回申请" | grepq "order $D: cancelled, refund due" || fail "cancel D"
[ "$(db "SELECT group_concat(refund_due, '') FROM (SELECT refund_due FROM orders WHERE id IN ($C, $D, $E) ORDER BY id) AS o")" = 010 ] ||
	fail "only the paid order owes a refund"
[ "$(db "SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id WHERE i.order_id IN ($C, $D, $E) AND u.state <> 'cancelled'")" = 0 ] ||
	fail "cancelled orders' units are not all cancelled"
ctl --json queue | python3 -c "
import json, sys
q = json.load(sys.stdin)
assert q and all(u['order_id'] in ($A, $B) for u in q), q" || fail "a cancelled order's units are still queued"
expect_exit 1 "order $C: cannot cancel an order in state cancelled (only pending, approved, rejected, waiting_production or in_production orders)" -- \
	ctl order cancel "$C" --remark x
expect_exit 1 "order $C: cannot approve an order in state cancelled" -- ctl order approve "$C"

# ---- production on virtual tokens
while [ "$(queued_units)" != 0 ]; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token in bay 1 not issued: $(bay_field 1 reason)"
	ctl sim unplug --bay 1 >/dev/null
done
[ "$(state_of "$A")" = issued ] && [ "$(state_of "$B")" = issued ] || fail "A and B not issued"
[ "$(db "SELECT count(*) FROM issuances WHERE order_id IN ($A, $B)")" = 2 ] || fail "two issuances"
expect_exit 1 "order $A: cannot cancel an order in state issued" -- ctl order cancel "$A" --remark x

# ---- delivery, as the order chose it
expect_exit 64 "--picked-up-by NAME, or --carrier NAME and --tracking NO" -- ctl order deliver "$A"
expect_exit 64 "--picked-up-by NAME, or --carrier NAME and --tracking NO" -- \
	ctl order deliver "$A" --picked-up-by "王五" --carrier EMS --tracking EA123456789CN
expect_exit 65 "the order chose pick-up on site" -- ctl order deliver "$A" --carrier EMS --tracking EA123456789CN
ctl order deliver "$A" --picked-up-by "王五" | grepq "order $A: delivered" || fail "deliver A"
expect_exit 1 "order $A: cannot deliver an order in state delivered (only issued orders)" -- \
	ctl order deliver "$A" --picked-up-by "王五"
expect_exit 65 "the order chose delivery by mail" -- ctl order deliver "$B" --picked-up-by "王五"
expect_exit 65 "tracking_no is required with carrier" -- ctl order deliver "$B" --carrier EMS
expect_exit 65 "tracking_no: must be 4 to 40" -- ctl order deliver "$B" --carrier EMS --tracking "E A"
ctl order deliver "$B" --carrier "EMS" --tracking EA123456789CN >/dev/null || fail "deliver B"
[ "$(db "SELECT method || '|' || coalesce(picked_up_by, '') || '|' || coalesce(carrier, '') || '|' || coalesce(tracking_no, '') FROM deliveries ORDER BY order_id")" = \
  "$(printf 'pickup|王五||\nmail||EMS|EA123456789CN')" ] || fail "delivery records"

# ---- invoice: only when chosen, only once
ctl order invoice "$A" | grepq "order $A: delivered" || fail "invoice A"
expect_exit 1 "order $A: the invoice was already requested" -- ctl order invoice "$A"
expect_exit 1 "order $B: the order chose no invoice" -- ctl order invoice "$B"

# ---- list filters
ids() { ctl --json order list "$@" | python3 -c 'import json,sys; print(" ".join(str(o["id"]) for o in json.load(sys.stdin)))'; }
today=$(date -u +%F)
[ "$(ids --state delivered)" = "$A $B" ] || fail "--state delivered: $(ids --state delivered)"
[ "$(ids --state cancelled)" = "$C $D $E" ] || fail "--state cancelled"
[ "$(ids --org "$USCC_A")" = "$A $C $D" ] || fail "--org: $(ids --org "$USCC_A")"
[ "$(ids --org "$USCC_A" --state delivered)" = "$A" ] || fail "--org with --state"
[ "$(ids --type renewal)" = "" ] || fail "--type renewal"
[ "$(ids --type new --since "$today" --until "$today" | wc -w)" = 6 ] || fail "--since/--until today"
[ "$(ids --since 2999-01-01)" = "" ] || fail "--since in the future"
[ "$(ids --until 2000-01-01)" = "" ] || fail "--until in the past"
ctl order list --state delivered | grepq "LC-A" || fail "table listing"
expect_exit 65 "argument state: \"paid\" is not an order state" -- ctl order list --state paid
expect_exit 65 "argument since: \"2026-02-30\" is not a date" -- ctl order list --since 2026-02-30
expect_exit 65 "argument until: \"yesterday\" is not a date" -- ctl order list --until yesterday
expect_exit 65 "is after" -- ctl order list --since 2026-12-02 --until 2026-12-01
expect_exit 65 "argument org" -- ctl order list --org 9153
expect_exit 64 "--type: must be new, renewal or replacement" -- ctl order list --type old
expect_exit 64 "not accepted here" -- ctl order list --remark x

# ---- masking and --reveal
for cmd in "order show $A" "order list" "order show $B" "audit log"; do
	# shellcheck disable=SC2086
	out=$(ctl --json $cmd)
	for full in 530102199003070016 532901199201180047 532901198707260015; do
		if echo "$out" | grepq "$full"; then fail "$cmd shows the full ID number $full"; fi
	done
done
ctl --json order show "$A" | grepq '"id_number": *"5301\*\*\*\*\*\*\*\*\*\*0016"' || fail "masked handler ID"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'order.reveal'")" = 0 ] || fail "reveal audited before any"
ctl --json order show "$A" --reveal | grepq '"id_number": *"530102199003070016"' || fail "--reveal"
ctl --json order show "$A" --reveal | grepq '"revealed": *true' || fail "--reveal flag"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'order.reveal' AND order_id = $A")" = 2 ] || fail "reveal not audited"

# ---- the audit log: one row per transition, in order, and it verifies
[ "$(db "SELECT group_concat(action, ' ') FROM (SELECT action FROM audit WHERE order_id = $A AND action LIKE 'order.%' ORDER BY id) AS a")" = \
  "order.import order.reject order.edit order.resubmit order.approve order.pay order.start_production order.finish_production order.deliver order.invoice_request order.reveal order.reveal" ] ||
	fail "audit of A: $(db "SELECT group_concat(action, ' ') FROM audit WHERE order_id = $A")"
[ "$(db "SELECT group_concat(action, ' ') FROM (SELECT action FROM audit WHERE order_id = $F AND action LIKE 'order.%' ORDER BY id) AS a")" = \
  "order.import order.override order.approve" ] || fail "audit of F"
[ "$(db "SELECT group_concat(action, ' ') FROM (SELECT action FROM audit WHERE order_id = $D AND action LIKE 'order.%' ORDER BY id) AS a")" = \
  "order.import order.approve order.pay order.cancel" ] || fail "audit of D"
db "SELECT detail FROM audit WHERE order_id = $A AND action = 'order.reject'" | grepq '"remark":"资料不全"' || fail "reject remark audited"
db "SELECT detail FROM audit WHERE order_id = $D AND action = 'order.cancel'" | grepq '"refund_due":true' || fail "refund audited"
db "SELECT detail FROM audit WHERE order_id = $A AND action = 'order.pay'" | grepq '"from":"approved","to":"waiting_production"' ||
	fail "states in the audit detail"
[ "$(db "SELECT count(*) FROM audit WHERE order_id = $A AND action = 'job.start'")" = 1 ] || fail "production start audited"
ctl audit verify >/dev/null || fail "audit log does not verify"
stop_station
echo "PASS: order lifecycle through ukeyctl"
