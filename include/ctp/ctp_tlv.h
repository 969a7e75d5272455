/*
 * ctp_tlv.h: TLV-encoded CDB data (spec/PROFILE.md 6), driven by the policy
 * tables generated from proto/cxtp.def.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |C|          Type (15)          |          Length (16)          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Value (Length octets), zero-padded to 4 octets         |
 *
 * Type 0 ends the list; everything after it must be zero (CDB padding).
 *
 * Three layers, used in this order by every reader:
 *   1. ctp_tlv_next: one TLV within bounds (header fits, value fits).
 *   2. ctp_tlv_check: the policy of its FPT: length limits, repeatability,
 *      required TLVs, unknown critical TLVs (status 0x86), padding, and that
 *      the fields of proto/cxtp.def fill each value exactly.
 *   3. the owner (a plugin, or the core for FPT 0xFF00) verifies meaning.
 */
#ifndef CTP_TLV_H
#define CTP_TLV_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_cur.h"
#include "ctp/ctp_defs.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_val.h"

#define CTP_TLV_HDR_LEN 4

struct ctp_tlv {
	uint16_t                  type;  /* critical bit included */
	uint16_t                  len;   /* value octets, padding excluded */
	const uint8_t            *val;
	size_t                    off;   /* offset of the TLV header in the message */
	const struct ctp_tlv_def *def;   /* NULL when the type is unknown */
};

/*
 * Read the next TLV.  Returns 1 with *t filled, 0 at the end of the list
 * (type 0 or no octets left; the padding after a type 0 must be zero), or a
 * CTP_E_* code.  The cursor advances past the value and its padding.
 */
int ctp_tlv_next(struct ctp_cur *c, const struct ctp_fpt_def *fd,
    struct ctp_tlv *t, struct ctp_err *err);

/*
 * Check a whole TLV list against its FPT's policy.  data/len are the CDB's
 * data (padding included), base the offset of data in the message.  On an
 * unknown critical TLV returns CTP_E_CRITICAL with err->status 0x86 (the
 * caller may map it); on other problems CTP_E_TLV/DUP/MISSING/PAD/VALUE with
 * err->status CTP_ST_MALFORMED_CDB.
 */
int ctp_tlv_check(const struct ctp_fpt_def *fd, const uint8_t *data, size_t len,
    size_t base, struct ctp_err *err);

/*
 * The address length a field layout implies: walks the fields of def over
 * value and returns, through *flen, the octets of field i.  Used by the
 * describe/build code and by plugins that want one field.
 */
int ctp_tlv_field_span(const struct ctp_tlv_def *def, const uint8_t *val, size_t len,
    unsigned i, size_t *foff, size_t *flen);

/*
 * Describe: append one object per TLV to arr, in wire order, with "tlv"
 * (name), "tlv_type" and one key per field of proto/cxtp.def; reserved
 * fields appear only when not zero; unknown TLVs carry "value" as hex.
 */
int ctp_tlv_describe(const struct ctp_fpt_def *fd, const uint8_t *data, size_t len,
    size_t base, struct ctp_val *arr, struct ctp_err *err);

/*
 * Build: the reverse, from an array of such objects into w.  "tlv_type" (or
 * "tlv" by name) picks the row; fields missing from an object are zero
 * (ADDR fields follow the TLV's family field), "value" overrides the fields.
 */
int ctp_tlv_build(const struct ctp_fpt_def *fd, const struct ctp_val *arr,
    struct ctp_wbuf *w, struct ctp_err *err);

/* Writing TLVs by hand: begin returns the header's offset in w; end patches
 * the Length and pads the value to 4 octets.  Check w->err at the end. */
size_t ctp_tlv_begin(struct ctp_wbuf *w, uint16_t type);
void ctp_tlv_end(struct ctp_wbuf *w, size_t start);

#endif
