/*
 * mld_ops.c: the MLD feature's operations (mld_ops.h): RFC 4067 appendix B
 * on top of the table of mld_state.c.
 *
 * Source side (pAR).  collect turns every active group of the MN into one
 * CDB (the RFC's plain form, P = 0, when the prefix is known) and freezes
 * the entry; the slot remembers which entries went, in CDB order.  done
 * then settles each by its own status (ctp_xfer_status_outcome):
 *
 *   committed       nAR listens now: the entry goes, and the group is left
 *                   when this router had joined it and no other MN here
 *                   still listens;
 *   clean abort     nAR refused or never used it: active again;
 *   unknown         (timed out, peer lost) nAR may listen or not: the entry
 *                   stays frozen.  A membership carries no sequence number
 *                   or key that two routers could both use up, so listening
 *                   on both sides for a while is harmless: at worst the
 *                   group's traffic also reaches a link the MN has left.
 *                   Making it active again would let a later transfer hand
 *                   the MN's group over once more as if this router still
 *                   served it; dropping it would stop the group here before
 *                   anyone knows that nAR took it.  Frozen is also enough
 *                   for the MN: its new router serves the group, either
 *                   from this context or from the Report the MN sends when
 *                   it attaches (MLD is soft state, RFC 3810 6.1).  add, or
 *                   the context coming back, makes it active again.
 *
 * A CDB the engine reports no status for never left (it did not fit the
 * message): active again.  An entry changed meanwhile (deleted, added anew,
 * made active by add) is left as it is now: the newer word wins.
 *
 * Sink side (nAR).  install decodes each CDB, adds or refreshes the entry
 * for the MN and joins the group on every configured interface: 0, or 0x06
 * (no resources) when the table is full or a join fails, with the reason
 * in the log.  Nothing is relayed and nothing needs telling the MN.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_log.h"
#include "features/mld/mld_ops.h"

const uint16_t mld_ops_fpts[1] = { CTP_FPT_MLD };

/* What a source handed over: the entries, in CDB order. */
struct mld_ops_slot {
	size_t n;
	struct {
		uint8_t  group[16];
		uint64_t gen;
	}      ent[MLD_OPS_XFER_MAX];
};

/* ---- configuration ---------------------------------------------------------- */

/* A name the kernel would accept (dev_valid_name), so a typo fails at start. */
static int
mld_ops_ifname_check(const char *s, struct ctp_err *err)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IF_NAMESIZE)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: interface name \"%s\" must be 1 to "
		    "%d characters", s, IF_NAMESIZE - 1);
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strpbrk(s, "/: \t\n\r\v\f"))
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: \"%s\" is not an interface name "
		    "(no \"/\", \":\" or white space; not \".\" or \"..\")", s);
	return 0;
}

static int
mld_ops_config(const struct ctp_val *config, char names[][IF_NAMESIZE], size_t *n,
    struct ctp_err *err)
{
	const struct ctp_val *arr = NULL;

	*n = 0;
	if (!config || config->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: configuration is not an object");
	for (size_t i = 0; i < config->n; i++) {
		if (strcmp(config->members[i].key, "interface") != 0)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "mld: unknown configuration key \"%s\"", config->members[i].key);
		arr = config->members[i].val;
	}
	if (!arr)
		return 0;
	if (arr->kind != CTP_V_ARR)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "mld: \"interface\" is a list of {\"name\": NAME} objects");
	for (size_t i = 0; i < arr->n; i++) {
		const struct ctp_val *o = arr->items[i], *v;
		int rc;

		if (o->kind != CTP_V_OBJ)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "mld: \"interface\" is a list of {\"name\": NAME} objects");
		for (size_t k = 0; k < o->n; k++)
			if (strcmp(o->members[k].key, "name") != 0)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "mld: unknown interface key \"%s\"", o->members[k].key);
		if ((v = ctp_val_get(o, "name")) == NULL)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: an interface has no name");
		if (*n == MLD_STATE_MAX_IFS)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: more than %d interfaces",
			    MLD_STATE_MAX_IFS);
		/* the value tree makes an all-digit attribute an integer: a name still */
		if (v->kind == CTP_V_INT && !v->neg)
			snprintf(names[*n], IF_NAMESIZE, "%" PRIu64, v->u);
		else if (v->kind == CTP_V_STR && strlen(v->s) < IF_NAMESIZE)
			snprintf(names[*n], IF_NAMESIZE, "%s", v->s);
		else if (v->kind == CTP_V_STR)
			return mld_ops_ifname_check(v->s, err);
		else
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: an interface name is a string");
		if ((rc = mld_ops_ifname_check(names[*n], err)) < 0)
			return rc;
		for (size_t k = 0; k < *n; k++)
			if (strcmp(names[k], names[*n]) == 0)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "mld: interface \"%s\" is listed twice", names[*n]);
		(*n)++;
	}
	return 0;
}

