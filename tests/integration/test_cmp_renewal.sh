# Renewal and revocation end to end through CMP: ukeyd with ca.type = cmp
# against the test CA tests/tools/cmp_test_server on 127.0.0.1. A token
# issued through the test CA comes back on a renewal order: the holder's
# PIN, a KUR naming the old certificate (cmp.renewal = kur; once more with
# p10cr), the old certificate revoked at the CA by RR with reason
# superseded (the test CA records it), the new one verified with openssl
# against the test CA, the records linked. Then `ukeyctl cert revoke` and
# `ukeyctl token mark-lost` through CMP (RR with their reasons), and a CA
# that holds an RR (--rr-gate): the command's reply waits for the CA while
# `ukeyctl status` is answered and another bay works up to ca_submit; the
# record follows the CA's answer; ukeyd killed while the CA holds an RR,
# and the command run again; a replacement's RR at start.
. "$(dirname "$0")/lib.sh"

BG_PID=""
# set +e: under errexit the (exit $rc) that hands cleanup the status would end the trap
trap 'rc=$?; [ -z "$BG_PID" ] || kill "$BG_PID" 2>/dev/null; stop_cmp; set +e; (exit $rc); cleanup' EXIT

cmp_test_ca
RRGATE=$STATE/cmp/rr-gate
touch "$RRGATE"		# open: revocations are answered at once

"$BUILD/tests/cmp_test_server" --ca-cert "$STATE/cmp/ca.crt" --ca-key "$STATE/cmp/ca.key" \
	--secret-ref station-1 --secret-file "$STATE/cmp/secret" --rr-gate "$RRGATE" \
	--revoked "$STATE/cmp/revoked" --revocations "$STATE/cmp/revocations" \
	--issued "$STATE/cmp/issued" >"$STATE/cmp/port" 2>>"$STATE/cmp/log" &
CMP_PID=$!
for _ in $(seq 100); do
	grepq '^port ' "$STATE/cmp/port" && break
	sleep 0.05
done
PORT=$(sed -n 's/^port //p' "$STATE/cmp/port")
[ -n "$PORT" ] || fail "cmp_test_server did not say its port"

# config RENEWAL: the station's configuration with cmp.renewal = RENEWAL
config() {
	write_config
	cat >> "$STATE/ukeyd.conf" <<EOT
[ca]
type = cmp
[cmp]
server = http://127.0.0.1:$PORT
path = /pkix/
secret_ref = station-1
secret_file = $STATE/cmp/secret
ca_cert = $STATE/cmp/ca.crt
trusted = $STATE/cmp/ca.crt
timeout = 60
renewal = $1
; the test CA gives every certificate 365 days, whatever the order's years
validity = ca
[fees]
replacement_fen = 5000
EOT
}

