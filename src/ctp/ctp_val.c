/*
 * ctp_val.c: the value tree, its JSON text (RFC 8259) and the readable tree
 * `ctpctl decode` prints.
 *
 * The parser is strict on purpose.  Its input is what operators and scripts
 * hand a daemon that moves keys between routers, so anything a reader could
 * take two ways (duplicate keys, numbers that would lose precision, invalid
 * UTF-8, lone surrogates) is an error with a line and column, not a guess.
 *
 * Everything the parser allocates is bounded by its input: a decoded string
 * is never longer than its literal, each array element or object member
 * consumes at least one input octet, arrays grow geometrically, and nesting
 * stops at 64 levels, which also bounds the recursion.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_val.h"

/*
 * RFC 8259 section 9 lets a parser limit nesting.  No CXTP message comes
 * close to 64 levels, and the writers refuse deeper trees too, so whatever
 * they write can be read back.
 */
#define VAL_DEPTH_MAX   64

/* JSON never reaches the wire: its errors have no CXTP status to answer with. */
#define VAL_NO_STATUS   0

/* 2^63, the magnitude of INT64_MIN: the most negative integer we accept. */
#define VAL_NEG_MAX     ((uint64_t)1 << 63)

/* ---- UTF-8 --------------------------------------------------------------- */

/*
 * Length of the well-formed UTF-8 sequence at p (left >= 1 octets), or 0.
 * RFC 3629 section 4: no overlong forms (C0, C1, E0 80..9F, F0 80..8F), no
 * surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF).
 */
static size_t
val_utf8_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Encode cp (never a surrogate) into out when out is not NULL; the length. */
static size_t
val_utf8_put(char *out, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (out)
		memcpy(out, b, n);
	return n;
}

static int
val_hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A key as it may appear in err->what: one line, bounded, no quotes to
 * confuse the reader.  Truncation backs up to a character boundary so the
 * message stays valid UTF-8.
 */
static const char *
val_keyname(char *buf, size_t size, const char *key)
{
	size_t i, n = strlen(key), max = size - 4;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)key[i];

		buf[i] = c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
	}
	if (i < n) {
		while (i > 0 && ((unsigned char)key[i] & 0xc0) == 0x80)
			i--;
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static const char *
val_kindname(enum ctp_val_kind kind)
{
	switch (kind) {
	case CTP_V_NULL:
		return "null";
	case CTP_V_BOOL:
		return "a boolean";
	case CTP_V_INT:
		return "an integer";
	case CTP_V_STR:
		return "a string";
	case CTP_V_ARR:
		return "an array";
	case CTP_V_OBJ:
		return "an object";
	}
	return "an unknown kind";
}

/* ---- the tree ---------------------------------------------------------- */

static struct ctp_val *
val_new(enum ctp_val_kind kind)
{
	struct ctp_val *v = calloc(1, sizeof(*v));

	if (v)
		v->kind = kind;
	return v;
}

/*
 * Room for need elements of size octets at base, doubling so that n pushes
 * cost O(n); base is untouched and NULL returned when memory runs out or the
 * size would overflow.
 */
static void *
val_grow(void *base, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 4;
	void *p;

	if (need <= *cap)
		return base;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return NULL;
	if (!(p = realloc(base, ncap * size)))
		return NULL;
	*cap = ncap;
	return p;
}

struct ctp_val *
ctp_val_null(void)
{
	return val_new(CTP_V_NULL);
}

struct ctp_val *
ctp_val_bool(int b)
{
	struct ctp_val *v = val_new(CTP_V_BOOL);

	if (v)
		v->u = b != 0;
	return v;
}

struct ctp_val *
ctp_val_u64(uint64_t u)
{
	struct ctp_val *v = val_new(CTP_V_INT);

	if (v)
		v->u = u;
	return v;
}

struct ctp_val *
ctp_val_i64(int64_t i)
{
	struct ctp_val *v = val_new(CTP_V_INT);

	if (!v)
		return NULL;
	if (i < 0) {
		/* -(i + 1) cannot overflow, even for INT64_MIN */
		v->neg = 1;
		v->u = (uint64_t)-(i + 1) + 1;
	} else
		v->u = (uint64_t)i;
	return v;
}

/*
 * A NULL string becomes JSON null rather than NULL, which would read as "out
 * of memory" to the setters.
 */
struct ctp_val *
ctp_val_strn(const char *s, size_t n)
{
	struct ctp_val *v;

	if (!s)
		return ctp_val_null();
	if (n == SIZE_MAX || !(v = val_new(CTP_V_STR)))
		return NULL;
	if (!(v->s = malloc(n + 1))) {
		free(v);
		return NULL;
	}
	memcpy(v->s, s, n);
	v->s[n] = '\0';
	v->slen = n;
	return v;
}

struct ctp_val *
ctp_val_str(const char *s)
{
	return ctp_val_strn(s, s ? strlen(s) : 0);
}

/* No octets (p may then be NULL) is the empty string; NULL with n > 0 is null. */
struct ctp_val *
ctp_val_hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	struct ctp_val *v;

	if (!p && n)
		return ctp_val_null();
	if (n > (SIZE_MAX - 1) / 2 || !(v = val_new(CTP_V_STR)))
		return NULL;
	if (!(v->s = malloc(2 * n + 1))) {
		free(v);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		v->s[2 * i] = digits[p[i] >> 4];
		v->s[2 * i + 1] = digits[p[i] & 0x0f];
	}
	v->s[2 * n] = '\0';
	v->slen = 2 * n;
	return v;
}