int
mld_ops_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err)
{
	char names[MLD_STATE_MAX_IFS][IF_NAMESIZE];
	const char *ptrs[MLD_STATE_MAX_IFS];
	struct mld_state *st;
	size_t n;
	int rc;

	if ((rc = mld_ops_config(config, names, &n, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = names[i];
	if ((rc = mld_state_new(ops, host, ptrs, n, &st, err)) < 0)
		return rc;
	if (n == 0)
		mld_state_log(st, CTP_LOG_NOTICE, __func__, "mld: no interface configured: "
		    "listener contexts are tracked and moved, this router joins no group");
	for (size_t i = 0; i < n; i++) {
		if (if_nametoindex(names[i]) == 0)
			mld_state_log(st, CTP_LOG_WARN, __func__, "mld: interface %s does not exist "
			    "(yet): installs fail with status 0x06 until it does", names[i]);
		mld_state_log(st, CTP_LOG_INFO, __func__, "mld: joins the groups it takes over "
		    "on %s", names[i]);
	}
	/* last: the host keeps the command, and has no way to take it back */
	if (ops && ops->size >= offsetof(struct ctp_host_ops, register_cmd) +
	    sizeof ops->register_cmd && ops->register_cmd) {
		if ((rc = ops->register_cmd(host, "mld", mld_ops_cmd, st)) < 0) {
			mld_state_free(st);
			return ctp_err_set(err, rc, 0, 0, "mld: cannot offer the control command "
			    "\"mld\": %s", ctp_strerror(rc));
		}
	} else
		mld_state_log(st, CTP_LOG_DEBUG, __func__, "mld: the host takes no control "
		    "commands: the table is fed by transfers only");
	*state = st;
	return 0;
}

void
mld_ops_fini(void *state)
{
	mld_state_free(state);
}

/* ---- codec: check, describe, build ------------------------------------------- */

int
mld_ops_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err)
{
	struct mld_ctx ctx;

	/* family is not used: the context is IPv6 whatever carries it */
	return mld_cdb_decode(cdb, &ctx, err);
}

static int
mld_ops_set_addr(struct ctp_val *obj, const char *key, const uint8_t *a)
{
	char buf[CTP_ADDRSTRLEN];

	return ctp_val_set_str(obj, key, mld_state_fmt6(a, buf, sizeof buf));
}

int
mld_ops_describe(void *state, const struct ctp_cdb *cdb, unsigned family,
    struct ctp_val *obj, struct ctp_err *err)
{
	struct mld_ctx ctx;
	int rc;

	if ((rc = mld_cdb_decode(cdb, &ctx, err)) < 0)
		return rc;
	if (ctx.has_prefix)
		rc = mld_ops_set_addr(obj, "prefix", ctx.prefix);
	if (rc == 0)
		rc = mld_ops_set_addr(obj, "group", ctx.group);
	if (rc < 0)
		return ctp_err_set(err, rc, cdb->off, 0, "out of memory");
	return 0;
}

/* An IPv6 address from obj[key]: 1 when present, 0 when absent, or CTP_E_*. */
static int
mld_ops_get_addr(const struct ctp_val *obj, const char *key, uint8_t *out,
    struct ctp_err *err)
{
	struct ctp_addr a;
	const char *s;
	int rc;

	if ((rc = ctp_val_get_str(obj, key, &s, err)) == CTP_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (ctp_addr_parse(&a, s) < 0 || a.family != 6)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "MLD \"%s\": \"%s\" is not an IPv6 address",
		    key, s);
	memcpy(out, a.a, 16);
	return 1;
}

/*
 * describe's reverse, honouring "length", "p", "pv" and "reserved" so that
 * describe then build gives back the same octets (malformed vectors too).
 */
int
mld_ops_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	uint64_t units = 0, p = 0, pv = 0, rsv = 0;
	uint8_t prefix[16] = { 0 }, group[16] = { 0 };
	int has_prefix, has_group, rc;
	size_t start = w->len, at;
	uint8_t flags;

	if (fpt != CTP_FPT_MLD)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "mld: FPT 0x%04x is not served here", fpt);
	if (((rc = ctp_val_get_u64(obj, "length", 255, &units, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "p", 1, &p, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "reserved", CTP_CDB_RESERVED, &rsv, err)) < 0 &&
	    rc != CTP_E_NOTFOUND))
		return rc;
	if ((has_prefix = mld_ops_get_addr(obj, "prefix", prefix, err)) < 0)
		return has_prefix;
	if ((has_group = mld_ops_get_addr(obj, "group", group, err)) < 0)
		return has_group;
	flags = (uint8_t)((p ? CTP_CDB_P : 0) | rsv);
	if (p) {
		/* the vector says which fields follow: derive it unless given */
		rc = ctp_val_get_u64(obj, "pv", UINT32_MAX, &pv, err);
		if (rc == CTP_E_NOTFOUND)
			pv = (has_prefix ? MLD_PV_PREFIX : 0) | (has_group ? MLD_PV_GROUP : 0);
		else if (rc < 0)
			return rc;
	} else if (!has_group)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0,
		    "MLD CDB: \"group\" is missing (it has no default)");

	at = ctp_cdb_begin(w, CTP_FPT_MLD, flags, (uint32_t)pv);
	/* without P both fields are on the wire; the prefix defaults to :: */
	if (has_prefix || !p)
		ctp_wbuf_bytes(w, prefix, sizeof prefix);
	if (has_group)
		ctp_wbuf_bytes(w, group, sizeof group);
	if ((rc = ctp_cdb_end(w, at, (uint8_t)units, 0)) < 0) {
		if (!w->err)
			w->len = start;
		return ctp_err_set(err, rc, 0, 0, "MLD CDB does not fit Length %u", (unsigned)units);
	}
	return 0;
}

