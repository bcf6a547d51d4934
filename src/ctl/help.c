/* ukeyctl's help and shell completion, both generated from the verb table:
 * the whole usage (--help), one verb's (help VERB, VERB --help), and the
 * bash completion script (completion bash). */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

#define MAX_WORDS 4

/* "order approve ID [--override-reason TEXT]" with its summary after it,
 * on the same line when it fits. */
static void
verb_line(FILE *f, const struct ctl_verb *v)
{
	int n = fprintf(f, "  %s%s%s", v->words, v->usage[0] ? " " : "", v->usage);

	if (n > 40)
		fprintf(f, "\n%42s", "");
	else
		fprintf(f, "%*s", 42 - n, "");
	fprintf(f, "%s\n", v->summary);
}

/* The whole usage, by section in the order the table first names them:
 * a verb added at the end of the table joins its section's list. */
void
ctl_usage(FILE *f)
{
	size_t i, j, k;

	fprintf(f, "usage: ukeyctl [--state DIR | --socket PATH] [--json] COMMAND [ARGS]\n"
	    "       ukeyctl help [COMMAND...] | ukeyctl COMMAND... --help | ukeyctl --version\n");
	for (i = 0; i < ctl_nverbs; i++) {
		for (k = 0; k < i && strcmp(ctl_verbs[k].section, ctl_verbs[i].section) != 0; k++)
			;
		if (k < i)
			continue;	/* listed with the first of its section */
		fprintf(f, "\n%s:\n", ctl_verbs[i].section);
		for (j = i; j < ctl_nverbs; j++)
			if (strcmp(ctl_verbs[j].section, ctl_verbs[i].section) == 0)
				verb_line(f, &ctl_verbs[j]);
	}
	fprintf(f, "\n"
	    "The socket is DIR/ukeyd.sock (DIR from --state, else $UKEY_STATE, else\n"
	    "/var/lib/ukey-station). Exit codes: 0 done; 1 refused by the station; 2 not\n"
	    "found; 3 held for a second user's confirmation (nothing done yet; see\n"
	    "ukeyctl pending); 64 usage; 65 invalid input; 66 input file unreadable;\n"
	    "69 daemon not running; 75 busy, timed out, or the daemon closed the\n"
	    "connection; 77 permission denied. --json goes before or after the command.\n");
}

/* One verb's usage line; on stdout (help) also its summary and options. */
void
ctl_verb_usage(FILE *f, const struct ctl_verb *v)
{
	int o, n = 0;

	fprintf(f, "usage: ukeyctl %s%s%s\n", v->words, v->usage[0] ? " " : "", v->usage);
	if (f == stderr)
		return;
	fprintf(f, "  %s\noptions:", v->summary);
	for (o = 0; o < OPT_COUNT; o++)
		if ((v->opts & (UINT64_C(1) << o)) || o == OPT_HELP)
			fprintf(f, "%s --%s%s%s", n++ ? "," : "", ctl_options[o].name,
			    ctl_options[o].metavar ? " " : "",
			    ctl_options[o].metavar ? ctl_options[o].metavar : "");
	fprintf(f, "\n");
}

/* The usage of every verb that begins with these n words. */
void
ctl_group_usage(FILE *f, int n, char **words)
{
	const char *w[MAX_WORDS];
	size_t i;
	int k, match;

	fprintf(f, "usage:\n");
	for (i = 0; i < ctl_nverbs; i++) {
		match = ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS) >= n;
		for (k = 0; k < n && match; k++)
			match = strncmp(w[k], words[k], strlen(words[k])) == 0 &&
			    (w[k][strlen(words[k])] == ' ' || w[k][strlen(words[k])] == '\0');
		if (match)
			verb_line(f, &ctl_verbs[i]);
	}
}

/* Unless ok, says that what (an option and its value) is required, with
 * v's usage. Returns ok. */
int
ctl_need(const struct ctl_verb *v, const char *what, int ok)
{
	if (!ok) {
		fprintf(stderr, "ukeyctl: %s is required\n", what);
		ctl_verb_usage(stderr, v);
	}
	return ok;
}

/* ukeyctl help [COMMAND...] */
int
verb_help(const struct ctl_verb *v, const struct ctl_args *a)
{
	const struct ctl_verb *h;
	int n;

	if (a->npos == 0) {
		ctl_usage(stdout);
		return EXIT_OK;
	}
	n = ctl_verb_lookup(a->npos, a->pos, &h);
	if (h != NULL && n == a->npos) {
		ctl_verb_usage(stdout, h);
		return EXIT_OK;
	}
	if (ctl_prefix_len(a->npos, a->pos) == a->npos) {
		ctl_group_usage(stdout, a->npos, a->pos);
		return EXIT_OK;
	}
	fprintf(stderr, "ukeyctl: help: no command \"%s\" (see ukeyctl --help)\n", a->pos[0]);
	return EXIT_USAGE;
}

/* The option names a verb takes, for completion. */
static void
print_opts(FILE *f, uint64_t opts)
{
	int o, n = 0;

	for (o = 0; o < OPT_COUNT; o++)
		if ((opts & (UINT64_C(1) << o)) || o == OPT_HELP)
			fprintf(f, "%s--%s", n++ ? " " : "", ctl_options[o].name);
}

