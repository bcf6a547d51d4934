/* Audit witness lines: making, parsing and checking the signed head lines,
 * and reading a witness file into the heads it saw. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/err.h"
#include "store/auditkey.h"
#include "store/witness.h"

static int
is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
station_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '.';
}

static int
event_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* YYYY-MM-DDTHH:MM:SSZ, digits where digits go */
static int
is_time(const char *s, size_t n)
{
	static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	if (n != sizeof(form) - 1)
		return 0;
	for (i = 0; i < n; i++)
		if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != form[i])
			return 0;
	return 1;
}

static int __attribute__((format(printf, 3, 4)))
bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return UKEY_ERR_INVAL;
}

/* Reads " name=" then the value up to the next space or the end into
 * [*val, *val + *len). */
static int
field(const char **p, const char *name, const char **val, size_t *len)
{
	size_t n = strlen(name);

	if ((*p)[0] != ' ' || strncmp(*p + 1, name, n) != 0 || (*p)[1 + n] != '=')
		return -1;
	*val = *p + n + 2;
	*len = strcspn(*val, " \n");
	*p = *val + *len;
	return 0;
}

int
witness_line_parse(const char *line, struct witness_entry *e, char *why, size_t whylen)
{
	const char *tag = strstr(line, WITNESS_TAG " "), *p, *v;
	size_t n, i;

	memset(e, 0, sizeof(*e));
	if (tag == NULL)
		return UKEY_ERR_NOTFOUND;
	e->start = (size_t)(tag - line);
	p = tag + strlen(WITNESS_TAG);
	if (field(&p, "station", &v, &n) != 0 || n == 0 || n > WITNESS_STATION_MAX)
		return bad(why, whylen, "station: 1 to %d of A-Z a-z 0-9 . _ - expected after \"%s\"",
		    WITNESS_STATION_MAX, WITNESS_TAG);
	for (i = 0; i < n; i++)
		if (!station_char(v[i]))
			return bad(why, whylen, "station: 1 to %d of A-Z a-z 0-9 . _ - expected",
			    WITNESS_STATION_MAX);
	memcpy(e->station, v, n);
	if (field(&p, "records", &v, &n) != 0 || n == 0 || n > 18 || strspn(v, "0123456789") < n ||
	    (n > 1 && v[0] == '0'))
		return bad(why, whylen, "records: a whole number without leading zeros expected");
	for (i = 0; i < n; i++)
		e->records = e->records * 10 + (v[i] - '0');
	if (field(&p, "head", &v, &n) != 0 || n != WITNESS_HASH_LEN || !is_hex(v, n))
		return bad(why, whylen, "head: %d lower-case hex digits expected", WITNESS_HASH_LEN);
	memcpy(e->head, v, n);
	if (field(&p, "at", &v, &n) != 0 || !is_time(v, n))
		return bad(why, whylen, "at: a UTC time like 2026-11-21T08:20:00Z expected");
	memcpy(e->at, v, n);
	if (field(&p, "event", &v, &n) != 0 || n == 0 || n > WITNESS_EVENT_MAX)
		return bad(why, whylen, "event: 1 to %d of a-z 0-9 - expected", WITNESS_EVENT_MAX);
	for (i = 0; i < n; i++)
		if (!event_char(v[i]))
			return bad(why, whylen, "event: 1 to %d of a-z 0-9 - expected",
			    WITNESS_EVENT_MAX);
	memcpy(e->event, v, n);
	if (field(&p, "key", &v, &n) != 0 || n != WITNESS_KEY_ID_LEN || !is_hex(v, n))
		return bad(why, whylen, "key: the key id, %d lower-case hex digits, expected",
		    WITNESS_KEY_ID_LEN);
	memcpy(e->key_id, v, n);
	e->signed_len = (size_t)(p - tag);
	if (field(&p, "sig", &v, &n) != 0 || n != WITNESS_SIG_LEN || !is_hex(v, n))
		return bad(why, whylen, "sig: the Ed25519 signature, %d lower-case hex digits, expected",
		    WITNESS_SIG_LEN);
	memcpy(e->sig, v, n);
	if (*p == '\n')
		p++;
	if (*p != '\0')
		return bad(why, whylen, "text after sig= (a line holds one witness line)");
	if (e->records == 0 && strspn(e->head, "0") != WITNESS_HASH_LEN)
		return bad(why, whylen, "head: an empty log (records=0) has the head of 64 zeros");
	return 0;
}

