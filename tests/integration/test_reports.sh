# The floor reports against a station that produced tokens: one job fails
# after the CA issued its certificate (revoked, an orphan the report must
# explain), one paid order is cancelled (refund due), one paid order waits.
# Checks the JSON figures, the CSV (header, rows, CRLF), the HTML (inline
# SVG, no script, nothing fetched), and that reconcile names each planted
# mismatch.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export TZ=UTC		# calendar and working days of the reports: UTC here
export UKEY_FAULTP11_CONF=$STATE/faultp11.conf
: > "$UKEY_FAULTP11_CONF"
start_station
today=$(date -u +%F)
jq() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# a new station: nothing to report, nothing to reconcile (exit 0)
ctl report reconcile | grepq "reconciled: no mismatch" || fail "reconcile on an empty station"
[ "$(ctl --json report service-times | jq 'd["orders"], d["median_seconds"]')" = "([], None)" ] ||
	fail "service times on an empty station"
[ "$(ctl --json report production --since "$today" --until "$today" | jq 'd["tokens"], d["rows"], d["causes"]')" = "(0, [], [])" ] ||
	fail "production on an empty station"
orders_ready

# order 2 (2 certificates) is paid, then cancelled before production
ctl order cancel 2 --remark "customer withdrew" >/dev/null || fail "cancel order 2"
total=$(queued_units)
[ "$total" = 3 ] || fail "expected the 3 units of order 1 queued, got $total"

# the first token fails writing its certificate: the CA issued it, the
# station revokes it and the unit goes back to the queue
echo "C_CreateObject 1 rv CKR_GENERAL_ERROR" > "$UKEY_FAULTP11_CONF"
expect_exit 1 "write_cert" -- ctl sim plug --bay 1 --profile softhsm2-fault --wait
: > "$UKEY_FAULTP11_CONF"
ctl sim unplug --bay 1 >/dev/null
[ "$(db "SELECT count(*) FROM received_certs WHERE status = 'revoked'")" = 1 ] ||
	fail "no revoked certificate after the failed write: $(db "SELECT serial, status FROM received_certs")"
while [ "$(queued_units)" != 0 ]; do
	ctl sim plug --bay 2 --wait >/dev/null || fail "bay 2: $(bay_field 2 reason)"
	ctl sim unplug --bay 2 >/dev/null
done
[ "$(db "SELECT count(*) FROM issuances")" = 3 ] || fail "3 issuances expected"

# ---- production
prod=$(ctl --json report production --since "$today" --until "$today")
[ "$(jq 'd["tokens"], d["failures"], len(d["days"]), d["days"][0]["tokens"]' <<<"$prod")" = "(3, 1, 1, 3)" ] ||
	fail "production figures: $prod"
jq 'd["causes"]' <<<"$prod" | grepq "'blame': 'token', 'cause': 'write_cert'" ||
	fail "the failure's cause: $prod"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert isinstance(d["median_seconds"], int) and d["median_seconds"] >= 0, d
assert d["rows"] == [{"day": sys.argv[2], "tokens": 3, "failures": 1, "median_seconds": d["median_seconds"]}], d
' "$prod" "$today" || fail "production rows: $prod"
kinds=$(ctl --json report production --since "$today" --until "$today" --by kind)
[ "$(jq '[(r["kind"], r["tokens"]) for r in d["rows"]]' <<<"$kinds")" = \
  "[('legal_rep', 1), ('organisation', 2)]" ] || fail "by kind: $kinds"
ops=$(ctl --json report production --since "$today" --until "$today" --by operator)
[ "$(jq '[(r["operator"], r["tokens"], r["failures"]) for r in d["rows"]]' <<<"$ops")" = \
  "[('$(id -un)', 3, 1)]" ] || fail "by operator: $ops"
st=$(ctl --json report production --since "$today" --until "$today" --by station)
[ "$(jq '[(r["station"], r["tokens"]) for r in d["rows"]]' <<<"$st")" = "[('test-station', 3)]" ] ||
	fail "by station: $st"
