/*
 * ctp_defs.h: the shapes of the tables generated from proto/cxtp.def, and
 * look-ups over them.  The tables themselves live in src/ctp/ctp_proto.c
 * (generated); the constants and enums in ctp/ctp_proto.h (generated).
 */
#ifndef CTP_DEFS_H
#define CTP_DEFS_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_proto.h"

/* One message layout: the fields after the 4-octet header, in order. */
struct ctp_msg_def {
	uint8_t     type;
	const char *name;       /* C name: CTREQ */
	const char *wire;       /* the name people use: CT-Req */
	const char *desc;
	char        xflag;      /* meaning of header bit X: 'A', 'S' or 0 */
	uint8_t     fields[8];  /* enum ctp_mfield, CTP_MF_END-terminated */
};

struct ctp_mfield_def {
	const char *name;       /* JSON key: mn_prev_addr, seq, ... */
	const char *kind;
	const char *desc;
};

/* A named value: status codes and field enumerations. */
struct ctp_code_def {
	unsigned    code;
	const char *name;
	const char *desc;
};

struct ctp_enum_def {
	const char                *name;
	const struct ctp_code_def *values;   /* NULL-name terminated */
};

enum ctp_field_kind {
	CTP_FK_U8 = 1,
	CTP_FK_U16,
	CTP_FK_U32,
	CTP_FK_U64,
	CTP_FK_RSV,     /* size reserved octets, zero on send */
	CTP_FK_ADDR,    /* 4 or 16 octets after the last `family` field */
	CTP_FK_ADDRS,   /* `ref` field's value many addresses */
	CTP_FK_BYTES,   /* exactly size octets */
	CTP_FK_REST,    /* the rest of the value */
};

struct ctp_tlv_field {
	const char                *name;   /* JSON key */
	uint8_t                    kind;   /* enum ctp_field_kind */
	uint16_t                   size;   /* octets for fixed kinds */
	int8_t                     ref;    /* ADDRS: index of the count field */
	const struct ctp_code_def *enm;    /* named values, or NULL */
	const char                *desc;
};

enum ctp_occurs { CTP_OCC_ONCE = 1, CTP_OCC_REQUIRED, CTP_OCC_REPEAT };

/* TLV policy: one row per TLV type of a TLV-encoded FPT. */
struct ctp_tlv_def {
	uint16_t                    type;      /* critical bit included */
	const char                 *name;
	uint8_t                     occurs;    /* enum ctp_occurs */
	uint16_t                    min, max;  /* value length bounds */
	const char                 *desc;
	const struct ctp_tlv_field *fields;
	uint8_t                     nfields;
};

struct ctp_fpt_def {
	uint16_t                  fpt;
	const char               *name;
	const char               *desc;
	const struct ctp_tlv_def *tlvs;       /* NULL: data is not TLV-encoded */
	size_t                    ntlvs;
};

extern const struct ctp_msg_def    ctp_msg_defs[CTP_MSG_MAX + 1];
extern const struct ctp_mfield_def ctp_mfield_defs[];
extern const struct ctp_code_def   ctp_status_defs[];
extern const struct ctp_fpt_def    ctp_fpt_defs[];
extern const struct ctp_enum_def   ctp_enum_defs[];

/* NULL when the type is not one of the nine messages. */
const struct ctp_msg_def *ctp_msg_def(unsigned type);
/* Message type by wire name ("CT-Req") or C name ("CTREQ"), case-insensitive; -1 if none. */
int ctp_msg_type_by_name(const char *name);
/* "CTAR", or NULL. */
const char *ctp_msg_name(unsigned type);

const char *ctp_status_name(unsigned code);   /* NULL when unnamed */
const char *ctp_status_desc(unsigned code);
int ctp_status_by_name(const char *name);     /* -1 when none */

const struct ctp_fpt_def *ctp_fpt_def(uint16_t fpt);   /* NULL when unknown */
const struct ctp_tlv_def *ctp_tlv_def(const struct ctp_fpt_def *fd, uint16_t type);
const struct ctp_tlv_def *ctp_tlv_def_by_name(const struct ctp_fpt_def *fd, const char *name);

const char *ctp_code_name(const struct ctp_code_def *tab, unsigned code);
int ctp_code_by_name(const struct ctp_code_def *tab, const char *name);
const struct ctp_code_def *ctp_enum(const char *name);

#endif