/* ---- transfers: the source side ------------------------------------------------ */

struct mld_ops_collecting {
	struct mld_ops_slot *slot;
	struct ctp_wbuf     *out;
	size_t               left;     /* active groups that did not go */
	char                 event[64];
};

static int
mld_ops_collect_one(struct mld_state *st, struct mld_entry *e, void *arg)
{
	struct mld_ops_collecting *cc = arg;
	struct mld_ops_slot *slot = cc->slot;
	uint8_t cdb[48];
	struct ctp_wbuf w;

	if (e->state != MLD_ACTIVE)
		return 0;
	ctp_wbuf_init(&w, cdb, sizeof cdb);
	/* whole CDBs only: a half-written one would cost every CDB of ours */
	if (slot->n == MLD_OPS_XFER_MAX || mld_cdb_encode(&e->ctx, &w) < 0 ||
	    cc->out->err || cc->out->cap - cc->out->len < w.len) {
		cc->left++;
		return 0;
	}
	ctp_wbuf_bytes(cc->out, cdb, w.len);
	memcpy(slot->ent[slot->n].group, e->ctx.group, 16);
	slot->ent[slot->n].gen = e->gen;
	slot->n++;
	mld_state_set(st, e, MLD_FROZEN, cc->event);
	return 0;
}

