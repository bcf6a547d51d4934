#!/usr/bin/env bash
# The demo through CMP gives the same records as through the embedded CA:
# scripts/demo runs twice on fresh state directories, with the programs of
# this build (--build: it installs nothing and builds nothing), first with
# the embedded CA, then with --ca cmp (tests/tools/cmp_test_server on
# 127.0.0.1, started and stopped by the demo). Then, for both:
#   - the same issuances: count, and per issuance its kind, subject,
#     certificate profile, key algorithm, token model and status (live or
#     superseded by the renewal), and the same renewal link;
#   - the same audit actions per job (action, step and phase, profile,
#     key algorithm, reason; ids, times, serials and hashes left out) and
#     the same counts of every other audit action;
#   - every certificate on every virtual token: the token's one end-entity
#     certificate is a live issuance's and passes `openssl verify` against
#     its CA (the embedded CA's ca.crt, the test CMP CA's ca.crt), and the
#     CA certificate written beside it is that CA's;
#   - `ukeyctl audit verify` passes (run by the demo, and again here on a
#     restarted daemon).
# What differs by design: the issuer, serials, times, and the validity (the
# test CA gives 365 days, cmp.validity = ca; the embedded CA the order's years).
. "$(dirname "$0")/lib.sh"
pg_skip "scripts/demo makes its own SQLite stations"

SOFTHSM=$SOFTHSM_MODULE

# run_demo NAME [args...]: the demo on $STATE/NAME, its output in NAME.out
run_demo() {
	local name=$1
	shift
	bash "$SRC/scripts/demo" --state "$STATE/$name" --build "$BUILD" "$@" \
		>"$STATE/$name.out" 2>&1 || {
		tail -40 "$STATE/$name.out" >&2
		fail "scripts/demo $* failed (output in $STATE/$name.out)"
	}
	grepq '^audit log OK: ' "$STATE/$name.out" || fail "$name: the demo's audit verify said no OK"
	echo "ok: scripts/demo --ca ${name} ran"
}

# issuances DIR: one line per issuance, sorted, without ids, times, serials
issuances() {
	sqlite3 -separator '|' "$1/station.db" "
		SELECT i.kind, i.subject, json_extract(a.detail, '\$.profile'), i.key_alg,
		       i.token_model, i.token_profile,
		       CASE WHEN i.revoked_at IS NULL THEN 'live'
		            ELSE 'revoked:' || coalesce(i.revoke_reason, '-') END,
		       j.kind, j.renews_serial IS NOT NULL
		FROM issuances i JOIN jobs j ON j.id = i.job_id
		JOIN audit a ON a.job_id = i.job_id AND a.action = 'job.start'" | sort
}

# job_audit DIR: per job one line of its audit actions in order, normalised,
# prefixed with the job's kind and its issuance's subject; sorted
job_audit() {
	python3 - "$1/station.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
keep = ("step", "phase", "profile", "key_alg", "token_model", "wipe", "reason", "result",
        "pin", "subject", "old_key_removed")
jobs = {}
for job, action, detail in db.execute(
        "SELECT job_id, action, detail FROM audit WHERE job_id IS NOT NULL ORDER BY id"):
    d = json.loads(detail) if detail and detail.startswith("{") else {}
    parts = [action] + ["%s=%s" % (k, d[k]) for k in keep if k in d]
    if "renews" in d:
        parts.append("renews")
    jobs.setdefault(job, []).append(",".join(parts))
lines = []
for job, acts in jobs.items():
    row = db.execute("SELECT j.kind, coalesce(i.subject, '-') FROM jobs j LEFT JOIN issuances i"
                     " ON i.job_id = j.id WHERE j.id = ?", (job,)).fetchone()
    lines.append("%s|%s|%s" % (row[0], row[1], " ".join(acts)))
for l in sorted(lines):
    print(l)
PY
}

# other_audit DIR: counts of the audit actions outside jobs
other_audit() {
	sqlite3 -separator '|' "$1/station.db" \
		"SELECT action, count(*) FROM audit WHERE job_id IS NULL GROUP BY action ORDER BY action"
}

# verify_tokens DIR CACERT: every certificate on every virtual token; prints
# how many end-entity certificates passed
verify_tokens() {
	local dir=$1 cacert=$2 conf id n=0 leaves serial
	for conf in "$dir"/sim/tokens/*/softhsm2.conf; do
		leaves=0
		for id in $(SOFTHSM2_CONF=$conf pkcs11-tool --module "$SOFTHSM" --list-objects \
			--type cert 2>/dev/null | sed -n 's/^ *ID: *//p'); do
			SOFTHSM2_CONF=$conf pkcs11-tool --module "$SOFTHSM" --read-object --type cert \
				--id "$id" -o "$STATE/c.der" >/dev/null 2>&1 || fail "$conf: cannot read cert $id"
			openssl x509 -inform DER -in "$STATE/c.der" -out "$STATE/c.pem"
			if openssl x509 -in "$STATE/c.pem" -noout -ext basicConstraints 2>/dev/null |
				grep 'CA:TRUE' >/dev/null; then
				cmp -s <(openssl x509 -in "$STATE/c.pem" -outform DER) \
					<(openssl x509 -in "$cacert" -outform DER) ||
					fail "$conf: the CA certificate on the token is not $cacert"
				continue
			fi
			openssl verify -CAfile "$cacert" "$STATE/c.pem" >"$STATE/verify.out" 2>&1 ||
				fail "$conf: openssl verify: $(cat "$STATE/verify.out")"
			grepq ': OK$' "$STATE/verify.out" || fail "$conf: $(cat "$STATE/verify.out")"
			serial=$(openssl x509 -in "$STATE/c.pem" -noout -serial | sed 's/^serial=//')
			[ "$(sqlite3 "$dir/station.db" "SELECT count(*) FROM issuances i WHERE
				upper(i.cert_serial) = upper('$serial') AND i.revoked_at IS NULL")" = 1 ] ||
				fail "$conf: certificate $serial is not a live issuance"
			leaves=$((leaves + 1))
		done
		[ "$leaves" -le 1 ] || fail "$conf: $leaves end-entity certificates on one token"
		n=$((n + leaves))
	done
	echo "$n"
}

