/*
 * ctp_cur.h: the bounded cursor (reading) and the bounded writer.
 *
 * No other code does pointer arithmetic on packet memory.  A getter either
 * reads the whole field and advances, or returns CTP_E_SHORT and leaves the
 * cursor where it was.  Integers are in network byte order on the wire.
 *
 * The writer appends into a buffer it does not own and never grows it: a write
 * that does not fit sets a sticky CTP_E_NOSPACE and writes nothing, so an
 * encoder can write a whole message and check once at the end.
 */
#ifndef CTP_CUR_H
#define CTP_CUR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ctp/ctp_err.h"

struct ctp_cur {
	const uint8_t *p;    /* next octet */
	size_t         left; /* octets from p to the end */
	size_t         off;  /* offset of p from the start of the message */
};

static inline void
ctp_cur_init(struct ctp_cur *c, const void *buf, size_t len, size_t off)
{
	c->p = buf;
	c->left = len;
	c->off = off;
}

static inline int
ctp_cur_u8(struct ctp_cur *c, uint8_t *v)
{
	if (c->left < 1)
		return CTP_E_SHORT;
	*v = c->p[0];
	c->p++, c->left--, c->off++;
	return 0;
}

static inline int
ctp_cur_u16(struct ctp_cur *c, uint16_t *v)
{
	if (c->left < 2)
		return CTP_E_SHORT;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	c->p += 2, c->left -= 2, c->off += 2;
	return 0;
}

static inline int
ctp_cur_u32(struct ctp_cur *c, uint32_t *v)
{
	if (c->left < 4)
		return CTP_E_SHORT;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
	    (uint32_t)c->p[2] << 8 | c->p[3];
	c->p += 4, c->left -= 4, c->off += 4;
	return 0;
}

static inline int
ctp_cur_u64(struct ctp_cur *c, uint64_t *v)
{
	uint64_t x = 0;

	if (c->left < 8)
		return CTP_E_SHORT;
	for (int i = 0; i < 8; i++)
		x = x << 8 | c->p[i];
	*v = x;
	c->p += 8, c->left -= 8, c->off += 8;
	return 0;
}

/* Copy exactly n octets out. */
static inline int
ctp_cur_copy(struct ctp_cur *c, void *dst, size_t n)
{
	if (c->left < n)
		return CTP_E_SHORT;
	if (n)
		memcpy(dst, c->p, n);
	c->p += n, c->left -= n, c->off += n;
	return 0;
}

/* A view of the next n octets (no copy); *p stays valid with the buffer. */
static inline int
ctp_cur_view(struct ctp_cur *c, size_t n, const uint8_t **p)
{
	if (c->left < n)
		return CTP_E_SHORT;
	*p = c->p;
	c->p += n, c->left -= n, c->off += n;
	return 0;
}

static inline int
ctp_cur_skip(struct ctp_cur *c, size_t n)
{
	const uint8_t *unused;

	return ctp_cur_view(c, n, &unused);
}

/* Carve the next n octets into their own cursor and advance past them. */
static inline int
ctp_cur_sub(struct ctp_cur *c, size_t n, struct ctp_cur *sub)
{
	if (c->left < n)
		return CTP_E_SHORT;
	ctp_cur_init(sub, c->p, n, c->off);
	c->p += n, c->left -= n, c->off += n;
	return 0;
}

/* Peek without consuming. */
static inline int
ctp_cur_peek_u16(const struct ctp_cur *c, uint16_t *v)
{
	if (c->left < 2)
		return CTP_E_SHORT;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	return 0;
}

/* 1 when every remaining octet is zero (padding checks). */
static inline int
ctp_cur_all_zero(const struct ctp_cur *c)
{
	for (size_t i = 0; i < c->left; i++)
		if (c->p[i])
			return 0;
	return 1;
}

/* ---- writer ------------------------------------------------------------ */

struct ctp_wbuf {
	uint8_t *p;    /* start of the caller's buffer */
	size_t   len;  /* octets written */
	size_t   cap;  /* size of the buffer */
	int      err;  /* 0, or CTP_E_NOSPACE once a write did not fit */
};

static inline void
ctp_wbuf_init(struct ctp_wbuf *w, void *buf, size_t cap)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->err = 0;
}

/* Reserve n octets and return where they start, or NULL (sticky error). */
static inline uint8_t *
ctp_wbuf_reserve(struct ctp_wbuf *w, size_t n)
{
	uint8_t *at;

	if (w->err || w->cap - w->len < n) {
		w->err = CTP_E_NOSPACE;
		return NULL;
	}
	at = w->p + w->len;
	w->len += n;
	return at;
}

static inline void
ctp_wbuf_u8(struct ctp_wbuf *w, uint8_t v)
{
	uint8_t *q = ctp_wbuf_reserve(w, 1);

	if (q)
		q[0] = v;
}

static inline void
ctp_wbuf_u16(struct ctp_wbuf *w, uint16_t v)
{
	uint8_t *q = ctp_wbuf_reserve(w, 2);

	if (q)
		q[0] = (uint8_t)(v >> 8), q[1] = (uint8_t)v;
}

static inline void
ctp_wbuf_u32(struct ctp_wbuf *w, uint32_t v)
{
	uint8_t *q = ctp_wbuf_reserve(w, 4);

	if (q)
		for (int i = 0; i < 4; i++)
			q[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void
ctp_wbuf_u64(struct ctp_wbuf *w, uint64_t v)
{
	uint8_t *q = ctp_wbuf_reserve(w, 8);

	if (q)
		for (int i = 0; i < 8; i++)
			q[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline void
ctp_wbuf_bytes(struct ctp_wbuf *w, const void *src, size_t n)
{
	uint8_t *q = ctp_wbuf_reserve(w, n);

	if (q && n)
		memcpy(q, src, n);
}

static inline void
ctp_wbuf_zero(struct ctp_wbuf *w, size_t n)
{
	uint8_t *q = ctp_wbuf_reserve(w, n);

	if (q && n)
		memset(q, 0, n);
}

/* Big-endian stores into already reserved space (length back-patching). */
static inline void
ctp_put_u16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)(v >> 8), q[1] = (uint8_t)v;
}

static inline void
ctp_put_u32(uint8_t *q, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		q[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline uint16_t
ctp_get_u16(const uint8_t *q)
{
	return (uint16_t)(q[0] << 8 | q[1]);
}

static inline uint32_t
ctp_get_u32(const uint8_t *q)
{
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

#endif
