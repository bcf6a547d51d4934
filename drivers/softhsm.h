/* SoftHSM2 as the virtual token family: each virtual token is a directory
 * with its own softhsm2.conf and object store, so a simulated bay's worker
 * sees exactly one token, as it would with a USB token in a real bay. */
#ifndef UKEY_DRIVER_SOFTHSM_H
#define UKEY_DRIVER_SOFTHSM_H

#include <stddef.h>

/* Creates a virtual token in dir (created 0700): "blank" gives a token that
 * is not initialised; "initialised" gives one initialised by someone else
 * (random PINs nobody keeps), as a used token would arrive.
 * conf receives the path of its softhsm2.conf. Returns 0 or UKEY_ERR_*. */
int softhsm_token_create(const char *dir, const char *preset, char *conf, size_t conflen);

/* Fills conf with the softhsm2.conf path of an existing virtual token in dir;
 * UKEY_ERR_NOTFOUND if dir holds none. */
int softhsm_token_conf(const char *dir, char *conf, size_t conflen);

#endif
