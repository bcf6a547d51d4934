/* Checking the audit log: the canonical record and its hash, one chain per
 * station, the signed checkpoints with each station's registered keys; one
 * verifier fed from the database or from an export (auditread.c). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "store/audit.h"
#include "store/auditkey.h"
#include "store/db.h"

#include <openssl/pem.h>

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

const char *const audit_col_names[AC_N] = {
	[AC_ID] = "id", [AC_FORMAT] = "format", [AC_AT] = "at", [AC_ACTOR] = "actor",
	[AC_ACTION] = "action", [AC_ORDER] = "order_id", [AC_UNIT] = "unit_id",
	[AC_JOB] = "job_id", [AC_TOKEN] = "token", [AC_BAY] = "bay", [AC_DETAIL] = "detail",
	[AC_PREV] = "prev_hash", [AC_HASH] = "hash", [AC_STATION] = "station", [AC_SEQ] = "seq",
};

/* Format 2: "ukey-audit/2\n", then per column "-\n" (NULL), "i<decimal>\n"
 * (integer) or "s<byte length>:<bytes>\n" (text). */
static void
put_v2(EVP_MD_CTX *md, const struct audit_value *v)
{
	char head[32];

	switch (v->type) {
	case AV_NULL:
		EVP_DigestUpdate(md, "-\n", 2);
		return;
	case AV_INT:
		snprintf(head, sizeof(head), "i%" PRId64 "\n", v->i);
		EVP_DigestUpdate(md, head, strlen(head));
		return;
	case AV_TEXT:
		snprintf(head, sizeof(head), "s%zu:", v->len);
		EVP_DigestUpdate(md, head, strlen(head));
		if (v->len)
			EVP_DigestUpdate(md, v->s, v->len);
		EVP_DigestUpdate(md, "\n", 1);
		return;
	}
}

/* Format 1 (rows written before schema version 4): "<length>:<text>" per
 * field with integers in decimal, NULL integers as 0 and NULL text as "". */
static void
put_v1(EVP_MD_CTX *md, const struct audit_value *v)
{
	char buf[40];

	if (v->type == AV_INT) {
		snprintf(buf, sizeof(buf), "%" PRId64, v->i);
		put_v1(md, &(struct audit_value){ .type = AV_TEXT, .s = buf, .len = strlen(buf) });
		return;
	}
	snprintf(buf, sizeof(buf), "%zu:", v->type == AV_TEXT ? v->len : 0);
	EVP_DigestUpdate(md, buf, strlen(buf));
	if (v->type == AV_TEXT && v->len)
		EVP_DigestUpdate(md, v->s, v->len);
}

