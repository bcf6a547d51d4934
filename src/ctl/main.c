/* ukeyctl: the station's admin CLI. main() reads the options before the
 * command, finds the command in the verb table (table.c) and runs its
 * handler; each verb becomes requests on the daemon's control socket. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

/* Prints the words joined by spaces. */
static void
print_words(FILE *f, int n, char **words)
{
	int k;

	for (k = 0; k < n; k++)
		fprintf(f, "%s%s", k ? " " : "", words[k]);
}

/* words[n] follows the n words of a group but is none of its verbs. */
static int
unknown_verb(int n, char **words)
{
	char near[256];

	fputs("ukeyctl: ", stderr);
	print_words(stderr, n, words);
	if (words[n][0] == '-') {
		fprintf(stderr, ": a command is needed before %s\n", words[n]);
	} else {
		fprintf(stderr, ": unknown verb \"%s\"", words[n]);
		if (ctl_suggest(n, words, words[n], near, sizeof(near)) > 0)
			fprintf(stderr, "; did you mean: %s?", near);
		fputc('\n', stderr);
	}
	ctl_group_usage(stderr, n, words);
	return EXIT_USAGE;
}

/* The words are no verb: unknown, or only the start of some. */
static int
no_verb(int argc, char **argv)
{
	int depth = ctl_prefix_len(argc, argv);
	char near[256];

	if (depth == 0) {
		fprintf(stderr, "ukeyctl: unknown command \"%s\"", argv[0]);
		if (ctl_suggest(0, argv, argv[0], near, sizeof(near)) > 0)
			fprintf(stderr, "; did you mean: %s?", near);
		fprintf(stderr, " (see ukeyctl --help)\n");
		return EXIT_USAGE;
	}
	if (depth < argc && (strcmp(argv[depth], "--help") == 0 ||
	    strcmp(argv[depth], "-h") == 0)) {
		ctl_group_usage(stdout, depth, argv);
		return EXIT_OK;
	}
	if (depth < argc)
		return unknown_verb(depth, argv);
	fputs("ukeyctl: ", stderr);
	print_words(stderr, depth, argv);
	fputs(": which one?\n", stderr);
	ctl_group_usage(stderr, depth, argv);
	return EXIT_USAGE;
}

/* Finds the verb argv begins with, parses what follows it and runs it. */
static int
dispatch(int argc, char **argv)
{
	const struct ctl_verb *v;
	struct ctl_args a;
	char why[512];
	int nw = ctl_verb_lookup(argc, argv, &v), ex;

	if (v == NULL)
		return no_verb(argc, argv);
	/* "profiles frobnicate": a mistyped verb, not an argument */
	if (v->max_pos == 0 && nw < argc && argv[nw][0] != '-' && ctl_is_group(nw, argv))
		return unknown_verb(nw, argv);
	if (ctl_args_parse(v, argc - nw, argv + nw, &a, why, sizeof(why)) != 0) {
		fprintf(stderr, "ukeyctl: %s\n", why);
		ctl_verb_usage(stderr, v);
		ex = EXIT_USAGE;
	} else if (a.val[OPT_HELP] != NULL) {
		ctl_verb_usage(stdout, v);
		ex = EXIT_OK;
	} else {
		if (a.val[OPT_JSON] != NULL)
			ctl_json = 1;
		ex = v->run(v, &a);
	}
	free(a.pos);
	return ex;
}

/* The value of a global option at argv[*i] ("--state DIR", "--state=DIR",
 * "-s DIR"), or NULL when it is not that option. */
static const char *
global_value(int argc, char **argv, int *i, const char *lng, const char *shrt, int *missing)
{
	size_t n = strlen(lng);

	if (strncmp(argv[*i], lng, n) == 0 && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (strcmp(argv[*i], lng) != 0 && strcmp(argv[*i], shrt) != 0)
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* Reads the options before the command; returns the index of the command,
 * or -1 with *ex set (usage printed, or an error). */
static int
global_opts(int argc, char **argv, const char **state, int *ex)
{
	int i, missing = 0;
	const char *val;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if ((val = global_value(argc, argv, &i, "--state", "-s", &missing)) != NULL) {
			*state = val;
		} else if ((val = global_value(argc, argv, &i, "--socket", "-S", &missing)) != NULL) {
			ctl_sock_path = val;
		} else if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0) {
			ctl_json = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ctl_usage(stdout);
			*ex = EXIT_OK;
			return -1;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("ukeyctl %s\n", UKEY_VERSION);
			*ex = EXIT_OK;
			return -1;
		} else if (strcmp(argv[i], "--") == 0) {
			return i + 1;
		} else if (!missing && strncmp(argv[i], "--", 2) == 0 &&
		    ctl_option_find(argv[i] + 2) >= 0) {
			fprintf(stderr, "ukeyctl: option %s goes after the command that takes it"
			    " (ukeyctl COMMAND %s ...; see ukeyctl --help)\n", argv[i], argv[i]);
			*ex = EXIT_USAGE;
			return -1;
		} else {
			fprintf(stderr, missing ? "ukeyctl: %s needs a value\n" :
			    "ukeyctl: unknown option %s before the command (see ukeyctl --help)\n",
			    argv[i]);
			*ex = EXIT_USAGE;
			return -1;
		}
	}
	return i;
}

int
main(int argc, char **argv)
{
	static char path[600];
	const char *state = getenv("UKEY_STATE");
	int i, ex = EXIT_USAGE;

	/* a daemon that closes the connection is an error to report, not a
	 * signal to die of (exit 141 says nothing) */
	signal(SIGPIPE, SIG_IGN);
	if (state == NULL || state[0] == '\0')
		state = "/var/lib/ukey-station";
	if ((i = global_opts(argc, argv, &state, &ex)) < 0)
		return ex;
	if (ctl_sock_path == NULL) {
		snprintf(path, sizeof(path), "%s/ukeyd.sock", state);
		ctl_sock_path = path;
	}
	if (i >= argc) {
		ctl_usage(stderr);
		return EXIT_USAGE;
	}
	return dispatch(argc - i, argv + i);
}
