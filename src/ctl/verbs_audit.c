/* ukeyctl's audit verbs: serials, the log, verification (by the daemon or
 * offline, with a witness), export, checkpoints, keys (docs/audit.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/pem.h>

#include "common/err.h"
#include "common/jsontext.h"
#include "ctl/ctl.h"
#include "store/db.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/witness.h"

/* One line per chain: its station, what verified, or where it broke. */
static void
print_stations(struct json_object *res)
{
	struct json_object *arr = json_object_object_get(res, "stations"), *st;
	size_t i, n = arr ? json_object_array_length(arr) : 0;
	const char *name, *key;

	for (i = 0; i < n; i++) {
		st = json_object_array_get_idx(arr, i);
		name = json_object_get_string(json_object_object_get(st, "station"));
		key = json_object_get_string(json_object_object_get(st, "key_id"));
		if (name == NULL || name[0] == '\0')
			printf("records before per-station chains:");
		else
			printf("station %s:", name);
		if (json_object_get_boolean(json_object_object_get(st, "ok")))
			printf(" OK: %lld records (seq %lld-%lld%s), %lld checkpoints, last signed seq"
			    " %lld, %lld unsigned, key %.16s\n", (long long)jint(st, "records"),
			    (long long)jint(st, "first_seq"), (long long)jint(st, "last_seq"),
			    jint(st, "verified_before") ? ", new since the last verification" : "",
			    (long long)jint(st, "checkpoints"), (long long)jint(st, "last_signed_seq"),
			    (long long)jint(st, "unsigned"), key ? key : "(none registered)");
		else if (jint(st, "bad_id"))
			printf(" BROKEN at record id %lld (seq %lld): %s\n", (long long)jint(st, "bad_id"),
			    (long long)jint(st, "bad_seq"), jstr(st, "reason"));
		else if (jint(st, "bad_seq"))
			printf(" BROKEN at record seq %lld: %s\n", (long long)jint(st, "bad_seq"),
			    jstr(st, "reason"));
		else
			printf(" BROKEN at checkpoint %lld: %s\n", (long long)jint(st, "bad_checkpoint"),
			    jstr(st, "reason"));
	}
}

/* Prints a verification report (audit_report_json's form) and returns the
 * exit code: 0 intact, 1 broken. */
static int
audit_print_report(struct json_object *res)
{
	int ok = json_object_get_boolean(json_object_object_get(res, "ok"));
	int64_t unsigned_n = jint(res, "unsigned");
	struct json_object *w;

	if (ctl_json) {
		print_json(res);
		return ok ? EXIT_OK : EXIT_REFUSED;
	}
	if (ok) {
		printf("audit log OK: %lld records, %lld checkpoints, last signed record %lld\n",
		    (long long)jint(res, "records"), (long long)jint(res, "checkpoints"),
		    (long long)jint(res, "last_signed_id"));
		if (unsigned_n > 0)
			printf("note: %lld records after the last checkpoint are not signed yet\n",
			    (long long)unsigned_n);
		if ((w = json_object_object_get(res, "witness")) != NULL)
			printf("witness: the log holds all %lld heads witnessed (the latest at record"
			    " %lld)\n", (long long)jint(w, "heads"), (long long)jint(w, "records"));
		if (json_object_get_boolean(json_object_object_get(res, "incremental")))
			printf("incremental: records up to each station's last checkpoint that the"
			    " previous verification found intact were not read again (--full reads"
			    " everything)\n");
	} else if (json_object_object_get(res, "first_bad") != NULL) {
		printf("audit log BROKEN at record %lld: %s\n", (long long)jint(res, "first_bad"),
		    json_object_get_string(json_object_object_get(res, "reason")));
	} else if (json_object_object_get(res, "bad_checkpoint") != NULL) {
		printf("audit log BROKEN at checkpoint %lld: %s\n", (long long)jint(res, "bad_checkpoint"),
		    json_object_get_string(json_object_object_get(res, "reason")));
	} else {
		printf("audit log BROKEN: %s\n",
		    json_object_get_string(json_object_object_get(res, "reason")));
	}
	print_stations(res);
	return ok ? EXIT_OK : EXIT_REFUSED;
}

