/* Looking verbs up in the table, suggesting the nearest one to a mistyped
 * word, and parsing the options after a verb against what its row allows.
 * Callers get the message to show; only the integer readers print. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ctl/ctl.h"

#define MAX_WORDS 4

/* Points w at the start of each of v's words (each ends at a space or the
 * NUL; compare with word_is()). Returns how many. */
int
ctl_verb_words(const struct ctl_verb *v, const char **w, int max)
{
	const char *p = v->words;
	int n = 0;

	while (*p != '\0' && n < max) {
		w[n++] = p;
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return n;
}

/* The word at w (ending at a space or NUL) equals s. */
static int
word_is(const char *w, const char *s)
{
	size_t n = strcspn(w, " ");

	return strlen(s) == n && strncmp(w, s, n) == 0;
}

/* The first n words of v are argv[0..n-1]. */
static int
verb_starts_with(const struct ctl_verb *v, int n, char **argv)
{
	const char *w[MAX_WORDS];
	int k, nw = ctl_verb_words(v, w, MAX_WORDS);

	if (n > nw)
		return 0;
	for (k = 0; k < n; k++)
		if (!word_is(w[k], argv[k]))
			return 0;
	return 1;
}

/* Finds the verb whose words begin argv, the longest one ("pending cancel"
 * before "pending"). Returns how many words it has, or 0 with *out NULL. */
int
ctl_verb_lookup(int argc, char **argv, const struct ctl_verb **out)
{
	const char *w[MAX_WORDS];
	size_t i;
	int best = 0, n;

	*out = NULL;
	for (i = 0; i < ctl_nverbs; i++) {
		n = ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS);
		if (n <= argc && n > best && verb_starts_with(&ctl_verbs[i], n, argv)) {
			best = n;
			*out = &ctl_verbs[i];
		}
	}
	return best;
}

/* How many leading words of argv begin some verb ("order" of "order frob"). */
int
ctl_prefix_len(int argc, char **argv)
{
	size_t i;
	int n, best = 0;

	for (i = 0; i < ctl_nverbs; i++)
		for (n = best + 1; n <= argc && verb_starts_with(&ctl_verbs[i], n, argv); n++)
			best = n;
	return best;
}

/* Some verb has more words than these n and begins with them. */
int
ctl_is_group(int n, char **words)
{
	const char *w[MAX_WORDS];
	size_t i;

	for (i = 0; i < ctl_nverbs; i++)
		if (ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS) > n &&
		    verb_starts_with(&ctl_verbs[i], n, words))
			return 1;
	return 0;
}

/* Edit distance of a and the word at b, a swap of neighbours counting one
 * (optimal string alignment); words are short, capped at 31 bytes. */
static int
distance(const char *a, const char *b)
{
	int d[32][32], i, j, la = (int)strlen(a), lb = (int)strcspn(b, " ");

	if (la > 31 || lb > 31)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			int c = a[i - 1] != b[j - 1], m = d[i - 1][j - 1] + c;

			if (d[i - 1][j] + 1 < m)
				m = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < m)
				m = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < m)
				m = d[i - 2][j - 2] + 1;
			d[i][j] = m;
		}
	return d[la][lb];
}

/* How near typed is to the word w: a prefix of it counts 1; more than 2 is
 * not near. */
static int
nearness(const char *typed, const char *w)
{
	size_t n = strlen(typed);

	if (n >= 2 && n < strcspn(w, " ") && strncmp(typed, w, n) == 0)
		return 1;
	return distance(typed, w);
}

/* Verb i is not the first with these n words followed by word w. */
static int
named_before(size_t i, int n, char **words, const char *w)
{
	const char *x[MAX_WORDS];
	size_t k;

	for (k = 0; k < i; k++)
		if (ctl_verb_words(&ctl_verbs[k], x, MAX_WORDS) > n &&
		    verb_starts_with(&ctl_verbs[k], n, words) &&
		    strcspn(x[n], " ") == strcspn(w, " ") && strncmp(x[n], w, strcspn(w, " ")) == 0)
			return 1;
	return 0;
}

/* Writes to buf, comma separated, the words that may follow the n words
 * given (the first words of all verbs when n is 0) nearest to typed.
 * Returns how many; 0 (buf "") when none is near. */