struct ctp_val *
ctp_val_arr(void)
{
	return val_new(CTP_V_ARR);
}

struct ctp_val *
ctp_val_obj(void)
{
	return val_new(CTP_V_OBJ);
}

void
ctp_val_free(struct ctp_val *v)
{
	if (!v)
		return;
	if (v->kind == CTP_V_ARR)
		for (size_t i = 0; i < v->n; i++)
			ctp_val_free(v->items[i]);
	if (v->kind == CTP_V_OBJ)
		for (size_t i = 0; i < v->n; i++) {
			free(v->members[i].key);
			ctp_val_free(v->members[i].val);
		}
	free(v->items);
	free(v->members);
	free(v->s);
	free(v);
}

int
ctp_val_arr_push(struct ctp_val *arr, struct ctp_val *item)
{
	struct ctp_val **items;

	if (!item)
		return CTP_E_NOMEM;
	if (!arr || arr->kind != CTP_V_ARR) {
		ctp_val_free(item);
		return CTP_E_INVAL;
	}
	items = val_grow(arr->items, &arr->cap, arr->n + 1, sizeof(*items));
	if (!items) {
		ctp_val_free(item);
		return CTP_E_NOMEM;
	}
	arr->items = items;
	arr->items[arr->n++] = item;
	return 0;
}

/* Append a member whose key is not there yet; owns key and val either way. */
static int
val_obj_append(struct ctp_val *obj, char *key, struct ctp_val *val)
{
	struct ctp_val_member *m;

	m = val_grow(obj->members, &obj->cap, obj->n + 1, sizeof(*m));
	if (!m) {
		free(key);
		ctp_val_free(val);
		return CTP_E_NOMEM;
	}
	obj->members = m;
	obj->members[obj->n].key = key;
	obj->members[obj->n].val = val;
	obj->n++;
	return 0;
}

int
ctp_val_obj_set(struct ctp_val *obj, const char *key, struct ctp_val *val)
{
	char *k;

	if (!val)
		return CTP_E_NOMEM;
	if (!obj || obj->kind != CTP_V_OBJ || !key) {
		ctp_val_free(val);
		return CTP_E_INVAL;
	}
	for (size_t i = 0; i < obj->n; i++) {
		struct ctp_val_member *m = &obj->members[i];

		if (strcmp(m->key, key) == 0) {
			/* setting the value already there must not free it */
			if (m->val != val)
				ctp_val_free(m->val);
			m->val = val;
			return 0;
		}
	}
	if (!(k = strdup(key))) {
		ctp_val_free(val);
		return CTP_E_NOMEM;
	}
	return val_obj_append(obj, k, val);
}

int
ctp_val_set_u64(struct ctp_val *obj, const char *key, uint64_t u)
{
	return ctp_val_obj_set(obj, key, ctp_val_u64(u));
}

int
ctp_val_set_str(struct ctp_val *obj, const char *key, const char *s)
{
	return ctp_val_obj_set(obj, key, ctp_val_str(s));
}

int
ctp_val_set_hex(struct ctp_val *obj, const char *key, const uint8_t *p, size_t n)
{
	return ctp_val_obj_set(obj, key, ctp_val_hex(p, n));
}

/*
 * Linear: objects here are message fields, a dozen members at most, and the
 * parser has already made sure keys are unique.
 */
struct ctp_val *
ctp_val_get(const struct ctp_val *obj, const char *key)
{
	if (!obj || obj->kind != CTP_V_OBJ || !key)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->members[i].key, key) == 0)
			return obj->members[i].val;
	return NULL;
}

/* ---- typed getters ----------------------------------------------------- */

/*
 * The member named key, or CTP_E_NOTFOUND without touching err: callers probe
 * optional keys, and since the first recorded error wins, recording a miss
 * would hide the real error that follows.  A NULL obj is an absent
 * sub-object, so `ctp_val_get_u64(ctp_val_get(o, "sa"), "spi", ...)` works;
 * anything but an object is a type error.
 */
