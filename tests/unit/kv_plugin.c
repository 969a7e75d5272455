/*
 * kv_plugin.c: the engine tests' feature (kv_plugin.h).  Deliberately
 * simple: one CDB per item, data = name (32 octets, NUL-padded) | value (4).
 */
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_registry.h"
#include "kv_plugin.h"

#define KV_NAME 32

struct kv_item {
	struct kv_item *next;
	struct ctp_addr mn;
	char            name[KV_NAME];
	uint32_t        value;
	int             state;
};

struct kv_state {
	struct kv_item *items;
	char            fetch[4][32];
	size_t          nfetch;
	struct {
		char prefix[16];
		char peer[32];
	}               relay[4];
	size_t          nrelay;
	char            fallback_from[32], fallback_to[32];
	int             fail_install;
	unsigned        collects, source_dones, installs, sink_dones;
	void          (*on_install)(void *);
	void           *on_install_arg;
};

/* what a source handed over, in CDB order (the slot) */
struct kv_slot {
	size_t n;
	char   names[64][KV_NAME];
};

static const uint16_t kv_fpts[] = { KV_FPT };

static struct kv_item *
find(struct kv_state *s, const struct ctp_addr *mn, const char *name)
{
	for (struct kv_item *i = s->items; i; i = i->next)
		if (ctp_addr_eq(&i->mn, mn) && strncmp(i->name, name, KV_NAME) == 0)
			return i;
	return NULL;
}

static void
drop(struct kv_state *s, struct kv_item *it)
{
	for (struct kv_item **pp = &s->items; *pp; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			free(it);
			return;
		}
}

int
kv_add(struct kv_state *s, const struct ctp_addr *mn, const char *name, uint32_t value)
{
	struct kv_item *it = calloc(1, sizeof *it);

	if (!it)
		return CTP_E_NOMEM;
	it->mn = *mn;
	strncpy(it->name, name, KV_NAME - 1);
	it->value = value;
	it->next = s->items;
	s->items = it;
	return 0;
}

int
kv_get(struct kv_state *s, const struct ctp_addr *mn, const char *name)
{
	struct kv_item *it = find(s, mn, name);

	return it ? it->state : -1;
}

size_t
kv_count(struct kv_state *s, const struct ctp_addr *mn)
{
	size_t n = 0;

	for (struct kv_item *i = s->items; i; i = i->next)
		n += ctp_addr_eq(&i->mn, mn);
	return n;
}

void
kv_set_fail_install(struct kv_state *s, int on)
{
	s->fail_install = on;
}

void
kv_on_install(struct kv_state *s, void (*fn)(void *arg), void *arg)
{
	s->on_install = fn;
	s->on_install_arg = arg;
}

void
kv_calls(struct kv_state *s, unsigned *c, unsigned *sd, unsigned *i, unsigned *kd)
{
	*c = s->collects, *sd = s->source_dones, *i = s->installs, *kd = s->sink_dones;
}

struct kv_state *
kv_of(struct ctp_registry *reg)
{
	const struct ctp_plugin *p = ctp_registry_by_name(reg, "kv");

	return p ? p->state : NULL;
}

static int
kv_init(const struct ctp_host_ops *ops, struct ctp_host *host, const struct ctp_val *config,
    void **state, struct ctp_err *err)
{
	struct kv_state *s = calloc(1, sizeof *s);
	const struct ctp_val *a;

	(void)ops;
	(void)host;
	if (!s)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "kv: out of memory");
	if ((a = ctp_val_get(config, "fetch")) != NULL)
		for (size_t i = 0; i < a->n && s->nfetch < 4; i++)
			strncpy(s->fetch[s->nfetch++], a->items[i]->s, 31);
	if ((a = ctp_val_get(config, "relay")) != NULL)
		for (size_t i = 0; i < a->n && s->nrelay < 4; i++) {
			const char *pre = NULL, *peer = NULL;

			(void)ctp_val_get_str(a->items[i], "prefix", &pre, NULL);
			(void)ctp_val_get_str(a->items[i], "peer", &peer, NULL);
			if (pre && peer) {
				strncpy(s->relay[s->nrelay].prefix, pre, 15);
				strncpy(s->relay[s->nrelay].peer, peer, 31);
				s->nrelay++;
			}
		}
	if ((a = ctp_val_get(config, "fallback")) != NULL && a->n == 1) {
		const char *from = NULL, *to = NULL;

		(void)ctp_val_get_str(a->items[0], "peer", &from, NULL);
		(void)ctp_val_get_str(a->items[0], "to", &to, NULL);
		if (from && to) {
			strncpy(s->fallback_from, from, 31);
			strncpy(s->fallback_to, to, 31);
		}
	}
	*state = s;
	return 0;
}

static void
kv_fini(void *state)
{
	struct kv_state *s = state;

	while (s->items)
		drop(s, s->items);
	free(s);
}

static int
kv_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err)
{
	(void)state;
	(void)family;
	if (cdb->len < KV_NAME + 4)
		return ctp_err_set(err, CTP_E_CDB, cdb->off, 5, "kv: CDB too short");
	return 0;
}

static int
kv_describe(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_val *obj,
    struct ctp_err *err)
{
	(void)state;
	(void)family;
	(void)err;
	return ctp_val_set_hex(obj, "data", cdb->data, cdb->len);
}

static int
kv_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	(void)state;
	(void)fpt;
	(void)obj;
	(void)w;
	return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, 0, "kv: no build");
}