/* Verbs a and b both have more than n words and share the first m. */
static int
share(size_t a, size_t b, int n, int m)
{
	const char *w[MAX_WORDS], *x[MAX_WORDS];
	int k;

	if (ctl_verb_words(&ctl_verbs[a], w, MAX_WORDS) <= n ||
	    ctl_verb_words(&ctl_verbs[b], x, MAX_WORDS) <= n)
		return 0;
	for (k = 0; k < m; k++)
		if (strcspn(w[k], " ") != strcspn(x[k], " ") ||
		    strncmp(w[k], x[k], strcspn(w[k], " ")) != 0)
			return 0;
	return 1;
}

/* Verb i has more than n words and is the first with its first m. */
static int
first_with(size_t i, int n, int m)
{
	size_t k;

	if (!share(i, i, n, 0))
		return 0;
	for (k = 0; k < i; k++)
		if (share(k, i, n, m))
			return 0;
	return 1;
}

/* The case arm for the words a group's n words (of verb i) may be followed
 * by; with the options of the verb of exactly those words, if there is one. */
static void
group_arm(FILE *f, size_t i, int n)
{
	const char *w[MAX_WORDS], *x[MAX_WORDS];
	size_t k, len;
	int c = 0;

	ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS);
	len = n ? (size_t)(w[n] - w[0]) - 1 : 0;	/* the n words, no space after */
	fprintf(f, "\t\"%.*s\") words=\"", (int)len, ctl_verbs[i].words);
	for (k = 0; k < ctl_nverbs; k++)
		if (share(k, i, n, n) && first_with(k, n, n + 1)) {
			ctl_verb_words(&ctl_verbs[k], x, MAX_WORDS);
			fprintf(f, "%s%.*s", c++ ? " " : "", (int)strcspn(x[n], " "), x[n]);
		}
	fprintf(f, "\" opts=\"");
	if (n == 0)
		fprintf(f, "--state --socket --json --help");
	for (k = 0; k < ctl_nverbs && n > 0; k++)
		if (strlen(ctl_verbs[k].words) == len &&
		    strncmp(ctl_verbs[k].words, ctl_verbs[i].words, len) == 0)
			print_opts(f, ctl_verbs[k].opts);
	fprintf(f, "\" ;;\n");
}

/* Prints the bash completion script: the words typed so far (options and
 * their values left out) pick a case arm that names what may come next. */
int
ctl_completion_bash(FILE *f)
{
	const char *w[MAX_WORDS];
	size_t i;
	int o, n, c = 0;

	fprintf(f, "# bash completion for ukeyctl; generated by `ukeyctl completion bash`\n"
	    "_ukeyctl() {\n"
	    "\tlocal cur=${COMP_WORDS[COMP_CWORD]} key=\"\" words=\"\" opts=\"\" w i\n"
	    "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	    "\t\tw=${COMP_WORDS[i]}\n"
	    "\t\tcase $w in\n\t\t--socket");
	for (o = 0; o < OPT_COUNT; o++)
		if (ctl_options[o].metavar != NULL)
			fprintf(f, "|--%s", ctl_options[o].name);
	fprintf(f, ") ((i++)) ;;\n\t\t-*) ;;\n\t\t*) key+=${key:+ }$w ;;\n\t\tesac\n\tdone\n"
	    "\tcase $key in\n");
	group_arm(f, 0, 0);
	for (i = 0; i < ctl_nverbs; i++)
		for (n = 1; n < ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS); n++)
			if (first_with(i, n, n))
				group_arm(f, i, n);
	/* longer verbs first: "pending cancel 3" is not "pending" */
	for (n = MAX_WORDS; n >= 1; n--)
		for (i = 0; i < ctl_nverbs; i++)
			if (ctl_verb_words(&ctl_verbs[i], w, MAX_WORDS) == n) {
				fprintf(f, "\t\"%s\"|\"%s \"*) opts=\"", ctl_verbs[i].words,
				    ctl_verbs[i].words);
				print_opts(f, ctl_verbs[i].opts);
				fprintf(f, "\" ;;\n");
				c++;
			}
	fprintf(f, "\tesac\n"
	    "\tif [[ $cur == -* ]]; then\n"
	    "\t\tmapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")\n"
	    "\telif [[ -n $words ]]; then\n"
	    "\t\tmapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n"
	    "\telse\n"
	    "\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
	    "\tfi\n"
	    "}\n"
	    "complete -F _ukeyctl ukeyctl\n");
	return c > 0 ? 0 : -1;
}

/* ukeyctl completion bash */
int
verb_completion(const struct ctl_verb *v, const struct ctl_args *a)
{
	if (strcmp(a->pos[0], "bash") != 0) {
		fprintf(stderr, "ukeyctl: completion: no script for \"%s\"; there is one for bash\n",
		    a->pos[0]);
		return EXIT_USAGE;
	}
	ctl_completion_bash(stdout);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_TEMPFAIL;
}