static int
val_member(const struct ctp_val *obj, const char *key, const struct ctp_val **v,
    struct ctp_err *err)
{
	char name[48];

	if (!key)
		return CTP_E_INVAL;
	if (!obj)
		return CTP_E_NOTFOUND;
	if (obj->kind != CTP_V_OBJ) {
		ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": looked up in %s, not an object",
		    val_keyname(name, sizeof(name), key), val_kindname(obj->kind));
		return CTP_E_VALUE;
	}
	if (!(*v = ctp_val_get(obj, key)))
		return CTP_E_NOTFOUND;
	return 0;
}

int
ctp_val_get_u64(const struct ctp_val *obj, const char *key, uint64_t max,
    uint64_t *out, struct ctp_err *err)
{
	const struct ctp_val *v = NULL;
	char name[48];
	int rc;

	if (!out)
		return CTP_E_INVAL;
	if ((rc = val_member(obj, key, &v, err)) != 0)
		return rc;
	val_keyname(name, sizeof(name), key);
	if (v->kind != CTP_V_INT)
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": expected an integer, got %s", name,
		    val_kindname(v->kind));
	if (v->neg && v->u)
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": -%" PRIu64 " is negative", name, v->u);
	if (v->u > max)
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": %" PRIu64 " is larger than %" PRIu64, name, v->u, max);
	*out = v->u;
	return 0;
}

/*
 * A string holding \u0000 is refused: callers see a C string, and
 * "IPSEC_SA\u0000x" must not compare equal to "IPSEC_SA".
 */
int
ctp_val_get_str(const struct ctp_val *obj, const char *key, const char **out,
    struct ctp_err *err)
{
	const struct ctp_val *v = NULL;
	char name[48];
	int rc;

	if (!out)
		return CTP_E_INVAL;
	if ((rc = val_member(obj, key, &v, err)) != 0)
		return rc;
	val_keyname(name, sizeof(name), key);
	if (v->kind != CTP_V_STR)
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": expected a string, got %s", name, val_kindname(v->kind));
	if (!v->s || memchr(v->s, '\0', v->slen))
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": string contains a NUL character", name);
	*out = v->s;
	return 0;
}

/*
 * Check hex text and count its digits; *start is where they begin (after
 * leading whitespace and an optional 0x).  Whitespace may sit anywhere so
 * that keys can be pasted in groups; ':' separators are refused.
 */
