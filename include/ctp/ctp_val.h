/*
 * ctp_val.h: a small value tree (JSON's data model) and its JSON text form.
 *
 * ctpctl's decode/encode, the plugins' describe/build operations and the
 * control socket all speak it.  Integers are kept exactly as unsigned 64-bit
 * values with a sign flag, so sequence numbers and byte counters survive a
 * round trip.  Byte strings travel as lower-case hex strings.
 *
 * Ownership: a value added to an array or object belongs to it; freeing the
 * root frees everything.  ctp_val_free(NULL) is a no-op.  Every allocation is
 * bounded by the input the parser was given (and a nesting depth of 64).
 */
#ifndef CTP_VAL_H
#define CTP_VAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctp/ctp_err.h"

enum ctp_val_kind {
	CTP_V_NULL = 0,
	CTP_V_BOOL,
	CTP_V_INT,     /* u holds the magnitude; neg says the sign */
	CTP_V_STR,
	CTP_V_ARR,
	CTP_V_OBJ,
};

struct ctp_val;

struct ctp_val_member {
	char            *key;
	struct ctp_val  *val;
};

struct ctp_val {
	enum ctp_val_kind kind;
	int               neg;     /* CTP_V_INT: negative */
	uint64_t          u;       /* CTP_V_INT magnitude, CTP_V_BOOL 0/1 */
	char             *s;       /* CTP_V_STR, NUL-terminated */
	size_t            slen;
	size_t            n;       /* CTP_V_ARR / CTP_V_OBJ: elements */
	size_t            cap;
	struct ctp_val  **items;   /* CTP_V_ARR */
	struct ctp_val_member *members; /* CTP_V_OBJ, in insertion order */
};

/* Constructors return NULL only when memory runs out. */
struct ctp_val *ctp_val_null(void);
struct ctp_val *ctp_val_bool(int b);
struct ctp_val *ctp_val_u64(uint64_t u);
struct ctp_val *ctp_val_i64(int64_t i);
struct ctp_val *ctp_val_str(const char *s);
struct ctp_val *ctp_val_strn(const char *s, size_t n);
struct ctp_val *ctp_val_hex(const uint8_t *p, size_t n);  /* "0a1b..." */
struct ctp_val *ctp_val_arr(void);
struct ctp_val *ctp_val_obj(void);
void ctp_val_free(struct ctp_val *v);

/*
 * Append / set.  The child is owned by the parent afterwards, also on
 * failure (it is freed then), so `ctp_val_obj_set(o, "k", ctp_val_u64(1))`
 * needs no clean-up; a NULL child returns CTP_E_NOMEM.
 */
int ctp_val_arr_push(struct ctp_val *arr, struct ctp_val *item);
int ctp_val_obj_set(struct ctp_val *obj, const char *key, struct ctp_val *val);

/* Shorthands for objects: set key to an integer, string, hex bytes. */
int ctp_val_set_u64(struct ctp_val *obj, const char *key, uint64_t u);
int ctp_val_set_str(struct ctp_val *obj, const char *key, const char *s);
int ctp_val_set_hex(struct ctp_val *obj, const char *key, const uint8_t *p, size_t n);

/* Look-ups: NULL when absent or not an object. */
struct ctp_val *ctp_val_get(const struct ctp_val *obj, const char *key);

/*
 * Typed getters: 0 on success; CTP_E_NOTFOUND when the key is absent or obj
 * is NULL (out and err are untouched, so callers may preset a default and a
 * miss never hides a later error); CTP_E_VALUE when it has the wrong type or
 * is out of range (max), with err naming the key.  get_str refuses strings
 * holding a NUL.
 */
int ctp_val_get_u64(const struct ctp_val *obj, const char *key, uint64_t max,
    uint64_t *out, struct ctp_err *err);
int ctp_val_get_str(const struct ctp_val *obj, const char *key,
    const char **out, struct ctp_err *err);
/* Hex string into out (cap octets); *n gets the length. */
int ctp_val_get_hex(const struct ctp_val *obj, const char *key, uint8_t *out,
    size_t cap, size_t *n, struct ctp_err *err);

/* Decode a hex string (whitespace and an optional 0x prefix allowed) into
 * out; decoding in place (out == s) is allowed.  CTP_E_VALUE for a non-hex
 * character or an odd digit count, CTP_E_NOSPACE when out is too small. */
int ctp_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *n);

/*
 * JSON text.  ctp_json_parse accepts RFC 8259 JSON (one value, optional
 * surrounding whitespace), integers only (no fractions or exponents), depth
 * at most 64.  On error: CTP_E_JSON with err->off the byte offset and
 * err->what naming line and column.
 */
int ctp_json_parse(const char *text, size_t len, struct ctp_val **out, struct ctp_err *err);

#define CTP_JSON_PRETTY 0x01   /* two-space indentation, one member per line */
/* No newline follows the value.  Trees nested deeper than 64 are refused
 * (CTP_E_LIMIT) before anything is written. */
int ctp_json_write(const struct ctp_val *v, FILE *f, unsigned flags);
/* Into a malloc'ed NUL-terminated string; NULL on allocation failure or
 * for a tree ctp_json_write refuses. */
char *ctp_json_string(const struct ctp_val *v, unsigned flags);

/*
 * The readable tree `ctpctl decode` prints: one "key: value" line per scalar,
 * nested objects and arrays indented by two spaces.
 */
int ctp_val_print_tree(const struct ctp_val *v, FILE *f);

#endif