static int
kv_collect(void *state, struct ctp_xfer *x, struct ctp_collect *c, struct ctp_err *err)
{
	struct kv_state *s = state;
	struct kv_slot *slot = calloc(1, sizeof *slot);

	(void)err;
	if (!slot)
		return CTP_E_NOMEM;
	s->collects++;
	for (struct kv_item *it = s->items; it; it = it->next) {
		size_t at;

		if (!ctp_addr_eq(&it->mn, &x->mn) || it->state != KV_ACTIVE || slot->n == 64)
			continue;
		it->state = KV_FROZEN;   /* stop using it before it is copied */
		at = ctp_cdb_begin(c->out, KV_FPT, 0, 0);
		ctp_wbuf_bytes(c->out, it->name, KV_NAME);
		ctp_wbuf_u32(c->out, it->value);
		(void)ctp_cdb_end(c->out, at, 0, 0);
		memcpy(slot->names[slot->n++], it->name, KV_NAME);
	}
	for (size_t i = 0; i < s->nfetch && c->nfetch < CTP_COLLECT_MAX_FETCH; i++) {
		c->fetch[c->nfetch].peer = s->fetch[i];
		c->fetch[c->nfetch].fpt = KV_FPT;
		c->nfetch++;
	}
	*x->slot = slot;
	return 0;
}

static void
kv_source_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status, size_t n)
{
	struct kv_state *s = state;
	struct kv_slot *slot = *x->slot;

	s->source_dones++;
	for (size_t i = 0; slot && i < slot->n; i++) {
		struct kv_item *it = find(s, &x->mn, slot->names[i]);
		int o = i < n ? ctp_xfer_status_outcome(status[i]) : outcome;

		if (!it)
			continue;
		if (o == CTP_XFER_COMMIT)
			drop(s, it);
		else if (o == CTP_XFER_ABORT_CLEAN)
			it->state = KV_ACTIVE;
		else
			it->state = KV_QUARANTINED;
	}
	free(slot);
	*x->slot = NULL;
}

static int
kv_install(void *state, struct ctp_xfer *x, struct ctp_install *in, struct ctp_err *err)
{
	struct kv_state *s = state;

	(void)err;
	s->installs++;
	if (s->on_install)
		s->on_install(s->on_install_arg);
	for (size_t i = 0; i < in->n; i++) {
		char name[KV_NAME + 1] = { 0 };
		struct ctp_cur c;
		uint32_t v = 0;

		ctp_cur_init(&c, in->cdb[i].data, in->cdb[i].len, 0);
		(void)ctp_cur_copy(&c, name, KV_NAME);
		(void)ctp_cur_u32(&c, &v);
		for (size_t r = 0; r < s->nrelay; r++)
			if (strncmp(name, s->relay[r].prefix, strlen(s->relay[r].prefix)) == 0)
				in->relay[i] = s->relay[r].peer;
		if (in->relay[i])
			continue;
		if (s->fail_install) {
			in->status[i] = 0x06;
			continue;
		}
		if (find(s, &x->mn, name)) {
			in->status[i] = 0x08;   /* it is here already: never twice */
			continue;
		}
		if (kv_add(s, &x->mn, name, v) < 0)
			in->status[i] = 0x06;
	}
	return 0;
}

/* A refused relay to fallback_from goes to fallback_to instead (once). */
static int
kv_review(void *state, struct ctp_xfer *x, struct ctp_install *in, struct ctp_err *err)
{
	struct kv_state *s = state;
	int again = 0;

	(void)x;
	(void)err;
	if (!s->fallback_from[0])
		return 0;
	for (size_t i = 0; i < in->n; i++) {
		char name[KV_NAME + 1] = { 0 };
		struct ctp_cur c;

		ctp_cur_init(&c, in->cdb[i].data, in->cdb[i].len, 0);
		(void)ctp_cur_copy(&c, name, KV_NAME);
		if (in->status[i] == 0 || strncmp(name, "s2:", 3) != 0 || *x->slot)
			continue;
		in->relay[i] = s->fallback_to;
		again = 1;
	}
	if (again)
		*x->slot = s;   /* one fallback round per transfer */
	return again;
}

static void
kv_sink_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status, size_t n)
{
	struct kv_state *s = state;

	(void)outcome;
	(void)status;
	(void)n;
	*x->slot = NULL;
	s->sink_dones++;
}

static int
kv_mns(void *state, void (*fn)(void *arg, const struct ctp_addr *mn), void *arg)
{
	struct kv_state *s = state;

	/* as the ipsec plugin: frozen items too (their MN is on its way and
	 * the engine skips it), quarantined ones never */
	for (struct kv_item *it = s->items; it; it = it->next)
		if (it->state != KV_QUARANTINED)
			fn(arg, &it->mn);
	return 0;
}

const struct ctp_feature kv_feature = {
	.abi_version = CTP_FEATURE_ABI_VERSION,
	.size = sizeof(struct ctp_feature),
	.name = "kv",
	.version = "test",
	.fpts = kv_fpts,
	.nfpts = 1,
	.init = kv_init,
	.fini = kv_fini,
	.cdb_check = kv_check,
	.cdb_describe = kv_describe,
	.cdb_build = kv_build,
	.source_collect = kv_collect,
	.source_done = kv_source_done,
	.sink_install = kv_install,
	.sink_review = kv_review,
	.sink_done = kv_sink_done,
	.source_mns = kv_mns,
};