int
mld_ops_collect(void *state, struct ctp_xfer *x, struct ctp_collect *c, struct ctp_err *err)
{
	struct mld_state *st = state;
	struct mld_ops_collecting cc;
	char mn[CTP_ADDRSTRLEN];

	if (mld_state_count(st, &x->mn) == 0)
		return 0;
	memset(&cc, 0, sizeof cc);
	if ((cc.slot = calloc(1, sizeof *cc.slot)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "mld: out of memory");
	cc.out = c->out;
	snprintf(cc.event, sizeof cc.event, "collected, transfer %016" PRIx64, x->id);
	(void)mld_state_each(st, &x->mn, mld_ops_collect_one, &cc);
	if (cc.left)
		mld_state_log(st, CTP_LOG_WARN, __func__, "mld mn=%s: %zu active groups did not fit "
		    "this transfer (%d at most): they stay here, active",
		    ctp_addr_fmt(&x->mn, mn, sizeof mn), cc.left, MLD_OPS_XFER_MAX);
	if (cc.slot->n == 0) {
		free(cc.slot);
		return 0;
	}
	*x->slot = cc.slot;
	return 0;
}

void
mld_ops_source_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
    size_t n)
{
	struct mld_state *st = state;
	struct mld_ops_slot *slot = *x->slot;
	char event[96], m[CTP_ADDRSTRLEN], g[CTP_ADDRSTRLEN];

	(void)outcome;   /* every CDB has its own status; see the top of the file */
	for (size_t i = 0; slot && i < slot->n; i++) {
		struct mld_entry *e = mld_state_find(st, &x->mn, slot->ent[i].group);
		int o = i < n ? ctp_xfer_status_outcome(status[i]) : CTP_XFER_ABORT_CLEAN;

		if (!e || e->gen != slot->ent[i].gen || e->state != MLD_FROZEN)
			continue;
		if (i < n)
			snprintf(event, sizeof event, "transfer %016" PRIx64 ": status 0x%02x", x->id,
			    status[i]);
		else
			snprintf(event, sizeof event, "transfer %016" PRIx64 ": not sent", x->id);
		if (o == CTP_XFER_COMMIT)
			mld_state_del(st, e, event);
		else if (o == CTP_XFER_ABORT_CLEAN)
			mld_state_set(st, e, MLD_ACTIVE, event);
		else
			mld_state_log(st, CTP_LOG_INFO, __func__, "mld mn=%s group=%s: stays frozen "
			    "(%s: no verdict; the new router may serve it)",
			    ctp_addr_fmt(&x->mn, m, sizeof m), mld_state_fmt6(e->ctx.group, g, sizeof g),
			    event);
	}
	free(slot);
	*x->slot = NULL;
}

/* ---- transfers: the sink side ---------------------------------------------------- */

int
mld_ops_install(void *state, struct ctp_xfer *x, struct ctp_install *in, struct ctp_err *err)
{
	struct mld_state *st = state;
	char event[96], m[CTP_ADDRSTRLEN], g[CTP_ADDRSTRLEN];

	snprintf(event, sizeof event, "installed, transfer %016" PRIx64 "%s%s", x->id,
	    x->peer ? " from " : "", x->peer ? x->peer : "");
	for (size_t i = 0; i < in->n; i++) {
		struct ctp_err e = { 0 };
		struct mld_ctx ctx;

		/* the engine checked it; decoding again is what gives us the fields */
		if (mld_cdb_decode(&in->cdb[i], &ctx, &e) < 0) {
			in->status[i] = e.status ? e.status : CTP_ST_MALFORMED_CDB;
			continue;
		}
		if (mld_state_add(st, &x->mn, &ctx, true, event, NULL, &e) < 0) {
			in->status[i] = CTP_ST_NO_RESOURCES;
			mld_state_log(st, CTP_LOG_WARN, __func__, "mld mn=%s group=%s: not installed "
			    "(status 0x06): %s", ctp_addr_fmt(&x->mn, m, sizeof m),
			    mld_state_fmt6(ctx.group, g, sizeof g), e.what);
			continue;
		}
		in->status[i] = CTP_ST_SUCCESS;
	}
	return 0;
}

