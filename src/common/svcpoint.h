/* The province's service points (服务网点): the offices that issue tokens,
 * each of which may run a station, with stable ids, their Chinese names and
 * the cities (市州) whose orders they serve. Data from DOMAIN.md §4 and the
 * portal's appendix 1 (附件一); docs/service-points.md lists the table. */
#ifndef UKEY_SVCPOINT_H
#define UKEY_SVCPOINT_H

#include <stddef.h>

/* One service point. cities: the prefixes of the 市州 names it serves
 * ("大理" matches 大理州 and 大理白族自治州), NULL-terminated; counties: the
 * county-level (县区) prefixes it serves inside another point's city,
 * which win over the city. */
struct svcpoint {
	const char *id;		/* stable: [a-z0-9-], stored with each order */
	const char *name;	/* as appendix 1 names the office */
	const char *address;
	const char *const *cities;
	const char *const *counties;
};

/* How a station takes queued units (ukeyd.conf [station] take). */
enum svcpoint_take {
	SVCPOINT_TAKE_ANY = 0,		/* queue order, whichever the point */
	SVCPOINT_TAKE_OWN_FIRST,	/* its own point's units first, then others' */
	SVCPOINT_TAKE_OWN,		/* only its own point's units */
};

/* The table, in appendix 1's order: *n rows. */
const struct svcpoint *svcpoint_all(size_t *n);

/* The point with that id, or NULL. */
const struct svcpoint *svcpoint_find(const char *id);

/* The point that serves a handler in province / city / county (any may be
 * NULL), or NULL when none does (another province, a city not in the
 * table). A county listed by a point wins over its city's point. */
const struct svcpoint *svcpoint_for_region(const char *province, const char *city,
    const char *county);

/* "any", "own-first", "own" to the enum (-1 when none of them), and back. */
int svcpoint_take_parse(const char *s);
const char *svcpoint_take_name(int take);

#endif
