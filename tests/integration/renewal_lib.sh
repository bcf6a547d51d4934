# Helpers of the renewal tests (test_renewal, test_cmp_renewal), sourced
# after lib.sh: orders made from the sample, a token issued and renewed.
# shellcheck shell=bash

gen() { python3 "$SRC/tests/integration/orders_gen.py" "$SRC/examples/orders-sample.json" "$@"; }
id_of() { db "SELECT id FROM orders WHERE portal_ref = '$1'"; }
approve_pay() {	# the payment number from the order id: also unique in subshells
	ctl order approve "$1" >/dev/null || fail "approve $1"
	ctl order pay "$1" --payment-no "$(printf '2026112100000000000000000%05d' "$1")" >/dev/null ||
		fail "pay $1"
}
# issue PORTAL_REF SECTION BAY: a new order's one certificate onto a new
# virtual token in BAY; prints "<token number> <serial> <PIN>"
issue() {
	gen "$STATE/$1.json" "$1:0:$2=1x1"
	ctl order import "$STATE/$1.json" >/dev/null || fail "import $1"
	approve_pay "$(id_of "$1")"
	ctl sim plug --bay "$3" --wait >/dev/null || fail "$1 not issued: $(bay_field "$3" reason)"
	local tok serial pin
	tok=$(ls "$STATE/sim/tokens" | tail -1)
	serial=$(db "SELECT i.cert_serial FROM issuances i JOIN orders o ON o.id = i.order_id WHERE o.portal_ref = '$1'")
	pin=$(ctl bay take-pin --bay "$3" | sed -n 's/.*user PIN: //p')
	ctl sim unplug --bay "$3" >/dev/null
	echo "$((10#$tok)) $serial $pin"
}
# renew_order REF SECTION SERIAL: a paid renewal order of SERIAL
renew_order() {
	gen "$STATE/$1.json" "$1:0:$2=1x1:renews_serial=$3"
	ctl order import "$STATE/$1.json" >/dev/null || fail "import $1"
	approve_pay "$(id_of "$1")"
}
# wait_pin BAY: until the bay's renewal waits for a PIN
wait_pin() {
	for _ in $(seq 300); do
		[ "$(bay_field "$1" awaiting_pin)" = True ] && return 0
		sleep 0.05
	done
	fail "bay $1 never asked for a PIN: $(bay_field "$1" state): $(bay_field "$1" reason)"
}
# p11 TOKEN PIN ARGS...: pkcs11-tool on virtual token TOKEN
p11() {
	local tok=$1 pin=$2
	shift 2
	SOFTHSM2_CONF=$(token_conf "$tok") pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$pin" "$@" 2>/dev/null
}
