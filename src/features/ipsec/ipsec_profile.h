/*
 * ipsec_profile.h: the IPsec user profile (PROFILE 6, FPT 0xFF02), one CDB
 * per MN: the algorithms the user prefers (most preferred first), the
 * forwarding path of each plane, and the user's identity.
 *
 * Same three steps and the same conventions as ipsec_sa.h: decode checks the
 * TLV structure, parses through the cursor, then ipsec_profile_verify()
 * checks meaning.  Nothing allocates; the struct holds copies.
 */
#ifndef IPSEC_PROFILE_H
#define IPSEC_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_cur.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_msg.h"
#include "features/ipsec/ipsec_sa.h"

#define IPSEC_PROFILE_MAX_PREFS 16   /* per list; more is CTP_E_LIMIT */
#define IPSEC_PROFILE_MAX_NODES 32   /* per path; more is CTP_E_LIMIT */
#define IPSEC_PROFILE_PLANES    3    /* 1 data, 2 control, 3 management */

struct ipsec_encr_pref {
	uint16_t id;         /* IKEv2 ENCR transform ID */
	uint16_t key_bits;
	size_t   off;        /* message offset of the TLV (0 when built locally) */
};

struct ipsec_integ_pref {
	uint16_t id;         /* IKEv2 INTEG transform ID */
	size_t   off;
};

struct ipsec_path {
	bool            present;
	uint8_t         family;                  /* 4 or 6 */
	uint8_t         node_count;
	struct ctp_addr nodes[IPSEC_PROFILE_MAX_NODES];  /* from pAR outwards */
	size_t          off;
};

struct ipsec_profile {
	size_t                  nencr;
	struct ipsec_encr_pref  encr[IPSEC_PROFILE_MAX_PREFS];
	size_t                  ninteg;
	struct ipsec_integ_pref integ[IPSEC_PROFILE_MAX_PREFS];
	struct ipsec_path       path[IPSEC_PROFILE_PLANES];   /* index = plane - 1 */
	bool                    has_user_id;
	struct ipsec_name       user_id;
	size_t                  user_id_off;
};

void ipsec_profile_clear(struct ipsec_profile *p);

/*
 * Decode and verify one profile CDB (cdb->fpt 0xFF02, P = 0).  On failure
 * *p is cleared.  A second PATH for one plane is CTP_E_DUP; a plane outside
 * 1..3 CTP_E_VALUE; too many entries CTP_E_LIMIT (status 0x06).
 */
int ipsec_profile_decode(const struct ctp_cdb *cdb, struct ipsec_profile *p,
    struct ctp_err *err);

int ipsec_profile_verify(const struct ipsec_profile *p, struct ctp_err *err);

/* One whole CDB into w; returns as ipsec_sa_encode(). */
int ipsec_profile_encode(const struct ipsec_profile *p, struct ctp_wbuf *w);

#endif
