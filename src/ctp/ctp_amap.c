/*
 * ctp_amap.c: the address-keyed hash map (see ctp_amap.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ctp/ctp_err.h"
#include "ctp_amap.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                        \
	do {                                                            \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                  \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                  \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

/* SipHash-2-4 (Aumasson and Bernstein) of n octets under (k0, k1). */
static uint64_t
siphash(uint64_t k0, uint64_t k1, const uint8_t *in, size_t n)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)n << 56, m;
	size_t i, left = n & 7;

	for (i = 0; i + 8 <= n; i += 8) {
		m = 0;
		for (int k = 7; k >= 0; k--)
			m = m << 8 | in[i + (size_t)k];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; k < left; k++)
		b |= (uint64_t)in[i + k] << (8 * k);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static size_t
slot(const struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag)
{
	uint8_t k[21] = { 0 };

	k[0] = a->family;
	memcpy(k + 1, a->a, ctp_addr_len(a->family));
	k[17] = (uint8_t)(tag >> 24), k[18] = (uint8_t)(tag >> 16);
	k[19] = (uint8_t)(tag >> 8), k[20] = (uint8_t)tag;
	return (size_t)siphash(m->k0, m->k1, k, sizeof k) & (m->nb - 1);
}

static int
same(const struct ctp_amap_ent *e, const struct ctp_addr *a, uint32_t tag)
{
	/* ctp_addr_eq compares only the family's octets */
	return e->tag == tag && ctp_addr_eq(&e->addr, a);
}

int
ctp_amap_init(struct ctp_amap *m)
{
	memset(m, 0, sizeof *m);
	m->nb = 64;
	if ((m->b = calloc(m->nb, sizeof *m->b)) == NULL)
		return CTP_E_NOMEM;
	if (RAND_bytes((unsigned char *)&m->k0, sizeof m->k0) != 1 ||
	    RAND_bytes((unsigned char *)&m->k1, sizeof m->k1) != 1) {
		free(m->b);
		m->b = NULL;
		return CTP_E_CRYPTO;
	}
	return 0;
}

void
ctp_amap_fini(struct ctp_amap *m)
{
	for (size_t i = 0; m->b && i < m->nb; i++) {
		struct ctp_amap_ent *e = m->b[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->b);
	memset(m, 0, sizeof *m);
}

void *
ctp_amap_get(const struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag)
{
	for (struct ctp_amap_ent *e = m->b[slot(m, a, tag)]; e; e = e->next)
		if (same(e, a, tag))
			return e->val;
	return NULL;
}

static void
grow(struct ctp_amap *m)
{
	size_t nb = m->nb * 2;
	struct ctp_amap_ent **b = calloc(nb, sizeof *b), **old = m->b;
	size_t onb = m->nb;

	if (!b)
		return;   /* keep the longer chains; still correct */
	m->b = b;
	m->nb = nb;
	for (size_t i = 0; i < onb; i++) {
		struct ctp_amap_ent *e = old[i], *next;

		for (; e; e = next) {
			size_t s = slot(m, &e->addr, e->tag);

			next = e->next;
			e->next = b[s];
			b[s] = e;
		}
	}
	free(old);
}

int
ctp_amap_put(struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag, void *val, void **old)
{
	size_t s = slot(m, a, tag);
	struct ctp_amap_ent *e;

	for (e = m->b[s]; e; e = e->next)
		if (same(e, a, tag)) {
			if (old)
				*old = e->val;
			e->val = val;
			return 0;
		}
	if ((e = calloc(1, sizeof *e)) == NULL)
		return CTP_E_NOMEM;
	e->addr = *a;
	e->tag = tag;
	e->val = val;
	e->next = m->b[s];
	m->b[s] = e;
	if (old)
		*old = NULL;
	if (++m->n > m->nb)
		grow(m);
	return 0;
}

void *
ctp_amap_del(struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag)
{
	struct ctp_amap_ent **pp = &m->b[slot(m, a, tag)], *e;
	void *val;

	for (; (e = *pp) != NULL; pp = &e->next)
		if (same(e, a, tag)) {
			*pp = e->next;
			val = e->val;
			free(e);
			m->n--;
			return val;
		}
	return NULL;
}

void
ctp_amap_each(const struct ctp_amap *m, void (*fn)(const struct ctp_addr *, uint32_t, void *,
    void *), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (struct ctp_amap_ent *e = m->b[i]; e; e = e->next)
			fn(&e->addr, e->tag, e->val, arg);
}
