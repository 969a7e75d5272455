/*
 * ctp_msg.h: the CXTP message codec (RFC 4067 section 2, spec/PROFILE.md 1, 4).
 *
 * No I/O, no allocation.  ctp_msg_decode() validates a whole message and fills
 * a struct ctp_msg whose pointers (key, CDB data) point into the caller's
 * buffer: keep the buffer alive while the struct is used.  ctp_msg_encode()
 * writes a struct back; decode then encode reproduces the bytes exactly.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Vers.|  Type   |V|X| Reserved  |        Length (whole message) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  fields of the type, as laid out in proto/cxtp.def ...        |
 *
 * Context Data Block:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Feature Profile Type (FPT)  | Length (x8)   |P|  Reserved   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Presence Vector (only if P = 1)               |
 * ~            Data, zero-padded to a multiple of 8 octets        ~
 */
#ifndef CTP_MSG_H
#define CTP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_cur.h"
#include "ctp/ctp_defs.h"
#include "ctp/ctp_err.h"

#define CTP_CDB_P        0x80   /* octet 3 of a CDB: presence vector follows */
#define CTP_CDB_RESERVED 0x7f
#define CTP_CDB_HDR_LEN  4
#define CTP_KEY_MAX      64     /* longest token key accepted (octets) */

struct ctp_cdb {
	uint16_t       fpt;
	uint8_t        units;    /* Length field: 8-octet units; 0 = 4-octet request CDB */
	uint8_t        flags;    /* octet 3 as on the wire: P and reserved bits */
	uint32_t       pv;       /* presence vector, when P */
	const uint8_t *data;     /* after the header and presence vector */
	size_t         len;      /* octets at data, padding included */
	size_t         off;      /* offset of the CDB from the start of the message */
	const uint8_t *raw;      /* decode: the whole CDB as on the wire */
	size_t         raw_len;
};

struct ctp_status_ent {
	uint16_t fpt;
	uint8_t  code;      /* CTP_ST_* */
	uint8_t  reserved;  /* zero on send, kept as received */
};

struct ctp_msg {
	uint8_t         version;   /* 1 on send; decode rejects anything else */
	uint8_t         type;      /* enum ctp_msg_type */
	uint8_t         flags;     /* octet 1: CTP_HDR_V | CTP_HDR_X | reserved */
	uint16_t        length;    /* decode: the Length field; encode: output */
	struct ctp_addr mn_prev;   /* every message */
	struct ctp_addr ar;        /* CTAR */
	uint32_t        seq;       /* CTAR, CT-Req, CTN, CTNA */
	uint32_t        token;     /* CTAR, CT-Req */
	uint32_t        elapsed;   /* CTD, PCTD */
	uint16_t        key_alg;   /* PCTD */
	uint16_t        key_len;
	const uint8_t  *key;
	uint8_t         tag[CTP_TAG_LEN];  /* CTN, CTNA */
	const uint8_t  *cdb_raw;   /* the CDB region as on the wire (token input) */
	size_t          cdb_raw_len;
	size_t          ncdb;
	struct ctp_cdb  cdb[CTP_MAX_CDBS];
	size_t          nstatus;
	struct ctp_status_ent status[CTP_MAX_CDBS];
};

/* Decoding options. */
#define CTP_DEC_ICMP 0x01  /* the Length may be shorter than the buffer (ICMP) */

/* 4 or 6, from the V bit. */
static inline unsigned
ctp_msg_family(const struct ctp_msg *m)
{
	return (m->flags & CTP_HDR_V) ? 4 : 6;
}

/* The A (CTAR, CTD, PCTD) or S (CTDR) bit. */
static inline int
ctp_msg_xflag(const struct ctp_msg *m)
{
	return (m->flags & CTP_HDR_X) != 0;
}

/* Start a message of the given type and family: zeroes every field of *m
 * but the entries of cdb[] and status[], which are valid only up to ncdb and
 * nstatus (both 0 now) and are written whole by ctp_msg_add_cdb,
 * ctp_msg_add_status or the caller. */
void ctp_msg_init(struct ctp_msg *m, unsigned type, unsigned family);

/*
 * Validate and parse one message.  Checks, in order: the header fits, the
 * version, the type, the Length against the buffer, then every field of the
 * layout, each CDB's bounds, and that nothing is left over.  CDB contents are
 * not interpreted (plugins do that).  Returns 0 or CTP_E_*, with err->off the
 * offset of the first bad octet.
 */
int ctp_msg_decode(struct ctp_msg *m, const uint8_t *buf, size_t len,
    unsigned opts, struct ctp_err *err);

/*
 * Write m into buf.  The Length is computed (and stored in m->length); each
 * CDB with units = 0 gets the smallest Length that holds it (4 octets for a
 * request CDB without data); a CDB with units set is padded with zeros to
 * exactly that size.  The header flags are written as given, except V, which
 * follows mn_prev's family.  Returns 0 or CTP_E_*; *outlen is the size.
 */
int ctp_msg_encode(struct ctp_msg *m, uint8_t *buf, size_t cap, size_t *outlen,
    struct ctp_err *err);

/* Add a CDB (data is not copied) or a status entry; CTP_E_LIMIT when full. */
int ctp_msg_add_cdb(struct ctp_msg *m, uint16_t fpt, const uint8_t *data, size_t len);
int ctp_msg_add_status(struct ctp_msg *m, uint16_t fpt, uint8_t code);

/*
 * Walk the CDBs of a region as they appear on the wire: request CDBs (4 octets
 * when Length = 0) or full CDBs.  Returns 1 with *cdb filled, 0 at the end,
 * or CTP_E_CDB.  Used by the decoder; exposed for the dissector tests.
 */
int ctp_cdb_next(struct ctp_cur *c, int request, struct ctp_cdb *cdb, struct ctp_err *err);

/*
 * Write a CDB header (and the presence vector when flags has CTP_CDB_P);
 * returns the offset of its start in w, for ctp_cdb_end.  ctp_cdb_end pads
 * to a multiple of 8 octets, or to exactly units x 8 octets when units is
 * not 0, and patches the Length.  A request CDB with nothing after its header
 * and units = 0 stays 4 octets long with Length 0.  CTP_E_NOSPACE when the
 * buffer is full, CTP_E_LIMIT when the data does not fit the asked units.
 */
size_t ctp_cdb_begin(struct ctp_wbuf *w, uint16_t fpt, uint8_t flags, uint32_t pv);
int ctp_cdb_end(struct ctp_wbuf *w, size_t start, uint8_t units, int request);

#endif