int
audit_record_hash(const struct audit_record *r, char out[AUDIT_HASH_LEN + 1])
{
	static const enum audit_col v2_order[] = { AC_ID, AC_AT, AC_ACTOR, AC_ACTION, AC_ORDER,
		AC_UNIT, AC_JOB, AC_TOKEN, AC_BAY, AC_DETAIL, AC_PREV };
	static const enum audit_col v3_order[] = { AC_ID, AC_STATION, AC_SEQ, AC_AT, AC_ACTOR,
		AC_ACTION, AC_ORDER, AC_UNIT, AC_JOB, AC_TOKEN, AC_BAY, AC_DETAIL, AC_PREV };
	static const enum audit_col v1_order[] = { AC_PREV, AC_ID, AC_AT, AC_ACTOR, AC_ACTION,
		AC_ORDER, AC_UNIT, AC_JOB, AC_TOKEN, AC_BAY, AC_DETAIL };
	static const enum audit_col ints[] = { AC_ORDER, AC_UNIT, AC_JOB };
	EVP_MD_CTX *md;
	unsigned char h[32];
	unsigned hl = 0;
	char *hex;
	size_t i;
	int64_t format;

	out[0] = '\0';
	if (r->v[AC_FORMAT].type != AV_INT || r->v[AC_ID].type != AV_INT)
		return UKEY_ERR_INVAL;
	format = r->v[AC_FORMAT].i;
	if (format < 1 || format > 3)
		return UKEY_ERR_INVAL;
	if (format == 3 && (r->v[AC_STATION].type != AV_TEXT || r->v[AC_SEQ].type != AV_INT))
		return UKEY_ERR_INVAL;
	if (format == 1)
		for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
			if (r->v[ints[i]].type == AV_TEXT)
				return UKEY_ERR_INVAL;
	if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return UKEY_ERR_CRYPTO;
	}
	if (format == 3) {
		EVP_DigestUpdate(md, "ukey-audit/3\n", 13);
		for (i = 0; i < sizeof(v3_order) / sizeof(v3_order[0]); i++)
			put_v2(md, &r->v[v3_order[i]]);
	} else if (format == 2) {
		EVP_DigestUpdate(md, "ukey-audit/2\n", 13);
		for (i = 0; i < sizeof(v2_order) / sizeof(v2_order[0]); i++)
			put_v2(md, &r->v[v2_order[i]]);
	} else {
		for (i = 0; i < sizeof(v1_order) / sizeof(v1_order[0]); i++)
			put_v1(md, &r->v[v1_order[i]]);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	if ((hex = hex_encode(h, sizeof(h))) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(out, hex, AUDIT_HASH_LEN + 1);
	free(hex);
	return 0;
}

int
audit_checkpoint_text(const struct audit_checkpoint_rec *c, char **text)
{
	/* version 1: the one chain, numbered by id; version 2: the seq-th
	 * checkpoint of the station's chain, records its signed record's seq */
	*text = NULL;
	if (asprintf(text, "ukey-station audit checkpoint %d\n"
	    "station %s\ncheckpoint %" PRId64 "\naudit-id %" PRId64 "\naudit-hash %s\n"
	    "records %" PRId64 "\nat %s\nkey-id %s\n", c->seq ? 2 : 1, c->station,
	    c->seq ? c->seq : c->id, c->audit_id, c->audit_hash, c->records, c->at, c->key_id) < 0) {
		*text = NULL;
		return UKEY_ERR_NOMEM;
	}
	return 0;
}

/* One chain: the records before per-station chains (station "") or one
 * station's. A station's chain continues the first: its first record's
 * seq is base + 1 and it links to that chain's record base. */
struct chain {
	char station[AUDIT_STATION_MAX + 1];
	int64_t base;
	char (*hashes)[AUDIT_HASH_LEN + 1];	/* hashes[pos - start - 1] */
	size_t cap, n_hashes;
	int64_t start;			/* base, or the seed's pos (incremental) */
	int64_t own, pos, first_pos;
	/* incremental: verified before up to record seed_id (its pos start,
	 * hash seed_hash) and checkpoint seed_cp */
	int seeded, seed_seen;
	int64_t seed_id, seed_cp;
	char seed_hash[AUDIT_HASH_LEN + 1];
	int64_t checkpoints, last_signed, last_signed_id;
	struct cp_event { int64_t id, pos; } *ev;	/* its audit.checkpoint records */
	size_t n_ev, cap_ev;
	int broken;
	int64_t bad_id, bad_pos, bad_cp;
	char why[320];
};

/* A registered key: station's, id key_id. */
struct vkey {
	char station[AUDIT_STATION_MAX + 1];
	char key_id[AUDIT_KEY_ID_LEN + 1];
	EVP_PKEY *pk;			/* owned */
};

struct audit_verifier {
	EVP_PKEY *pub;			/* borrowed, may be NULL */
	char key_id[AUDIT_KEY_ID_LEN + 1];	/* pub's, "" without one */
	char only[AUDIT_STATION_MAX + 1];	/* "" for every station */
	struct vkey *keys;
	size_t n_keys, cap_keys;
	struct chain chains[AUDIT_MAX_STATIONS + 1];	/* [0]: before per-station chains */
	size_t n_chains;
	int64_t last_id, last_format;
	int broken;			/* the input itself is broken: stop reading */
	struct audit_report rep;	/* the first failure found */
};

int
audit_verifier_new(EVP_PKEY *pub, const char *only, struct audit_verifier **out)
{
	struct audit_verifier *v;
	int rc;

	*out = NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return UKEY_ERR_NOMEM;
	v->pub = pub;
	v->n_chains = 1;
	if (pub != NULL && (rc = audit_key_id(pub, v->key_id)) != 0) {
		free(v);
		return rc;
	}
	if (only != NULL)
		snprintf(v->only, sizeof(v->only), "%s", only);
	*out = v;
	return 0;
}

void
audit_verifier_free(struct audit_verifier *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n_chains; i++) {
		free(v->chains[i].hashes);
		free(v->chains[i].ev);
	}
	for (i = 0; i < v->n_keys; i++)
		EVP_PKEY_free(v->keys[i].pk);
	free(v->keys);
	free(v);
}

/* Records the first failure of the whole log (the report's first line). */
static void
first_failure(struct audit_verifier *v, int64_t record, int64_t checkpoint, const char *why)
{
	if (v->rep.why[0] != '\0')
		return;
	v->rep.bad_record = record;
	v->rep.bad_checkpoint = checkpoint;
	snprintf(v->rep.why, sizeof(v->rep.why), "%s", why);
}

static void
vformat(char *buf, size_t len, const char *where, const char *fmt, va_list ap)
{
	size_t n = 0;

	if (where != NULL)
		n = (size_t)snprintf(buf, len, "%s: ", where);
	if (n < len)
		vsnprintf(buf + n, len - n, fmt, ap);
}

/* A break in chain ch at its record pos (id: the record in hand, 0 if
 * none) or checkpoint cp: the chain stops there, the others go on. */