. "$(dirname "$0")/renewal_lib.sh"
# wait_file FILE LINE WHAT: until FILE has the line LINE (the test CA writes it)
wait_file() {
	for _ in $(seq 400); do
		grepq -x -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "$3: no line '$2' in $1: $(cat "$1" 2>/dev/null | tr '\n' ' ')"
}
# renew TOKEN PIN OLD REF BAY: renews OLD on TOKEN with the holder's PIN;
# prints the new serial
renew() {
	ctl sim plug --bay "$5" --token "$1" >/dev/null || fail "$4: plug token $1"
	wait_pin "$5"
	echo "$2" | ctl bay enter-pin --bay "$5" >/dev/null || fail "$4: the holder's PIN"
	ctl bay wait --bay "$5" --timeout 120 >/dev/null
	[ "$(bay_field "$5" state)" = done ] || fail "$4: bay $5: $(bay_field "$5" state): $(bay_field "$5" reason)"
	ctl sim unplug --bay "$5" >/dev/null
	db "SELECT cert_serial FROM issuances WHERE job_id = (SELECT id FROM jobs WHERE renews_serial = '$3' AND state = 'issued')"
}
# check_renewal TOKEN PIN OLD NEW REF: the token holds NEW under its one key
# pair, NEW verifies against the test CA, OLD is revoked at the CA
# (superseded) and in the record, the records and audit link them
check_renewal() {
	local id
	[ -n "$4" ] && [ "$4" != "$3" ] || fail "$5: no new certificate"
	[ "$(p11 "$1" "$2" --list-objects | grep -c "Private Key Object")" = 1 ] || fail "$5: not one private key"
	id=$(p11 "$1" "$2" --list-objects --type privkey | sed -n 's/^ *ID: *//p')
	p11 "$1" "$2" --read-object --type cert --id "$id" -o "$STATE/new.der" >/dev/null ||
		fail "$5: no certificate under the key's id"
	openssl x509 -inform DER -in "$STATE/new.der" -out "$STATE/new.pem"
	openssl verify -CAfile "$STATE/cmp/ca.crt" "$STATE/new.pem" >/dev/null || fail "$5: openssl verify"
	[ "$(openssl x509 -in "$STATE/new.pem" -noout -serial | cut -d= -f2)" = "$4" ] ||
		fail "$5: the certificate under the key is not $4"
	wait_file "$STATE/cmp/revocations" "$3 superseded" "$5: the old certificate at the CA"
	grepq -x "$4" "$STATE/cmp/revoked" && fail "$5: the new certificate is revoked at the CA"
	[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$3'")" = superseded ] ||
		fail "$5: $3 is not superseded in the record"
	[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NULL AND cert_serial = '$4'")" = 1 ] || fail "$5: $4 not live"
	[ "$(db "SELECT replaces_serial || ' ' || replaces_how FROM issuances WHERE cert_serial = '$4'")" = "$3 renewal" ] ||
		fail "$5: $4 does not name $3 as the certificate it renews"
	[ "$(db "SELECT count(*) FROM issuances WHERE cert_serial = '$4' AND issuer LIKE '%Test CMP CA%'")" = 1 ] ||
		fail "$5: not issued by the external CA"
	ctl --json audit serials > "$STATE/serials.json"
	python3 - "$STATE/serials.json" "$3" "$4" <<'PY' || fail "$5: audit serials: the renewal link"
import json, sys
rows = {r["serial"]: r for r in json.load(open(sys.argv[1]))}
old, new = rows[sys.argv[2]], rows[sys.argv[3]]
assert old.get("renewed_by") == sys.argv[3], old
assert new.get("replaces") == sys.argv[2], new
assert old.get("status") == "revoked", old
PY
}

config kur
start_station
read -r tokA serialA pinA <<< "$(issue N-A organisation 1)"
read -r tokB serialB pinB <<< "$(issue N-B legal_rep 2)"
read -r tokC serialC pinC <<< "$(issue N-C organisation 1)"
read -r tokD serialD pinD <<< "$(issue N-D organisation 2)"
[ -n "$pinA" ] && [ -n "$pinB" ] && [ -n "$serialC" ] && [ -n "$serialD" ] || fail "issuing through CMP"
renew_order R-A organisation "$serialA"
renew_order R-B legal_rep "$serialB"

# --- renewal by KUR ---
newA=$(renew "$tokA" "$pinA" "$serialA" R-A 3)
grepq "issued certificate $newA (kur, old certificate $serialA)" "$STATE/cmp/log" ||
	fail "kur: the test CA did not get a KUR naming $serialA for $newA"
check_renewal "$tokA" "$pinA" "$serialA" "$newA" kur
stop_station
echo "ok: $serialA renewed by KUR as $newA, superseded at the CA"

# --- renewal by P10CR ---
config p10cr
start_station
newB=$(renew "$tokB" "$pinB" "$serialB" R-B 4)
grepq "issued certificate $newB (p10cr)" "$STATE/cmp/log" || fail "p10cr: the test CA did not get a P10CR for $newB"
check_renewal "$tokB" "$pinB" "$serialB" "$newB" p10cr
echo "ok: $serialB renewed by P10CR as $newB, superseded at the CA"

# --- cert revoke while the CA holds the RR: the loop goes on, the reply waits ---
rm -f "$RRGATE"
gen "$STATE/N-E.json" "N-E:0:organisation=1x1"
ctl order import "$STATE/N-E.json" >/dev/null || fail "import N-E"
approve_pay "$(id_of N-E)"
ctl cert revoke "$serialC" --reason keyCompromise --remark "the holder's key was exposed" \
	> "$STATE/revoke.out" 2>&1 &
BG_PID=$!
for _ in $(seq 400); do
	grepq "revocation waiting for the gate" "$STATE/cmp/log" && break
	sleep 0.05
done
grepq "revocation waiting for the gate" "$STATE/cmp/log" || fail "gate: the RR never reached the CA"
t0=$(date +%s%N)
ctl status >/dev/null || fail "gate: status while the CA holds the RR"
status_ms=$((($(date +%s%N) - t0) / 1000000))	# reported, not asserted
ctl sim plug --bay 2 >/dev/null || fail "gate: plug bay 2 while the CA holds the RR"
wait_for_step 2 ca_submit
kill -0 "$BG_PID" 2>/dev/null || fail "gate: cert revoke returned before the CA answered: $(cat "$STATE/revoke.out")"
[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NULL AND cert_serial = '$serialC'")" = 1 ] ||
	fail "gate: $serialC recorded revoked before the CA answered"
expect_exit 75 "waiting for the CA's answer" -- ctl cert revoke "$serialC" --reason keyCompromise --remark again
touch "$RRGATE"
wait "$BG_PID" || fail "cert revoke: $(cat "$STATE/revoke.out")"
BG_PID=""
grepq "certificate $serialC revoked (keyCompromise)" "$STATE/revoke.out" || fail "cert revoke said: $(cat "$STATE/revoke.out")"
grepq -x "$serialC keyCompromise" "$STATE/cmp/revocations" || fail "the CA did not record $serialC (keyCompromise)"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$serialC'")" = keyCompromise ] ||
	fail "$serialC not revoked in the record"
[ "$(db "SELECT count(*) FROM audit WHERE action = 'cert.revoke' AND detail LIKE '%$serialC%'")" = 1 ] ||
	fail "no cert.revoke audit record for $serialC"
ctl bay wait --bay 2 --timeout 120 >/dev/null || fail "gate: bay 2: $(bay_field 2 reason)"
[ "$(bay_field 2 state)" = done ] || fail "gate: bay 2: $(bay_field 2 state): $(bay_field 2 reason)"
ctl sim unplug --bay 2 >/dev/null
echo "ok: cert revoke through CMP (keyCompromise); ukeyctl status answered in $status_ms ms and bay 2 worked while the CA held the RR"

# --- token mark-lost through CMP: its live certificate revoked by RR ---
ctl token mark-lost "$(db "SELECT token_serial FROM issuances WHERE cert_serial = '$serialD'")" \
	--remark "lost by the holder" > "$STATE/mark.out" || fail "mark-lost: $(cat "$STATE/mark.out")"
grepq "certificate $serialD revoked" "$STATE/mark.out" || fail "mark-lost said: $(cat "$STATE/mark.out")"
grepq -x "$serialD keyCompromise" "$STATE/cmp/revocations" || fail "the CA did not record $serialD (keyCompromise)"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$serialD'")" = keyCompromise ] ||
	fail "$serialD not revoked in the record"

# --- ukeyd killed while the CA holds the RR: the CA revokes, the station
# has recorded nothing; the same command run again finds the certificate
# revoked at the CA (certRevoked) and records it ---
serialE=$(db "SELECT i.cert_serial FROM issuances i JOIN orders o ON o.id = i.order_id WHERE o.portal_ref = 'N-E'")
[ -n "$serialE" ] || fail "no certificate for N-E"
rm -f "$RRGATE"
n0=$(grep -c "revocation waiting for the gate" "$STATE/cmp/log")
ctl cert revoke "$serialE" --reason affiliationChanged --remark "the holder left the company" \
	> "$STATE/revoke2.out" 2>&1 &
BG_PID=$!
for _ in $(seq 400); do
	[ "$(grep -c "revocation waiting for the gate" "$STATE/cmp/log")" -gt "$n0" ] && break
	sleep 0.05
done
[ "$(grep -c "revocation waiting for the gate" "$STATE/cmp/log")" -gt "$n0" ] || fail "kill: the RR never reached the CA"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=""
wait "$BG_PID" && fail "kill: cert revoke says it succeeded though ukeyd was killed: $(cat "$STATE/revoke2.out")"
BG_PID=""
touch "$RRGATE"
wait_file "$STATE/cmp/revocations" "$serialE affiliationChanged" "kill: the CA's revocation"
[ "$(db "SELECT count(*) FROM issuances WHERE revoked_at IS NULL AND cert_serial = '$serialE'")" = 1 ] ||
	fail "kill: $serialE recorded revoked though the station died before the CA answered"
start_station
ctl cert revoke "$serialE" --reason affiliationChanged --remark "the holder left the company" \
	> "$STATE/revoke2.out" || fail "kill: cert revoke again: $(cat "$STATE/revoke2.out")"
grepq "certificate $serialE was revoked at the CA already; recording it here" "$STATE/ukeyd.log" ||
	fail "kill: the second revoke did not find $serialE revoked at the CA"
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$serialE'")" = affiliationChanged ] ||
	fail "kill: $serialE not revoked in the record"
echo "ok: killed while the CA held the RR; the command run again completes the record"

# --- a replacement through CMP whose replaced certificate the record still
# has live at start (as after a crash between the record and the RR; the
# record is set so by hand): the start's RR goes through the CA thread, the
# CA has it revoked already (the token was marked lost), the record follows ---
gen "$STATE/P-D.json" "P-D:0:organisation=1x1:replaces_serial=$serialD:amount=5000"
ctl order import "$STATE/P-D.json" >/dev/null || fail "import P-D"
approve_pay "$(id_of P-D)"
ctl sim plug --bay 1 --wait >/dev/null || fail "P-D not issued: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
newD=$(db "SELECT cert_serial FROM issuances WHERE order_id = $(id_of P-D)")
[ "$(db "SELECT replaces_serial || ' ' || replaces_how FROM issuances WHERE cert_serial = '$newD'")" = "$serialD replacement" ] ||
	fail "replacement: $newD does not name $serialD"
stop_station
db "UPDATE issuances SET revoked_at = NULL, revoke_reason = NULL, revoked_by = NULL, revoke_remark = NULL WHERE cert_serial = '$serialD'"
start_station
for _ in $(seq 400); do
	[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$serialD'")" = keyCompromise ] && break
	sleep 0.05
done
[ "$(db "SELECT revoke_reason FROM issuances WHERE cert_serial = '$serialD'")" = keyCompromise ] ||
	fail "replacement: the start did not revoke $serialD"
grepq "certificate $serialD: revocation (keyCompromise) sent to the CA thread" "$STATE/ukeyd.log" ||
	fail "replacement: the RR for $serialD did not go through the CA thread"
db "SELECT detail FROM audit WHERE action = 'cert.revoke' ORDER BY id DESC LIMIT 1" > "$STATE/last.txt"
grepq "replaced by certificate $newD" "$STATE/last.txt" || fail "replacement: cert.revoke does not name $newD"
echo "ok: replacement $newD of $serialD through CMP; the start's RR went through the CA thread"
ctl audit verify >/dev/null || fail "audit verify"
stop_station

# the CA's live certificates are the station's live ones
sort -u "$STATE/cmp/issued" > "$STATE/issued.s"
sort -u "$STATE/cmp/revoked" > "$STATE/revoked.s"
comm -23 "$STATE/issued.s" "$STATE/revoked.s" > "$STATE/live"
db "SELECT cert_serial FROM issuances WHERE revoked_at IS NULL" | sort -u > "$STATE/recorded"
cmp -s "$STATE/live" "$STATE/recorded" ||
	fail "the CA's live certificates are not the station's: $(diff "$STATE/live" "$STATE/recorded" | tr '\n' ' ')"
echo "PASS: renewal by KUR and P10CR, cert revoke and mark-lost through CMP, the loop free while the CA holds an RR"