size_t
ctl_suggest(int n, char **words, const char *typed, char *buf, size_t len)
{
	const char *w[MAX_WORDS];
	int best = 3, pass, d;
	size_t i, count = 0, used = 0;

	buf[0] = '\0';
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < ctl_nverbs; i++) {
			if (ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS) <= n ||
			    !verb_starts_with(&ctl_verbs[i], n, words))
				continue;
			d = nearness(typed, w[n]);
			if (pass == 0 && d < best)
				best = d;
			if (pass == 0 || d != best || best > 2 || named_before(i, n, words, w[n]) ||
			    used >= len)
				continue;
			used += (size_t)snprintf(buf + used, len - used, "%s%.*s",
			    count ? ", " : "", (int)strcspn(w[n], " "), w[n]);
			count++;
		}
	return count;
}

/* The option named name (no dashes), or -1. */
int
ctl_option_find(const char *name)
{
	int i;

	for (i = 0; i < OPT_COUNT; i++)
		if (strcmp(ctl_options[i].name, name) == 0)
			return i;
	return -1;
}

/* Parses argv (what follows the verb's words) into a: --name VALUE,
 * --name=VALUE, flags, -h, and "--" before positionals that begin with a
 * dash. Returns 0, or UKEY_ERR_INVAL with the reason in why. The count of
 * positionals is checked, unless --help was given. */
int
ctl_args_parse(const struct ctl_verb *v, int argc, char **argv, struct ctl_args *a,
    char *why, size_t len)
{
	int i, o, dashdash = 0;

	memset(a, 0, sizeof(*a));
	why[0] = '\0';
	if ((a->pos = calloc((size_t)argc + 1, sizeof(*a->pos))) == NULL) {
		snprintf(why, len, "out of memory");
		return UKEY_ERR_NOMEM;
	}
	for (i = 0; i < argc; i++) {
		char *arg = argv[i], *eq;
		size_t nlen;
		char name[64];

		if (dashdash || arg[0] != '-' || arg[1] == '\0') {
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if (strcmp(arg, "-h") == 0)
			arg = "--help";
		nlen = (eq = strchr(arg, '=')) ? (size_t)(eq - arg) : strlen(arg);
		snprintf(name, sizeof(name), "%.*s", (int)nlen, arg);
		if (strcmp(name, "--socket") == 0) {
			snprintf(why, len, "option --socket goes before the command: ukeyctl "
			    "--socket PATH %s ...", v->words);
			return UKEY_ERR_INVAL;
		}
		if (strncmp(name, "--", 2) != 0 || (o = ctl_option_find(name + 2)) < 0) {
			snprintf(why, len, "unknown option %s for 'ukeyctl %s'", name, v->words);
			return UKEY_ERR_INVAL;
		}
		if (o != OPT_HELP && !(v->opts & (UINT64_C(1) << o))) {
			snprintf(why, len, "option %s is not accepted here: 'ukeyctl %s' does not "
			    "take %s", name, v->words, name);
			return UKEY_ERR_INVAL;
		}
		if (ctl_options[o].metavar == NULL && eq != NULL) {
			snprintf(why, len, "%s takes no value", name);
			return UKEY_ERR_INVAL;
		}
		if (ctl_options[o].metavar != NULL && eq == NULL && i + 1 >= argc) {
			snprintf(why, len, "%s needs a value (%s %s)", name, name,
			    ctl_options[o].metavar);
			return UKEY_ERR_INVAL;
		}
		a->val[o] = ctl_options[o].metavar == NULL ? "" : eq ? eq + 1 : argv[++i];
	}
	if (a->val[OPT_HELP] != NULL)
		return 0;
	if (a->npos < v->min_pos) {
		snprintf(why, len, "%s: %s is required", v->words, v->pos);
		return UKEY_ERR_INVAL;
	}
	if (v->max_pos >= 0 && a->npos > v->max_pos) {
		snprintf(why, len, "%s: unexpected argument \"%s\"", v->words, a->pos[v->max_pos]);
		return UKEY_ERR_INVAL;
	}
	return 0;
}

/* Reads a non-negative integer; prints why not and returns -1. */
int
ctl_parse_int(const char *s, const char *what, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "ukeyctl: %s: \"%s\" is not a non-negative integer\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* The integer value of option o (0 when not given), or -1 after a message. */
int
ctl_arg_int(const struct ctl_args *a, enum ctl_opt o, int64_t *out)
{
	char what[64];

	*out = 0;
	if (a->val[o] == NULL)
		return 0;
	snprintf(what, sizeof(what), "--%s", ctl_options[o].name);
	return ctl_parse_int(a->val[o], what, out);
}
