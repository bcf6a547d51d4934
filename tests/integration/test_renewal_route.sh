# Renewal routing: a renewal order resolves, at approval, to the certificate
# it names (by organisation and kind, or by serial); once paid, its unit is
# never given to a blank token, and the token holding that certificate,
# plugged back, gets that renewal's job, which waits for the holder's PIN. Approval is refused for a renewal naming no
# certificate, or an ambiguous one.
. "$(dirname "$0")/lib.sh"

gen() { python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$@"; }
id_of() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
pays=100
approve_pay() {
	ctl order approve "$1" >/dev/null || fail "approve $1"
	pays=$((pays + 1))
	ctl order pay "$1" --payment-no "202611210000000000000000000$pays" >/dev/null || fail "pay $1"
}
USCC=91530100MA6K5U5X7R

start_station
# the first organisation certificate, onto virtual token 1
gen "$STATE/n1.json" N-1:0:organisation=1x1
ctl order import "$STATE/n1.json" >/dev/null || fail "import N-1"
approve_pay "$(id_of N-1)"
ctl sim plug --bay 1 --wait >/dev/null || fail "N-1 not issued: $(bay_field 1 reason)"
tok1=$(ls "$STATE/sim/tokens" | tail -1)
serial1=$(db "SELECT cert_serial FROM issuances")
tserial1=$(db "SELECT token_serial FROM issuances")
[ -n "$serial1" ] && [ -n "$tserial1" ] || fail "no issuance for N-1"
ctl sim unplug --bay 1 >/dev/null

# renewals: by organisation and kind (R-1), by an unknown serial (R-X), and of a
# kind never issued (R-Y); a renewal asks for exactly one certificate (R-2)
lower=$(echo "$serial1" | tr 'A-F' 'a-f')
gen "$STATE/r.json" R-1:0:organisation=1x1:renews_org=organisation \
	R-X:0:organisation=1x1:renews_serial=deadbeef0001 \
	R-Y:0:legal_rep=1x1:renews_org=legal_rep \
	R-2:0:organisation=1x2:renews_serial="$lower" \
	N-2:0:organisation=1x1
ctl order import "$STATE/r.json" >/dev/null || fail "import renewals"
R1=$(id_of R-1)
expect_exit 2 "order $(id_of R-X), renews.serial: deadbeef0001 names no live certificate issued by this station; not approved" -- \
	ctl order approve "$(id_of R-X)"
expect_exit 2 "this station has issued no live legal_rep certificate to organisation $USCC" -- \
	ctl order approve "$(id_of R-Y)"
expect_exit 1 "a renewal order renews one certificate on its token; this one asks for 2" -- \
	ctl order approve "$(id_of R-2)"
[ "$(db "SELECT count(*) FROM orders WHERE portal_ref IN ('R-X', 'R-Y', 'R-2') AND state = 'pending'")" = 3 ] ||
	fail "a refused approval changed a renewal order"
ctl order approve "$R1" | grepq "renews certificate $serial1" || fail "R-1 does not resolve to $serial1"
[ "$(db "SELECT renews_cert FROM orders WHERE id = $R1")" = "$serial1" ] || fail "renews_cert not stored"
ctl order pay "$R1" --payment-no 202611210000000000000000000200 >/dev/null || fail "pay R-1"
approve_pay "$(id_of N-2)"
runit=$(db "SELECT u.id FROM units u JOIN order_items i ON i.id = u.item_id WHERE i.order_id = $R1")
[ "$(ctl order list --type renewal --state waiting_production | awk 'NR > 1 { print $2 }')" = R-1 ] || fail "list --type renewal"

# a blank token gets the new order's unit, never the renewal's
jobs_before=$(db "SELECT count(*) FROM jobs")
ctl sim plug --bay 2 --wait >/dev/null || fail "N-2 not issued: $(bay_field 2 reason)"
[ "$(db "SELECT o.portal_ref FROM jobs j JOIN units u ON u.id = j.unit_id JOIN order_items i ON i.id = u.item_id JOIN orders o ON o.id = i.order_id WHERE j.bay = 'sim-2'")" = N-2 ] ||
	fail "the blank token did not get N-2's unit"
[ "$(db "SELECT state FROM units WHERE id = $runit")" = queued ] || fail "the renewal unit left the queue"
ctl sim unplug --bay 2 >/dev/null
# with only the renewal queued, another blank token is idle
ctl sim plug --bay 3 --wait >/dev/null || fail "blank token in bay 3"
[ "$(bay_field 3 state)" = idle ] || fail "a blank token with only a renewal queued should be idle, got $(bay_field 3 state): $(bay_field 3 reason)"
[ "$(db "SELECT state FROM units WHERE id = $runit")" = queued ] || fail "the renewal unit went to a blank token"
ctl sim unplug --bay 3 >/dev/null

# the token holding the certificate comes back: its renewal job starts,
# identifies the token by the certificate and waits for the holder's PIN,
# with nothing on the token changed (test_renewal.sh goes on from there)
ctl sim plug --bay 4 --token "$((10#$tok1))" >/dev/null 2>&1 || true
for _ in $(seq 300); do [ "$(bay_field 4 awaiting_pin)" = True ] && break; sleep 0.05; done
[ "$(bay_field 4 awaiting_pin)" = True ] || fail "bay 4: $(bay_field 4 state): $(bay_field 4 reason)"
bay_field 4 reason | grepq "renewal of the certificate on token $tserial1 waits for the holder's PIN" ||
	fail "bay 4 reason: $(bay_field 4 reason)"
[ "$(db "SELECT kind || ' ' || renews_serial || ' ' || unit_id FROM jobs WHERE bay = 'sim-4'")" = "renew $serial1 $runit" ] ||
	fail "no renewal job for unit $runit"
[ "$(db "SELECT state FROM units WHERE id = $runit")" = in_production ] || fail "the renewal unit is not in production"
ctl sim unplug --bay 4 >/dev/null

# a third live organisation certificate of the same organisation (N-1, N-2, N-3): the
# (organisation, kind) name is ambiguous; a serial still names one
gen "$STATE/n3.json" N-3:0:organisation=1x1
ctl order import "$STATE/n3.json" >/dev/null
approve_pay "$(id_of N-3)"
ctl sim plug --bay 1 --wait >/dev/null || fail "N-3 not issued: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
serial3=$(db "SELECT cert_serial FROM issuances i JOIN orders o ON o.id = i.order_id WHERE o.portal_ref = 'N-3'")
gen "$STATE/r3.json" R-3:0:organisation=1x1:renews_org=organisation R-4:0:organisation=1x1:renews_serial="$serial3" \
	R-5:0:organisation=1x1:renews_serial="$lower"
ctl order import "$STATE/r3.json" >/dev/null
expect_exit 1 "3 live organisation certificates of organisation $USCC" -- ctl order approve "$(id_of R-3)"
expect_exit 1 "name the one to renew by serial" -- ctl order approve "$(id_of R-3)"
ctl order approve "$(id_of R-4)" | grepq "renews certificate $serial3" || fail "R-4 by serial"
expect_exit 1 "certificate $serial1 is already being renewed by order $R1" -- ctl order approve "$(id_of R-5)"
ctl audit verify >/dev/null || fail "audit verify"
stop_station
echo "PASS: renewal units routed to the token holding the certificate"
