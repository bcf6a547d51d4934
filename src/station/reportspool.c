/* A report's rows kept for its later pages (reportspool.h): one unlinked
 * temporary file per list, one JSON text per line, and the offset of every
 * SPOOL_STRIDE-th row, so that a page is a seek and at most that many
 * lines skipped, whatever its position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/rand.h>

#include "common/err.h"
#include "common/log.h"
#include "common/secret.h"
#include "station/reports.h"
#include "station/reportspool.h"
#include "station/station_impl.h"

#define SPOOL_STRIDE 256

struct spool_list {
	FILE *f;
	int64_t n;		/* rows */
	off_t *mark;		/* mark[i]: where row i * SPOOL_STRIDE begins */
	size_t nmark, cap;
};

struct report_spool {
	struct spool_list l[SPOOL_LISTS];
};

/* A report kept on the loop. */
struct report_kept {
	char id[33];
	char cmd[32];
	struct report_spool *sp;
	struct json_object *head;	/* the result without its lists */
	int64_t used_ms;
	struct report_kept *next;
};

int
spool_new(struct report_spool **out)
{
	struct report_spool *sp = calloc(1, sizeof(*sp));
	int i;

	*out = NULL;
	if (sp == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < SPOOL_LISTS; i++)
		if ((sp->l[i].f = tmpfile()) == NULL) {
			log_error("a report's temporary file: %m");
			spool_free(sp);
			return UKEY_ERR_IO;
		}
	*out = sp;
	return 0;
}

static int
spool_write(struct report_spool *sp, int list, struct json_object *row)
{
	struct spool_list *l = &sp->l[list];
	const char *text = json_object_to_json_string_ext(row, JSON_C_TO_STRING_PLAIN);

	if (l->n % SPOOL_STRIDE == 0) {
		if (l->nmark == l->cap) {
			size_t cap = l->cap ? 2 * l->cap : 64;
			off_t *m = realloc(l->mark, cap * sizeof(*m));

			if (m == NULL)
				return UKEY_ERR_NOMEM;
			l->mark = m;
			l->cap = cap;
		}
		l->mark[l->nmark++] = ftello(l->f);
	}
	/* a plain JSON text holds no raw newline: one row, one line */
	if (text == NULL || fputs(text, l->f) == EOF || putc('\n', l->f) == EOF)
		return UKEY_ERR_IO;
	l->n++;
	return 0;
}

void
spool_add(struct report_spool **sp, int list, struct json_object *row, const char *cmd)
{
	if (*sp == NULL || spool_write(*sp, list, row) == 0)
		return;
	log_warn("%s: its rows cannot be kept for the later pages", cmd);
	spool_free(*sp);
	*sp = NULL;
}

void
spool_hand_over(struct report_spool **sp, struct json_object *res, struct report_answer *ans)
{
	if (ans->next == NULL || *sp == NULL ||
	    json_object_deep_copy(res, &ans->spool_head, NULL) != 0)
		return;
	ans->spool = *sp;
	*sp = NULL;
}

void
spool_free(struct report_spool *sp)
{
	int i;

	if (sp == NULL)
		return;
	for (i = 0; i < SPOOL_LISTS; i++) {
		if (sp->l[i].f != NULL)
			fclose(sp->l[i].f);
		free(sp->l[i].mark);
	}
	free(sp);
}

/* Rows [from, from + count) of list l into arr. */
static int
spool_read(struct spool_list *l, int64_t from, int64_t count, struct json_object *arr)
{
	char *line = NULL;
	size_t cap = 0;
	int64_t i, skip;
	int rc = 0;

	if (count <= 0)
		return 0;
	if (fseeko(l->f, l->mark[from / SPOOL_STRIDE], SEEK_SET) != 0)
		return UKEY_ERR_IO;
	skip = from % SPOOL_STRIDE;
	for (i = 0; i < skip + count; i++) {
		struct json_object *o;

		if (getline(&line, &cap, l->f) < 0) {
			rc = UKEY_ERR_IO;
			break;
		}
		if (i < skip)
			continue;
		if ((o = json_tokener_parse(line)) == NULL) {
			rc = UKEY_ERR_IO;
			break;
		}
		json_object_array_add(arr, o);
	}
	free(line);
	return rc;
}

static void
kept_free(struct report_kept *k)
{
	spool_free(k->sp);
	json_object_put(k->head);
	free(k);
}

