/* Sealing small secrets (SO PINs) under the station master key with
 * AES-256-GCM; the master key lives in one 0600 file in the state directory. */
#ifndef UKEY_SEAL_H
#define UKEY_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN 32

/* Loads the key from path, creating it (32 random bytes, mode 0600, written
 * through a temporary file and rename) when it does not exist. Refuses a key
 * file readable by group or others. Returns 0, UKEY_ERR_IO or UKEY_ERR_PERM. */
int seal_key_load(const char *path, uint8_t key[SEAL_KEY_LEN]);

/* Encrypts in[inlen] with aad bound in; *out (malloc'd) = version byte ||
 * 12-byte nonce || ciphertext || 16-byte tag. */
int seal(const uint8_t key[SEAL_KEY_LEN], const char *aad, const uint8_t *in, size_t inlen,
    uint8_t **out, size_t *outlen);

/* Reverses seal; UKEY_ERR_VERIFY if the tag or aad does not match. *out is
 * malloc'd and NUL-terminated; wipe it after use. */
int unseal(const uint8_t key[SEAL_KEY_LEN], const char *aad, const uint8_t *in, size_t inlen,
    uint8_t **out, size_t *outlen);

#endif
