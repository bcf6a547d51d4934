# One unit must not poison the queue. An organisation name of 20 Chinese
# characters (60 bytes) gets a token label cut on a character boundary and is
# issued. Units the CA refuses (the CA's test hook refuses their subject) fail
# once each and go to the tail of the queue, so that a later order is
# produced on the next token; failing the same way again holds them: two
# failed jobs each, not one per token. The queue shows them held with the
# reason; unit release and unit cancel work and are audited, and their orders
# can be finished or cancelled. An order whose subject cannot be made is
# refused at approval, naming the field and the rule.
. "$(dirname "$0")/lib.sh"

write_config
# the installed certificate profiles and one whose CN doubles the name
mkdir "$STATE/cert-profiles"
cp "$SRC"/cert-profiles/*.conf "$STATE/cert-profiles/"
sed -e 's/^name = organisation .*/name = org-twice/' -e 's/^name = organisation$/name = org-twice/' \
	-e 's/^CN = {org_name}.*/CN = {org_name}{org_name}/' \
	"$SRC/cert-profiles/organisation.conf" > "$STATE/cert-profiles/org-twice.conf"
grepq '^name = org-twice' "$STATE/cert-profiles/org-twice.conf" || fail "org-twice profile: name not set"
grepq '^CN = {org_name}{org_name}' "$STATE/cert-profiles/org-twice.conf" || fail "org-twice profile: CN not set"
sed -i "s|^cert_profile_dir = .*|cert_profile_dir = $STATE/cert-profiles|" "$STATE/ukeyd.conf"
start_station

LONG=云南滇池高原湖泊生态环境保护科技有限公司	# 20 characters, 60 bytes
CUT=云南滇池高原湖泊生态			# the 10 whole characters within 32 bytes
DOUBLE=云南双名测试科技有限公司云南双名测试科技有限公司云南双名测试科技有限公司	# 36 characters
# orders REF:NAME:COUNT[:PROFILE], organisation certificates only, 2 years
python3 - "$SRC/examples/orders-sample.json" "$STATE/orders.json" \
	"HOLD-A:$LONG:1" "HOLD-B:云南坏单测试科技有限公司:2" "HOLD-C:云南后来科技有限公司:1" \
	"HOLD-E:云南坏单二号科技有限公司:1" "HOLD-D:$DOUBLE:1:org-twice" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
base = d["orders"][0]
out = []
for spec in sys.argv[3:]:
    f = spec.split(":")
    o = json.loads(json.dumps(base))
    o["portal_ref"] = "YNCA-" + f[0]
    o["organisation"]["name"] = f[1]
    o["organisation"]["count"] = int(f[2])
    o["organisation"]["years"] = 2
    if len(f) > 3:
        o["organisation"]["cert_profile"] = f[3]
    o["legal_rep"]["ticked"] = False
    o["entrusted"]["ticked"] = False
    o["amount_fen"] = 20000 * 2 * int(f[2])
    out.append(o)
d["orders"] = out
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
ctl order import "$STATE/orders.json" >/dev/null || fail "import"
oid() { db "SELECT id FROM orders WHERE portal_ref = 'YNCA-$1'"; }
A=$(oid HOLD-A); B=$(oid HOLD-B); C=$(oid HOLD-C); D=$(oid HOLD-D); E=$(oid HOLD-E)

# ---- checked at approval: a subject that cannot be made never reaches a token ----
expect_exit 65 "order $D, item 1 (organisation $DOUBLE, certificate profile org-twice): subject.CN: 72 characters, at most 64 (RFC 5280); not approved" -- \
	ctl order approve "$D"
[ "$(db "SELECT state FROM orders WHERE id = $D")" = pending ] || fail "order D left pending"
n=0
for id in $A $B $C $E; do
	n=$((n + 1))
	ctl order approve "$id" >/dev/null || fail "approve $id"
	ctl order pay "$id" --payment-no "$(printf '2026120500000000000000000000%02d' "$n")" >/dev/null ||
		fail "pay $id"
