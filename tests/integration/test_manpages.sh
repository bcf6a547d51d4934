#!/bin/bash
# The man pages in man/: mandoc's linter finds nothing to warn about in any
# of them, cmake --install puts each in its section, ukeyctl(1) has an entry
# for every verb and names every option of `ukeyctl --help` (so the page
# cannot fall behind the CLI), and the example firmware profile of
# ukey-firmware-profile(5) is one that ukeyctl accepts.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
pg_skip "it starts no station and has no store: the SQLite pass runs it"

command -v mandoc >/dev/null || fail "mandoc is not installed"
PAGES="ukeyctl.1 ukeyd.8 ukeyd.conf.5 ukey-firmware-profile.5 ukey-cert-profile.5"

# ---- every page is there, and nothing else is
for p in $PAGES; do
	[ -s "$SRC/man/$p" ] || fail "man/$p: missing"
done
for f in "$SRC"/man/*; do
	grepq -xF "${f##*/}" <<<"$(tr ' ' '\n' <<<"$PAGES")" || fail "man/${f##*/}: not a page this test knows"
done

# ---- mandoc -Tlint -W warning: no output at all
for p in $PAGES; do
	set +e
	out=$(mandoc -Tlint -W warning "$SRC/man/$p" 2>&1)
	rc=$?
	set -e
	[ -z "$out" ] && [ "$rc" -eq 0 ] || fail "mandoc -Tlint -W warning man/$p (exit $rc):
$out"
done

# ---- cmake --install puts each page, unchanged, in its section
cmake --install "$BUILD" --prefix "$STATE/prefix" >"$STATE/install.log" 2>&1 ||
	{ cat "$STATE/install.log" >&2; fail "cmake --install --prefix"; }
for p in $PAGES; do
	cmp -s "$SRC/man/$p" "$STATE/prefix/share/man/man${p##*.}/$p" ||
		fail "man/$p: not installed as share/man/man${p##*.}/$p"
done

# ---- ukeyctl(1) against ukeyctl --help
# verbs_of: the usage text on stdin, one verb (the lower-case words that
# start a command line: "order import", "pending cancel") per line. Command
# lines are indented by exactly two spaces; group labels ("orders:") start
# at the margin and descriptions that do not fit are indented further.
verbs_of() {
	awk '/^  [a-z]/ {
	       line = $0
	       sub(/^ +/, "", line)
	       sub(/  .*/, "", line)		# the description after two spaces
	       n = split(line, w, " ")
	       v = ""
	       for (i = 1; i <= n && w[i] ~ /^[a-z][a-z-]*$/; i++)
	               v = v (v == "" ? "" : " ") w[i]
	       if (v != "") print v }'
}
# has_entry VERB PAGE_TEXT_FILE: a line of the rendered page starts with
# the verb (after the list's indent), as a COMMANDS entry does
has_entry() { grep -Eq "^ +$1( |\$)" "$2"; }

"$BUILD/ukeyctl" --help >"$STATE/usage.txt" || fail "ukeyctl --help exits non-zero"
# one line per entry and no hyphenation: -Owidth wide enough for the longest
mandoc -Tascii -Owidth=400 "$SRC/man/ukeyctl.1" | sed 's/.\x08//g' >"$STATE/ukeyctl.txt"
verbs_of <"$STATE/usage.txt" >"$STATE/verbs.txt"
n=$(wc -l <"$STATE/verbs.txt")
# the parser must find the verbs: far fewer means it broke, not the page
[ "$n" -ge 30 ] || fail "found only $n verbs in ukeyctl --help:
$(cat "$STATE/verbs.txt")"
grepq -x "order import" "$STATE/verbs.txt" && grepq -x "profiles udev-rules" "$STATE/verbs.txt" &&
	grepq -x "status" "$STATE/verbs.txt" || fail "verbs of ukeyctl --help not found: $(cat "$STATE/verbs.txt")"
missing=""
while read -r verb; do
	has_entry "$verb" "$STATE/ukeyctl.txt" || missing="$missing
  $verb"
done <"$STATE/verbs.txt"
[ -z "$missing" ] || fail "ukeyctl(1) has no entry for these verbs of ukeyctl --help:$missing"

# the check bites: a verb the page lacks, in the form of the usage text
printf 'usage: x\n       x help\n\norders:\n  order import FILE\n  order frobnicate ID [--x]  what\n                    more of what\n\nnote\n' |
	verbs_of >"$STATE/fake.txt"
[ "$(cat "$STATE/fake.txt")" = "order import
order frobnicate" ] || fail "verbs_of on a sample: $(cat "$STATE/fake.txt")"
! has_entry "order frobnicate" "$STATE/ukeyctl.txt" || fail "has_entry finds a verb the page lacks"

# every option of the usage text is named in the page
missing=""
for opt in $(grep -oE -- '--[a-z][a-z-]*' "$STATE/usage.txt" | sort -u); do
	grep -Eq -- "(^|[^a-z-])$opt([^a-z-]|\$)" "$STATE/ukeyctl.txt" || missing="$missing $opt"
done
[ -z "$missing" ] || fail "ukeyctl(1) does not name these options of ukeyctl --help:$missing"

# the exit codes of the usage text are in the page's EXIT STATUS
sed -n '/^EXIT STATUS/,/^[A-Z]/p' "$STATE/ukeyctl.txt" >"$STATE/exit.txt"
codes=$(tr '\n' ' ' <"$STATE/usage.txt" | sed 's/.*Exit codes://' | grep -oE '(^| )[0-9]+ [a-z]' |
	grep -oE '[0-9]+')
[ "$(wc -w <<<"$codes")" -ge 8 ] || fail "exit codes not found in ukeyctl --help: $codes"
for code in $codes; do
	grep -Eq "^ +$code( |\$)" "$STATE/exit.txt" || fail "ukeyctl(1) EXIT STATUS lacks $code"
done

# ---- the example profile of ukey-firmware-profile(5) is a good profile
mandoc -Tascii -Owidth=400 "$SRC/man/ukey-firmware-profile.5" | sed 's/.\x08//g' |
	awk '!on && /^       +\[token\]$/ { on = match($0, /[^ ]/) }	# the literal display
	     on && /[^ ]/ && match($0, /[^ ]/) < on { exit }		# the text after it
	     on { sub(/^ +/, ""); print }' \
	>"$STATE/example.conf"
grepq '^so_pin_length' "$STATE/example.conf" || fail "no example profile found in ukey-firmware-profile(5)"
"$BUILD/ukeyctl" profiles check "$STATE/example.conf" >"$STATE/check.out" 2>&1 ||
	fail "the example of ukey-firmware-profile(5) is refused: $(cat "$STATE/check.out")"

echo "test_manpages: ok ($n verbs)"