/* Reads the witness file at path into ws, checking every line's signature
 * with pub. Returns EXIT_OK, or prints why and returns the exit code. */
static int
witness_load(const char *path, EVP_PKEY *pub, struct witness_set *ws)
{
	char why[256];
	FILE *f;
	int rc;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "ukeyctl: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_NOINPUT;
	}
	rc = witness_read(f, pub, ws, why, sizeof(why));
	fclose(f);
	if (rc == 0 && ws->lines > 0)
		return EXIT_OK;
	/* a file with no witness line (the wrong file) vouches for nothing */
	if (rc == 0) {
		snprintf(why, sizeof(why), "no witness line (%s) in %" PRId64 " lines", WITNESS_TAG,
		    ws->skipped);
		rc = UKEY_ERR_VERIFY;
	}
	if (rc != UKEY_ERR_VERIFY) {
		fprintf(stderr, "ukeyctl: %s: %s\n", path, why[0] ? why : ukey_strerror(rc));
		return rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_REFUSED;
	}
	if (ctl_json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "ok", json_object_new_boolean(0));
		json_object_object_add(o, "witness_refused", json_object_new_boolean(1));
		json_object_object_add(o, "reason", json_object_new_string(why));
		print_json(o);
		json_object_put(o);
	} else {
		printf("audit witness REFUSED: %s: %s\n", path, why);
	}
	return EXIT_REFUSED;
}

/* The daemon's audit public key, for checking a witness in daemon mode. */
static int
daemon_pubkey(EVP_PKEY **out)
{
	struct json_object *rep, *res;
	const char *pem;
	BIO *bio = NULL;
	int ex;

	*out = NULL;
	if ((ex = ctl_run("audit.pubkey", NULL, &rep, &res)) != EXIT_OK)
		goto out;
	pem = json_object_get_string(json_object_object_get(res, "pem"));
	if (pem == NULL || (bio = BIO_new_mem_buf(pem, -1)) == NULL ||
	    (*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "ukeyctl: the daemon's audit public key does not parse\n");
		ex = EXIT_DATAERR;
	}
 out:
	BIO_free(bio);
	json_object_put(rep);
	return ex;
}

#define WITNESS_BATCH 10000	/* heads a request carries: well under FRAME_MAX_CONTROL */

/* The daemon verifies its database; with a witness, ukeyctl checks the
 * witness lines' signatures and sends the heads in batches, each verified
 * against the whole log, and prints the first broken report or the last. */
static int
audit_verify_daemon(const char *witness, const char *pubkey, const char *station, int full)
{
	struct witness_set ws = { 0 };
	struct json_object *rep = NULL, *res = NULL;
	EVP_PKEY *pub = NULL;
	int64_t heads = 0, maxrec = 0;
	size_t done = 0;
	int ex, rc;

	if (witness == NULL) {
		struct json_object *args = json_object_new_object();

		ctl_add_str(args, "station", station);
		if (full)
			json_object_object_add(args, "full", json_object_new_boolean(1));
		if ((ex = ctl_run("audit.verify", args, &rep, &res)) == EXIT_OK)
			ex = audit_print_report(res);
		json_object_put(rep);
		return ex;
	}
	if (pubkey != NULL) {
		if ((rc = audit_pubkey_read(pubkey, &pub)) != 0) {
			fprintf(stderr, "ukeyctl: %s: %s\n", pubkey, rc == UKEY_ERR_IO ?
			    "cannot read the public key" : "not an Ed25519 public key in PEM");
			return rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_DATAERR;
		}
	} else if ((ex = daemon_pubkey(&pub)) != EXIT_OK) {
		return ex;
	}
	if ((ex = witness_load(witness, pub, &ws)) != EXIT_OK)
		goto out;
	do {
		struct json_object *args = json_object_new_object(), *arr = json_object_new_array();
		size_t i, n = ws.n - done < WITNESS_BATCH ? ws.n - done : WITNESS_BATCH;
		struct json_object *w;

		for (i = done; i < done + n; i++) {
			struct json_object *pt = json_object_new_object();

			json_object_object_add(pt, "line", json_object_new_int64(ws.p[i].line));
			json_object_object_add(pt, "records", json_object_new_int64(ws.p[i].records));
			json_object_object_add(pt, "head", json_object_new_string(ws.p[i].head));
			json_object_object_add(pt, "at", json_object_new_string(ws.p[i].at));
			json_object_object_add(pt, "station", json_object_new_string(ws.p[i].station));
			json_object_array_add(arr, pt);
		}
		json_object_object_add(args, "witness", arr);
		ctl_add_str(args, "station", station);
		done += n;
		json_object_put(rep);
		rep = NULL;
		if ((ex = ctl_run("audit.verify", args, &rep, &res)) != EXIT_OK)
			goto out;
		if (!json_object_get_boolean(json_object_object_get(res, "ok")))
			break;
		w = json_object_object_get(res, "witness");
		heads += json_object_get_int64(json_object_object_get(w, "heads"));
		if (json_object_get_int64(json_object_object_get(w, "records")) > maxrec)
			maxrec = json_object_get_int64(json_object_object_get(w, "records"));
		if (done == ws.n) {
			json_object_object_add(w, "heads", json_object_new_int64(heads));
			json_object_object_add(w, "records", json_object_new_int64(maxrec));
		}
	} while (done < ws.n);
	ex = audit_print_report(res);
 out:
	json_object_put(rep);
	witness_set_clear(&ws);
	EVP_PKEY_free(pub);
	return ex;
}

