# The expiry report: ukeyctl audit expiring lists the live certificates whose
# notAfter falls within the days asked, soonest first, with the whole days
# left (checked against notAfter as openssl reads it from the certificate)
# and whether a renewal order already names each; revoked ones are left out.
# ukeyctl status sums up the next 30 days.
. "$(dirname "$0")/lib.sh"

gen() { python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$@"; }
id_of() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
ORG1=91530100MA6K5U5X7R
ORG2=91532901MA6P7H4T1G

start_station
# a one-year organisation certificate (ORG1) and a two-year legal
# representative's (ORG2)
gen "$STATE/e.json" E-1:0:organisation=1x1 E-2:1:legal_rep=2x1
ctl order import "$STATE/e.json" >/dev/null || fail "import"
n=0
for ref in E-1 E-2; do
	n=$((n + 1))
	ctl order approve "$(id_of $ref)" >/dev/null || fail "approve $ref"
	ctl order pay "$(id_of $ref)" --payment-no "20261121000000000000000000030$n" >/dev/null ||
		fail "pay $ref"
done
for i in 1 2; do
	ctl sim plug --bay 1 --wait >/dev/null || fail "token $i not issued: $(bay_field 1 reason)"
	ctl sim unplug --bay 1 >/dev/null
done
S1=$(db "SELECT cert_serial FROM issuances WHERE org_uscc = '$ORG1'")
S2=$(db "SELECT cert_serial FROM issuances WHERE org_uscc = '$ORG2'")
[ -n "$S1" ] && [ -n "$S2" ] || fail "both certificates should be issued"

# notAfter of each certificate as openssl reads it, in Unix time
not_after_epoch() {
	issued_cert_pem "$1" > "$STATE/c.pem"
	date -u -d "$(openssl x509 -in "$STATE/c.pem" -noout -enddate | sed 's/^notAfter=//')" +%s
}
na1=$(not_after_epoch "$S1")
na2=$(not_after_epoch "$S2")

# expiring REPORT-JSON WANT-SERIALS...: the report lists exactly these, in
# this order, each with days_left = floor((notAfter - now) / 1 day)
check_report() {
	local json=$1 before=$2 after=$3
	shift 3
	python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
before, after = int(sys.argv[2]), int(sys.argv[3])
want = sys.argv[4::2]
na = dict(zip(sys.argv[4::2], (int(x) for x in sys.argv[5::2])))
got = [r["serial"] for r in rows]
assert got == want, "listed %s, want %s" % (got, want)
for r in rows:
    lo, hi = (na[r["serial"]] - after) // 86400, (na[r["serial"]] - before) // 86400
    assert lo <= r["days_left"] <= hi, "%s: days_left %d, openssl says %d..%d" % (r["serial"], r["days_left"], lo, hi)
    assert r["kind"] in ("organisation", "legal_rep") and r["subject"] and r["not_after"], r
' "$json" "$before" "$after" "$@"
}
report() {	# report ARGS...: sets JSON, with the time just before and after
	t0=$(date +%s)
	JSON=$(ctl --json audit expiring "$@") || fail "audit expiring $*"
	t1=$(date +%s)
}

report --within 400
check_report "$JSON" "$t0" "$t1" "$S1" "$na1" || fail "within 400 days: $JSON"
report --within 800
check_report "$JSON" "$t0" "$t1" "$S1" "$na1" "$S2" "$na2" || fail "within 800 days: $JSON"
report --within 300
check_report "$JSON" "$t0" "$t1" || fail "within 300 days: $JSON"
report --within 800 --org "$ORG2"
check_report "$JSON" "$t0" "$t1" "$S2" "$na2" || fail "--org $ORG2: $JSON"
python3 -c 'import json, sys; r = json.loads(sys.argv[1]); assert r[0]["renewal"] is False and "renewal_ref" not in r[0], r' "$JSON" ||
	fail "renewal shown where none is ordered"
# the table form names the columns
ctl audit expiring --within 800 | head -1 | grepq "days_left" || fail "table header"

# a renewal order that names S1 (resolved at approval) shows in the report
gen "$STATE/r.json" R-1:0:organisation=1x1:renews_org=organisation
ctl order import "$STATE/r.json" >/dev/null || fail "import renewal"
ctl order approve "$(id_of R-1)" >/dev/null || fail "approve R-1"
report --within 800
python3 -c '
import json, sys
rows = {r["serial"]: r for r in json.loads(sys.argv[1])}
a, b = rows[sys.argv[2]], rows[sys.argv[3]]
assert a["renewal"] is True and a["renewal_ref"] == "R-1" and a["renewal_order"] == int(sys.argv[4]), a
assert b["renewal"] is False, b' "$JSON" "$S1" "$S2" "$(id_of R-1)" || fail "renewal not shown: $JSON"
# a cancelled renewal order no longer counts
ctl order cancel "$(id_of R-1)" --remark "customer withdrew" >/dev/null || fail "cancel R-1"
report --within 800
python3 -c 'import json, sys; assert all(not r["renewal"] for r in json.loads(sys.argv[1]))' "$JSON" ||
	fail "a cancelled renewal still counts: $JSON"

# refusals
expect_exit 64 "within" -- ctl audit expiring
expect_exit 65 "1 to 3650 days" -- ctl audit expiring --within 0
expect_exit 65 "1 to 3650 days" -- ctl audit expiring --within 3651

# status: nothing within 30 days; then S2's notAfter moved to 10 days and a
# bit from now in the record: counted, with 10 days left
ctl status | grepq -x "expiring within 30 days: 0" || fail "status summary: $(ctl status)"
soon=$(date -u -d "@$(( $(date +%s) + 10 * 86400 + 3600 ))" +%Y-%m-%dT%H:%M:%SZ)
db "UPDATE issuances SET not_after = '$soon' WHERE cert_serial = '$S2'"
ctl status | grepq -x "expiring within 30 days: 1" || fail "status summary after the change: $(ctl status)"
ctl --json status | python3 -c 'import json, sys; assert json.load(sys.stdin)["expiring_30d"] == 1' ||
	fail "status --json expiring_30d"
report --within 30
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert [x["serial"] for x in r] == [sys.argv[2]] and r[0]["days_left"] == 10, r' "$JSON" "$S2" ||
	fail "within 30 days: $JSON"

# revoked: no longer reported, nor counted
ctl cert revoke "$S2" --reason cessationOfOperation --remark "company closed" >/dev/null ||
	fail "revoke $S2"
report --within 800
check_report "$JSON" "$t0" "$t1" "$S1" "$na1" || fail "revoked certificate still reported: $JSON"
ctl status | grepq -x "expiring within 30 days: 0" || fail "status counts a revoked certificate"
stop_station
echo "ok: expiry report"
