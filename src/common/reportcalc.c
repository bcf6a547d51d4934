/* The arithmetic of the floor reports: medians, day numbers and the
 * deadline of the production promise in working days (reportcalc.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/caldate.h"
#include "common/err.h"
#include "common/reportcalc.h"

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The mean of a and b without overflow, rounded down (towards minus
 * infinity). */
static int64_t
mean_down(int64_t a, int64_t b)
{
	return a / 2 + b / 2 + ((a % 2 + b % 2) >= 2 ? 1 : 0) - ((a % 2 + b % 2) < 0 ? 1 : 0);
}

int
report_median(int64_t *v, size_t n, int64_t *out)
{
	if (n == 0)
		return UKEY_ERR_NOTFOUND;
	qsort(v, n, sizeof(*v), cmp_i64);
	*out = n % 2 == 1 ? v[n / 2] : mean_down(v[n / 2 - 1], v[n / 2]);
	return 0;
}

/* The slot of v in d (where it is, or the free one it would take). */
static size_t
durations_slot(const int64_t *val, const int64_t *cnt, size_t cap, int64_t v)
{
	size_t i = (size_t)(((uint64_t)v * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);

	while (cnt[i] != 0 && val[i] != v)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Doubles d's slots (64 at first), placing what it holds again. */
static int
durations_grow(struct report_durations *d)
{
	size_t cap = d->cap ? 2 * d->cap : 64, i, j;
	int64_t *val = calloc(cap, sizeof(*val)), *cnt = calloc(cap, sizeof(*cnt));

	if (val == NULL || cnt == NULL) {
		free(val);
		free(cnt);
		return UKEY_ERR_NOMEM;
	}
	for (i = 0; i < d->cap; i++) {
		if (d->cnt[i] == 0)
			continue;
		j = durations_slot(val, cnt, cap, d->val[i]);
		val[j] = d->val[i];
		cnt[j] = d->cnt[i];
	}
	free(d->val);
	free(d->cnt);
	d->val = val;
	d->cnt = cnt;
	d->cap = cap;
	return 0;
}

int
report_durations_add(struct report_durations *d, int64_t v)
{
	size_t i;
	int rc;

	/* at most three quarters full */
	if (4 * (d->used + 1) > 3 * d->cap && (rc = durations_grow(d)) != 0)
		return rc;
	i = durations_slot(d->val, d->cnt, d->cap, v);
	if (d->cnt[i] == 0) {
		d->val[i] = v;
		d->used++;
	}
	d->cnt[i]++;
	d->n++;
	return 0;
}

/* One value and how often it was counted. */
struct counted {
	int64_t val, cnt;
};

static int
cmp_counted(const void *a, const void *b)
{
	return cmp_i64(&((const struct counted *)a)->val, &((const struct counted *)b)->val);
}

int
report_durations_median(const struct report_durations *d, int64_t *out)
{
	struct counted *c;
	int64_t lo = 0, hi = 0, seen = 0;
	size_t i, k = 0;
	int have_lo = 0;

	if (d->n == 0)
		return UKEY_ERR_NOTFOUND;
	if ((c = malloc(d->used * sizeof(*c))) == NULL)
		return UKEY_ERR_NOMEM;
	for (i = 0; i < d->cap; i++)
		if (d->cnt[i] != 0)
			c[k++] = (struct counted){ d->val[i], d->cnt[i] };
	qsort(c, k, sizeof(*c), cmp_counted);
	/* the values at positions (n - 1) / 2 and n / 2 of the sorted list:
	 * the same one when n is odd */
	for (i = 0; i < k; i++) {
		seen += c[i].cnt;
		if (!have_lo && seen > (d->n - 1) / 2) {
			lo = c[i].val;
			have_lo = 1;
		}
		if (seen > d->n / 2) {
			hi = c[i].val;
			break;
		}
	}
	free(c);
	*out = d->n % 2 == 1 ? hi : mean_down(lo, hi);
	return 0;
}

void
report_durations_free(struct report_durations *d)
{
	free(d->val);
	free(d->cnt);
	memset(d, 0, sizeof(*d));
}

/* Days since 1970-01-01 of a Gregorian date (H. Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return UKEY_ERR_INVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
report_day_parse(const char *s, int64_t *day)
{
	int y, m, d;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    digits(s, 4, &y) != 0 || digits(s + 5, 2, &m) != 0 || digits(s + 8, 2, &d) != 0 ||
	    !date_valid(y, m, d))
		return UKEY_ERR_INVAL;
	*day = days_from_civil(y, m, d);
	return 0;
}

void
report_day_format(int64_t day, char out[16])
{
	int y, m, d;

	civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

int
report_time_parse(const char *s, int64_t *out)
{
	int64_t day;
	char date[11];
	int h, mi, se;

	if (s == NULL || strlen(s) != 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z')
		return UKEY_ERR_INVAL;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (report_day_parse(date, &day) != 0 || digits(s + 11, 2, &h) != 0 ||
	    digits(s + 14, 2, &mi) != 0 || digits(s + 17, 2, &se) != 0 || h > 23 || mi > 59 ||
	    se > 60)
		return UKEY_ERR_INVAL;
	*out = day * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void
report_time_format(int64_t t, char out[32])
{
	int64_t day = floor_div(t, 86400), sec = t - day * 86400;
	char d[16];

	report_day_format(day, d);
	snprintf(out, 32, "%sT%02d:%02d:%02dZ", d, (int)(sec / 3600), (int)(sec / 60 % 60),
	    (int)(sec % 60));
}

int
report_workday(int64_t day)
{
	/* 1970-01-01 was a Thursday: weekday 0 is Sunday */
	int64_t wd = ((day % 7) + 7 + 4) % 7;

	return wd >= 1 && wd <= 5;
}

int64_t
report_workday_deadline(int64_t start, int utc_offset_min, int days)
{
	int64_t off = (int64_t)utc_offset_min * 60;
	int64_t day = floor_div(start + off, 86400);

	while (days > 0) {
		day++;
		if (report_workday(day))
			days--;
	}
	return (day + 1) * 86400 - off;
}