static int
val_hex_scan(const char *s, size_t slen, size_t *start, size_t *digits)
{
	size_t i = 0, d = 0;

	while (i < slen && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	if (slen - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
		i += 2;
	*start = i;
	for (; i < slen; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
			continue;
		if (val_hexdigit((unsigned char)s[i]) < 0)
			return CTP_E_VALUE;
		d++;
	}
	if (d % 2)
		return CTP_E_VALUE;
	*digits = d;
	return 0;
}

/*
 * All checks come before the first write: on error out is untouched.  out
 * may be s itself (ctpctl decodes files in place): each octet lands behind
 * the two digits it came from.
 */
int
ctp_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *n)
{
	size_t start, digits, o = 0;
	int hi = -1, rc;

	if (!s && slen)
		return CTP_E_INVAL;
	if (!s)
		s = "";
	if ((rc = val_hex_scan(s, slen, &start, &digits)) != 0)
		return rc;
	if (digits / 2 > (out ? cap : 0))
		return CTP_E_NOSPACE;
	if (!out) {
		/* no digits, or the check above would have failed */
		if (n)
			*n = 0;
		return 0;
	}
	for (size_t i = start; i < slen; i++) {
		int d = val_hexdigit((unsigned char)s[i]);

		if (d < 0)
			continue;
		if (hi < 0)
			hi = d;
		else {
			out[o++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	if (n)
		*n = o;
	return 0;
}

int
ctp_val_get_hex(const struct ctp_val *obj, const char *key, uint8_t *out,
    size_t cap, size_t *n, struct ctp_err *err)
{
	const struct ctp_val *v = NULL;
	size_t start, digits;
	char name[48];
	int rc;

	if ((rc = val_member(obj, key, &v, err)) != 0)
		return rc;
	val_keyname(name, sizeof(name), key);
	if (v->kind != CTP_V_STR || !v->s)
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": expected a hex string, got %s", name,
		    val_kindname(v->kind));
	if (val_hex_scan(v->s, v->slen, &start, &digits) != 0)
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": not hex (expected an even number of hex digits)", name);
	if (digits / 2 > (out ? cap : 0))
		return ctp_err_set(err, CTP_E_VALUE, 0, VAL_NO_STATUS,
		    "key \"%s\": %zu octets, at most %zu allowed", name, digits / 2,
		    out ? cap : 0);
	return ctp_hex_decode(v->s, v->slen, out, cap, n);
}

/* ---- JSON parser --------------------------------------------------------- */

struct json_parser {
	const unsigned char *s;
	size_t               len;
	size_t               pos;
	struct ctp_err      *err;
};

/* An object key and where its literal starts, for duplicate detection. */
struct json_key {
	const char *key;
	size_t      off;
};

static int json_value(struct json_parser *jp, unsigned depth, struct ctp_val **out);

static int json_fail(struct json_parser *jp, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Record a syntax error at off.  Columns count characters, not octets, so
 * they match what an editor shows; err->off keeps the octet offset.
 */
static int
json_fail(struct json_parser *jp, size_t off, const char *fmt, ...)
{
	size_t line = 1, col = 1;
	char msg[128];
	va_list ap;

	if (!jp->err)
		return CTP_E_JSON;
	for (size_t i = 0; i < off && i < jp->len; i++) {
		if (jp->s[i] == '\n') {
			line++;
			col = 1;
		} else if ((jp->s[i] & 0xc0) != 0x80)
			col++;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctp_err_set(jp->err, CTP_E_JSON, off, VAL_NO_STATUS,
	    "line %zu, column %zu: %s", line, col, msg);
	return CTP_E_JSON;
}

/* "expected X", or, at the end of a truncated text, say so first. */
static int
json_expect(struct json_parser *jp, size_t off, const char *what)
{
	if (off >= jp->len)
		return json_fail(jp, off, "unexpected end of input, expected %s", what);
	return json_fail(jp, off, "expected %s", what);
}

static int
json_nomem(struct json_parser *jp)
{
	ctp_err_set(jp->err, CTP_E_NOMEM, jp->pos, VAL_NO_STATUS,
	    "out of memory parsing JSON");
	return CTP_E_NOMEM;
}

/* RFC 8259 section 2: only these four are whitespace. */
static void
json_ws(struct json_parser *jp)
{
	while (jp->pos < jp->len) {
		unsigned char c = jp->s[jp->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		jp->pos++;
	}
}

/* Four hex digits of a \u escape at off. */
static int
json_u4(struct json_parser *jp, size_t off, uint32_t *cp)
{
	uint32_t v = 0;

	for (size_t i = 0; i < 4; i++) {
		int d;

		if (off + i >= jp->len)
			return json_fail(jp, off + i,
			    "unexpected end of input in a \\u escape");
		if ((d = val_hexdigit(jp->s[off + i])) < 0)
			return json_fail(jp, off + i,
			    "\\u must be followed by four hex digits");
		v = v << 4 | (uint32_t)d;
	}
	*cp = v;
	return 0;
}

/*
 * One pass over the string literal whose quote is at jp->pos: validate it
 * and, when out is not NULL, write the decoded octets there.  It runs once to
 * measure (the decoded form is never longer than the literal) and once to
 * copy, so both passes share one set of checks.  *end is just past the
 * closing quote.
 */
static int
json_str_scan(struct json_parser *jp, char *out, size_t *outlen, size_t *end)
{
	const unsigned char *s = jp->s;
	size_t i = jp->pos + 1, o = 0;
	int rc;

	for (;;) {
		size_t esc = i, n;
		uint32_t cp = 0, lo = 0;
		unsigned c;

		if (i >= jp->len)
			return json_fail(jp, i, "unexpected end of input inside a string");
		c = s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return json_fail(jp, i,
			    "control character 0x%02x must be escaped in a string", c);
		if (c != '\\') {
			if (!(n = val_utf8_len(s + i, jp->len - i)))
				return json_fail(jp, i, "invalid UTF-8 in a string");
			if (out)
				memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (i + 1 >= jp->len)
			return json_fail(jp, i + 1,
			    "unexpected end of input inside a string");
		c = s[i + 1];
		i += 2;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if ((rc = json_u4(jp, i, &cp)) != 0)
				return rc;
			i += 4;
			/*
			 * RFC 8259 section 7: characters beyond the BMP are
			 * a surrogate pair.  A lone half has no UTF-8 form,
			 * so it is an error rather than a silent U+FFFD.
			 */
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return json_fail(jp, esc,
				    "\\u%04X is a low surrogate without a high one before it",
				    (unsigned)cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 1 >= jp->len || s[i] != '\\' || s[i + 1] != 'u')
					return json_fail(jp, esc,
					    "\\u%04X is a high surrogate not followed by a low one",
					    (unsigned)cp);
				if ((rc = json_u4(jp, i + 2, &lo)) != 0)
					return rc;
				if (lo < 0xdc00 || lo > 0xdfff)
					return json_fail(jp, esc,
					    "\\u%04X is a high surrogate not followed by a low one",
					    (unsigned)cp);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			break;
		default:
			if (c > 0x20 && c < 0x7f)
				return json_fail(jp, esc, "invalid escape '\\%c'", (int)c);
			return json_fail(jp, esc, "invalid escape sequence");
		}
		o += val_utf8_put(out ? out + o : NULL, cp);
	}
	*outlen = o;
	*end = i + 1;
	return 0;
}

static int
json_str(struct json_parser *jp, char **sp, size_t *lenp)
{
	size_t n = 0, end = 0;
	char *buf;
	int rc;

	if ((rc = json_str_scan(jp, NULL, &n, &end)) != 0)
		return rc;
	/* n is shorter than the literal, so n + 1 cannot overflow */
	if (!(buf = malloc(n + 1)))
		return json_nomem(jp);
	json_str_scan(jp, buf, &n, &end);
	buf[n] = '\0';
	jp->pos = end;
	*sp = buf;
	*lenp = n;
	return 0;
}

/*
 * Integers only, kept exact: -2^63 .. 2^64-1.  A fraction or exponent is an
 * error instead of being rounded, since every number in CXTP is an integer
 * and 1e3 or 2.0 in a config file is more likely a mistake.
 */
static int
json_num(struct json_parser *jp, struct ctp_val **out)
{
	const unsigned char *s = jp->s;
	size_t start = jp->pos, i = jp->pos;
	struct ctp_val *v;
	uint64_t u = 0;
	int neg = 0;

	if (s[i] == '-') {
		neg = 1;
		i++;
	}
	if (i >= jp->len || s[i] < '0' || s[i] > '9')
		return json_expect(jp, i, "a digit after '-'");
	if (s[i] == '0' && i + 1 < jp->len && s[i + 1] >= '0' && s[i + 1] <= '9')
		return json_fail(jp, i, "leading zeros are not allowed");
	for (; i < jp->len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = s[i] - '0';

		if (u > (UINT64_MAX - d) / 10)
			return json_fail(jp, start, neg ?
			    "integer smaller than -9223372036854775808" :
			    "integer larger than 18446744073709551615");
		u = u * 10 + d;
	}
	if (i < jp->len && s[i] == '.')
		return json_fail(jp, i, "fractions are not supported, integers only");
	if (i < jp->len && (s[i] == 'e' || s[i] == 'E'))
		return json_fail(jp, i, "exponents are not supported, integers only");
	if (neg && u > VAL_NEG_MAX)
		return json_fail(jp, start,
		    "integer smaller than -9223372036854775808");
	if (!(v = ctp_val_u64(u)))
		return json_nomem(jp);
	/* -0 is 0: one value, one text */
	v->neg = neg && u != 0;
	jp->pos = i;
	*out = v;
	return 0;
}

/* true, false or null, which the caller picked by the first letter. */
static int
json_lit(struct json_parser *jp, const char *word, struct ctp_val **out)
{
	size_t wl = strlen(word), left = jp->len - jp->pos;
	struct ctp_val *v;

	if (left < wl || memcmp(jp->s + jp->pos, word, wl) != 0) {
		if (left < wl && memcmp(jp->s + jp->pos, word, left) == 0)
			return json_fail(jp, jp->len,
			    "unexpected end of input in '%s'", word);
		return json_fail(jp, jp->pos, "invalid literal, expected '%s'", word);
	}
	v = word[0] == 'n' ? ctp_val_null() : ctp_val_bool(word[0] == 't');
	if (!v)
		return json_nomem(jp);
	jp->pos += wl;
	*out = v;
	return 0;
}

static int
json_arr(struct json_parser *jp, unsigned depth, struct ctp_val **out)
{
	struct ctp_val *arr, *item = NULL;
	int rc;

	if (depth >= VAL_DEPTH_MAX)
		return json_fail(jp, jp->pos, "nesting deeper than %d levels",
		    VAL_DEPTH_MAX);
	if (!(arr = ctp_val_arr()))
		return json_nomem(jp);
	jp->pos++;
	json_ws(jp);
	if (jp->pos < jp->len && jp->s[jp->pos] == ']') {
		jp->pos++;
		*out = arr;
		return 0;
	}
	for (;;) {
		json_ws(jp);
		if (jp->pos < jp->len && jp->s[jp->pos] == ']') {
			rc = json_fail(jp, jp->pos, "trailing comma before ']'");
			goto fail;
		}
		if ((rc = json_value(jp, depth + 1, &item)) != 0)
			goto fail;
		if (ctp_val_arr_push(arr, item) != 0) {
			rc = json_nomem(jp);
			goto fail;
		}
		json_ws(jp);
		if (jp->pos < jp->len && jp->s[jp->pos] == ',') {
			jp->pos++;
			continue;
		}
		if (jp->pos < jp->len && jp->s[jp->pos] == ']') {
			jp->pos++;
			break;
		}
		rc = json_expect(jp, jp->pos, "',' or ']' after an array element");
		goto fail;
	}
	*out = arr;
	return 0;
fail:
	ctp_val_free(arr);
	return rc;
}

static int
json_key_cmp(const void *a, const void *b)
{
	const struct json_key *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return (x->off > y->off) - (x->off < y->off);
}

/*
 * RFC 8259 section 4 leaves duplicate names to the implementation; taking
 * the first or the last would let two readers of one config disagree, so it
 * is an error.  Sorting keeps a large hostile object at O(n log n) where a
 * scan per member would be quadratic; the error names the earliest repeat.
 */
static int
json_dups(struct json_parser *jp, struct json_key *keys, size_t n)
{
	const char *dup = NULL;
	size_t off = SIZE_MAX;
	char name[48];

	if (n < 2)
		return 0;
	qsort(keys, n, sizeof(*keys), json_key_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(keys[i - 1].key, keys[i].key) == 0 && keys[i].off < off) {
			off = keys[i].off;
			dup = keys[i].key;
		}
	if (!dup)
		return 0;
	return json_fail(jp, off, "duplicate object key \"%s\"",
	    val_keyname(name, sizeof(name), dup));
}

static int
json_obj(struct json_parser *jp, unsigned depth, struct ctp_val **out)
{
	struct json_key *keys = NULL, *k;
	struct ctp_val *obj, *val = NULL;
	size_t kcap = 0, koff, klen;
	char *key;
	int rc;

	if (depth >= VAL_DEPTH_MAX)
		return json_fail(jp, jp->pos, "nesting deeper than %d levels",
		    VAL_DEPTH_MAX);
	if (!(obj = ctp_val_obj()))
		return json_nomem(jp);
	jp->pos++;
	json_ws(jp);
	if (jp->pos < jp->len && jp->s[jp->pos] == '}') {
		jp->pos++;
		*out = obj;
		return 0;
	}
	for (;;) {
		json_ws(jp);
		koff = jp->pos;
		if (koff < jp->len && jp->s[koff] == '}') {
			rc = json_fail(jp, koff, "trailing comma before '}'");
			goto fail;
		}
		if (koff >= jp->len || jp->s[koff] != '"') {
			rc = json_expect(jp, koff, "a string as object key");
			goto fail;
		}
		if ((rc = json_str(jp, &key, &klen)) != 0)
			goto fail;
		/* keys are C strings: an embedded NUL would truncate them */
		if (memchr(key, '\0', klen)) {
			free(key);
			rc = json_fail(jp, koff, "object key contains \\u0000");
			goto fail;
		}
		json_ws(jp);
		if (jp->pos >= jp->len || jp->s[jp->pos] != ':') {
			free(key);
			rc = json_expect(jp, jp->pos, "':' after object key");
			goto fail;
		}
		jp->pos++;
		if ((rc = json_value(jp, depth + 1, &val)) != 0) {
			free(key);
			goto fail;
		}
		if (val_obj_append(obj, key, val) != 0 ||
		    !(k = val_grow(keys, &kcap, obj->n, sizeof(*keys)))) {
			rc = json_nomem(jp);
			goto fail;
		}
		keys = k;
		keys[obj->n - 1].key = obj->members[obj->n - 1].key;
		keys[obj->n - 1].off = koff;
		json_ws(jp);
		if (jp->pos < jp->len && jp->s[jp->pos] == ',') {
			jp->pos++;
			continue;
		}
		if (jp->pos < jp->len && jp->s[jp->pos] == '}') {
			jp->pos++;
			break;
		}
		rc = json_expect(jp, jp->pos, "',' or '}' after an object member");
		goto fail;
	}
	if ((rc = json_dups(jp, keys, obj->n)) != 0)
		goto fail;
	free(keys);
	*out = obj;
	return 0;
fail:
	free(keys);
	ctp_val_free(obj);
	return rc;
}

/* depth: how many arrays and objects enclose this value. */
static int
json_value(struct json_parser *jp, unsigned depth, struct ctp_val **out)
{
	struct ctp_val *v;
	size_t n;
	int rc;

	json_ws(jp);
	if (jp->pos >= jp->len)
		return json_expect(jp, jp->pos, "a value");
	switch (jp->s[jp->pos]) {
	case '{':
		return json_obj(jp, depth, out);
	case '[':
		return json_arr(jp, depth, out);
	case '"':
		if (!(v = val_new(CTP_V_STR)))
			return json_nomem(jp);
		if ((rc = json_str(jp, &v->s, &n)) != 0) {
			free(v);
			return rc;
		}
		v->slen = n;
		*out = v;
		return 0;
	case 't':
		return json_lit(jp, "true", out);
	case 'f':
		return json_lit(jp, "false", out);
	case 'n':
		return json_lit(jp, "null", out);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return json_num(jp, out);
	default:
		return json_expect(jp, jp->pos, "a value");
	}
}

int
ctp_json_parse(const char *text, size_t len, struct ctp_val **out, struct ctp_err *err)
{
	struct json_parser jp;
	struct ctp_val *v = NULL;
	int rc;

	if (!out || (!text && len))
		return ctp_err_set(err, CTP_E_INVAL, 0, VAL_NO_STATUS,
		    "ctp_json_parse: no text or no place for the result");
	*out = NULL;
	jp.s = (const unsigned char *)(text ? text : "");
	jp.len = len;
	jp.pos = 0;
	jp.err = err;
	if ((rc = json_value(&jp, 0, &v)) != 0)
		return rc;
	json_ws(&jp);
	if (jp.pos < jp.len) {
		ctp_val_free(v);
		return json_fail(&jp, jp.pos,
		    "unexpected characters after the JSON value");
	}
	*out = v;
	return 0;
}

/* ---- JSON writer and the readable tree ------------------------------------ */

/*
 * Refuse, before writing anything, what the parser would not read back:
 * deeper than VAL_DEPTH_MAX (which also stops a cycle), a magnitude below
 * -2^63, a NULL where a child or key belongs.
 */
static int
val_check(const struct ctp_val *v, unsigned depth)
{
	int rc;

	if (!v)
		return CTP_E_INVAL;
	switch (v->kind) {
	case CTP_V_NULL:
	case CTP_V_BOOL:
		return 0;
	case CTP_V_INT:
		return v->neg && v->u > VAL_NEG_MAX ? CTP_E_VALUE : 0;
	case CTP_V_STR:
		return v->s || !v->slen ? 0 : CTP_E_INVAL;
	case CTP_V_ARR:
	case CTP_V_OBJ:
		if (depth >= VAL_DEPTH_MAX)
			return CTP_E_LIMIT;
		for (size_t i = 0; i < v->n; i++) {
			if (v->kind == CTP_V_OBJ && !v->members[i].key)
				return CTP_E_INVAL;
			rc = val_check(v->kind == CTP_V_ARR ? v->items[i] :
			    v->members[i].val, depth + 1);
			if (rc != 0)
				return rc;
		}
		return 0;
	}
	return CTP_E_INVAL;
}

/*
 * String text, quoted and escaped for JSON (RFC 8259 section 7): the short
 * escapes where they exist, \u00XX for other control characters and DEL,
 * UTF-8 passed through.  A value built in code may hold bytes that are not
 * UTF-8; each such byte becomes U+FFFD so the output is still valid JSON.
 * Unquoted (the readable tree) still escapes control characters, since peer
 * data must not move a terminal's cursor, and so the backslash too, to keep
 * "\n" the escape apart from a backslash and an n.
 */
static void
json_put_str(FILE *f, const char *str, size_t len, int quoted)
{
	const unsigned char *p = (const unsigned char *)(str ? str : "");
	size_t i = 0, run = 0, n;

	if (quoted)
		putc('"', f);
	while (i < len) {
		unsigned c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && (c != '"' || !quoted)) {
			i++;
			continue;
		}
		if (c >= 0x80 && (n = val_utf8_len(p + i, len - i)) != 0) {
			i += n;
			continue;
		}
		fwrite(p + run, 1, i - run, f);
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c >= 0x80)
				fputs("\xef\xbf\xbd", f);
			else
				fprintf(f, "\\u%04x", c);
			break;
		}
		run = ++i;
	}
	fwrite(p + run, 1, i - run, f);
	if (quoted)
		putc('"', f);
}

static void
val_put_int(FILE *f, const struct ctp_val *v)
{
	fprintf(f, "%s%" PRIu64, v->neg && v->u ? "-" : "", v->u);
}

static void
json_newline(FILE *f, unsigned flags, unsigned indent)
{
	if (flags & CTP_JSON_PRETTY)
		fprintf(f, "\n%*s", (int)indent, "");
}

/* Empty containers stay "{}" and "[]" in both forms, as jq prints them. */
static void
json_put(FILE *f, const struct ctp_val *v, unsigned flags, unsigned indent)
{
	switch (v->kind) {
	case CTP_V_NULL:
		fputs("null", f);
		break;
	case CTP_V_BOOL:
		fputs(v->u ? "true" : "false", f);
		break;
	case CTP_V_INT:
		val_put_int(f, v);
		break;
	case CTP_V_STR:
		json_put_str(f, v->s, v->slen, 1);
		break;
	case CTP_V_ARR:
		putc('[', f);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				putc(',', f);
			json_newline(f, flags, indent + 2);
			json_put(f, v->items[i], flags, indent + 2);
		}
		if (v->n)
			json_newline(f, flags, indent);
		putc(']', f);
		break;
	case CTP_V_OBJ:
		putc('{', f);
		for (size_t i = 0; i < v->n; i++) {
			const struct ctp_val_member *m = &v->members[i];

			if (i)
				putc(',', f);
			json_newline(f, flags, indent + 2);
			json_put_str(f, m->key, strlen(m->key), 1);
			fputs(flags & CTP_JSON_PRETTY ? ": " : ":", f);
			json_put(f, m->val, flags, indent + 2);
		}
		if (v->n)
			json_newline(f, flags, indent);
		putc('}', f);
		break;
	}
}

/* No trailing newline in either form: the caller decides what follows. */
int
ctp_json_write(const struct ctp_val *v, FILE *f, unsigned flags)
{
	int rc;

	if (!f)
		return CTP_E_INVAL;
	if ((rc = val_check(v, 0)) != 0)
		return rc;
	json_put(f, v, flags, 0);
	return ferror(f) ? CTP_E_IO : 0;
}

char *
ctp_json_string(const struct ctp_val *v, unsigned flags)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!(f = open_memstream(&buf, &len)))
		return NULL;
	rc = ctp_json_write(v, f, flags);
	if (fclose(f) != 0 || rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
tree_nested(const struct ctp_val *v)
{
	return (v->kind == CTP_V_ARR || v->kind == CTP_V_OBJ) && v->n > 0;
}

/*
 * Scalars as people read them: strings unquoted (the empty one as ""),
 * empty containers as {} and [].
 */
static void
tree_scalar(FILE *f, const struct ctp_val *v)
{
	switch (v->kind) {
	case CTP_V_NULL:
		fputs("null", f);
		break;
	case CTP_V_BOOL:
		fputs(v->u ? "true" : "false", f);
		break;
	case CTP_V_INT:
		val_put_int(f, v);
		break;
	case CTP_V_STR:
		if (v->slen)
			json_put_str(f, v->s, v->slen, 0);
		else
			fputs("\"\"", f);
		break;
	case CTP_V_ARR:
		fputs("[]", f);
		break;
	case CTP_V_OBJ:
		fputs("{}", f);
		break;
	}
}

static void tree_block(FILE *f, const struct ctp_val *v, unsigned indent, int cont);

/*
 * The YAML block layout: "key: scalar" or "key:" with the children two
 * spaces further in; array elements as "- ", an object element starting on
 * the dash's line.  cont says the cursor already stands at column indent
 * (just after a "- "), so the first line prints no indentation.
 */
static void
tree_obj(FILE *f, const struct ctp_val *v, unsigned indent, int cont)
{
	for (size_t i = 0; i < v->n; i++) {
		const struct ctp_val_member *m = &v->members[i];

		if (i || !cont)
			fprintf(f, "%*s", (int)indent, "");
		if (m->key[0])
			json_put_str(f, m->key, strlen(m->key), 0);
		else
			fputs("\"\"", f);
		if (tree_nested(m->val)) {
			fputs(":\n", f);
			tree_block(f, m->val, indent + 2, 0);
		} else {
			fputs(": ", f);
			tree_scalar(f, m->val);
			putc('\n', f);
		}
	}
}

static void
tree_arr(FILE *f, const struct ctp_val *v, unsigned indent, int cont)
{
	for (size_t i = 0; i < v->n; i++) {
		if (i || !cont)
			fprintf(f, "%*s", (int)indent, "");
		fputs("- ", f);
		if (tree_nested(v->items[i]))
			tree_block(f, v->items[i], indent + 2, 1);
		else {
			tree_scalar(f, v->items[i]);
			putc('\n', f);
		}
	}
}

static void
tree_block(FILE *f, const struct ctp_val *v, unsigned indent, int cont)
{
	if (v->kind == CTP_V_OBJ)
		tree_obj(f, v, indent, cont);
	else
		tree_arr(f, v, indent, cont);
}

int
ctp_val_print_tree(const struct ctp_val *v, FILE *f)
{
	int rc;

	if (!f)
		return CTP_E_INVAL;
	if ((rc = val_check(v, 0)) != 0)
		return rc;
	if (tree_nested(v))
		tree_block(f, v, 0, 0);
	else {
		tree_scalar(f, v);
		putc('\n', f);
	}
	return ferror(f) ? CTP_E_IO : 0;
}
