/* The physical token's life (docs/lifecycle.md): the states the station
 * records for a token, which marks are legal from which state, and what a
 * mark does to the certificates the token holds. */
#ifndef UKEY_TOKENLIFE_H
#define UKEY_TOKENLIFE_H

enum token_state {
	TS_IN_STOCK,	/* blank or wiped, the station's to use */
	TS_ISSUED,	/* holds a live certificate; with its holder */
	TS_LOST,	/* the holder no longer has it */
	TS_DAMAGED,	/* it no longer works */
	TS_DESTROYED,	/* destroyed by the CA's staff; final */
	TS_RETURNED,	/* handed back, working, with nothing left to use */
	TS_COUNT_
};

/* "in-stock", "issued", "lost", "damaged", "destroyed", "returned"; "?" out of range. */
const char *token_state_name(enum token_state s);

/* The state named s; -1 for an unknown name. */
int token_state_parse(const char *s);

/* Whether a token in state from may be marked to (issued is never marked:
 * an issuance makes it). */
int token_mark_allowed(enum token_state from, enum token_state to);

/* The RFC 5280 reason the token's live certificates are revoked with when it
 * is marked to: keyCompromise for lost (someone else may hold the key),
 * cessationOfOperation for damaged, destroyed and returned; NULL for
 * in-stock, which needs no certificate to be live. */
const char *token_mark_reason(enum token_state to);

/* Writes the states a token in from may be marked to, comma-separated
 * ("lost, damaged, returned"), or "none" into buf. */
void token_marks_from(enum token_state from, char *buf, unsigned long len);

#endif
