/* Calendar dates of the Gregorian calendar: is y-m-d a day that exists? */
#ifndef UKEY_CALDATE_H
#define UKEY_CALDATE_H

/* Returns 1 if day d of month m (1..12) of year y exists in the Gregorian
 * calendar (leap years: divisible by 4, but not by 100 unless by 400), else 0.
 * Any year is accepted; callers bound the years their field allows. */
int date_valid(int y, int m, int d);

#endif
