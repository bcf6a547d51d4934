# The token "removed" at every PKCS#11 call a job makes: the call list of a
# whole job (probe to read-back) is recorded with the faultp11 call log, then
# for each (function, occurrence) in it a fresh token's module answers that
# call with CKR_DEVICE_REMOVED; the token is unplugged, plugged in again
# healthy, and must end with its certificate issued; the invariants
# (invariants.sh) are checked after every round.
#
# EC P-256 keys (profile softhsm2-chaos-ec): the sweep runs ~120 jobs twice in
# CI (plain and ASan) and RSA key generation would dominate it; the calls a
# job makes are the same for both key types but for the key-generation
# mechanism, which test_chaos_kill.sh exercises with both. Ten bays run ten
# removal points at a time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/invariants.sh"

PROFILE=softhsm2-chaos-ec
BAYS=10
chaos_config
sed -i "s/^bays = .*/bays = $BAYS/" "$STATE/ukeyd.conf"
start_station
chaos_orders 45

# the calls of one whole job, in order
chaos_token 'log on\n'
ctl sim plug --bay 1 --token "$TOK" --profile "$PROFILE" --wait >/dev/null || fail "baseline job: $(bay_field 1 reason)"
ctl sim unplug --bay 1 >/dev/null
# (C_Finalize is left out: it runs, if at all, when the worker is stopped at
# the unplug, after the job)
awk '$2 != "C_Finalize" { print $2 ":" $3 }' "$(chaos_token_dir "$TOK")/faultp11.log" > "$STATE/calls"
for f in C_InitToken C_InitPIN C_GenerateKeyPair C_Sign C_CreateObject; do
	grepq "^$f:" "$STATE/calls" || fail "the call log has no $f: $(tr '\n' ' ' < "$STATE/calls")"
done
check_invariants "$TOK"
total=$(wc -l < "$STATE/calls")
echo "a job makes $total PKCS#11 calls: $(awk -F: '{ print $1 }' "$STATE/calls" | sort | uniq -c | awk '{ printf "%s %s, ", $2, $1 }')"

# bays_now: one line per bay, "index state token_serial reason"
bays_now() {
	ctl --json bays | python3 -c '
import json, sys
for b in json.load(sys.stdin):
    print(b["bay"], b["state"], b.get("token_serial") or "-", b.get("reason") or "")'
}

points=0 resumed=0 unaffected=0 no_job=0
t0=$(date +%s)
# round CALL...: one removal point per bay, in parallel
round() {
	local i=0 spec toks=() first=() bay serial st reason
	for spec in "$@"; do
		i=$((i + 1))
		chaos_token "${spec%%:*} ${spec#*:} rv CKR_DEVICE_REMOVED\n"
		toks[i]=$TOK
		ctl sim plug --bay "$i" --token "$TOK" --profile "$PROFILE" >/dev/null || fail "$spec: plug"
	done
	for bay in $(seq "$i"); do
		ctl bay wait --bay "$bay" --timeout 120 >/dev/null 2>&1 || true
	done
	while read -r bay st _; do first[bay]=$st; done < <(bays_now)
	for bay in $(seq "$i"); do
		ctl sim unplug --bay "$bay" >/dev/null || fail "unplug bay $bay"
		: > "$(chaos_token_dir "${toks[bay]}")/faultp11.conf"
	done
	for bay in $(seq "$i"); do
		ctl sim plug --bay "$bay" --token "${toks[bay]}" --profile "$PROFILE" >/dev/null ||
			fail "re-plug bay $bay"
	done
	for bay in $(seq "$i"); do
		ctl bay wait --bay "$bay" --timeout 120 >/dev/null 2>&1 || true
	done
	bays_now > "$STATE/bays"
	i=0
	for spec in "$@"; do
		i=$((i + 1))
		read -r _ st serial reason < <(awk -v b="$i" '$1 == b' "$STATE/bays")
		[ "$serial" != - ] || fail "$spec: token ${toks[i]} has no serial after the re-plug: $st: $reason"
		[ "$(db "SELECT count(*) FROM issuances WHERE token_serial = '$serial'")" = 1 ] ||
			fail "$spec: token ${toks[i]} ($serial) not issued after the re-plug: $st: $reason"
		[ "$(db "SELECT count(*) FROM jobs WHERE token_serial = '$serial' AND state <> 'issued'")" = 0 ] ||
			fail "$spec: token ${toks[i]}: a job of it did not end issued: $(db "SELECT id, state, step, error FROM jobs WHERE token_serial = '$serial'")"
		if [ "$(db "SELECT max(resumed) FROM jobs WHERE token_serial = '$serial'")" -ge 1 ]; then
			resumed=$((resumed + 1))
		elif [ "${first[i]}" = done ]; then
			unaffected=$((unaffected + 1))	# the call's failure did not stop the job
		else
			no_job=$((no_job + 1))		# removed before a job started (probe)
		fi
		ctl sim unplug --bay "$i" >/dev/null || fail "unplug bay $i"
		points=$((points + 1))
	done
	check_invariants "${toks[@]}"
}

mapfile -t calls < "$STATE/calls"
for ((k = 0; k < ${#calls[@]}; k += BAYS)); do
	round "${calls[@]:k:BAYS}"
done
check_invariants all
elapsed=$(( $(date +%s) - t0 ))
stop_station
echo "removal points: $points of $total calls ($resumed jobs suspended and resumed," \
	"$unaffected finished despite the failed call, $no_job removed before a job started)" \
	"in $elapsed s; $INVARIANT_TOKENS_CHECKED token checks"
[ "$points" = "$total" ] || fail "covered $points of $total calls"
echo "PASS: the token removed at each of $points PKCS#11 calls; every job ended issued and the invariants hold"
