# Order import against a real ukeyd: the bad example files give exactly the
# messages beside them; a file mixing good and bad orders imports nothing
# without --partial and exactly the good ones with it; a second import is
# unchanged; JSON and CSV of the same orders are the same orders; a known
# portal_ref with other content is refused.
. "$(dirname "$0")/lib.sh"

start_station

# run_import OUT [ARGS...]: ukeyctl order import, stdout and stderr in OUT;
# prints the exit code
run_import() {
	local out=$1 rc
	shift
	set +e
	ctl order import "$@" >"$out" 2>&1
	rc=$?
	set -e
	echo "$rc"
}
orders() { db "SELECT count(*) FROM orders"; }

# the bad examples: exit 65, every error exactly as in the .expected files
cd "$SRC/examples"
for f in orders-bad.json orders-bad.csv; do
	exp=${f%.json}.expected
	[ "$f" = orders-bad.csv ] && exp=orders-bad.csv.expected
	rc=$(run_import "$STATE/out" "$f")
	[ "$rc" = 65 ] || fail "$f: exit $rc, want 65: $(cat "$STATE/out")"
	diff -u "$exp" "$STATE/out" || fail "$f: output differs from examples/$exp"
done
[ "$(orders)" = 0 ] || fail "a file of bad orders changed the database"
cd - >/dev/null

# the Yunnan example: four orders from JSON, the same four from CSV unchanged
[ "$(run_import "$STATE/out" "$SRC/examples/orders-yunnan.json")" = 0 ] ||
	fail "import orders-yunnan.json: $(cat "$STATE/out")"
[ "$(grep -c '^imported ' "$STATE/out")" = 4 ] || fail "4 imported wanted: $(cat "$STATE/out")"
[ "$(orders)" = 4 ] || fail "orders after the Yunnan example: $(orders)"
[ "$(db "SELECT sum(total_fen) FROM orders")" = 360000 ] || fail "total of the Yunnan orders"
[ "$(db "SELECT count(*) FROM units")" = 10 ] || fail "10 certificates wanted"
for f in orders-yunnan.json orders-yunnan.csv; do
	[ "$(run_import "$STATE/out" "$SRC/examples/$f")" = 0 ] || fail "re-import $f: $(cat "$STATE/out")"
	[ "$(grep -c '^unchanged ' "$STATE/out")" = 4 ] || fail "re-import $f not unchanged: $(cat "$STATE/out")"
done
[ "$(orders)" = 4 ] || fail "re-import added orders"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'order.import'")" = 4 ] ||
	fail "one audit record per imported order wanted"

# mixed files: nothing without --partial, exactly the good ones with it,
# unchanged the second time; the refused order is named every time
for f in mixed.json mixed.csv; do
	if [ "$f" = mixed.json ]; then good="YNCA-2026-0301 YNCA-2026-0303" bad=YNCA-2026-0302
	else good="YNCA-2026-0311 YNCA-2026-0313" bad=YNCA-2026-0312; fi
	before=$(orders)
	[ "$(run_import "$STATE/out" "$SRC/tests/data/orders/$f")" = 65 ] || fail "$f without --partial"
	grepq "1 of 3 orders refused; nothing imported" "$STATE/out" || fail "$f: $(cat "$STATE/out")"
	grepq "order $bad, organisation.uscc" "$STATE/out" || fail "$f: bad order not named"
	[ "$(orders)" = "$before" ] || fail "$f without --partial imported something"
	[ "$(run_import "$STATE/out" --partial "$SRC/tests/data/orders/$f")" = 65 ] ||
		fail "$f with --partial: exit status"
	grepq "1 of 3 orders refused; 2 imported" "$STATE/out" || fail "$f --partial: $(cat "$STATE/out")"
	[ "$(orders)" = $((before + 2)) ] || fail "$f --partial: $(orders) orders, want $((before + 2))"
	for ref in $good; do
		[ "$(db "SELECT count(*) FROM orders WHERE portal_ref = '$ref'")" = 1 ] || fail "$ref not imported"
		grepq "^imported   $ref: " "$STATE/out" || fail "$ref not reported imported"
	done
	[ "$(db "SELECT count(*) FROM orders WHERE portal_ref = '$bad'")" = 0 ] || fail "$bad imported"
	[ "$(run_import "$STATE/out" --partial "$SRC/tests/data/orders/$f")" = 65 ] || fail "$f again"
	for ref in $good; do
		grepq "^unchanged  $ref: " "$STATE/out" || fail "$f again: $ref not unchanged: $(cat "$STATE/out")"
	done
	grepq "0 imported" "$STATE/out" || fail "$f again imported something"
	[ "$(orders)" = $((before + 2)) ] || fail "$f again changed the orders"
done

# the structured report
ctl --json order import "$SRC/tests/data/orders/mixed.json" >"$STATE/rep.json" 2>&1 || true
python3 - "$STATE/rep.json" <<'PY' || fail "--json report: $(cat "$STATE/rep.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is False and r["error"]["code"] == "invalid", r
d = r["error"]["details"]
st = [(o["portal_ref"], o["status"]) for o in d["orders"]]
assert st == [("YNCA-2026-0301", "unchanged"), ("YNCA-2026-0302", "refused"),
              ("YNCA-2026-0303", "unchanged")], st
assert len(d["orders"][1]["errors"]) == 3 and d["refused"] == 1, d
PY

# the same portal_ref with other content is refused, the stored order kept
python3 - "$SRC/examples/orders-yunnan.json" "$STATE/changed.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["orders"][0]["organisation"]["years"] = 3
d["orders"][0]["amount_fen"] = 120000
json.dump(d, open(sys.argv[2], "w"), ensure_ascii=False)
PY
doc=$(db "SELECT doc FROM orders WHERE portal_ref = 'YNCA-2026-000201'")
[ "$(run_import "$STATE/out" "$STATE/changed.json")" = 65 ] || fail "changed content accepted"
grepq "order YNCA-2026-000201, portal_ref: already imported as order 1 (state pending) with different content" \
	"$STATE/out" || fail "changed content: $(cat "$STATE/out")"
[ "$(db "SELECT doc FROM orders WHERE portal_ref = 'YNCA-2026-000201'")" = "$doc" ] ||
	fail "an import overwrote an order"

# format from the extension, --format to override, file errors
printf '订单编号,订单类型\r\nX-1,"新办\r\n' >"$STATE/broken.csv"
[ "$(run_import "$STATE/out" "$STATE/broken.csv")" = 65 ] || fail "broken CSV accepted"
grepq "order file: line 2: a quoted field is not closed" "$STATE/out" || fail "broken CSV: $(cat "$STATE/out")"
[ "$(run_import "$STATE/out" --format csv "$SRC/examples/orders-yunnan.json")" = 65 ] ||
	fail "JSON read as CSV accepted"
grepq "order file: line 2: a quote inside an unquoted field" "$STATE/out" || fail "JSON as CSV: $(cat "$STATE/out")"
[ "$(run_import "$STATE/out" --format xml "$SRC/examples/orders-yunnan.json")" = 64 ] || fail "--format xml"
cp "$SRC/examples/orders-yunnan.csv" "$STATE/orders.txt"
[ "$(run_import "$STATE/out" --format csv "$STATE/orders.txt")" = 0 ] || fail "--format csv: $(cat "$STATE/out")"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: order import (JSON and CSV, bad examples, --partial, idempotent)"
