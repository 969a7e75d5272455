/*
 * ctp_err.h: the one error convention.
 *
 * Functions return 0 (CTP_OK) or a negative CTP_E_* code.  Decoders also fill
 * a struct ctp_err with the byte offset (from the start of the message, or of
 * the buffer they were given) where the problem lies, the CXTP status code a
 * receiver would answer with, and one line of text naming what is wrong.
 * Nothing here allocates.
 */
#ifndef CTP_ERR_H
#define CTP_ERR_H

#include <stddef.h>
#include <stdint.h>

/* X(name, text): one line each, in the order of their (negative) values. */
#define CTP_ERRNO_MAP(X)                                                    \
	X(SHORT, "truncated: fewer octets than the field needs")            \
	X(VERSION, "unsupported CXTP version")                              \
	X(TYPE, "unknown message type")                                     \
	X(LENGTH, "length field disagrees with the data")                   \
	X(CDB, "malformed context data block")                              \
	X(TLV, "malformed TLV")                                             \
	X(CRITICAL, "unknown critical TLV")                                 \
	X(DUP, "TLV appears more than once")                                \
	X(MISSING, "required element missing")                              \
	X(VALUE, "invalid value")                                           \
	X(PAD, "non-zero padding")                                          \
	X(LIMIT, "limit exceeded")                                          \
	X(NOSPACE, "output buffer too small")                               \
	X(NOMEM, "out of memory")                                           \
	X(INVAL, "invalid argument")                                        \
	X(NOTFOUND, "not found")                                            \
	X(EXIST, "already exists")                                          \
	X(ABI, "plugin ABI mismatch")                                       \
	X(PLUGIN, "plugin failure")                                         \
	X(IO, "input/output error")                                         \
	X(AUTH, "authentication failed")                                    \
	X(JSON, "malformed JSON")                                           \
	X(CRYPTO, "cryptographic library failure")                          \
	X(UNSUPPORTED, "not supported")                                     \
	X(STATE, "not allowed in the current state")                        \
	X(AGAIN, "resource temporarily unavailable")                        \
	X(TIMEDOUT, "timed out")                                            \
	X(CONFIG, "configuration error")

/* Codes are the negated table positions: CTP_E_SHORT = -1, CTP_E_VERSION = -2... */
enum ctp_errno_index_ {
#define CTP_ERR_IDX_(name, text) CTP_EIDX_##name,
	CTP_ERRNO_MAP(CTP_ERR_IDX_)
#undef CTP_ERR_IDX_
	CTP_EIDX_COUNT_
};

enum ctp_errno {
	CTP_OK = 0,
#define CTP_ERR_CODE_(name, text) CTP_E_##name = -1 - CTP_EIDX_##name,
	CTP_ERRNO_MAP(CTP_ERR_CODE_)
#undef CTP_ERR_CODE_
};

struct ctp_err {
	int      code;      /* CTP_E_* (0 when nothing went wrong) */
	size_t   off;       /* byte offset of the offending octets */
	uint8_t  status;    /* CXTP status a receiver answers with (CTP_ST_*) */
	char     what[160]; /* one line, no trailing newline */
};

/* "CTP_E_SHORT" style name, and the text of the table above. */
const char *ctp_errname(int code);
const char *ctp_strerror(int code);

/*
 * Record an error (when err is not NULL) and return code, so decoders can
 * write `return ctp_err_set(err, CTP_E_CDB, off, CTP_ST_MALFORMED_CDB, "...")`.
 * The first error recorded wins: later calls only return their code.
 */
int ctp_err_set(struct ctp_err *err, int code, size_t off, uint8_t status,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void ctp_err_clear(struct ctp_err *err);

#endif