/* Drops the reports unused for REPORT_KEEP_MS, and the oldest while more
 * than keep are left. */
static void
kept_trim(struct station *s, int keep)
{
	struct report_kept **p, *oldest;
	int64_t now = now_ms();
	int n;

	for (p = &s->reports_kept; *p != NULL;) {
		if (now - (*p)->used_ms > REPORT_KEEP_MS) {
			struct report_kept *k = *p;

			*p = k->next;
			log_info("%s: report %s dropped, unused for %d minutes", k->cmd, k->id,
			    REPORT_KEEP_MS / 60000);
			kept_free(k);
		} else {
			p = &(*p)->next;
		}
	}
	for (;;) {
		struct report_kept *k;

		for (n = 0, oldest = NULL, k = s->reports_kept; k != NULL; k = k->next, n++)
			if (oldest == NULL || k->used_ms < oldest->used_ms)
				oldest = k;
		if (n <= keep || oldest == NULL)
			return;
		for (p = &s->reports_kept; *p != oldest; p = &(*p)->next)
			;
		*p = oldest->next;
		log_info("%s: report %s dropped for a newer one", oldest->cmd, oldest->id);
		kept_free(oldest);
	}
}

int
report_keep(struct station *s, const char *cmd, struct report_spool *sp,
    struct json_object *head, char id[33])
{
	struct report_kept *k = calloc(1, sizeof(*k));
	uint8_t raw[16];
	char *hex = NULL;
	int i;

	for (i = 0; i < SPOOL_LISTS; i++)
		if (fflush(sp->l[i].f) != 0)
			break;
	if (k == NULL || i < SPOOL_LISTS || RAND_bytes(raw, sizeof(raw)) != 1 ||
	    (hex = hex_encode(raw, sizeof(raw))) == NULL) {
		free(k);
		spool_free(sp);
		json_object_put(head);
		return UKEY_ERR_NOMEM;
	}
	snprintf(k->id, sizeof(k->id), "%s", hex);
	snprintf(k->cmd, sizeof(k->cmd), "%s", cmd);
	free(hex);
	k->sp = sp;
	k->head = head;
	k->used_ms = now_ms();
	kept_trim(s, REPORTS_KEPT_MAX - 1);
	k->next = s->reports_kept;
	s->reports_kept = k;
	memcpy(id, k->id, sizeof(k->id));
	log_info("%s: report %s kept for its later pages (%lld + %lld rows)", cmd, k->id,
	    (long long)sp->l[0].n, (long long)sp->l[1].n);
	return 0;
}

int
report_kept_page(struct station *s, const char *cmd, const char *id, int64_t after,
    int64_t limit, const char *const names[SPOOL_LISTS], struct json_object **result,
    struct json_object **next)
{
	struct report_kept *k;
	struct json_object *res = NULL;
	int64_t to, base = 0;
	int i, rc = 0;

	*result = *next = NULL;
	kept_trim(s, REPORTS_KEPT_MAX);
	for (k = s->reports_kept; k != NULL; k = k->next)
		if (strcmp(k->id, id) == 0 && strcmp(k->cmd, cmd) == 0)
			break;
	if (k == NULL)
		return UKEY_ERR_NOTFOUND;
	k->used_ms = now_ms();
	to = after > INT64_MAX - limit ? INT64_MAX : after + limit;
	if (json_object_deep_copy(k->head, &res, NULL) != 0)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < SPOOL_LISTS; i++) {
		struct spool_list *l = &k->sp->l[i];
		struct json_object *arr = json_object_new_array();
		int64_t from = after - base, end = to - base;

		from = from < 0 ? 0 : from;
		end = end > l->n ? l->n : end;
		if (arr == NULL || (rc = spool_read(l, from, end - from, arr)) != 0) {
			json_object_put(arr);
			json_object_put(res);
			return rc != 0 ? rc : UKEY_ERR_NOMEM;
		}
		if (names[i] != NULL)
			json_object_object_add(res, names[i], arr);
		else
			json_object_put(arr);	/* a list the report does not have */
		base += l->n;
	}
	*result = res;
	if (to < base)		/* base: every row of every list now */
		*next = json_object_new_int64(to);
	return 0;
}

void
reports_kept_free(struct station *s)
{
	struct report_kept *k, *next;

	for (k = s->reports_kept; k != NULL; k = next) {
		next = k->next;
		kept_free(k);
	}
	s->reports_kept = NULL;
}