int
witness_line_make(EVP_PKEY *key, const char *station, int64_t records, const char *head,
    const char *at, const char *event, char **line)
{
	char key_id[AUDIT_KEY_ID_LEN + 1], *text = NULL, *sig = NULL;
	struct witness_entry e;
	int rc;

	*line = NULL;
	if ((rc = audit_key_id(key, key_id)) != 0)
		return rc;
	if (asprintf(&text, WITNESS_TAG " station=%s records=%" PRId64 " head=%s at=%s event=%s"
	    " key=%s", station, records, head, at, event, key_id) < 0)
		return UKEY_ERR_NOMEM;
	if ((rc = audit_sign(key, text, strlen(text), &sig)) != 0)
		goto out;
	if (asprintf(line, "%s sig=%s", text, sig) < 0) {
		*line = NULL;
		rc = UKEY_ERR_NOMEM;
		goto out;
	}
	/* what is written must read back: a bad station id or event is refused
	 * here rather than found by the auditor */
	if ((rc = witness_line_parse(*line, &e, NULL, 0)) != 0) {
		free(*line);
		*line = NULL;
		rc = UKEY_ERR_INVAL;
		goto out;
	}
	rc = 0;
 out:
	free(text);
	free(sig);
	return rc;
}

int
witness_line_check(EVP_PKEY *pub, const char *line, const struct witness_entry *e)
{
	char key_id[AUDIT_KEY_ID_LEN + 1];

	if (audit_key_id(pub, key_id) != 0 || strcmp(key_id, e->key_id) != 0)
		return UKEY_ERR_VERIFY;
	return audit_sig_check(pub, line + e->start, e->signed_len, e->sig);
}

int
witness_set_add(struct witness_set *ws, const struct witness_point *pt)
{
	if (ws->n > 0 && ws->p[ws->n - 1].records == pt->records &&
	    strcmp(ws->p[ws->n - 1].head, pt->head) == 0 &&
	    strcmp(ws->p[ws->n - 1].station, pt->station) == 0)
		return 0;
	if (ws->n == ws->cap) {
		size_t cap = ws->cap ? ws->cap * 2 : 256;
		void *p = realloc(ws->p, cap * sizeof(*ws->p));

		if (p == NULL)
			return UKEY_ERR_NOMEM;
		ws->p = p;
		ws->cap = cap;
	}
	ws->p[ws->n++] = *pt;
	return 0;
}

int
witness_read(FILE *f, EVP_PKEY *pub, struct witness_set *ws, char *why, size_t whylen)
{
	struct witness_entry e;
	char *line = NULL, msg[160], key_id[AUDIT_KEY_ID_LEN + 1];
	size_t cap = 0;
	int64_t lineno = 0;
	int rc = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((rc = audit_key_id(pub, key_id)) != 0)
		return rc;
	while (getline(&line, &cap, f) > 0) {
		struct witness_point pt = { 0 };

		lineno++;
		rc = witness_line_parse(line, &e, msg, sizeof(msg));
		if (rc == UKEY_ERR_NOTFOUND) {
			ws->skipped++;
			rc = 0;
			continue;
		}
		if (rc != 0) {
			snprintf(why, whylen, "witness line %" PRId64 ": not a witness line: %s", lineno,
			    msg);
			rc = UKEY_ERR_VERIFY;
			goto out;
		}
		if ((rc = witness_line_check(pub, line, &e)) != 0) {
			if (strcmp(e.key_id, key_id) != 0)
				snprintf(why, whylen, "witness line %" PRId64 ": signed by key %.16s..., not"
				    " by the public key given (%.16s...)", lineno, e.key_id, key_id);
			else
				snprintf(why, whylen, "witness line %" PRId64 ": signature does not verify"
				    " (line forged or edited)", lineno);
			rc = UKEY_ERR_VERIFY;
			goto out;
		}
		pt.line = lineno;
		pt.records = e.records;
		memcpy(pt.head, e.head, sizeof(pt.head));
		memcpy(pt.at, e.at, sizeof(pt.at));
		memcpy(pt.station, e.station, sizeof(pt.station));
		ws->lines++;
		if ((rc = witness_set_add(ws, &pt)) != 0)
			goto out;
	}
	if (ferror(f)) {
		snprintf(why, whylen, "witness: read error after line %" PRId64, lineno);
		rc = UKEY_ERR_IO;
		goto out;
	}
	rc = 0;
 out:
	free(line);
	return rc;
}

void
witness_set_clear(struct witness_set *ws)
{
	free(ws->p);
	memset(ws, 0, sizeof(*ws));
}
