/* Identity numbers on an order: the Unified Social Credit Code (GB 32100-2015),
 * the resident identity number (GB 11643-1999), mainland mobile numbers, and
 * masking for listings. Messages never repeat a whole number. */
#ifndef UKEY_IDCHECK_H
#define UKEY_IDCHECK_H

#include <stddef.h>
#include <time.h>

#include "common/email.h"

/* Returns the USCC check character (position 18) for the first 17 characters
 * of first17, or 0 if one of them is outside the 31-character code alphabet
 * "0123456789ABCDEFGHJKLMNPQRTUWXY" (a short string fails on its NUL). */
char uscc_check_char(const char *first17);

/* Checks a Unified Social Credit Code. Returns 0 when valid; UKEY_ERR_INVAL
 * for a wrong length, a character outside the alphabet or non-digits in the
 * division code (positions 3-8); UKEY_ERR_VERIFY when only the check character
 * is wrong -- the one failure a reviewer may override, since such codes exist
 * in the wild. On failure why (if not NULL) gets a message naming the rule,
 * e.g. "check character should be 'Y', not '6' (GB 32100-2015)". */
int uscc_check(const char *s, char *why, size_t whylen);

/* Returns the resident ID check character ('0'-'9' or 'X') for the first 17
 * characters of first17, or 0 if one of them is not a digit. */
char rid_check_char(const char *first17);

/* Checks an 18-character resident identity number. Lower-case x is accepted
 * as the check character. The birth date (characters 7-14) must be a real
 * calendar date, not before 1800 and not after the date of now in Beijing
 * time. Returns 0 when valid; UKEY_ERR_VERIFY when only the check character
 * is wrong; UKEY_ERR_INVAL otherwise. normalized (if not NULL) gets the
 * upper-case form when the result is 0 or UKEY_ERR_VERIFY, "" otherwise.
 * why as for uscc_check(), e.g. "check character should be 2, not 5 (GB 11643)". */
int rid_check(const char *s, time_t now, char normalized[19], char *why, size_t whylen);

/* Normalizes a mainland mobile number: drops spaces and hyphens, then a +86 or
 * 0086 prefix, and requires 1[3-9] followed by nine digits. Returns 0 with the
 * 11 digits in out, or UKEY_ERR_INVAL with out = "" and why set. */
int phone_normalize(const char *s, char out[12], char *why, size_t whylen);

/* Returns 0 if s (NULL counts as empty) holds only ASCII, else UKEY_ERR_INVAL
 * with why naming the first character that is not, by its place in
 * characters; a full-width form (U+FF01..U+FF5E) is named with the ASCII
 * character it stands for: "character 3 '１' is full-width (U+FF11): only
 * ASCII is allowed, write '1'". uscc_check(), rid_check() and
 * phone_normalize() count and place characters the same way. */
int id_ascii_check(const char *s, char *why, size_t whylen);

/* email_normalize() and EMAIL_MAX: common/email.h (the CA checks addresses too). */

/* Writes a masked copy of id for listings into out (always NUL-terminated
 * when outlen > 0): 18-character ids keep the first 4 and last 4 characters
 * ("5301**********0016"); other ids longer than 4 keep the first 2 and last 2;
 * shorter ones are masked entirely. */
void id_mask(const char *id, char *out, size_t outlen);

#endif
