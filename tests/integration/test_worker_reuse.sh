# One worker for the tokens of one bay (docs/worker-protocol.md, "A worker
# for many tokens"): the worker that served a token stays for the bay's next
# one, which it finds after a rescan in its own SoftHSM2 token store; each
# token gets its certificate, nothing lands on the token before it; a kept
# worker that dies while the bay is empty leaves the bay empty, one killed
# in the middle of a job faults its bay as a fresh one's crash does; a profile with
# the fresh-worker quirk gets a fresh worker for each token.
. "$(dirname "$0")/lib.sh"

write_config
# [sim] is the config's last section: virtual key generation takes 3 s,
# long enough to kill the worker inside it
printf 'keygen_delay_ms = 3000\n' >> "$STATE/ukeyd.conf"
start_station
orders_ready

# plug_done BAY [ARGS]: a token into BAY, waited for; its job must be issued
plug_done() {
	local bay=$1
	shift
	ctl sim plug --bay "$bay" --wait "$@" >/dev/null || true
	[ "$(bay_field "$bay" state)" = done ] ||
		fail "bay $bay: $(bay_field "$bay" state): $(bay_field "$bay" reason)"
}

# certs_on N: certificates on virtual token N (read from its own store)
certs_on() {
	SOFTHSM2_CONF=$(token_conf "$1") pkcs11-tool --module "$SOFTHSM_MODULE" --list-objects \
		--type cert 2>/dev/null | grep -c '^Certificate Object' || true
}

plug_done 1
pid1=$(bay_field 1 worker_pid)
[ -n "$pid1" ] || fail "no worker pid for bay 1"
calls1=$(bay_field 1 p11_calls)
[ "$calls1" -gt 0 ] || fail "bay 1 counted no PKCS#11 calls: '$calls1'"
ctl sim unplug --bay 1 >/dev/null
[ "$(bay_field 1 state)" = empty ] || fail "bay 1 not empty after unplug"
[ "$(bay_field 1 worker_pid)" = "$pid1" ] || fail "the worker was not kept: '$(bay_field 1 worker_pid)'"
kill -0 "$pid1" || fail "the kept worker $pid1 is gone"

plug_done 1
[ "$(bay_field 1 worker_pid)" = "$pid1" ] || fail "token 2 got another worker"
[ "$(bay_field 1 worker_tokens)" = 2 ] || fail "worker_tokens: $(bay_field 1 worker_tokens)"
calls2=$(bay_field 1 p11_calls)
echo "PKCS#11 calls: first token $calls1, second token (kept worker) $calls2"
[ "$(certs_on 1)" = 2 ] || fail "token 1 holds $(certs_on 1) certificates (want its own and the CA's)"
[ "$(certs_on 2)" = 2 ] || fail "token 2 holds $(certs_on 2) certificates (want its own and the CA's)"
[ "$(db "SELECT count(DISTINCT token_serial) FROM issuances")" = 2 ] ||
	fail "two issuances on two tokens expected: $(db 'SELECT token_serial FROM issuances')"
ctl sim unplug --bay 1 >/dev/null

# the kept worker dies while the bay is empty: no fault, a fresh one next time
kill -KILL "$pid1"
for _ in $(seq 100); do
	[ -z "$(bay_field 1 worker_pid)" ] && break
	sleep 0.05
done
[ -z "$(bay_field 1 worker_pid)" ] || fail "the dead kept worker is still listed"
[ "$(bay_field 1 state)" = empty ] || fail "bay 1 is $(bay_field 1 state) after its idle worker died"
plug_done 1
pid3=$(bay_field 1 worker_pid)
[ "$pid3" != "$pid1" ] || fail "no new worker after the kept one died"
ctl sim unplug --bay 1 >/dev/null

# killed in the middle of a job on the kept worker: the bay faults and its
# job ends as a crash of a fresh worker's does (jobs.md); the next token gets
# a fresh worker
tok=$(ctl --json sim plug --bay 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
wait_for_step 1 generate_key
kill -KILL "$pid3"
grepq "worker $pid3 kept for virtual token $(printf %04d "$tok")" "$STATE/ukeyd.log" ||
	fail "token $tok did not get the kept worker"
for _ in $(seq 100); do
	[ "$(bay_field 1 state)" = faulted ] && break
	sleep 0.05
done
[ "$(bay_field 1 state)" = faulted ] || fail "bay 1 is $(bay_field 1 state) after its worker was killed"
ctl sim unplug --bay 1 >/dev/null
plug_done 1
[ "$(bay_field 1 worker_pid)" != "$pid3" ] || fail "the killed worker is listed again"
[ "$(db "SELECT count(*) FROM issuances")" = 4 ] || fail "four issuances expected"
ctl sim unplug --bay 1 >/dev/null

# fresh-worker (the fault module's test profile): issued or idle (nothing
# queued for it), the worker is not kept
ctl sim plug --bay 2 --wait --profile softhsm2-fault >/dev/null || true
case $(bay_field 2 state) in
done | idle) ;;
*) fail "bay 2: $(bay_field 2 state): $(bay_field 2 reason)" ;;
esac
[ -n "$(bay_field 2 worker_pid)" ] || fail "bay 2 has no worker"
ctl sim unplug --bay 2 >/dev/null
[ -z "$(bay_field 2 worker_pid)" ] || fail "a worker of a fresh-worker profile was kept"
stop_station
echo "ok"