/*
 * Nothing to undo, whatever the outcome: an installed group stays, as pAR
 * settles its own copy by the statuses it gets.  With ABORT_UNKNOWN (a
 * relay never answered) this node still installed what it reported
 * installed; MLD relays nothing, so there is nothing else to settle.
 */
void
mld_ops_sink_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
    size_t n)
{
}

/* ---- the "mld" control command ------------------------------------------------- */

/* Refuse members a request of this op does not take ("cmd" is the module's). */
static int
mld_ops_req_keys(const struct ctp_val *req, const char *op, const char *const *allowed,
    struct ctp_err *err)
{
	for (size_t i = 0; i < req->n; i++) {
		const char *k = req->members[i].key;
		bool ok = strcmp(k, "cmd") == 0 || strcmp(k, "op") == 0;

		for (size_t a = 0; !ok && allowed[a]; a++)
			ok = strcmp(k, allowed[a]) == 0;
		if (!ok)
			return ctp_err_set(err, CTP_E_VALUE, 0, 0, "mld %s: unknown key \"%s\"", op, k);
	}
	return 0;
}

/* "mn": 1 with *mn set, 0 when absent, or CTP_E_*. */
static int
mld_ops_req_mn(const struct ctp_val *req, struct ctp_addr *mn, struct ctp_err *err)
{
	const char *s;
	int rc;

	if ((rc = ctp_val_get_str(req, "mn", &s, err)) == CTP_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (ctp_addr_parse(mn, s) < 0)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "mld: \"mn\": \"%s\" is not an IP address",
		    s);
	return 1;
}

static int
mld_ops_cmd_add(struct mld_state *st, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	static const char *const keys[] = { "mn", "group", "prefix", NULL };
	struct ctp_addr mn;
	struct mld_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof ctx);
	if ((rc = mld_ops_req_keys(req, "add", keys, err)) < 0 ||
	    (rc = mld_ops_req_mn(req, &mn, err)) < 0)
		return rc;
	if (rc == 0)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0, "mld add: \"mn\" is missing");
	if ((rc = mld_ops_get_addr(req, "group", ctx.group, err)) < 0)
		return rc;
	if (rc == 0)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0, "mld add: \"group\" is missing");
	if ((rc = mld_ops_get_addr(req, "prefix", ctx.prefix, err)) < 0)
		return rc;
	ctx.has_prefix = rc == 1;
	/* what could never be sent is refused now, not at the next handover */
	if ((rc = mld_cdb_verify(&ctx, err)) < 0)
		return rc;
	/* the kernel has the MN's own Report: the router need not join */
	if ((rc = mld_state_add(st, &mn, &ctx, false, "added by the control socket", NULL,
	    err)) < 0)
		return rc;
	return ctp_val_obj_set(reply, "created", ctp_val_bool(rc == 1));
}

struct mld_ops_deleting {
	const uint8_t *group;   /* NULL: every group */
	size_t         n;
};

static int
mld_ops_del_one(struct mld_state *st, struct mld_entry *e, void *arg)
{
	struct mld_ops_deleting *d = arg;

	if (!d->group || memcmp(e->ctx.group, d->group, 16) == 0) {
		mld_state_del(st, e, "deleted by the control socket");
		d->n++;
	}
	return 0;
}