static int __attribute__((format(printf, 7, 8)))
cfail(struct audit_verifier *v, struct chain *ch, int64_t pos, int64_t id, int64_t cp,
    const char *where, const char *fmt, ...)
{
	va_list ap;

	if (ch->broken)
		return UKEY_ERR_VERIFY;
	ch->broken = 1;
	ch->bad_pos = pos;
	ch->bad_id = id;
	ch->bad_cp = cp;
	va_start(ap, fmt);
	vformat(ch->why, sizeof(ch->why), where, fmt, ap);
	va_end(ap);
	first_failure(v, pos, cp, ch->why);
	return UKEY_ERR_VERIFY;
}

static int
vfail(struct audit_verifier *v, int64_t record, const char *where, const char *fmt, va_list ap)
{
	char why[sizeof(v->rep.why)];

	if (v->broken)
		return UKEY_ERR_VERIFY;
	v->broken = 1;
	vformat(why, sizeof(why), where, fmt, ap);
	first_failure(v, record, 0, why);
	return UKEY_ERR_VERIFY;
}

/* The input is broken beyond one chain (a line that does not parse, ids out
 * of order): reading stops. */
static int __attribute__((format(printf, 4, 5)))
gfail(struct audit_verifier *v, int64_t record, const char *where, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(v, record, where, fmt, ap);
	va_end(ap);
	return rc;
}