# audit_verify DIR: ukeyctl audit verify on a daemon restarted on DIR
audit_verify() {
	local dir=$1 pid
	# as the demo runs it: profiles from the source tree, the worker from the build
	UKEY_DEV_TREE=$SRC "$BUILD/ukeyd" --state "$dir" 2>>"$dir/ukeyd.log" &
	pid=$!
	DAEMON_PID=$pid
	for _ in $(seq 200); do
		"$BUILD/ukeyctl" --state "$dir" status >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || fail "ukeyd on $dir exited at start"
		sleep 0.05
	done
	"$BUILD/ukeyctl" --state "$dir" audit verify >"$STATE/av.out" 2>&1 ||
		fail "ukeyctl audit verify on $dir: $(cat "$STATE/av.out")"
	grepq '^audit log OK' "$STATE/av.out" || fail "audit verify on $dir: $(cat "$STATE/av.out")"
	kill -TERM "$pid"
	wait "$pid" || fail "ukeyd on $dir exited with an error status at stop"
	DAEMON_PID=""
}

run_demo embedded
run_demo cmp --ca cmp
E=$STATE/embedded
C=$STATE/cmp
grepq '^type = cmp' "$C/ukeyd.conf" || fail "the cmp demo did not configure ca.type = cmp"
[ -s "$C/cmp/issued" ] || fail "the test CMP CA issued nothing"

# issuances
issuances "$E" >"$STATE/iss.embedded"
issuances "$C" >"$STATE/iss.cmp"
n=$(wc -l <"$STATE/iss.embedded")
[ "$n" -ge 2 ] || fail "the embedded demo issued $n certificates"
diff -u "$STATE/iss.embedded" "$STATE/iss.cmp" >&2 || fail "the issuances differ"
grepq '|renew|1$' "$STATE/iss.cmp" || fail "no renewal among the issuances"
grepq '|revoked:superseded|issue|0$' "$STATE/iss.cmp" || fail "no superseded issuance"
echo "ok: the same $n issuances (kind, subject, profile, key, token, status, renewal)"
[ "$(sqlite3 "$E/station.db" "SELECT count(DISTINCT issuer) FROM issuances")" = 1 ] || fail "issuers"
cmp_issuer=$(openssl x509 -in "$C/cmp/ca.crt" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
[ "$(sqlite3 "$C/station.db" "SELECT DISTINCT issuer FROM issuances")" = "$cmp_issuer" ] ||
	fail "the CMP issuances' issuer is not the test CA ($cmp_issuer)"
# every CMP issuance is one the test CA issued
while read -r serial; do
	grepq -ix "$serial" "$C/cmp/issued" ||
		fail "issuance $serial is not in the test CA's issued list"
done < <(sqlite3 "$C/station.db" "SELECT cert_serial FROM issuances")
echo "ok: every CMP issuance is the test CA's, issued by it"

# audit
job_audit "$E" >"$STATE/audit.embedded"
job_audit "$C" >"$STATE/audit.cmp"
[ "$(wc -l <"$STATE/audit.embedded")" -ge "$n" ] || fail "fewer audited jobs than issuances"
diff -u "$STATE/audit.embedded" "$STATE/audit.cmp" >&2 || fail "the jobs' audit actions differ"
other_audit "$E" >"$STATE/other.embedded"
other_audit "$C" >"$STATE/other.cmp"
diff -u "$STATE/other.embedded" "$STATE/other.cmp" >&2 || fail "the other audit actions differ"
echo "ok: the same audit actions per job ($(wc -l <"$STATE/audit.cmp") jobs) and outside jobs"

# tokens
live=$(sqlite3 "$E/station.db" "SELECT count(*) FROM issuances WHERE revoked_at IS NULL")
got=$(verify_tokens "$E" "$E/ca/ca.crt")
[ "$got" = "$live" ] || fail "embedded: $got certificates verified on tokens, $live live issuances"
got=$(verify_tokens "$C" "$C/cmp/ca.crt")
[ "$got" = "$live" ] || fail "cmp: $got certificates verified on tokens, $live live issuances"
said=$(grep -c '/sim/tokens/[0-9]*: OK$' "$STATE/cmp.out" || true)
[ "$said" = "$live" ] || fail "the cmp demo printed $said openssl verify OKs, want $live"
echo "ok: every token's certificate passes openssl verify against its CA ($live per CA)"

audit_verify "$E"
audit_verify "$C"
echo "ok: ukeyctl audit verify passes for both"
