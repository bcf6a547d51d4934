# Service points (docs/service-points.md) on a whole station: an imported
# order gets the service point of its handler's city; a station with
# `service_point = dali` and `take = own` produces Dali's units though
# Kunming's order was paid first, and leaves Kunming's queued; order list
# filters by point; status counts the station's own queued units; a
# reviewer's set-service-point is audited and refused for an unknown point,
# without --remark and for an order with nothing left to produce.
. "$(dirname "$0")/lib.sh"

write_config
sed -i 's/^id = test-station$/id = test-station\nservice_point = dali\ntake = own/' "$STATE/ukeyd.conf"
grepq '^take = own$' "$STATE/ukeyd.conf" || fail "config: take not set"
start_station
orders_ready
point() { db "SELECT coalesce(service_point, 'none') FROM orders WHERE portal_ref = '$1'"; }
oid() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
KM=$(oid YNCA-2026-000123)	# 昆明市: 3 units, paid first
DL=$(oid YNCA-2026-000124)	# 大理白族自治州: 2 units
[ "$(point YNCA-2026-000123)" = kunming-1 ] || fail "Kunming's order: $(point YNCA-2026-000123)"
[ "$(point YNCA-2026-000124)" = dali ] || fail "Dali's order: $(point YNCA-2026-000124)"

ctl order list --service-point dali > "$STATE/list.txt" || fail "order list --service-point"
grepq YNCA-2026-000124 "$STATE/list.txt" || fail "list lacks Dali's order: $(cat "$STATE/list.txt")"
if grepq YNCA-2026-000123 "$STATE/list.txt"; then fail "list has Kunming's order"; fi
expect_exit 65 'is not a service point' -- ctl order list --service-point atlantis
ctl order show "$DL" --json > "$STATE/show.json" || fail "order show"
grepq '"service_point": *"dali"' "$STATE/show.json" || fail "show: $(cat "$STATE/show.json")"
ctl status > "$STATE/status.txt" || fail "status"
grepq 'service point dali (take own): 2 of 5 queued units are its own' "$STATE/status.txt" ||
	fail "status: $(cat "$STATE/status.txt")"

# ---- production: Dali's units, though Kunming's order was paid first ----
unit_order() { db "SELECT i.order_id FROM units u JOIN order_items i ON i.id = u.item_id WHERE u.job_id = (SELECT max(id) FROM jobs)"; }
for bay in 1 2; do
	ctl sim plug --bay "$bay" --wait >/dev/null || fail "bay $bay: $(bay_field "$bay" state): $(bay_field "$bay" reason)"
	[ "$(unit_order)" = "$DL" ] || fail "bay $bay took a unit of order $(unit_order), not Dali's $DL"
done
left() { db "SELECT count(*) FROM units u JOIN order_items i ON i.id = u.item_id WHERE u.state = 'queued' AND i.order_id = $1"; }
[ "$(left "$DL")" = 0 ] || fail "Dali's units still queued: $(left "$DL")"
[ "$(left "$KM")" = 3 ] || fail "Kunming's units not all left queued: $(left "$KM")"
ctl status > "$STATE/status.txt" || fail "status"
grepq 'service point dali (take own): 0 of 3 queued units are its own' "$STATE/status.txt" ||
	fail "status after production: $(cat "$STATE/status.txt")"
# a queue over 10,000 units is counted up to 10,000 (QUEUE_GLANCE_MAX): 10000+
item=$(db "SELECT id FROM order_items WHERE order_id = $KM ORDER BY id LIMIT 1")
db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001)
    INSERT INTO units (item_id, seq, state, updated_at)
    SELECT $item, 100000 + n.i, 'queued', u.updated_at FROM n,
    (SELECT updated_at FROM units WHERE item_id = $item LIMIT 1) u" >/dev/null
ctl status > "$STATE/status.txt" || fail "status, a long queue"
grepq 'service point dali (take own): 0 of 10000+ queued units are its own' "$STATE/status.txt" ||
	fail "status, a long queue: $(cat "$STATE/status.txt")"
ctl --json status | python3 -c 'import json, sys; d = json.load(sys.stdin)
assert (d["queued"], d.get("queued_more"), d["queued_own"], d.get("queued_own_more")) == \
    (10000, True, 0, None), d' || fail "status --json, a long queue: $(ctl --json status)"
timeout 10 "$BUILD/ukeyctl" --state "$STATE" watch --once | grepq 'Queue: 10000+ queued, 0 held' ||
	fail "watch --once, a long queue"
db "DELETE FROM units WHERE item_id = $item AND seq > 100000" >/dev/null
ctl status > "$STATE/status.txt" || fail "status"
grepq 'service point dali (take own): 0 of 3 queued units are its own' "$STATE/status.txt" ||
	fail "status after the long queue: $(cat "$STATE/status.txt")"

# ---- a reviewer moves Kunming's order to Dali: audited, then produced here ----
expect_exit 64 'remark TEXT is required' -- ctl order set-service-point "$KM" dali
expect_exit 65 'is not a service point' -- ctl order set-service-point "$KM" atlantis --remark x
expect_exit 2 'no such order' -- ctl order set-service-point 9999 dali --remark x
ctl order set-service-point "$KM" dali --remark "承办点调整：客户在大理领取" > "$STATE/set.txt" ||
	fail "set-service-point"
grepq "order $KM: service point dali" "$STATE/set.txt" || fail "set: $(cat "$STATE/set.txt")"
[ "$(point YNCA-2026-000123)" = dali ] || fail "not moved: $(point YNCA-2026-000123)"
ctl audit log --order "$KM" > "$STATE/audit.txt" || fail "audit log"
grepq 'order.service_point' "$STATE/audit.txt" || fail "not audited: $(cat "$STATE/audit.txt")"
db "SELECT detail FROM audit WHERE action = 'order.service_point'" > "$STATE/detail.txt"
grepq '"from":"kunming-1","to":"dali"' "$STATE/detail.txt" || fail "detail: $(cat "$STATE/detail.txt")"
ctl sim plug --bay 3 --wait >/dev/null || fail "bay 3: $(bay_field 3 state): $(bay_field 3 reason)"
[ "$(unit_order)" = "$KM" ] || fail "bay 3 took a unit of order $(unit_order), not the moved $KM"
ctl order set-service-point "$KM" none --remark "back to any station" >/dev/null || fail "clear"
[ "$(point YNCA-2026-000123)" = none ] || fail "not cleared: $(point YNCA-2026-000123)"
ctl order cancel "$KM" --remark "stop" >/dev/null 2>&1 || true
stop_station
echo "ok"
