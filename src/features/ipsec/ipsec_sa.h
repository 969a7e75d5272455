/*
 * ipsec_sa.h: one IPsec SA as ctpd moves it (PROFILE 6, FPT 0xFF01), in host
 * form, and its CDB codec.
 *
 * Three steps, as for every CDB (ctp_tlv.h): ipsec_sa_decode() checks the
 * TLV structure against the tables of proto/cxtp.def, parses every TLV
 * through the cursor into struct ipsec_sa, then calls ipsec_sa_verify() for
 * meaning.  ipsec_sa_encode() writes one whole CDB back.
 *
 * Memory: nothing allocates; the struct holds copies (keys included), so the
 * message buffer may go away after decode.  Keys live inside the struct:
 * ipsec_sa_clear() wipes all of it, and every struct ipsec_sa must be
 * cleared (or reset, below) before its memory is reused or released.
 *
 * A struct is clean when all its octets are zero: after ipsec_sa_clear(),
 * calloc() or ipsec_sa_reset().  A decode writes the variable arrays (key,
 * replay bitmap, names, selectors) only up to their recorded lengths, so a
 * clean struct that only decodes have written since (the fixed fields may
 * be changed freely, the arrays only within their lengths) goes back to
 * clean with the cheap ipsec_sa_reset(), and ipsec_sa_decode_reuse() decodes
 * into it without the 2.7 KiB wipe (issue 8: a bulk move decodes every SA
 * twice).
 *
 * Errors: 0 or CTP_E_*; err->off is a message offset (from the CDB's off),
 * err->status the CXTP status to answer with, err->what one line.
 */
#ifndef IPSEC_SA_H
#define IPSEC_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_cur.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_proto.h"
#include "features/ipsec/ipsec_alg.h"

#define IPSEC_SA_MAX_SELECTORS  16      /* codec limit; more is CTP_E_LIMIT */
#define IPSEC_REPLAY_MAX_BITMAP (CTP_REPLAY_MAX_WINDOW / 8)
#define IPSEC_NAME_MAX          508     /* SEL_NAME / USER_ID value max 512 - 4 */
#define IPSEC_SENSITIVITY_MAX   256     /* SEL_SENSITIVITY value max 260 - 4 */

/* SA_ID flags */
#define IPSEC_SA_F_ESN          0x01    /* extended sequence numbers (RFC 4303 2.2.1) */
#define IPSEC_SA_F_SEQ_OVERFLOW 0x02    /* counter may roll over (RFC 4301 4.4.2.1) */
#define IPSEC_SA_F_ANTI_REPLAY  0x04    /* the receiver checks for replays */
#define IPSEC_SA_F_ALL          0x07

/* ENDPOINTS moves */
#define IPSEC_MOVES_LOCAL       0x01
#define IPSEC_MOVES_PEER        0x02

/* DSCP flags */
#define IPSEC_DSCP_F_BYPASS     0x01

/* Where each TLV sat in the message (offset of its header), so that
 * ipsec_sa_verify() can point at the octet that is wrong.  0 for an SA
 * built locally.  Kept apart so that two decodes compare equal once their
 * where parts are cleared. */
struct ipsec_sa_where {
	size_t sa_id, endpoints, selector[IPSEC_SA_MAX_SELECTORS], encr, integ, seq_out,
	    replay, lifetime, usage, snapshot_age, encap, pmtu, dscp, sel_name,
	    sel_sensitivity, bundle, virtual_sg, xfrm_ref, prev_spi;
};

struct ipsec_selector {
	uint8_t         family;                  /* 4 or 6 */
	uint8_t         ulp;                     /* upper-layer protocol, 0 any */
	uint8_t         src_plen, dst_plen;
	struct ctp_addr src, dst;
	uint16_t        sport_lo, sport_hi, dport_lo, dport_hi;
};

/* SEL_NAME and the profile's USER_ID share this shape. */
struct ipsec_name {
	uint8_t  type;                            /* enum ctp_name_type */
	uint16_t len;
	uint8_t  octets[IPSEC_NAME_MAX];
};

struct ipsec_sa {
	/* SA_ID (required) */
	uint32_t spi;
	uint8_t  protocol;                        /* 50 ESP, 51 AH */
	uint8_t  mode;                            /* 1 transport, 2 tunnel */
	uint8_t  direction;                       /* 1 in, 2 out */
	uint8_t  flags;                           /* IPSEC_SA_F_* */

	/* ENDPOINTS (required); tunnel mode: the outer addresses */
	uint8_t         family;                   /* 4 or 6 */
	uint8_t         sa_type;                  /* 0, 3, 4, 5 */
	uint8_t         moves;                    /* IPSEC_MOVES_* */
	struct ctp_addr local, peer;

	/* SELECTOR, repeatable */
	size_t                nsel;
	struct ipsec_selector sel[IPSEC_SA_MAX_SELECTORS];

	bool has_encr;
	struct {
		uint16_t id;                      /* IKEv2 ENCR transform ID */
		uint16_t key_bits;                /* salt excluded */
		uint16_t key_len;                 /* octets in key, salt included */
		uint8_t  key[IPSEC_ALG_KEY_MAX];
	} encr;

	bool has_integ;
	struct {
		uint16_t id;                      /* IKEv2 INTEG transform ID */
		uint16_t key_len;
		uint8_t  key[IPSEC_ALG_KEY_MAX];
	} integ;

