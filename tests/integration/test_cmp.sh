# ukeyd with ca.type = cmp against tests/tools/cmp_test_server on loopback:
# a secret file others may read stops the daemon with a message naming it;
# with the file fixed the daemon opens the CMP connector and runs. (The CMP
# flows themselves are tested in tests/unit/test_ca_cmp.c.)
. "$(dirname "$0")/lib.sh"

CMP_PID=""
trap 'rc=$?; if [ -n "$CMP_PID" ]; then kill "$CMP_PID" 2>/dev/null || true; wait "$CMP_PID" 2>/dev/null || true; fi; (exit $rc); cleanup' EXIT

mkdir -m 0700 "$STATE/cmp"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=Test CMP CA" -keyout "$STATE/cmp/ca.key" -out "$STATE/cmp/ca.crt" 2>/dev/null ||
	fail "making the test CA"
printf 'station shared secret\n' > "$STATE/cmp/secret"
chmod 0644 "$STATE/cmp/secret"

"$BUILD/tests/cmp_test_server" --ca-cert "$STATE/cmp/ca.crt" --ca-key "$STATE/cmp/ca.key" \
	--secret-ref station-1 --secret-file "$STATE/cmp/secret" >"$STATE/cmp/port" 2>"$STATE/cmp/log" &
CMP_PID=$!
for _ in $(seq 100); do
	grepq '^port ' "$STATE/cmp/port" && break
	sleep 0.05
done
port=$(sed -n 's/^port //p' "$STATE/cmp/port")
[ -n "$port" ] || fail "cmp_test_server did not say its port"

write_config
cat >> "$STATE/ukeyd.conf" <<EOT
[ca]
type = cmp
[cmp]
server = http://127.0.0.1:$port
path = /pkix/
secret_ref = station-1
secret_file = $STATE/cmp/secret
ca_cert = $STATE/cmp/ca.crt
trusted = $STATE/cmp/ca.crt
timeout = 5
EOT

# group and others may read the secret: refused at start, the file named
set +e
timeout 20 "$BUILD/ukeyd" --state "$STATE" 2>"$STATE/refused.log"
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "ukeyd ran with a world-readable secret file (exit $rc)"
grepq "cmp.secret_file $STATE/cmp/secret: mode 0644 lets group or others at the secret" \
	"$STATE/refused.log" || fail "no clear message: $(cat "$STATE/refused.log")"

# an incomplete [cmp] section is a configuration error naming the key
cp "$STATE/ukeyd.conf" "$STATE/ukeyd.conf.good"
grep -v '^trusted' "$STATE/ukeyd.conf.good" > "$STATE/ukeyd.conf"
set +e
timeout 20 "$BUILD/ukeyd" --state "$STATE" 2>"$STATE/incomplete.log"
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "ukeyd ran without cmp.trusted (exit $rc)"
grepq "ca.type: cmp needs a complete \[cmp\] section: cmp.trusted" "$STATE/incomplete.log" ||
	fail "no clear message: $(cat "$STATE/incomplete.log")"

# fixed: the daemon starts with the CMP connector
cp "$STATE/ukeyd.conf.good" "$STATE/ukeyd.conf"
chmod 0600 "$STATE/cmp/secret"
start_station
ctl status >/dev/null || fail "status"
stop_station
echo "PASS"
