/* A report's rows kept for its later pages (docs/reports.md, "Pages of one
 * report"): a report of more than one page writes every row to an unlinked
 * temporary file as it makes them, and its later pages are read from there,
 * from the same snapshot, instead of making the report again for each. */
#ifndef UKEY_REPORTSPOOL_H
#define UKEY_REPORTSPOOL_H

#include <stdint.h>

#include <json-c/json.h>

struct station;
struct report_spool;
struct report_answer;

/* The lists of rows one spool holds, in the order pages give them (a page
 * runs on from the first list's last row into the second's). */
#define SPOOL_LISTS 2

/* ---- the report's thread ---- */

/* A new spool with its files (unlinked: they go with the process). 0,
 * UKEY_ERR_NOMEM or UKEY_ERR_IO. */
int spool_new(struct report_spool **out);
/* Appends row to list (0 or 1) of *sp, when there is a spool. One that
 * cannot take it is given up (freed, *sp NULL: the report's later pages
 * are then made again), with a warning naming cmd. */
void spool_add(struct report_spool **sp, int list, struct json_object *row, const char *cmd);
/* When the report has more pages (ans->next), hands *sp over to ans (*sp
 * NULL) with a copy of res, the result without its lists, as the head of
 * the pages to come; else leaves it to the caller. */
void spool_hand_over(struct report_spool **sp, struct json_object *res,
    struct report_answer *ans);
void spool_free(struct report_spool *sp);

/* ---- the loop: the spools kept ---- */

/* Keeps sp (taken) with head, the report's result without its lists (taken),
 * for command cmd; writes its new id (32 hex digits) into id. Reports
 * unused for REPORT_KEEP_MS are dropped first, and the oldest beyond
 * REPORTS_KEPT_MAX. 0 or UKEY_ERR_NOMEM (sp and head freed). */
#define REPORT_KEEP_MS (10 * 60 * 1000)
#define REPORTS_KEPT_MAX 4
int report_keep(struct station *s, const char *cmd, struct report_spool *sp,
    struct json_object *head, char id[33]);
/* The page [after, after + limit) of the report kept as id for cmd: 0 with
 * *result (its head and the page of each list under names[]; a list named
 * NULL is one the report does not have, and left out) and *next
 * (NULL after the last row), UKEY_ERR_NOTFOUND when no such report is kept
 * (any more), UKEY_ERR_IO. */
int report_kept_page(struct station *s, const char *cmd, const char *id, int64_t after,
    int64_t limit, const char *const names[SPOOL_LISTS], struct json_object **result,
    struct json_object **next);
/* Drops every report kept (the daemon stops). */
void reports_kept_free(struct station *s);

#endif
