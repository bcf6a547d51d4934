/* The arithmetic of the floor reports: medians of durations, calendar days
 * as numbers, and the production promise's deadline in working days. */
#ifndef UKEY_REPORTCALC_H
#define UKEY_REPORTCALC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* UTC offsets a report accepts, in minutes east of UTC (UTC-12 .. UTC+14). */
#define REPORT_OFFSET_MIN (-720)
#define REPORT_OFFSET_MAX 840

/* The median of the n values of v, sorting v in place: the middle value,
 * or for an even n the mean of the two middle ones rounded down. Returns 0
 * and *out, or UKEY_ERR_NOTFOUND when n is 0 (there is no median). */
int report_median(int64_t *v, size_t n, int64_t *out);

/* Durations counted by value, for their median: memory grows with the
 * values that differ, not with how many are counted (a station's jobs take
 * from a few seconds to a few minutes: a year of them is a few hundred
 * values). Zeroed: empty. */
struct report_durations {
	int64_t *val;
	int64_t *cnt;		/* 0: the slot is free */
	size_t cap, used;	/* slots (a power of two, or 0), values that differ */
	int64_t n;		/* durations counted */
};

/* Counts v once more: 0 or UKEY_ERR_NOMEM (d unchanged). */
int report_durations_add(struct report_durations *d, int64_t v);
/* The median of what d counted, as report_median gives it for the same
 * values: 0 and *out, UKEY_ERR_NOTFOUND when none, UKEY_ERR_NOMEM. */
int report_durations_median(const struct report_durations *d, int64_t *out);
void report_durations_free(struct report_durations *d);

/* Parses a calendar day "YYYY-MM-DD" (a day that exists) into its number
 * of days since 1970-01-01 (negative before). Returns 0 or UKEY_ERR_INVAL. */
int report_day_parse(const char *s, int64_t *day);

/* Writes day number day as "YYYY-MM-DD" (years 0..9999) into out. */
void report_day_format(int64_t day, char out[16]);

/* Parses the station's times, ISO-8601 UTC "YYYY-MM-DDTHH:MM:SSZ", into
 * seconds since the epoch. Returns 0 or UKEY_ERR_INVAL. */
int report_time_parse(const char *s, int64_t *out);

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ" into out. */
void report_time_format(int64_t t, char out[32]);

/* 1 when day number day is a working day (Monday to Friday), else 0.
 * Public holidays and the weekends worked in their place are not known. */
int report_workday(int64_t day);

/*
 * The deadline of a promise of `days` working days counted from start (UTC
 * seconds) in the zone utc_offset_min minutes east of UTC: the day of start
 * does not count, and the promise ends at the end (24:00 local time) of the
 * days-th working day after it. Paid on Monday 15:00: due at Tuesday 24:00;
 * on Friday or Saturday: due at Monday 24:00. days 0: the end of the day of
 * start itself.
 */
int64_t report_workday_deadline(int64_t start, int utc_offset_min, int days);

#endif