static int
mld_ops_cmd_del(struct mld_state *st, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	static const char *const keys[] = { "mn", "group", NULL };
	struct mld_ops_deleting d = { NULL, 0 };
	char m[CTP_ADDRSTRLEN];
	uint8_t group[16];
	struct ctp_addr mn;
	int rc;

	if ((rc = mld_ops_req_keys(req, "del", keys, err)) < 0 ||
	    (rc = mld_ops_req_mn(req, &mn, err)) < 0)
		return rc;
	if (rc == 0)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0, "mld del: \"mn\" is missing");
	if ((rc = mld_ops_get_addr(req, "group", group, err)) < 0)
		return rc;
	if (rc == 1)
		d.group = group;
	(void)mld_state_each(st, &mn, mld_ops_del_one, &d);
	if (d.n == 0)
		return ctp_err_set(err, CTP_E_NOTFOUND, 0, 0, "mld del: mn %s has no %s",
		    ctp_addr_fmt(&mn, m, sizeof m), d.group ? "such group" : "group");
	return ctp_val_set_u64(reply, "deleted", d.n);
}

static int
mld_ops_list_one(struct mld_state *st, struct mld_entry *e, void *arg)
{
	struct ctp_val *arr = arg, *o = ctp_val_obj();
	char buf[CTP_ADDRSTRLEN];

	if (!o)
		return CTP_E_NOMEM;
	if (ctp_val_set_str(o, "mn", ctp_addr_fmt(&e->mn, buf, sizeof buf)) < 0 ||
	    mld_ops_set_addr(o, "group", e->ctx.group) < 0 ||
	    (e->ctx.has_prefix && mld_ops_set_addr(o, "prefix", e->ctx.prefix) < 0) ||
	    ctp_val_set_str(o, "state", mld_state_name(e->state)) < 0 ||
	    ctp_val_obj_set(o, "joined", ctp_val_bool(e->joined)) < 0) {
		ctp_val_free(o);
		return CTP_E_NOMEM;
	}
	return ctp_val_arr_push(arr, o);
}

static int
mld_ops_cmd_list(struct mld_state *st, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	static const char *const keys[] = { "mn", NULL };
	struct ctp_val *ifs = ctp_val_arr(), *groups = ctp_val_arr();
	struct ctp_addr mn;
	int rc, has_mn;

	if ((rc = mld_ops_req_keys(req, "list", keys, err)) < 0 ||
	    (rc = has_mn = mld_ops_req_mn(req, &mn, err)) < 0) {
		ctp_val_free(ifs);
		ctp_val_free(groups);
		return rc;
	}
	for (size_t i = 0; ifs && i < mld_state_ninterfaces(st); i++)
		if (ctp_val_arr_push(ifs, ctp_val_str(mld_state_interface(st, i))) < 0)
			break;
	if (groups && mld_state_each(st, has_mn ? &mn : NULL, mld_ops_list_one, groups) < 0) {
		ctp_val_free(groups);
		groups = NULL;
	}
	/* obj_set owns (and on failure frees) what it is given, NULL included */
	if ((rc = ctp_val_obj_set(reply, "interfaces", ifs)) < 0) {
		ctp_val_free(groups);
		return ctp_err_set(err, rc, 0, 0, "mld list: out of memory");
	}
	if ((rc = ctp_val_obj_set(reply, "groups", groups)) < 0)
		return ctp_err_set(err, rc, 0, 0, "mld list: out of memory");
	return 0;
}

int
mld_ops_cmd(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	const char *op;
	int rc;

	if (!req || req->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "mld: the request is not an object");
	if ((rc = ctp_val_get_str(req, "op", &op, err)) == CTP_E_NOTFOUND)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0,
		    "mld: \"op\" is missing: add, del or list");
	if (rc < 0)
		return rc;
	if (strcmp(op, "add") == 0)
		return mld_ops_cmd_add(state, req, reply, err);
	if (strcmp(op, "del") == 0)
		return mld_ops_cmd_del(state, req, reply, err);
	if (strcmp(op, "list") == 0)
		return mld_ops_cmd_list(state, req, reply, err);
	return ctp_err_set(err, CTP_E_VALUE, 0, 0, "mld: op \"%.32s\" is not add, del or list", op);
}
