/*
 * ctp_amap.h: a hash map keyed by (address, 32-bit tag), for the engine's
 * per-MN tables (transfers, keys, recently seen sequence numbers).
 *
 * Mobile nodes choose the keys, so the hash is SipHash-2-4 under a random
 * per-map key: nobody outside can aim many keys at one bucket.  Chained,
 * doubling at a load of 1; no allocation beyond the entries and the table.
 */
#ifndef CTP_AMAP_H
#define CTP_AMAP_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"

struct ctp_amap_ent {
	struct ctp_amap_ent *next;
	struct ctp_addr      addr;
	uint32_t             tag;
	void                *val;
};

struct ctp_amap {
	struct ctp_amap_ent **b;
	size_t                nb;     /* buckets, a power of two */
	size_t                n;      /* entries */
	uint64_t              k0, k1; /* SipHash key */
};

int ctp_amap_init(struct ctp_amap *m);
/* Frees the entries and the table (not the values). */
void ctp_amap_fini(struct ctp_amap *m);
void *ctp_amap_get(const struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag);
/* Insert or replace; the old value (or NULL) through *old when given. */
int ctp_amap_put(struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag, void *val,
    void **old);
/* Remove and return the value (NULL when absent). */
void *ctp_amap_del(struct ctp_amap *m, const struct ctp_addr *a, uint32_t tag);
/* Visit every entry; fn may not change the map. */
void ctp_amap_each(const struct ctp_amap *m, void (*fn)(const struct ctp_addr *, uint32_t,
    void *val, void *arg), void *arg);

#endif