# a window without jobs: zero, no median, one day per day
empty=$(ctl --json report production --since 2020-01-01 --until 2020-01-07)
[ "$(jq 'd["tokens"], d["median_seconds"], len(d["days"])' <<<"$empty")" = "(0, None, 7)" ] ||
	fail "empty window: $empty"
expect_exit 65 "argument until: 2020-01-01 is before since" -- \
	ctl report production --since 2020-01-02 --until 2020-01-01
expect_exit 65 "argument by: \"bay\"; must be operator, station, day or kind" -- \
	ctl report production --since 2020-01-01 --until 2020-01-01 --by bay
expect_exit 65 "argument since: \"2020-02-30\" is not a day" -- \
	ctl report production --since 2020-02-30 --until 2020-03-01
expect_exit 64 "--since is required" -- ctl report production --until 2020-01-01
expect_exit 64 "--csv and --json exclude each other" -- ctl --json report service-times --csv
ctl report production --since "$today" --until "$today" --csv > "$STATE/prod.csv" || fail "production --csv"
[ "$(head -1 "$STATE/prod.csv")" = $'day,tokens,failures,median_seconds\r' ] ||
	fail "production CSV header: $(head -1 "$STATE/prod.csv" | od -c | head -3)"
[ "$(wc -l < "$STATE/prod.csv")" = 2 ] || fail "production CSV rows: $(cat "$STATE/prod.csv")"
grepq "^$today,3,1," "$STATE/prod.csv" || fail "production CSV row: $(cat "$STATE/prod.csv")"
ctl report production --since "$today" --until "$today" | grepq "tokens 3, failed jobs 1, median [0-9]*s per token" ||
	fail "production table"
ctl report production --since "$(date -u -d '-6 days' +%F)" --until "$today" \
	--html "$STATE/prod.html" >/dev/null || fail "production --html"
