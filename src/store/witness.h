/* Audit witness lines: the log's head (record count and last hash), signed
 * with the audit key and written where the station cannot rewrite it, so that
 * a log cut back at its end is found. The line format is in docs/audit.md. */
#ifndef UKEY_WITNESS_H
#define UKEY_WITNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#define WITNESS_TAG "ukey-witness/1"
#define WITNESS_HASH_LEN 64
#define WITNESS_KEY_ID_LEN 64
#define WITNESS_SIG_LEN 128
#define WITNESS_EVENT_MAX 23	/* "start", "interval", "checkpoint", "stop", ... */
#define WITNESS_STATION_MAX 63

/* One parsed witness line. The signature covers the line from WITNESS_TAG up
 * to, not including, " sig=": the bytes [start, start + signed_len). */
struct witness_entry {
	char station[WITNESS_STATION_MAX + 1];
	int64_t records;
	char head[WITNESS_HASH_LEN + 1];
	char at[21];			/* 2026-11-21T08:20:00Z */
	char event[WITNESS_EVENT_MAX + 1];
	char key_id[WITNESS_KEY_ID_LEN + 1];
	char sig[WITNESS_SIG_LEN + 1];
	size_t start, signed_len;
};

/* Builds the signed line (no trailing newline) for a log of records records
 * whose last hash is head (64 zeros for an empty log), at time at, written
 * for event. *line malloc'd. Returns 0, UKEY_ERR_INVAL (a field breaks its
 * rule), UKEY_ERR_CRYPTO or UKEY_ERR_NOMEM. */
int witness_line_make(EVP_PKEY *key, const char *station, int64_t records, const char *head,
    const char *at, const char *event, char **line);

/* Parses a line holding a witness line (anything before WITNESS_TAG, such as
 * a syslog prefix, is skipped; one trailing newline is allowed). Returns 0,
 * UKEY_ERR_NOTFOUND (no WITNESS_TAG in the line) or UKEY_ERR_INVAL with the
 * broken field named in why (may be NULL). Checks no signature. */
int witness_line_parse(const char *line, struct witness_entry *e, char *why, size_t whylen);

/* Returns 0 when e (parsed from line) is signed by pub, UKEY_ERR_VERIFY when
 * its key id is another key's or its signature does not verify. */
int witness_line_check(EVP_PKEY *pub, const char *line, const struct witness_entry *e);

/* A head the witness saw: station's chain had records records, the last
 * one's hash head. line is the witness file's line number (for messages).
 * station "": the verifier's own (the daemon's station). */
struct witness_point {
	int64_t line, records;
	char head[WITNESS_HASH_LEN + 1];
	char at[21];
	char station[WITNESS_STATION_MAX + 1];
};

struct witness_set {
	struct witness_point *p;	/* owned */
	size_t n, cap;
	int64_t lines;			/* witness lines read */
	int64_t skipped;		/* lines without WITNESS_TAG */
};

/* Appends a point unless it repeats the previous one (the head is written
 * every minute whether or not it moved). Returns 0 or UKEY_ERR_NOMEM. */
int witness_set_add(struct witness_set *ws, const struct witness_point *pt);

/* Reads a witness file (or a log holding witness lines) into ws, which must
 * be zeroed. Every line with WITNESS_TAG must parse and be signed by pub.
 * Returns 0, UKEY_ERR_VERIFY (why: "witness line N: ...") or UKEY_ERR_NOMEM /
 * UKEY_ERR_IO. Free ws with witness_set_clear. */
int witness_read(FILE *f, EVP_PKEY *pub, struct witness_set *ws, char *why, size_t whylen);

/* Frees what ws owns and zeroes it. */
void witness_set_clear(struct witness_set *ws);

/* Where the daemon writes witness lines: one small interface, one backend
 * per kind ("file:/path", "syslog"). */
struct witness_sink;

/* Opens the sink named by spec: "file:/absolute/path" (created 0640 when
 * missing, opened O_APPEND) or "syslog" (syslog(3), facility LOG_AUTHPRIV).
 * Returns 0, UKEY_ERR_INVAL (unknown kind) or UKEY_ERR_IO; *out owned
 * (witness_sink_free). Loop context (start-up). */
int witness_sink_open(const char *spec, struct witness_sink **out);

/* Writes one line (without newline) and makes it durable where the kind
 * can. Returns 0 or UKEY_ERR_IO (logged). */
int witness_sink_write(struct witness_sink *w, const char *line);

/* The spec the sink was opened with. */
const char *witness_sink_name(const struct witness_sink *w);

void witness_sink_free(struct witness_sink *w);

#endif
