/* Order statistics of a benchmark's samples, and the clock they are taken
 * with. */
#ifndef UKEY_BENCHSTAT_H
#define UKEY_BENCHSTAT_H

#include <stddef.h>
#include <stdlib.h>
#include <time.h>

struct bench_stat {
	double median, p90, mean, min, max;
};

static inline int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v (n > 0 samples) and fills st; the median of an even count is the
 * mean of the two middle samples, p90 the sample at rank ceil(0.9 n). */
static inline void
bench_stat_of(double *v, size_t n, struct bench_stat *st)
{
	double sum = 0;
	size_t i, r;

	qsort(v, n, sizeof(*v), bench_cmp);
	for (i = 0; i < n; i++)
		sum += v[i];
	st->mean = sum / (double)n;
	st->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	r = (9 * n + 9) / 10;
	st->p90 = v[r > 0 ? r - 1 : 0];
	st->min = v[0];
	st->max = v[n - 1];
}

/* Milliseconds on the monotonic clock (for differences only). */
static inline double
bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