grepq "<svg" "$STATE/prod.html" || fail "no SVG chart in the HTML"
grepq "<rect" "$STATE/prod.html" || fail "no bars in the chart"
grepq "<polyline" "$STATE/prod.html" || fail "no median line in the chart"
if grep -Eiq "<script|javascript:|src=|href=|@import|url\(" "$STATE/prod.html"; then
	fail "the HTML loads or runs something: $(grep -Ei "<script|src=|href=|url\(" "$STATE/prod.html")"
fi
[ "$(grep -c "<rect" "$STATE/prod.html")" = 7 ] || fail "expected a bar for each of 7 days"
python3 -c 'import sys, xml.dom.minidom as m
s = open(sys.argv[1]).read()
m.parseString(s[s.index("<svg"):s.index("</svg>") + 6])' "$STATE/prod.html" || fail "the SVG is not well-formed"
ls "$STATE"/prod.html.* >/dev/null 2>&1 && fail "a temporary HTML file was left behind"
expect_exit 66 "--html $STATE/nodir/x.html" -- \
	ctl report production --since "$today" --until "$today" --html "$STATE/nodir/x.html"

# ---- service times: order 1 issued at once, order 2 cancelled (not listed)
svc=$(ctl --json report service-times)
[ "$(jq '[(o["id"], o["status"], o["units"], o["issued"]) for o in d["orders"]]' <<<"$svc")" = "[(1, 'met', 3, 3)]" ] ||
	fail "service times: $svc"
# approved and paid 10 days ago, issued today: late
ten_days_ago() { date -u -d '10 days ago' +%Y-%m-%dT%H:%M:%SZ; }
db "UPDATE orders SET reviewed_at = '$(ten_days_ago)', paid_at = '$(ten_days_ago)' WHERE id = 1"
[ "$(ctl --json report service-times | jq 'd["orders"][0]["status"], d["counts"]["late"]')" = "('late', 1)" ] ||
	fail "an order issued 10 days after payment is not late: $(ctl --json report service-times)"
# a paid order waiting for production: open, due soon with a wide margin,
# overdue once its payment is 10 days old
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
o = d["orders"][0]
o["portal_ref"] += "-W"
json.dump({"orders": [o]}, open(sys.argv[2], "w"), ensure_ascii=False)' "$SRC/examples/orders-sample.json" "$STATE/wait.json"
ctl order import "$STATE/wait.json" >/dev/null || fail "import the waiting order"
ctl order approve 3 >/dev/null || fail "approve 3"
ctl order pay 3 --payment-no 202612050000000000000000000099 >/dev/null || fail "pay 3"
status3() { ctl --json report service-times "$@" | jq '[o["status"] for o in d["orders"] if o["id"] == 3][0]'; }
[ "$(status3)" = open ] || fail "order 3 just paid: $(status3)"
# the deadline is the end of the next working day: at most 4 days away
[ "$(status3 --hours 120)" = due_soon ] || fail "order 3 with --hours 120: $(status3 --hours 120)"
db "UPDATE orders SET reviewed_at = '$(ten_days_ago)', paid_at = '$(ten_days_ago)' WHERE id = 3"
[ "$(status3)" = overdue ] || fail "order 3 paid 10 days ago: $(status3)"
ctl report service-times | grepq "late 1, overdue 1" || fail "service times table: $(ctl report service-times)"
ctl report service-times --csv > "$STATE/svc.csv" || fail "service-times --csv"
[ "$(head -1 "$STATE/svc.csv")" = $'id,portal_ref,org_name,state,paid_at,clock_start,deadline,issued_at,units,issued,elapsed_seconds,remaining_seconds,status\r' ] ||
	fail "service times CSV header: $(head -1 "$STATE/svc.csv")"
[ "$(wc -l < "$STATE/svc.csv")" = 3 ] || fail "service times CSV rows: $(cat "$STATE/svc.csv")"
# the organisation names hold no comma: the CSV has 13 fields a row
awk -F, 'NF != 13 { exit 1 }' "$STATE/svc.csv" || fail "service times CSV fields: $(cat "$STATE/svc.csv")"
ctl report service-times --html "$STATE/svc.html" >/dev/null || fail "service-times --html"
grepq "overdue" "$STATE/svc.html" || fail "service times HTML"
if grepq -i "<script" "$STATE/svc.html"; then fail "script in the service times HTML"; fi
expect_exit 65 "argument hours: 0; must be 1 to 720" -- ctl report service-times --hours 0

# ---- reconcile: the refund due, the orphan explained; order 3 is in production
expect_exit 1 "refund_due" -- ctl report reconcile
rec=$(ctl --json report reconcile || true)
[ "$(jq '[m["kind"] for m in d["mismatches"]], [e["kind"] for e in d["explained"]]' <<<"$rec")" = \
  "(['refund_due'], ['revoked_orphan'])" ] || fail "reconcile: $rec"
[ "$(jq 'd["paid_orders"], d["issuances"], d["ca_certificates"], d["ca_revoked"], d["refunds_due"], d["ok"]' <<<"$rec")" = \
  "(3, 3, 4, 1, 1, False)" ] || fail "reconcile totals: $rec"
# paid: orders 1 and 3 (1000 yuan each), order 2 (800 yuan, refund due)
[ "$(jq 'd["paid_fen"], d["refund_due_fen"], d["paid_certificates"]' <<<"$rec")" = "(280000, 80000, 8)" ] ||
	fail "reconcile amounts: $rec"
jq 'd["explained"][0]["message"]' <<<"$rec" | grepq "job 1 (failed)" || fail "orphan not explained: $rec"
# plant: an issuance that names a serial the CA never issued (and so the
# CA's certificate of that unit has no issuance record)
serial=$(db "SELECT cert_serial FROM issuances WHERE id = 2")
if pg_mode; then	# no foreign key checks (replica role: no triggers) for the plant
	db "SET session_replication_role = replica; UPDATE issuances SET cert_serial = 'DEADBEEF0001' WHERE id = 2"
else
	db "PRAGMA foreign_keys = OFF; UPDATE issuances SET cert_serial = 'DEADBEEF0001' WHERE id = 2"
fi
rec=$(ctl --json report reconcile || true)
[ "$(jq 'sorted((m["kind"], m.get("serial")) for m in d["mismatches"])' <<<"$rec")" = \
  "[('ca_without_issuance', '$serial'), ('issuance_without_ca_record', 'DEADBEEF0001'), ('refund_due', None)]" ] ||
	fail "planted mismatches: $rec"
# the findings and the service times' orders page (docs/protocol.md,
# "Listings page"): with pages of one row, ukeyctl joins them into the
# same report as one reply gave
svc=$(ctl --json report service-times)
stop_station
UKEY_TEST_PAGE_DEFAULT=1 start_station
PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, sys
s = ctlsock.connect(sys.argv[1])
for cmd, lists in (("report.reconcile", ("mismatches", "explained")), ("report.service_times", ("orders",))):
    after, pages, rows = 0, 0, 0
    while True:
        ctlsock.send(s, {"v": 1, "cmd": cmd, "args": {"after": after}})
        r = ctlsock.reply(s)
        assert r["ok"], r
        n = sum(len(r["result"][k]) for k in lists)
        assert n == 1, (cmd, after, r)
        pages += 1
        rows += n
        if r.get("next") is None:
            break
        after = r["next"]
    print(cmd, pages, rows)' "$STATE/ukeyd.sock" > "$STATE/pages.out" || fail "pages: $(cat "$STATE/pages.out")"
[ "$(cat "$STATE/pages.out")" = $'report.reconcile 4 4\nreport.service_times 2 2' ] ||
	fail "pages of one row: $(cat "$STATE/pages.out")"
[ "$(ctl --json report reconcile | jq 'd["mismatches"], d["explained"], d["ok"]')" = \
  "$(jq 'd["mismatches"], d["explained"], d["ok"]' <<<"$rec")" ] ||
	fail "reconcile in pages of one: $(ctl --json report reconcile)"
[ "$(ctl --json report service-times | jq '[o["id"] for o in d["orders"]], d["counts"]')" = \
  "$(jq '[o["id"] for o in d["orders"]], d["counts"]' <<<"$svc")" ] ||
	fail "service times in pages of one: $(ctl --json report service-times)"
# ukeyctl asked the second page with the report's id: from the rows kept
grepq "report.service_times: the page after 1 of report [0-9a-f]\{32\}, from the rows kept" \
	"$STATE/ukeyd.log" || fail "the service times' later page was not served from the rows kept"
ctl report reconcile --csv > "$STATE/rec.csv" && fail "reconcile --csv exits 0 with mismatches"
[ "$(head -1 "$STATE/rec.csv")" = $'finding,kind,order_id,portal_ref,serial,message\r' ] ||
	fail "reconcile CSV header: $(head -1 "$STATE/rec.csv")"
[ "$(grep -c $'\r$' "$STATE/rec.csv")" = 5 ] || fail "reconcile CSV rows: $(cat "$STATE/rec.csv")"
# the messages hold commas: quoted
grepq '^mismatch,refund_due,2,[^,]*,,"order 2 (' "$STATE/rec.csv" || fail "reconcile CSV quoting: $(cat "$STATE/rec.csv")"
ctl report reconcile --html "$STATE/rec.html" >/dev/null && fail "reconcile --html exits 0 with mismatches"
grepq "DEADBEEF0001" "$STATE/rec.html" || fail "reconcile HTML"

# the later pages of one reconciliation come from its findings, kept by the
# daemon (report_id; docs/reports.md, "Pages of one report"): one snapshot,
# also when the records change between its pages; an id not kept is refused
walk() {	# walk [REPORT_ID]: every finding, page by page, as JSON; the id on stderr
	PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, json, sys
s = ctlsock.connect(sys.argv[1])
rid = sys.argv[2] if len(sys.argv) > 2 else None
after, rows = (1, []) if rid else (0, None)
if rid is None:
    ctlsock.send(s, {"v": 1, "cmd": "report.reconcile", "args": {}})
    r = ctlsock.reply(s)
    assert r["ok"] and r.get("next") == 1, r
    rid = r["result"]["report_id"]
    assert len(rid) == 32, rid
    rows = r["result"]["mismatches"] + r["result"]["explained"]
    after = r["next"]
while after is not None:
    ctlsock.send(s, {"v": 1, "cmd": "report.reconcile", "args": {"after": after, "report_id": rid}})
    r = ctlsock.reply(s)
    assert r["ok"] and r["result"]["report_id"] == rid, r
    rows += r["result"]["mismatches"] + r["result"]["explained"]
    after = r.get("next")
print(json.dumps(rows, sort_keys=True))
print(rid, file=sys.stderr)' "$STATE/ukeyd.sock" "$@"
}
walk > "$STATE/walk1.json" 2> "$STATE/rid" || fail "reconcile walk: $(cat "$STATE/rid")"
rid=$(cat "$STATE/rid")
[ "$(jq 'len(d)' < "$STATE/walk1.json")" = 4 ] || fail "reconcile walk: $(cat "$STATE/walk1.json")"
grepq "report.reconcile: the page after 3 of report $rid, from the rows kept" "$STATE/ukeyd.log" ||
	fail "the later pages were not served from the findings kept"
db "UPDATE issuances SET cert_serial = '$serial' WHERE id = 2"
walk "$rid" > "$STATE/walk2.json" 2>/dev/null || fail "reconcile walk again with report $rid"
[ "$(jq 'd' < "$STATE/walk2.json")" = "$(jq 'd[1:]' < "$STATE/walk1.json")" ] ||
	fail "report $rid changed with the records: $(cat "$STATE/walk2.json")"
[ "$(ctl --json report reconcile | jq 'len(d["mismatches"])')" = 1 ] ||
	fail "a new reconciliation still finds the planted serial"
PYTHONPATH=$SRC/tests/integration python3 -c '
import ctlsock, sys
s = ctlsock.connect(sys.argv[1])
ctlsock.send(s, {"v": 1, "cmd": "report.reconcile", "args": {"after": 1, "report_id": "00" * 16}})
r = ctlsock.reply(s)
assert not r["ok"] and r["error"]["code"] == "state" and "is not kept" in r["error"]["message"], r' \
	"$STATE/ukeyd.sock" || fail "a report id not kept"

# every unit of order 3 cancelled one by one: paid, nothing issued, nothing
# in production, and no refund recorded (the order is left for order cancel)
for u in $(db "SELECT u.id FROM units u JOIN order_items i ON i.id = u.item_id WHERE i.order_id = 3"); do
	ctl unit cancel "$u" --remark "not wanted" >/dev/null || fail "unit cancel $u"
done
rec=$(ctl --json report reconcile || true)
[ "$(jq 'sorted((m["kind"], m.get("order_id")) for m in d["mismatches"])' <<<"$rec")" = \
  "[('paid_not_issued', 3), ('refund_due', 2)]" ] || fail "paid order with its units cancelled: $rec"
jq '[m["message"] for m in d["mismatches"] if m["kind"] == "paid_not_issued"][0]' <<<"$rec" |
	grepq "order 3 (YNCA-2026-000123-W, waiting_production): paid 1000.00 yuan for 3 certificates, 0 issued, 3 cancelled, none in production, no refund recorded" ||
	fail "paid_not_issued message: $rec"
ctl order cancel 3 --remark "all units cancelled" >/dev/null || fail "order cancel 3"
rec=$(ctl --json report reconcile || true)
[ "$(jq 'sorted((m["kind"], m.get("order_id")) for m in d["mismatches"])' <<<"$rec")" = \
  "[('refund_due', 2), ('refund_due', 3)]" ] || fail "after cancelling order 3: $rec"

stop_station
echo "PASS: production, service times and reconciliation reports"
