# ukeyd with ca.type = cmp and the RA key in an HSM (a SoftHSM2 token made
# here) named by a pkcs11: URI: a wrong PIN stops the daemon at start with
# the token's answer; with the right one the daemon starts ukey-signer beside
# its worker, a token is issued with messages signed on the HSM, and after
# the helper is killed the next token's CA call fails once ("died"), is
# retried, and the restarted helper signs it. The daemon itself never maps
# the HSM's module. (The CMP flows are in tests/unit/test_cmp_p11.c.)
. "$(dirname "$0")/lib.sh"

CMP_PID=""
trap 'rc=$?; if [ -n "$CMP_PID" ]; then kill "$CMP_PID" 2>/dev/null || true; wait "$CMP_PID" 2>/dev/null || true; fi; set +e; (exit $rc); cleanup' EXIT

# signer_pid: the pid of the daemon's ukey-signer child ("" when none)
signer_pid() {
	local f
	for f in /proc/[0-9]*/stat; do
		read -r pid comm state ppid _ < "$f" 2>/dev/null || continue
		if [ "$comm" = "(ukey-signer)" ] && [ "$ppid" = "$DAEMON_PID" ] && [ "$state" != Z ]; then
			echo "$pid"
			return 0
		fi
	done
}

# the CA's PKI: a CA, and an RA certificate it issued for a key made on the HSM side
mkdir -m 0700 "$STATE/cmp" "$STATE/hsm" "$STATE/hsm/tokens"
C=$STATE/cmp
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=Test CMP CA" -addext "basicConstraints=critical,CA:TRUE" \
	-keyout "$C/ca.key" -out "$C/ca.crt" 2>/dev/null || fail "making the test CA"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$C/ra.key" 2>/dev/null ||
	fail "making the RA key"
openssl req -new -key "$C/ra.key" -subj "/CN=Test Station RA" -out "$C/ra.csr" 2>/dev/null
openssl x509 -req -in "$C/ra.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
	-out "$C/ra.crt" 2>/dev/null || fail "issuing the RA certificate"

# the HSM: a token "station-ra" holding the RA key, then the key file is gone
cat > "$STATE/hsm/softhsm2.conf" <<EOT
directories.tokendir = $STATE/hsm/tokens
objectstore.backend = file
log.level = ERROR
EOT
export SOFTHSM2_CONF=$STATE/hsm/softhsm2.conf
softhsm2-util --init-token --free --label station-ra --pin 246810 --so-pin 13579 >/dev/null ||
	fail "making the HSM token"
softhsm2-util --import "$C/ra.key" --token station-ra --label ra-2026 --id 01 --pin 246810 \
	>/dev/null || fail "importing the RA key"
rm -f "$C/ra.key"
printf '246810\n' > "$C/hsm.pin"
printf '999999\n' > "$C/wrong.pin"
chmod 0600 "$C/hsm.pin" "$C/wrong.pin"

"$BUILD/tests/cmp_test_server" --ca-cert "$C/ca.crt" --ca-key "$C/ca.key" --ra-cert "$C/ra.crt" \
	>"$C/port" 2>"$C/log" &
CMP_PID=$!
for _ in $(seq 100); do
	grepq '^port ' "$C/port" && break
	sleep 0.05
done
port=$(sed -n 's/^port //p' "$C/port")
[ -n "$port" ] || fail "cmp_test_server did not say its port"

write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[ca]
type = cmp
[cmp]
server = http://127.0.0.1:$port
path = /pkix/
ra_cert = $C/ra.crt
ra_key = pkcs11:token=station-ra;object=ra-2026;type=private
pkcs11_module = $SOFTHSM_MODULE
pkcs11_pin_file = $C/wrong.pin
ca_cert = $C/ca.crt
trusted = $C/ca.crt
timeout = 10
validity = ca
EOT

# a wrong PIN: the daemon does not start, and says why (never the PIN)
set +e
timeout 30 "$BUILD/ukeyd" --state "$STATE" 2>"$STATE/refused.log"
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "ukeyd ran with a wrong HSM PIN (exit $rc)"
grepq "cmp.ra_key pkcs11:token=station-ra;object=ra-2026;type=private: C_Login: CKR_PIN_INCORRECT" \
	"$STATE/refused.log" || fail "no clear message: $(cat "$STATE/refused.log")"
! grepq 999999 "$STATE/refused.log" || fail "the PIN was logged"

sed -i "s#^pkcs11_pin_file = .*#pkcs11_pin_file = $C/hsm.pin#" "$STATE/ukeyd.conf"
start_station
pid=$(signer_pid)
[ -n "$pid" ] || fail "no ukey-signer beside the daemon"
! grepq libsofthsm2 "/proc/$DAEMON_PID/maps" || fail "ukeyd mapped the HSM's module itself"
orders_ready

ctl sim plug --bay 1 --wait >/dev/null || fail "token 1 not issued: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
[ "$(db "SELECT count(*) FROM issuances WHERE issuer LIKE '%Test CMP CA%'")" = 1 ] ||
	fail "the first token was not issued by the CMP CA"

# the helper killed: the next CA call fails, is retried, and signs anew
kill -KILL "$pid"
ctl sim plug --bay 1 --wait >/dev/null || fail "token 2 not issued: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
[ "$(db "SELECT count(*) FROM issuances WHERE issuer LIKE '%Test CMP CA%'")" = 2 ] ||
	fail "the second token was not issued after the helper was killed"
grepq "cmp.ra_key: the signing helper ukey-signer (pid $pid) died" "$STATE/ukeyd.log" ||
	fail "the helper's death is not in the log"
[ "$(db "SELECT count(*) FROM job_steps WHERE step = 'ca_submit' AND phase = 'failed' AND
	detail LIKE 'CA unavailable%'")" -ge 1 ] || fail "no failed ca_submit step before the retry"
again=$(signer_pid)
[ -n "$again" ] && [ "$again" != "$pid" ] || fail "ukey-signer was not started again"
! grepq 246810 "$STATE/ukeyd.log" || fail "the PIN was logged"
stop_station
[ -z "$(signer_pid)" ] || fail "ukey-signer outlived the daemon"
echo "PASS"