done
unit_of() { db "SELECT u.id FROM units u JOIN order_items i ON i.id = u.item_id WHERE i.order_id = $1 AND u.seq = ${2:-1}"; }
UA=$(unit_of "$A"); UB1=$(unit_of "$B" 1); UB2=$(unit_of "$B" 2); UC=$(unit_of "$C"); UE=$(unit_of "$E")

# token_job: plugs a new token in bay 1, waits for its job, prints the job's
# unit, and takes the token out
token_job() {
	local before unit
	before=$(db "SELECT coalesce(max(id), 0) FROM jobs")
	ctl sim plug --bay 1 --wait >/dev/null 2>&1 || true
	unit=$(db "SELECT coalesce(max(unit_id), 0) FROM jobs WHERE id > $before")
	ctl sim unplug --bay 1 >/dev/null || fail "unplug"
	echo "$unit"
}

# ---- the long name: its label is cut on a character boundary ----
[ "$(token_job)" = "$UA" ] || fail "the first token did not take the long name's unit"
[ "$(db "SELECT state FROM units WHERE id = $UA")" = issued ] ||
	fail "long name not issued: $(db "SELECT error FROM jobs WHERE unit_id = $UA")"
[ "$(db "SELECT label FROM jobs WHERE unit_id = $UA")" = "$CUT" ] ||
	fail "label: $(db "SELECT label FROM jobs WHERE unit_id = $UA")"
db "SELECT subject FROM issuances WHERE unit_id = $UA" | grepq "O=$LONG" ||
	fail "the certificate's subject lost the full name: $(db "SELECT subject FROM issuances WHERE unit_id = $UA")"
tok=$(db "SELECT token_serial FROM issuances WHERE unit_id = $UA")
label=$(db "SELECT label FROM tokens WHERE serial = '$tok'")
[ "$label" = "$CUT" ] || fail "the token's own label reads '$label'"
echo "ok: a 60-byte organisation name became the 30-byte label $CUT and was issued"

# ---- units the CA refuses: the tail after one failure, held after two ----
echo "refuse 坏单" > "$STATE/ca/fault"
order=""
for _ in 1 2 3 4 5 6 7; do order="$order $(token_job)"; done
want=" $UB1 $UB2 $UC $UE $UB1 $UB2 $UE"
[ "$order" = "$want" ] || fail "units taken by tokens 2 to 8:$order (want$want)"
echo "ok: failed units went to the tail: a later order (unit $UC) was produced on token 4"
[ "$(db "SELECT count(*) FROM jobs WHERE state = 'failed'")" = 6 ] ||
	fail "failed jobs: $(db "SELECT count(*) FROM jobs WHERE state = 'failed'") (want 6: two per refused unit)"
for u in $UB1 $UB2 $UE; do
	[ "$(db "SELECT state || ' ' || failures FROM units WHERE id = $u")" = "held 2" ] ||
		fail "unit $u: $(db "SELECT state, failures, failure_kind FROM units WHERE id = $u")"
	db "SELECT hold_reason FROM units WHERE id = $u" |
		grepq "failed the same way twice (ca_submit:invalid): ca_submit: the CA refused the request" ||
		fail "unit $u hold reason: $(db "SELECT hold_reason FROM units WHERE id = $u")"
	[ "$(db "SELECT count(*) FROM audit WHERE action = 'unit.hold' AND unit_id = $u")" = 1 ] ||
		fail "unit $u: the hold is not audited"
	[ "$(db "SELECT count(*) FROM audit WHERE action = 'unit.requeue' AND unit_id = $u")" = 1 ] ||
		fail "unit $u: the requeue is not audited"
done
[ "$(db "SELECT state FROM units WHERE id = $UC")" = issued ] || fail "the later order was not issued"
[ "$(db "SELECT state FROM orders WHERE id = $C")" = issued ] || fail "order C is not issued"
# a further token is not spent on the held units
ctl sim plug --bay 1 --wait >/dev/null || fail "the next token: $(bay_field 1 state): $(bay_field 1 reason)"
[ "$(bay_field 1 state)" = idle ] || fail "bay 1 with nothing to do is $(bay_field 1 state)"
[ "$(db "SELECT count(*) FROM jobs")" = 8 ] || fail "a job started for a held unit"
echo "ok: three refused units held after two failed jobs each; the next token stays unused"

