/* Hash-chained audit rows. The canonical record is the row's fields joined in
 * a fixed order with their lengths, so no field can bleed into the next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "store/audit.h"

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

static void
put_field(EVP_MD_CTX *md, const char *s)
{
	char len[24];
	size_t n = s ? strlen(s) : 0;

	snprintf(len, sizeof(len), "%zu:", n);
	EVP_DigestUpdate(md, len, strlen(len));
	if (n)
		EVP_DigestUpdate(md, s, n);
}

static int
chain_hash(const char *prev, int64_t id, const char *at, const char *actor, const char *action,
    int64_t order_id, int64_t unit_id, int64_t job_id, const char *token, const char *bay,
    const char *detail, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[32];
	char num[3][24], idtxt[24];
	char *hex;
	unsigned hl = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return UKEY_ERR_CRYPTO;
	}
	snprintf(idtxt, sizeof(idtxt), "%lld", (long long)id);
	snprintf(num[0], sizeof(num[0]), "%lld", (long long)order_id);
	snprintf(num[1], sizeof(num[1]), "%lld", (long long)unit_id);
	snprintf(num[2], sizeof(num[2]), "%lld", (long long)job_id);
	put_field(md, prev);
	put_field(md, idtxt);
	put_field(md, at);
	put_field(md, actor);
	put_field(md, action);
	put_field(md, num[0]);
	put_field(md, num[1]);
	put_field(md, num[2]);
	put_field(md, token);
	put_field(md, bay);
	put_field(md, detail);
	EVP_DigestFinal_ex(md, h, &hl);
	EVP_MD_CTX_free(md);
	if ((hex = hex_encode(h, sizeof(h))) == NULL)
		return UKEY_ERR_NOMEM;
	memcpy(out, hex, 65);
	free(hex);
	return 0;
}

int
audit_append(struct store *st, const struct audit_event *ev)
{
	struct json_object *last = NULL;
	const char *prev = GENESIS;
	int64_t id = 1;
	char now[32], hash[65];
	int rc;

	store_now(now);
	rc = store_row(st, &last, "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", "");
	if (rc == 0) {
		id = json_object_get_int64(json_object_object_get(last, "id")) + 1;
		prev = json_object_get_string(json_object_object_get(last, "hash"));
	} else if (rc != UKEY_ERR_NOTFOUND) {
		goto out;
	}
	if ((rc = chain_hash(prev, id, now, ev->actor, ev->action, ev->order_id, ev->unit_id,
	    ev->job_id, ev->token, ev->bay, ev->detail, hash)) != 0)
		goto out;
	rc = store_run(st, "INSERT INTO audit (id, at, actor, action, order_id, unit_id, job_id,"
	    " token, bay, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", "itttiiittttt",
	    id, now, ev->actor, ev->action, ev->order_id, ev->unit_id, ev->job_id, ev->token,
	    ev->bay, ev->detail, prev, hash);
 out:
	json_object_put(last);
	return rc;
}

int
audit_verify(struct store *st, int64_t *bad_id, int64_t *count, char *why, size_t whylen)
{
	sqlite3_stmt *stmt = NULL;
	char prev[65] = GENESIS, hash[65];
	int64_t expect_id = 1;
	int rc;

	*bad_id = 0;
	*count = 0;
	why[0] = '\0';
	rc = sqlite3_prepare_v2(store_db(st), "SELECT id, at, actor, action, coalesce(order_id,0),"
	    " coalesce(unit_id,0), coalesce(job_id,0), token, bay, detail, prev_hash, hash"
	    " FROM audit ORDER BY id", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_rc_to_err(rc);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		const char *stored_prev = (const char *)sqlite3_column_text(stmt, 10);
		const char *stored = (const char *)sqlite3_column_text(stmt, 11);

		(*count)++;
		if (id != expect_id) {
			*bad_id = id;
			snprintf(why, whylen, "row %lld follows row %lld: rows missing or reordered",
			    (long long)id, (long long)expect_id - 1);
			rc = UKEY_ERR_VERIFY;
			goto out;
		}
		if (stored_prev == NULL || strcmp(stored_prev, prev) != 0) {
			*bad_id = id;
			snprintf(why, whylen, "row %lld: prev_hash does not match the hash of row %lld",
			    (long long)id, (long long)id - 1);
			rc = UKEY_ERR_VERIFY;
			goto out;
		}
		rc = chain_hash(prev, id, (const char *)sqlite3_column_text(stmt, 1),
		    (const char *)sqlite3_column_text(stmt, 2), (const char *)sqlite3_column_text(stmt, 3),
		    sqlite3_column_int64(stmt, 4), sqlite3_column_int64(stmt, 5),
		    sqlite3_column_int64(stmt, 6), (const char *)sqlite3_column_text(stmt, 7),
		    (const char *)sqlite3_column_text(stmt, 8), (const char *)sqlite3_column_text(stmt, 9),
		    hash);
		if (rc != 0)
			goto out;
		if (stored == NULL || strcmp(stored, hash) != 0) {
			*bad_id = id;
			snprintf(why, whylen, "row %lld: contents do not match its hash (edited)",
			    (long long)id);
			rc = UKEY_ERR_VERIFY;
			goto out;
		}
		memcpy(prev, hash, sizeof(prev));
		expect_id++;
	}
	rc = rc == SQLITE_DONE ? 0 : store_rc_to_err(rc);
 out:
	sqlite3_finalize(stmt);
	return rc;
}