	bool has_seq_out;
	struct {
		uint64_t next;                    /* next to send, margin included */
		uint32_t margin;
	} seq_out;

	bool has_replay;
	struct {
		uint32_t window;                  /* packets, multiple of 32, <= 4096 */
		uint64_t highest;
		uint16_t bitmap_len;              /* octets; must be window / 8 */
		uint8_t  bitmap[IPSEC_REPLAY_MAX_BITMAP]; /* MSB of octet 0 = highest */
	} replay;

	bool has_lifetime;
	struct {
		uint64_t soft_bytes, hard_bytes, soft_packets, hard_packets;
		uint32_t soft_add_s, hard_add_s, soft_use_s, hard_use_s;
	} lifetime;                               /* 0 = no limit */

	bool has_usage;
	struct {
		uint64_t bytes, packets, add_ms, use_ms;
	} usage;

	bool     has_snapshot_age;
	uint32_t snapshot_age_ms;

	bool has_encap;
	struct {
		uint8_t  type;                    /* 1 = ESP in UDP (RFC 3948) */
		uint16_t sport, dport;
	} encap;

	bool has_pmtu;
	struct {
		uint16_t pmtu;
		uint8_t  df;                      /* 0 clear, 1 set, 2 copy */
	} pmtu;

	bool has_dscp;
	struct {
		uint64_t bitmap;                  /* bit n = DSCP n */
		uint8_t  flags;                   /* IPSEC_DSCP_F_* */
	} dscp;

	bool              has_sel_name;
	struct ipsec_name sel_name;

	bool has_sel_sensitivity;
	struct {
		uint32_t doi;
		uint16_t len;
		uint8_t  level[IPSEC_SENSITIVITY_MAX];
	} sel_sensitivity;

	bool has_bundle;
	struct {
		uint32_t id;
		uint8_t  position;                /* 0 = outermost */
		uint8_t  kind;                    /* 1 transport adjacency, 2 iterated */
		uint8_t  count;
	} bundle;

	bool            has_virtual_sg;
	struct ctp_addr virtual_sg;               /* family 4 or 6 */

	bool has_xfrm_ref;
	struct {
		uint32_t reqid, mark_value, mark_mask, if_id;
	} xfrm_ref;

	/* PREV_SPI (proto/DECISIONS.md 35): in a CTN, the SPI the MN knew
	 * before the new endpoint reassigned it */
	bool     has_prev_spi;
	uint32_t prev_spi;

	struct ipsec_sa_where where;
};

/* Zero the whole struct, keys wiped so the compiler cannot skip it. */
void ipsec_sa_clear(struct ipsec_sa *sa);

/*
 * Back to clean, for a struct that was clean and then written as the top of
 * this file says (decoded into, fixed fields changed): the key octets in use
 * wiped (ctp_wipe), every other field, presence flag and count zeroed, the
 * arrays zeroed up to their lengths.  Not for memory of unknown content
 * (malloc, the stack): ipsec_sa_clear() that.
 */
void ipsec_sa_reset(struct ipsec_sa *sa);

/*
 * Wire helpers shared with ipsec_profile.c.  read_addr takes exactly
 * ctp_addr_len(family) octets; read_name the 1 + 3 reserved octets and the
 * rest of the cursor (CTP_E_LIMIT beyond IPSEC_NAME_MAX); write_name is its
 * reverse.  verify_name checks the name type (1..4) and that the name is not
 * empty; off is the offset of the TLV header.
 */
int ipsec_sa_read_addr(struct ctp_cur *c, unsigned family, struct ctp_addr *a);
int ipsec_sa_read_name(struct ctp_cur *c, struct ipsec_name *n);
void ipsec_sa_write_name(struct ctp_wbuf *w, const struct ipsec_name *n);
int ipsec_sa_verify_name(const struct ipsec_name *n, size_t off, const char *what,
    struct ctp_err *err);

/*
 * Decode and verify one SA CDB (cdb->fpt 0xFF01, P = 0).  On failure *sa is
 * cleared; status 0x86 for an unknown critical TLV, 0x83/0x88/0x89 where
 * ipsec_sa_verify() says so, 0x05 for everything else.
 */
int ipsec_sa_decode(const struct ctp_cdb *cdb, struct ipsec_sa *sa, struct ctp_err *err);

/* The same into a struct that ipsec_sa_reset() may take (see the top): it
 * is reset rather than wiped first, and on failure.  The result is the same
 * octet for octet: nothing of the SA it held before is left. */
int ipsec_sa_decode_reuse(const struct ctp_cdb *cdb, struct ipsec_sa *sa,
    struct ctp_err *err);

/* The rules of meaning (PROFILE 6, RFC 4301/4303/8221); see ipsec_sa.c. */
int ipsec_sa_verify(const struct ipsec_sa *sa, struct ctp_err *err);

/*
 * Write one whole CDB (header, TLVs in type order, padding) into w.  Does not
 * verify: tests encode broken SAs on purpose.  Returns 0, CTP_E_NOSPACE
 * (w full), CTP_E_LIMIT (over 2040 octets; w is left as it was) or
 * CTP_E_INVAL (a length or family the wire cannot carry).
 */
int ipsec_sa_encode(const struct ipsec_sa *sa, struct ctp_wbuf *w);

#endif