/* Verifies an export file or a database file with the station's public key,
 * with no daemon; with a witness file, also against the heads it saw. */
static int
audit_verify_offline(const char *file, const char *db, const char *pubkey, const char *witness,
    const char *station)
{
	struct witness_set ws = { 0 };
	struct audit_report rep;
	struct json_object *res;
	EVP_PKEY *pub = NULL;
	FILE *f = NULL;
	int rc, ex;

	if ((rc = audit_pubkey_read(pubkey, &pub)) != 0) {
		fprintf(stderr, "ukeyctl: %s: %s\n", pubkey, rc == UKEY_ERR_IO ?
		    "cannot read the public key" : "not an Ed25519 public key in PEM");
		return rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_DATAERR;
	}
	/* the witness is read before the log, so that every head in it is one
	 * the log had already reached */
	if (witness != NULL && (ex = witness_load(witness, pub, &ws)) != EXIT_OK)
		goto out;
	if (file != NULL) {
		if ((f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r")) == NULL) {
			fprintf(stderr, "ukeyctl: cannot read %s: %s\n", file, strerror(errno));
			ex = EXIT_NOINPUT;
			goto out;
		}
		rc = audit_verify_export(f, pub, station, witness ? &ws : NULL, &rep);
		if (f != stdin)
			fclose(f);
	} else {
		/* a file is checked here; a PostgreSQL url is the library's to open */
		if (!db_url_is_pg(db) && access(db, R_OK) != 0) {
			fprintf(stderr, "ukeyctl: cannot read %s: %s\n", db, strerror(errno));
			ex = EXIT_NOINPUT;
			goto out;
		}
		rc = audit_verify_db_file(db, pub, station, witness ? &ws : NULL, &rep);
	}
	if (rc != 0 && rc != UKEY_ERR_VERIFY) {
		fprintf(stderr, "ukeyctl: audit verify: %s\n", ukey_strerror(rc));
		ex = rc == UKEY_ERR_IO ? EXIT_NOINPUT : EXIT_REFUSED;
		goto out;
	}
	res = audit_report_json(&rep);
	ex = audit_print_report(res);
	json_object_put(res);
 out:
	witness_set_clear(&ws);
	EVP_PKEY_free(pub);
	return ex;
}

/* Where an export goes: stdout, or a temporary file next to output that
 * takes its name only when complete, so that a refused or broken export
 * leaves no file, and an earlier export of that name as it was. */
struct export_out {
	FILE *f;
	const char *output;
	char *tmp;
};

static int
export_open(struct export_out *o, const char *output)
{
	mode_t um;
	int fd;

	o->f = stdout;
	o->output = output;
	o->tmp = NULL;
	if (output == NULL)
		return EXIT_OK;
	if (asprintf(&o->tmp, "%s.XXXXXX", output) < 0) {
		o->tmp = NULL;
		fprintf(stderr, "ukeyctl: out of memory\n");
		return EXIT_TEMPFAIL;
	}
	if ((fd = mkstemp(o->tmp)) < 0) {
		fprintf(stderr, "ukeyctl: cannot write %s: %s\n", output, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		return EXIT_NOINPUT;
	}
	um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);	/* as fopen would create it */
	if ((o->f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "ukeyctl: cannot write %s: %s\n", output, strerror(errno));
		close(fd);
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return EXIT_NOINPUT;
	}
	return EXIT_OK;
}

/* Flushes and closes the export; renames it into place when ex is EXIT_OK,
 * else removes it. Returns the exit code. */
static int
export_close(struct export_out *o, int ex)
{
	const char *name = o->output ? o->output : "stdout";

	if (fflush(o->f) != 0 || ferror(o->f) || (o->f != stdout && fsync(fileno(o->f)) != 0)) {
		fprintf(stderr, "ukeyctl: writing %s: %s\n", name, strerror(errno));
		if (ex == EXIT_OK)
			ex = EXIT_NOINPUT;
	}
	if (o->f != stdout && fclose(o->f) != 0 && ex == EXIT_OK) {
		fprintf(stderr, "ukeyctl: writing %s: %s\n", name, strerror(errno));
		ex = EXIT_NOINPUT;
	}
	if (o->tmp != NULL) {
		if (ex == EXIT_OK && rename(o->tmp, o->output) != 0) {
			fprintf(stderr, "ukeyctl: cannot write %s: %s\n", o->output, strerror(errno));
			ex = EXIT_NOINPUT;
		}
		if (ex != EXIT_OK)
			unlink(o->tmp);
		free(o->tmp);
	}
	return ex;
}

/* Pages one kind ("records" or "checkpoints") out of the daemon as JSON
 * lines, up to record *upto (-1: the daemon sets it on the first page). */
static int
export_pages(FILE *out, const char *what, const char *key, int64_t *upto, int64_t *lines)
{
	int64_t after = 0;
	int ex;

	for (;;) {
		struct json_object *args = json_object_new_object(), *rep, *res, *items;
		size_t i, n;

		json_object_object_add(args, "what", json_object_new_string(what));
		json_object_object_add(args, "after", json_object_new_int64(after));
		json_object_object_add(args, "limit", json_object_new_int64(2000));
		if (*upto >= 0)
			json_object_object_add(args, "upto", json_object_new_int64(*upto));
		if ((ex = ctl_run("audit.export", args, &rep, &res)) != EXIT_OK) {
			json_object_put(rep);
			return ex;
		}
		*upto = json_object_get_int64(json_object_object_get(res, "upto"));
		items = json_object_object_get(res, "items");
		n = json_object_array_length(items);
		for (i = 0; i < n; i++) {
			struct json_object *it = json_object_array_get_idx(items, i);

			fprintf(out, "%s\n", json_object_to_json_string_ext(it,
			    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			after = json_object_get_int64(json_object_object_get(it, key));
			(*lines)++;
		}
		json_object_put(rep);
		if (n == 0)
			return EXIT_OK;
	}
}

/* The stations' registered keys: one page, a few lines. */
static int
export_keys(FILE *out, int64_t *lines)
{
	struct json_object *args = json_object_new_object(), *rep, *res, *items;
	size_t i, n;
	int ex;

	json_object_object_add(args, "what", json_object_new_string("keys"));
	if ((ex = ctl_run("audit.export", args, &rep, &res)) != EXIT_OK) {
		json_object_put(rep);
		return ex;
	}
	items = json_object_object_get(res, "items");
	n = json_object_array_length(items);
	for (i = 0; i < n; i++, (*lines)++)
		fprintf(out, "%s\n", json_object_to_json_string_ext(json_object_array_get_idx(items, i),
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(rep);
	return EXIT_OK;
}

/* ukeyctl audit export [--output FILE]: the keys, the records, then the
 * checkpoints. */
int
verb_audit_export(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *output = a->val[OPT_OUTPUT];
	struct export_out o;
	int64_t upto = -1, lines = 0;
	int ex;

	if ((ex = export_open(&o, output)) != EXIT_OK)
		return ex;
	ex = export_keys(o.f, &lines);
	if (ex == EXIT_OK)
		ex = export_pages(o.f, "records", "id", &upto, &lines);
	if (ex == EXIT_OK)
		ex = export_pages(o.f, "checkpoints", "checkpoint", &upto, &lines);
	ex = export_close(&o, ex);
	if (ex == EXIT_OK && output != NULL)
		fprintf(stderr, "%lld lines written to %s (records up to %lld)\n", (long long)lines,
		    output, (long long)upto);
	return ex;
}

/* Rows of audit serials asked for at a time: a province's organisation may
 * hold more certificates than one reply can carry. */
#define SERIALS_PAGE 1000

/* ukeyctl audit serials [--order ID] [--org USCC] | audit log [--order ID] [--limit N] */
int
verb_audit_list(const struct ctl_verb *v, const struct ctl_args *a)
{
	static const char *const serial_cols[] = { "serial", "order_id", "kind", "subject",
		"not_after", "key_alg", "token_serial", "operator", "issued_at", "status", "replaces",
		"renewed_by", "replaced_by", NULL };
	static const char *const log_cols[] = { "id", "station", "seq", "at", "actor", "action",
		"order_id", "job_id", "bay", "token", NULL };
	int serials = strcmp(v->words, "audit serials") == 0;
	struct json_object *args;
	int64_t order, limit;

	if (ctl_arg_int(a, OPT_ORDER, &order) != 0 || ctl_arg_int(a, OPT_LIMIT, &limit) != 0)
		return EXIT_USAGE;
	args = json_object_new_object();
	ctl_add_int(args, "order", order);
	ctl_add_str(args, "org", a->val[OPT_ORG]);
	/* page by page, printed as they come: an organisation may hold more
	 * certificates than one reply can carry */
	if (serials)
		return ctl_list("audit.serials", args, serial_cols, a, SERIALS_PAGE);
	/* audit log --after ID: every record from there on, in pages */
	if (a->val[OPT_AFTER] != NULL)
		return ctl_list("audit.log", args, log_cols, a, SERIALS_PAGE);
	ctl_add_int(args, "limit", limit);
	return ctl_simple("audit.log", args, log_cols, NULL);
}

/* ukeyctl audit verify [--db FILE | --file EXPORT] [--pubkey PEM] [--witness FILE]
 *     [--station ID] [--full] */
int
verb_audit_verify(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *file = a->val[OPT_FILE], *db = a->val[OPT_DB];
	const char *pubkey = a->val[OPT_PUBKEY], *witness = a->val[OPT_WITNESS];

	if (file != NULL || db != NULL) {
		if (!ctl_need(v, "--pubkey PEM", pubkey != NULL) || (file && db))
			return EXIT_USAGE;
		return audit_verify_offline(file, db, pubkey, witness, a->val[OPT_STATION]);
	}
	if (pubkey != NULL && witness == NULL) {
		fprintf(stderr, "ukeyctl: --pubkey goes with --file, --db or --witness\n");
		return EXIT_USAGE;
	}
	return audit_verify_daemon(witness, pubkey, a->val[OPT_STATION], a->val[OPT_FULL] != NULL);
}

/* ukeyctl audit checkpoint | audit pubkey | ca show */
int
verb_audit_show(const struct ctl_verb *v, const struct ctl_args *a)
{
	const char *cmd = strcmp(v->words, "audit checkpoint") == 0 ? "audit.checkpoint" :
	    strcmp(v->words, "audit pubkey") == 0 ? "audit.pubkey" : "ca.show";
	struct json_object *rep, *res;
	int ex = ctl_run(cmd, NULL, &rep, &res);

	if (ex == EXIT_OK && ctl_json)
		print_json(res);
	else if (ex == EXIT_OK && strcmp(cmd, "audit.checkpoint") != 0)
		fputs(json_object_get_string(json_object_object_get(res, "pem")), stdout);
	else if (ex == EXIT_OK)
		printf("checkpoint %lld signed: record %lld, hash %s\n",
		    (long long)json_object_get_int64(json_object_object_get(res, "checkpoint")),
		    (long long)json_object_get_int64(json_object_object_get(res, "audit_id")),
		    json_object_get_string(json_object_object_get(res, "audit_hash")));
	json_object_put(rep);
	return ex;
}
