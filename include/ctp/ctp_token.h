/*
 * ctp_token.h: the MN authorization token (RFC 4067 2.7, PROFILE 1.5) and the
 * CTN/CTNA tag (PROFILE 4).
 *
 *   token = first 32 bits of HMAC-SHA1(K, MN previous address | sequence
 *           number | the request CDBs exactly as sent)
 *   K_n   = HMAC-SHA256(K, "CXTP notify" | sequence number)
 *   tag   = first 16 octets of HMAC-SHA256(K_n, message with the tag zeroed)
 *
 * Integers big-endian; the address is 4 or 16 octets by family.
 */
#ifndef CTP_TOKEN_H
#define CTP_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_msg.h"

int ctp_token_compute(const uint8_t *key, size_t keylen, const struct ctp_addr *prev,
    uint32_t seq, const uint8_t *cdbs, size_t cdblen, uint32_t *token);

/* The token a decoded CTAR or CT-Req should carry under key. */
int ctp_token_of_msg(const uint8_t *key, size_t keylen, const struct ctp_msg *m,
    uint32_t *token);

/* 1 when m's token verifies under key (constant-time compare), else 0. */
int ctp_token_verify(const uint8_t *key, size_t keylen, const struct ctp_msg *m);

int ctp_notify_key(const uint8_t *key, size_t keylen, uint32_t seq,
    uint8_t kn[CTP_NOTIFY_KEY_LEN]);

/*
 * Seal / verify the tag of an encoded CTN or CTNA in place: the tag is the
 * last 16 octets of the message.  Verify is constant-time; 1 = good.
 */
int ctp_tag_seal(uint8_t *msg, size_t len, const uint8_t kn[CTP_NOTIFY_KEY_LEN]);
int ctp_tag_verify(const uint8_t *msg, size_t len, const uint8_t kn[CTP_NOTIFY_KEY_LEN]);

#endif