# ---- the queue shows them held, with the reason ----
q=$(ctl queue)
for u in $UB1 $UB2 $UE; do
	grepq -E "^$u +.* held +2 +failed the same way twice \(ca_submit:invalid\)" <<<"$q" ||
		fail "ukeyctl queue does not show unit $u held: $q"
done
ctl --json queue | python3 -c "
import json, sys
q = {u['unit']: u for u in json.load(sys.stdin)}
for u in ($UB1, $UB2, $UE):
    assert q[u]['state'] == 'held' and q[u]['failures'] == 2, q[u]
    assert 'ca_submit:invalid' in q[u]['hold_reason'], q[u]
    assert 'the CA refused the request' in q[u]['last_failure'], q[u]
" || fail "ukeyctl --json queue: held units"

# ---- an order whose units are all held can be cancelled ----
[ "$(db "SELECT state FROM orders WHERE id = $E")" = in_production ] || fail "order E is not in production"
ctl order cancel "$E" --remark "客户撤回申请" | grepq "order $E: cancelled, refund due" || fail "cancel order E"
[ "$(db "SELECT state FROM units WHERE id = $UE")" = cancelled ] || fail "order E's held unit not cancelled"

# ---- release: a held unit back to the queue; the idle token takes it ----
expect_exit 64 "--remark TEXT is required" -- ctl unit release "$UB1"
expect_exit 1 "unit $UC: its order $C is issued; only units of orders waiting for or in production" -- \
	ctl unit release "$UC" --remark x
expect_exit 2 "unit 9999: no such unit" -- ctl unit release 9999 --remark x
rm -f "$STATE/ca/fault"
ctl unit release "$UB1" --remark "CA 策略已修正" | grepq "unit $UB1: queued" || fail "release"
ctl bay wait --bay 1 --timeout 120 >/dev/null || fail "the released unit: $(bay_field 1 state): $(bay_field 1 reason)"
[ "$(db "SELECT state FROM units WHERE id = $UB1")" = issued ] || fail "the released unit was not issued"
db "SELECT actor || '|' || order_id || '|' || detail FROM audit WHERE action = 'unit.release' AND unit_id = $UB1" |
	grepq "^$(id -un)|$B|.*\"remark\":\"CA 策略已修正\"" || fail "the release is not audited with actor, order and remark"
ctl sim unplug --bay 1 >/dev/null

# ---- cancel: the order's last unit; the order is then issued ----
expect_exit 1 "order $B: cannot cancel: 1 of its certificates are in production or issued" -- \
	ctl order cancel "$B" --remark x
expect_exit 1 "unit $UB1 is issued; only a held or queued unit can be cancelled" -- \
	ctl unit cancel "$UB1" --remark x
expect_exit 1 "unit $UB1 is issued; only a held unit can be released" -- ctl unit release "$UB1" --remark x
ctl unit cancel "$UB2" --remark "客户只要一张" | grepq "unit $UB2: cancelled" || fail "unit cancel"
[ "$(db "SELECT state FROM units WHERE id = $UB2")" = cancelled ] || fail "unit B2 not cancelled"
[ "$(db "SELECT state FROM orders WHERE id = $B")" = issued ] || fail "order B: $(db "SELECT state FROM orders WHERE id = $B")"
db "SELECT actor || '|' || order_id || '|' || detail FROM audit WHERE action = 'unit.cancel' AND unit_id = $UB2" |
	grepq "^$(id -un)|$B|.*\"remark\":\"客户只要一张\"" || fail "the unit cancel is not audited"
ctl audit verify >/dev/null || fail "audit chain"
echo "ok: unit release and unit cancel audited; order B issued, order E cancelled"
stop_station