int
audit_verifier_fail(struct audit_verifier *v, int64_t record, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(v, record, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int
is_hash(const struct audit_value *x)
{
	size_t i;

	if (x->type != AV_TEXT || x->len != AUDIT_HASH_LEN)
		return 0;
	for (i = 0; i < x->len; i++)
		if (!((x->s[i] >= '0' && x->s[i] <= '9') || (x->s[i] >= 'a' && x->s[i] <= 'f')))
			return 0;
	return 1;
}

/* The hash of record pos of ch's chain (records up to base are the first
 * chain's); the genesis hash for pos 0; 64 dashes, which match no hash,
 * for a record an incremental verification did not read. */
static const char *
hash_at(const struct audit_verifier *v, const struct chain *ch, int64_t pos)
{
	static const char unknown[AUDIT_HASH_LEN + 1] =
	    "----------------------------------------------------------------";

	if (pos <= 0)
		return GENESIS;
	if (ch->seeded && pos == ch->start)
		return ch->seed_hash;
	if (pos <= ch->base && ch != &v->chains[0])
		return hash_at(v, &v->chains[0], pos);
	if (pos <= ch->start || pos - ch->start > (int64_t)ch->n_hashes)
		return unknown;
	return ch->hashes[pos - ch->start - 1];
}

static struct chain *
chain_find(struct audit_verifier *v, const char *station, size_t len)
{
	size_t i;

	for (i = 0; i < v->n_chains; i++)
		if (strlen(v->chains[i].station) == len && memcmp(v->chains[i].station, station, len) == 0)
			return &v->chains[i];
	return NULL;
}

/* Station's chain, new (continuing the first chain as it is now) when
 * create is set; NULL when there is none, or no room for one more. */
static struct chain *
chain_get(struct audit_verifier *v, const char *station, size_t len, int create)
{
	struct chain *ch = chain_find(v, station, len);

	if (ch != NULL || !create || v->n_chains == AUDIT_MAX_STATIONS + 1 ||
	    len == 0 || len > AUDIT_STATION_MAX)
		return ch;
	ch = &v->chains[v->n_chains++];
	memcpy(ch->station, station, len);
	ch->station[len] = '\0';
	ch->base = v->chains[0].broken ? v->chains[0].bad_pos - 1 : v->chains[0].pos;
	ch->pos = ch->start = ch->base;
	return ch;
}

static int
grow(void **p, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t c;
	void *q;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : first;
	if ((q = realloc(*p, c * size)) == NULL)
		return UKEY_ERR_NOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static int
is_checkpoint_event(const struct audit_record *r)
{
	const struct audit_value *act = &r->v[AC_ACTION];

	return r->v[AC_FORMAT].i >= 2 && act->type == AV_TEXT &&
	    act->len == strlen(AUDIT_CHECKPOINT_ACTION) &&
	    memcmp(act->s, AUDIT_CHECKPOINT_ACTION, act->len) == 0;
}

/* Appends an intact record at pos to ch. */
static int
chain_add(struct chain *ch, const struct audit_record *r, int64_t pos, const char *hash)
{
	int64_t id = r->v[AC_ID].i;

	if (grow((void **)&ch->hashes, &ch->cap, ch->n_hashes, sizeof(*ch->hashes), 1024) != 0)
		return UKEY_ERR_NOMEM;
	memcpy(ch->hashes[ch->n_hashes++], hash, AUDIT_HASH_LEN + 1);
	if (is_checkpoint_event(r)) {
		if (grow((void **)&ch->ev, &ch->cap_ev, ch->n_ev, sizeof(*ch->ev), 64) != 0)
			return UKEY_ERR_NOMEM;
		ch->ev[ch->n_ev++] = (struct cp_event){ .id = id, .pos = pos };
	}
	if (ch->own++ == 0)
		ch->first_pos = pos;
	ch->pos = pos;
	return 0;
}

/* The chain a record belongs to, and its place in it: formats 1 and 2 the
 * first chain at its id, format 3 its station's at its seq. *ch NULL: a
 * record of a station not verified (only). */
static int
route(struct audit_verifier *v, const struct audit_record *r, const char *where,
    struct chain **ch, int64_t *pos)
{
	const struct audit_value *st = &r->v[AC_STATION], *seq = &r->v[AC_SEQ];
	int64_t id = r->v[AC_ID].i;

	*ch = &v->chains[0];
	*pos = id;
	if (r->v[AC_FORMAT].i < 3) {
		if (st->type != AV_NULL || seq->type != AV_NULL)
			return cfail(v, *ch, id, id, 0, where, "record %" PRId64 ": a record of format %"
			    PRId64 " names a station or seq", id, r->v[AC_FORMAT].i);
		return 0;
	}
	if (st->type != AV_TEXT || st->len == 0 || st->len > AUDIT_STATION_MAX ||
	    memchr(st->s, '\n', st->len) != NULL || seq->type != AV_INT || seq->i < 1)
		return gfail(v, id, where, "record %" PRId64 ": format 3 without a station (1 to %d"
		    " bytes) or a seq (from 1)", id, AUDIT_STATION_MAX);
	*pos = seq->i;
	if (v->only[0] && (strlen(v->only) != st->len || memcmp(v->only, st->s, st->len) != 0)) {
		*ch = NULL;
		return 0;
	}
	if ((*ch = chain_get(v, st->s, st->len, 1)) == NULL)
		return gfail(v, id, where, "record %" PRId64 ": more than %d stations in one log", id,
		    AUDIT_MAX_STATIONS);
	return 0;
}

/* The order of the input: ids increase; the format never goes back. */
static int
check_order(struct audit_verifier *v, const struct audit_record *r, const char *where)
{
	int64_t id, format;

	if (r->v[AC_ID].type != AV_INT)
		return gfail(v, v->last_id + 1, where, "record after record %" PRId64 ": id is not an"
		    " integer", v->last_id);
	id = r->v[AC_ID].i;
	if (r->v[AC_FORMAT].type != AV_INT || r->v[AC_FORMAT].i < 1 || r->v[AC_FORMAT].i > 3)
		return gfail(v, id, where, "record %" PRId64 ": unknown record format", id);
	format = r->v[AC_FORMAT].i;
	if (format < v->last_format)
		return gfail(v, id, where, "record %" PRId64 ": format %" PRId64 " after format %"
		    PRId64 " (the format never goes back)", id, format, v->last_format);
	/* before format 3 the chain's own rule (ids 1, 2, 3) names the break */
	if (format == 3 && id <= v->last_id)
		return gfail(v, id, where, "record %" PRId64 " appears after record %" PRId64
		    " (rows reordered or repeated)", id, v->last_id);
	return 0;
}

/* The record an incremental verification starts from must still be the
 * one the last verification ended at. */
static int
seed_check(struct audit_verifier *v, struct chain *ch, const struct audit_record *r, int64_t pos,
    const char *where)
{
	char hash[AUDIT_HASH_LEN + 1];
	int rc;

	if ((rc = audit_record_hash(r, hash)) != 0 && rc != UKEY_ERR_INVAL)
		return rc;
	if (rc != 0 || pos != ch->start || strcmp(hash, ch->seed_hash) != 0 ||
	    !is_hash(&r->v[AC_HASH]) || memcmp(r->v[AC_HASH].s, hash, AUDIT_HASH_LEN) != 0)
		return cfail(v, ch, pos, r->v[AC_ID].i, 0, where, "record %" PRId64 ": not the record"
		    " %" PRId64 " the last verification ended at (changed since)", pos, ch->start), 0;
	ch->seed_seen = 1;
	return 0;
}

int
audit_verifier_record(struct audit_verifier *v, const struct audit_record *r, const char *where)
{
	struct chain *ch = NULL;
	char hash[AUDIT_HASH_LEN + 1];
	int64_t pos = 0, expect, id;
	int rc;

	if (v->broken || check_order(v, r, where) != 0 || route(v, r, where, &ch, &pos) != 0)
		return v->broken ? UKEY_ERR_VERIFY : 0;
	id = r->v[AC_ID].i;
	v->last_id = id > v->last_id ? id : v->last_id;
	v->last_format = r->v[AC_FORMAT].i;
	/* verified before (incremental), or not to be verified */
	if (ch != NULL && !ch->broken && ch->seeded && id == ch->seed_id)
		return seed_check(v, ch, r, pos, where);
	if (ch == NULL || ch->broken || (ch->seeded && id < ch->seed_id))
		return 0;
	expect = ch->pos + 1;
	if (pos > expect)
		return cfail(v, ch, expect, id, 0, where, "record %" PRId64 " is missing: record %"
		    PRId64 " follows record %" PRId64 " (gap in ids: rows deleted or moved)", expect, pos,
		    expect - 1), 0;
	if (pos < expect)
		return cfail(v, ch, pos, id, 0, where, "record %" PRId64 " appears after record %" PRId64
		    " (rows reordered or repeated)", pos, expect - 1), 0;
	if (!is_hash(&r->v[AC_PREV]) || memcmp(r->v[AC_PREV].s, hash_at(v, ch, pos - 1),
	    AUDIT_HASH_LEN) != 0)
		return cfail(v, ch, pos, id, 0, where, "record %" PRId64 ": broken link: prev_hash is"
		    " not the hash of record %" PRId64, pos, pos - 1), 0;
	if ((rc = audit_record_hash(r, hash)) == UKEY_ERR_INVAL)
		return cfail(v, ch, pos, id, 0, where, "record %" PRId64 ": a column has the wrong type"
		    " for format %" PRId64, pos, r->v[AC_FORMAT].i), 0;
	if (rc != 0)
		return rc;
	if (!is_hash(&r->v[AC_HASH]) || memcmp(r->v[AC_HASH].s, hash, AUDIT_HASH_LEN) != 0)
		return cfail(v, ch, pos, id, 0, where, "record %" PRId64 ": hash mismatch: the record's"
		    " contents do not match its hash (edited)", pos), 0;
	return chain_add(ch, r, pos, hash);
}

int
audit_verifier_seed(struct audit_verifier *v, const struct audit_seed *sd)
{
	struct chain *ch = sd->station[0] ? chain_get(v, sd->station, strlen(sd->station), 1) :
	    &v->chains[0];

	if (ch == NULL || ch->own || ch->seeded || sd->pos < 1 || sd->base < 0 ||
	    sd->base >= sd->pos || sd->checkpoint < 1 || strlen(sd->hash) != AUDIT_HASH_LEN)
		return UKEY_ERR_INVAL;
	ch->seeded = 1;
	ch->base = sd->station[0] ? sd->base : 0;
	ch->pos = ch->start = ch->last_signed = sd->pos;
	ch->seed_id = ch->last_signed_id = sd->id;
	ch->seed_cp = ch->checkpoints = sd->checkpoint;
	ch->own = sd->pos - ch->base;
	ch->first_pos = ch->base + 1;
	memcpy(ch->seed_hash, sd->hash, sizeof(ch->seed_hash));
	v->rep.incremental = 1;
	return 0;
}

int
audit_verifier_key(struct audit_verifier *v, const char *station, const char *key_id,
    const char *pem, const char *where)
{
	char id[AUDIT_KEY_ID_LEN + 1];
	EVP_PKEY *pk = NULL;
	BIO *bio = NULL;

	if (v->broken)
		return UKEY_ERR_VERIFY;
	if (station == NULL || station[0] == '\0' || strlen(station) > AUDIT_STATION_MAX ||
	    key_id == NULL || pem == NULL)
		return gfail(v, 0, where, "a key needs a station (1 to %d bytes), key_id and pubkey",
		    AUDIT_STATION_MAX);
	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return UKEY_ERR_NOMEM;
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL || EVP_PKEY_id(pk) != EVP_PKEY_ED25519 || audit_key_id(pk, id) != 0 ||
	    strcmp(id, key_id) != 0) {
		EVP_PKEY_free(pk);
		return gfail(v, 0, where, "the key registered for station %s as %.16s... is not an"
		    " Ed25519 public key with that id", station, key_id);
	}
	if (grow((void **)&v->keys, &v->cap_keys, v->n_keys, sizeof(*v->keys), 16) != 0) {
		EVP_PKEY_free(pk);
		return UKEY_ERR_NOMEM;
	}
	snprintf(v->keys[v->n_keys].station, sizeof(v->keys[0].station), "%s", station);
	memcpy(v->keys[v->n_keys].key_id, id, sizeof(id));
	v->keys[v->n_keys++].pk = pk;
	return 0;
}

static int
key_known(const struct audit_verifier *v, const char *key_id)
{
	size_t i;

	for (i = 0; i < v->n_keys; i++)
		if (strcmp(v->keys[i].key_id, key_id) == 0)
			return 1;
	return 0;
}

/* The key checkpoint c must verify with: one registered for its station;
 * for a station with none, the public key given (a checkpoint of a
 * station's chain only when no key is registered at all). NULL with why. */
static EVP_PKEY *
key_for(const struct audit_verifier *v, const struct audit_checkpoint_rec *c, char *why,
    size_t len)
{
	size_t i;
	int registered = 0;

	/* the key the auditor brought must be one the log's stations registered */
	if (v->pub != NULL && v->n_keys > 0 && !key_known(v, v->key_id) &&
	    strcmp(c->key_id, v->key_id) != 0) {
		snprintf(why, len, "signed by key %.16s..., not by the public key given (%.16s...),"
		    " which no station registered", c->key_id, v->key_id);
		return NULL;
	}
	for (i = 0; i < v->n_keys; i++) {
		if (strcmp(v->keys[i].station, c->station) != 0)
			continue;
		registered++;
		if (strcmp(v->keys[i].key_id, c->key_id) == 0)
			return v->keys[i].pk;
	}
	if (registered || (c->seq != 0 && v->n_keys > 0)) {
		snprintf(why, len, "signed by key %.16s..., which is not registered for station %s",
		    c->key_id, c->station);
		return NULL;
	}
	if (v->pub != NULL && strcmp(v->key_id, c->key_id) == 0)
		return v->pub;
	if (v->pub != NULL)
		snprintf(why, len, "signed by key %.16s..., not by the public key given (%.16s...)",
		    c->key_id, v->key_id);
	else
		snprintf(why, len, "signed by key %.16s...: no key registered for station %s and no"
		    " public key given", c->key_id, c->station);
	return NULL;
}

/* The checks of checkpoint c (number n, over record pos) against ch. */
static int
checkpoint_chain(struct audit_verifier *v, struct chain *ch, const struct audit_checkpoint_rec *c,
    int64_t n, int64_t pos, const char *where)
{
	if (pos <= ch->last_signed)
		return cfail(v, ch, 0, 0, n, where, "checkpoint %" PRId64 " covers record %" PRId64
		    ", not after the previous checkpoint's record %" PRId64, n, pos, ch->last_signed);
	if (pos > ch->pos)
		return cfail(v, ch, ch->pos + 1, 0, n, where, "checkpoint %" PRId64 " signed record %"
		    PRId64 ", but the log ends at record %" PRId64 ": records were removed from the end",
		    n, pos, ch->pos);
	if (strcmp(hash_at(v, ch, pos), c->audit_hash) != 0)
		return cfail(v, ch, pos, 0, n, where, "record %" PRId64 " no longer matches"
		    " checkpoint %" PRId64 ": the signed hash differs (records up to %" PRId64
		    " were rewritten)", pos, n, pos);
	if (c->records != pos || (c->seq == 0 && c->records != c->audit_id))
		return cfail(v, ch, pos, 0, n, where, "checkpoint %" PRId64 ": signed count %" PRId64
		    " is not the number of records up to %" PRId64, n, c->records, pos);
	/* checkpoint N signs the N-th audit.checkpoint record: its own event */
	if (n - ch->seed_cp > (int64_t)ch->n_ev || ch->ev[n - ch->seed_cp - 1].pos != pos ||
	    ch->ev[n - ch->seed_cp - 1].id != c->audit_id)
		return cfail(v, ch, pos, 0, n, where, "checkpoint %" PRId64 " signs record %" PRId64
		    ", which is not checkpoint event %" PRId64, n, pos, n);
	ch->checkpoints++;
	ch->last_signed = pos;
	ch->last_signed_id = c->audit_id;
	return 0;
}

int
audit_verifier_checkpoint(struct audit_verifier *v, const struct audit_checkpoint_rec *c,
    const char *where)
{
	struct chain *ch = &v->chains[0];
	int64_t n = c->seq ? c->seq : c->id;
	char why[200], *text = NULL;
	EVP_PKEY *pk;
	int rc;

	if (v->broken)
		return UKEY_ERR_VERIFY;
	if (c->station == NULL || c->at == NULL || c->audit_hash == NULL || c->signature == NULL ||
	    c->key_id == NULL || strchr(c->station, '\n') || strchr(c->at, '\n') ||
	    strchr(c->audit_hash, '\n') || strchr(c->key_id, '\n'))
		return gfail(v, 0, where, "checkpoint %" PRId64 ": a field is missing or holds a line"
		    " break", n);
	if (c->seq != 0 && v->only[0] && strcmp(c->station, v->only) != 0)
		return 0;
	if (c->seq != 0 && (ch = chain_get(v, c->station, strlen(c->station), 1)) == NULL)
		return gfail(v, 0, where, "checkpoint %" PRId64 ": station %s: more than %d stations or"
		    " no station", n, c->station, AUDIT_MAX_STATIONS);
	if (ch->broken || (ch->seeded && n <= ch->seed_cp))
		return 0;
	if (n != ch->checkpoints + 1)
		return cfail(v, ch, 0, 0, ch->checkpoints + 1, where, "checkpoint %" PRId64 " is"
		    " missing: checkpoint %" PRId64 " follows checkpoint %" PRId64,
		    ch->checkpoints + 1, n, ch->checkpoints), 0;
	if (c->alg == NULL || strcmp(c->alg, AUDIT_KEY_ALG) != 0)
		return cfail(v, ch, 0, 0, n, where, "checkpoint %" PRId64 ": algorithm is not %s", n,
		    AUDIT_KEY_ALG), 0;
	if ((pk = key_for(v, c, why, sizeof(why))) == NULL)
		return cfail(v, ch, 0, 0, n, where, "checkpoint %" PRId64 ": %s", n, why), 0;
	if ((rc = audit_checkpoint_text(c, &text)) != 0)
		return rc;
	rc = audit_sig_check(pk, text, strlen(text), c->signature);
	free(text);
	if (rc != 0)
		return cfail(v, ch, c->records > 0 && c->records <= ch->pos ? c->records : 0, 0, n,
		    where, "checkpoint %" PRId64 ": signature does not verify (checkpoint forged or"
		    " edited)", n), 0;
	checkpoint_chain(v, ch, c, n, c->seq ? c->records : c->audit_id, where);
	return 0;
}

int
audit_verifier_witness(struct audit_verifier *v, const struct witness_point *pt)
{
	struct chain *ch;
	char where[48];

	if (v->broken)
		return UKEY_ERR_VERIFY;
	v->rep.witness = 1;
	if (v->only[0] && pt->station[0] && strcmp(pt->station, v->only) != 0)
		return 0;
	/* a station without records of its own: its head is the first chain's */
	if ((ch = chain_find(v, pt->station, strlen(pt->station))) == NULL)
		ch = &v->chains[0];
	if (ch->broken)
		return 0;
	snprintf(where, sizeof(where), "witness line %" PRId64, pt->line);
	if (pt->records > ch->pos)
		return cfail(v, ch, ch->pos + 1, 0, 0, where, "at %s the log had %" PRId64 " records"
		    " (head %.16s...), but it ends at record %" PRId64 ": records %" PRId64 " to %"
		    PRId64 " were removed from the end (truncated)", pt->at, pt->records, pt->head,
		    ch->pos, ch->pos + 1, pt->records);
	if (strcmp(hash_at(v, ch, pt->records), pt->head) != 0)
		return cfail(v, ch, pt->records, 0, 0, where, "record %" PRId64 " differs from the head"
		    " witnessed at %s (hash %.16s..., witnessed %.16s...): the log was rewritten or cut"
		    " back and grown again", pt->records, pt->at, hash_at(v, ch, pt->records), pt->head);
	v->rep.witness_points++;
	if (pt->records > v->rep.witness_records)
		v->rep.witness_records = pt->records;
	return 0;
}

int
audit_verifier_witness_set(struct audit_verifier *v, const struct witness_set *ws)
{
	size_t i;

	if (ws == NULL)
		return 0;
	v->rep.witness = 1;
	for (i = 0; i < ws->n; i++)
		if (audit_verifier_witness(v, &ws->p[i]) != 0)
			return UKEY_ERR_VERIFY;
	return 0;
}

/* Records of the first chain no checkpoint covers: none once a station's
 * chain that continues it from its end has a checkpoint. */
static int64_t
first_chain_unsigned(const struct audit_verifier *v)
{
	const struct chain *t = &v->chains[0];
	size_t i;

	for (i = 1; i < v->n_chains; i++)
		if (v->chains[i].base == t->pos && v->chains[i].last_signed > t->pos)
			return 0;
	return t->pos - t->last_signed;
}

static void
station_report(const struct audit_verifier *v, const struct chain *ch,
    struct audit_station_report *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	memcpy(s->station, ch->station, sizeof(s->station));
	s->ok = !ch->broken;
	s->records = ch->own;
	s->first_seq = ch->own ? ch->first_pos : 0;
	s->last_seq = ch->own ? ch->pos : 0;
	s->checkpoints = ch->checkpoints;
	s->last_signed_seq = ch->last_signed;
	s->last_signed_id = ch->last_signed_id;
	s->unsigned_tail = ch == &v->chains[0] ? first_chain_unsigned(v) : ch->pos - ch->last_signed;
	s->bad_id = ch->bad_id;
	s->bad_seq = ch->bad_pos;
	s->bad_checkpoint = ch->bad_cp;
	s->base = ch->base;
	s->seed_seq = ch->seeded ? ch->start : 0;
	memcpy(s->last_signed_hash, ch->last_signed ? hash_at(v, ch, ch->last_signed) : GENESIS,
	    sizeof(s->last_signed_hash));
	memcpy(s->why, ch->why, sizeof(s->why));
	for (i = 0; i < v->n_keys; i++)
		if (strcmp(v->keys[i].station, ch->station) == 0 && s->n_keys++ == 0)
			memcpy(s->key_id, v->keys[i].key_id, sizeof(s->key_id));
}

int
audit_verifier_finish(struct audit_verifier *v, struct audit_report *rep)
{
	size_t i;
	int ok = !v->broken;

	for (i = 0; i < v->n_chains; i++) {
		struct chain *ch = &v->chains[i];

		int64_t k = ch->checkpoints - ch->seed_cp;	/* events signed */

		if (ch->seeded && !ch->seed_seen)
			cfail(v, ch, ch->start, ch->seed_id, 0, NULL, "record %" PRId64 " (id %" PRId64
			    "), where the last verification ended, is not in the log any more: records"
			    " were removed", ch->start, ch->seed_id);

		if (!ch->broken && (int64_t)ch->n_ev > k)
			cfail(v, ch, ch->ev[k].pos, ch->ev[k].id, ch->checkpoints + 1, NULL, "record %"
			    PRId64 " is checkpoint event %" PRId64 " but that signed checkpoint is missing"
			    " (removed)", ch->ev[k].pos, ch->checkpoints + 1);
		ok = ok && !ch->broken;
		v->rep.records += ch->own;
		v->rep.checkpoints += ch->checkpoints;
		if (ch->last_signed_id > v->rep.last_signed_id)
			v->rep.last_signed_id = ch->last_signed_id;
		/* the first chain is reported when it holds anything */
		if (i == 0 && ch->own == 0 && ch->checkpoints == 0 && !ch->broken)
			continue;
		station_report(v, ch, &v->rep.stations[v->rep.n_stations]);
		v->rep.unsigned_tail += v->rep.stations[v->rep.n_stations++].unsigned_tail;
	}
	v->rep.ok = ok;
	*rep = v->rep;
	return ok ? 0 : UKEY_ERR_VERIFY;
}

static struct json_object *
station_json(const struct audit_station_report *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "station", json_object_new_string(s->station));
	json_object_object_add(o, "ok", json_object_new_boolean(s->ok));
	json_object_object_add(o, "records", json_object_new_int64(s->records));
	json_object_object_add(o, "first_seq", json_object_new_int64(s->first_seq));
	json_object_object_add(o, "last_seq", json_object_new_int64(s->last_seq));
	json_object_object_add(o, "checkpoints", json_object_new_int64(s->checkpoints));
	json_object_object_add(o, "last_signed_seq", json_object_new_int64(s->last_signed_seq));
	json_object_object_add(o, "last_signed_id", json_object_new_int64(s->last_signed_id));
	json_object_object_add(o, "unsigned", json_object_new_int64(s->unsigned_tail));
	json_object_object_add(o, "keys", json_object_new_int64(s->n_keys));
	if (s->seed_seq)
		json_object_object_add(o, "verified_before", json_object_new_int64(s->seed_seq));
	if (s->n_keys > 0)
		json_object_object_add(o, "key_id", json_object_new_string(s->key_id));
	if (!s->ok) {
		if (s->bad_id)
			json_object_object_add(o, "bad_id", json_object_new_int64(s->bad_id));
		if (s->bad_seq)
			json_object_object_add(o, "bad_seq", json_object_new_int64(s->bad_seq));
		if (s->bad_checkpoint)
			json_object_object_add(o, "bad_checkpoint",
			    json_object_new_int64(s->bad_checkpoint));
		json_object_object_add(o, "reason", json_object_new_string(s->why));
	}
	return o;
}

struct json_object *
audit_report_json(const struct audit_report *rep)
{
	struct json_object *o = json_object_new_object(), *st = json_object_new_array();
	size_t i;

	json_object_object_add(o, "ok", json_object_new_boolean(rep->ok));
	json_object_object_add(o, "records", json_object_new_int64(rep->records));
	json_object_object_add(o, "checkpoints", json_object_new_int64(rep->checkpoints));
	json_object_object_add(o, "last_signed_id", json_object_new_int64(rep->last_signed_id));
	json_object_object_add(o, "unsigned", json_object_new_int64(rep->unsigned_tail));
	json_object_object_add(o, "incremental", json_object_new_boolean(rep->incremental));
	for (i = 0; i < rep->n_stations; i++)
		json_object_array_add(st, station_json(&rep->stations[i]));
	json_object_object_add(o, "stations", st);
	if (rep->witness) {
		struct json_object *w = json_object_new_object();

		json_object_object_add(w, "heads", json_object_new_int64(rep->witness_points));
		json_object_object_add(w, "records", json_object_new_int64(rep->witness_records));
		json_object_object_add(o, "witness", w);
	}
	if (!rep->ok) {
		if (rep->bad_record)
			json_object_object_add(o, "first_bad", json_object_new_int64(rep->bad_record));
		if (rep->bad_checkpoint)
			json_object_object_add(o, "bad_checkpoint",
			    json_object_new_int64(rep->bad_checkpoint));
		json_object_object_add(o, "reason", json_object_new_string(rep->why));
	}
	return o;
}
