/*
 * mld_state.c: the MN -> groups table and the router's memberships
 * (mld_state.h).
 *
 * Entries hang in chains hashed by the MN's address, so one MN's groups
 * (what a transfer collects) share a chain and keep the order they were
 * added in.  Memberships hang in chains hashed by the group.
 *
 * Joining.  The router joins as a host would (IPV6_JOIN_GROUP on one
 * AF_INET6 datagram socket, per interface index): the kernel then reports
 * the group on the link and answers queries for it, which is the "Listeners
 * Present" state appendix B asks for, whatever multicast routing runs
 * above.  The socket is never bound, so no datagram is ever queued on it.
 * Interface names are resolved at each join rather than once at start:
 * MN-facing interfaces (a wireless link, a veth of a lab) may be created
 * after the daemon, or recreated with a new index.  A group joins on every
 * configured interface or on none: a join that fails on one leaves the
 * others again, so an install either holds the group everywhere or fails
 * whole (status 0x06 at the caller).  The subnet prefix of the context
 * would pick one interface; matching it against the interfaces' addresses
 * is left for later, so every configured interface listens.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctp/ctp_log.h"
#include "features/mld/mld_state.h"

#define MLD_STATE_BUCKETS  4096   /* entry chains, by MN; a power of two */
#define MLD_STATE_GBUCKETS 1024   /* membership chains, by group; a power of two */

struct mld_member {
	struct mld_member *next;
	uint8_t            group[16];
	unsigned           refs;                        /* joined entries */
	unsigned           ifindex[MLD_STATE_MAX_IFS];  /* joined there by us; 0 = not */
};

struct mld_state {
	const struct ctp_host_ops *ops;
	struct ctp_host           *host;
	char                       ifname[MLD_STATE_MAX_IFS][IF_NAMESIZE];
	size_t                     nif;
	int                        fd;           /* the memberships; -1 without interfaces */
	struct mld_entry          *chain[MLD_STATE_BUCKETS];
	size_t                     nentries;
	struct mld_member         *members[MLD_STATE_GBUCKETS];
	size_t                     nmembers;
	uint64_t                   gen;
};

void
mld_state_log(const struct mld_state *st, int level, const char *func, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!st->ops || !st->ops->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	st->ops->log(st->host, level, func, line);
}

const char *
mld_state_name(enum mld_entry_state s)
{
	return s == MLD_ACTIVE ? "active" : s == MLD_FROZEN ? "frozen" : "?";
}

const char *
mld_state_fmt6(const uint8_t *a, char *buf, size_t len)
{
	struct ctp_addr addr;

	(void)ctp_addr_set(&addr, 6, a);
	return ctp_addr_fmt(&addr, buf, len);
}

/* FNV-1a: cheap, and the keys are addresses nobody chooses to collide
 * (the table is fed by the operator and by authorised transfers). */
static size_t
mld_state_hash(const uint8_t *p, size_t n, size_t buckets)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h & (buckets - 1);
}

static struct mld_entry **
mld_state_chain(struct mld_state *st, const struct ctp_addr *mn)
{
	return &st->chain[mld_state_hash(mn->a, ctp_addr_len(mn->family), MLD_STATE_BUCKETS)];
}

int
mld_state_new(const struct ctp_host_ops *ops, struct ctp_host *host, const char *const *ifnames,
    size_t nif, struct mld_state **out, struct ctp_err *err)
{
	struct mld_state *st;

	*out = NULL;
	if (nif > MLD_STATE_MAX_IFS)
		return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "mld: %zu interfaces, at most %d", nif,
		    MLD_STATE_MAX_IFS);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "mld: out of memory");
	st->ops = ops;
	st->host = host;
	st->fd = -1;
	for (size_t i = 0; i < nif; i++) {
		if (strlen(ifnames[i]) >= IF_NAMESIZE) {
			free(st);
			return ctp_err_set(err, CTP_E_VALUE, 0, 0, "mld: interface name \"%s\" is "
			    "longer than %d characters", ifnames[i], IF_NAMESIZE - 1);
		}
		snprintf(st->ifname[i], IF_NAMESIZE, "%s", ifnames[i]);
	}
	st->nif = nif;
	if (nif && (st->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		int e = errno;

		free(st);
		return ctp_err_set(err, CTP_E_IO, 0, 0, "mld: cannot open the IPv6 socket that "
		    "holds the memberships: %s", strerror(e));
	}
	*out = st;
	return 0;
}

size_t
mld_state_ninterfaces(const struct mld_state *st)
{
	return st->nif;
}

const char *
mld_state_interface(const struct mld_state *st, size_t i)
{
	return i < st->nif ? st->ifname[i] : NULL;
}

/* ---- memberships ------------------------------------------------------------ */

static struct mld_member **
mld_state_member_at(struct mld_state *st, const uint8_t *group)
{
	struct mld_member **pp = &st->members[mld_state_hash(group, 16, MLD_STATE_GBUCKETS)];

	while (*pp && memcmp((*pp)->group, group, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void
mld_state_leave_all(struct mld_state *st, const struct mld_member *m)
{
	char g[CTP_ADDRSTRLEN];

	for (size_t i = 0; i < st->nif; i++) {
		struct ipv6_mreq mr;

		if (!m->ifindex[i])
			continue;
		memset(&mr, 0, sizeof mr);
		memcpy(&mr.ipv6mr_multiaddr, m->group, 16);
		mr.ipv6mr_interface = m->ifindex[i];
		/* an interface that went away took the membership with it */
		if (setsockopt(st->fd, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &mr, sizeof mr) < 0)
			mld_state_log(st, CTP_LOG_DEBUG, __func__, "leave %s on %s (index %u): %s",
			    mld_state_fmt6(m->group, g, sizeof g), st->ifname[i], m->ifindex[i],
			    strerror(errno));
		else
			mld_state_log(st, CTP_LOG_INFO, __func__, "left %s on %s",
			    mld_state_fmt6(m->group, g, sizeof g), st->ifname[i]);
	}
}

/*
 * Join group on every interface, or on none: 0, or CTP_E_IO / CTP_E_NOMEM
 * with err naming the interface and the reason.  With no interface there is
 * nothing to hold, and *held says so.
 */
static int
mld_state_join(struct mld_state *st, const uint8_t *group, bool *held, struct ctp_err *err)
{
	struct mld_member **pp, *m;
	char g[CTP_ADDRSTRLEN];

	*held = false;
	if (st->nif == 0)
		return 0;
	pp = mld_state_member_at(st, group);
	if ((m = *pp) != NULL) {
		m->refs++;
		*held = true;
		return 0;
	}
	if ((m = calloc(1, sizeof *m)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "mld: out of memory");
	memcpy(m->group, group, 16);
	mld_state_fmt6(group, g, sizeof g);
	for (size_t i = 0; i < st->nif; i++) {
		unsigned idx = if_nametoindex(st->ifname[i]);
		struct ipv6_mreq mr;
		int e = 0;

		if (idx == 0)
			e = errno ? errno : ENODEV;
		else {
			memset(&mr, 0, sizeof mr);
			memcpy(&mr.ipv6mr_multiaddr, group, 16);
			mr.ipv6mr_interface = idx;
			/* EADDRINUSE: two names of one interface (an altname): held already */
			if (setsockopt(st->fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) == 0)
				m->ifindex[i] = idx;
			else if (errno != EADDRINUSE)
				e = errno;
		}
		if (e) {
			mld_state_leave_all(st, m);
			free(m);
			/* one socket's memberships are charged to net.core.optmem_max */
			return ctp_err_set(err, CTP_E_IO, 0, CTP_ST_NO_RESOURCES,
			    "mld: cannot join %s on %s: %s%s", g, st->ifname[i], strerror(e),
			    e == ENOBUFS || e == ENOMEM ? " (net.core.optmem_max bounds the "
			    "memberships of one socket)" : "");
		}
		mld_state_log(st, CTP_LOG_INFO, __func__, "joined %s on %s", g, st->ifname[i]);
	}
	m->refs = 1;
	*pp = m;
	st->nmembers++;
	*held = true;
	return 0;
}

static void
mld_state_release(struct mld_state *st, const uint8_t *group)
{
	struct mld_member **pp = mld_state_member_at(st, group), *m = *pp;

	if (!m || --m->refs > 0)
		return;
	mld_state_leave_all(st, m);
	*pp = m->next;
	st->nmembers--;
	free(m);
}

size_t
mld_state_joined_groups(const struct mld_state *st)
{
	return st->nmembers;
}

/* ---- entries ---------------------------------------------------------------- */

struct mld_entry *
mld_state_find(struct mld_state *st, const struct ctp_addr *mn, const uint8_t *group)
{
	for (struct mld_entry *e = *mld_state_chain(st, mn); e; e = e->next)
		if (ctp_addr_eq(&e->mn, mn) && memcmp(e->ctx.group, group, 16) == 0)
			return e;
	return NULL;
}

/* Every change of an entry, its birth and death included, reads "old -> new (event)". */
static void
mld_state_log_change(struct mld_state *st, const char *func, const struct mld_entry *e,
    const char *from, const char *to, const char *event)
{
	char m[CTP_ADDRSTRLEN], g[CTP_ADDRSTRLEN];

	mld_state_log(st, CTP_LOG_INFO, func, "mld mn=%s group=%s: %s -> %s (%s)",
	    ctp_addr_fmt(&e->mn, m, sizeof m), mld_state_fmt6(e->ctx.group, g, sizeof g), from,
	    to, event);
}

void
mld_state_set(struct mld_state *st, struct mld_entry *e, enum mld_entry_state s,
    const char *event)
{
	if (e->state == s)
		return;
	mld_state_log_change(st, __func__, e, mld_state_name(e->state), mld_state_name(s), event);
	e->state = s;
}

int
mld_state_add(struct mld_state *st, const struct ctp_addr *mn, const struct mld_ctx *ctx,
    bool join, const char *event, struct mld_entry **out, struct ctp_err *err)
{
	struct mld_entry **pp = mld_state_chain(st, mn), *e;
	bool held = false;
	int rc;

	while (*pp && !(ctp_addr_eq(&(*pp)->mn, mn) && memcmp((*pp)->ctx.group, ctx->group,
	    16) == 0))
		pp = &(*pp)->next;
	if ((e = *pp) != NULL) {
		/* refreshed, as a second Report refreshes Listeners Present */
		if (join && !e->joined) {
			if ((rc = mld_state_join(st, ctx->group, &held, err)) < 0)
				return rc;
			e->joined = held;
		}
		if (ctx->has_prefix) {
			memcpy(e->ctx.prefix, ctx->prefix, 16);
			e->ctx.has_prefix = true;
		}
		mld_state_set(st, e, MLD_ACTIVE, event);
		if (out)
			*out = e;
		return 0;
	}
	if (st->nentries >= MLD_STATE_MAX_ENTRIES)
		return ctp_err_set(err, CTP_E_LIMIT, 0, CTP_ST_NO_RESOURCES,
		    "mld: the table holds %d entries, its limit", MLD_STATE_MAX_ENTRIES);
	if ((e = calloc(1, sizeof *e)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "mld: out of memory");
	if (join && (rc = mld_state_join(st, ctx->group, &held, err)) < 0) {
		free(e);
		return rc;
	}
	e->mn = *mn;
	e->ctx = *ctx;
	if (!e->ctx.has_prefix)
		memset(e->ctx.prefix, 0, 16);
	e->state = MLD_ACTIVE;
	e->joined = held;
	e->gen = ++st->gen;
	*pp = e;   /* at the chain's end: one MN's groups keep their order */
	st->nentries++;
	mld_state_log_change(st, __func__, e, "none", "active", event);
	if (out)
		*out = e;
	return 1;
}

void
mld_state_del(struct mld_state *st, struct mld_entry *e, const char *event)
{
	struct mld_entry **pp = mld_state_chain(st, &e->mn);

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = e->next;
	st->nentries--;
	mld_state_log_change(st, __func__, e, mld_state_name(e->state), "none", event);
	if (e->joined)
		mld_state_release(st, e->ctx.group);
	free(e);
}

int
mld_state_each(struct mld_state *st, const struct ctp_addr *mn,
    int (*fn)(struct mld_state *st, struct mld_entry *e, void *arg), void *arg)
{
	size_t first = 0, last = MLD_STATE_BUCKETS;
	int rc;

	if (mn) {
		first = (size_t)(mld_state_chain(st, mn) - st->chain);
		last = first + 1;
	}
	for (size_t b = first; b < last; b++)
		for (struct mld_entry *e = st->chain[b], *next; e; e = next) {
			next = e->next;
			if (mn && !ctp_addr_eq(&e->mn, mn))
				continue;
			if ((rc = fn(st, e, arg)) != 0)
				return rc;
		}
	return 0;
}

size_t
mld_state_count(struct mld_state *st, const struct ctp_addr *mn)
{
	size_t n = 0;

	if (!mn)
		return st->nentries;
	for (struct mld_entry *e = *mld_state_chain(st, mn); e; e = e->next)
		n += ctp_addr_eq(&e->mn, mn);
	return n;
}

void
mld_state_free(struct mld_state *st)
{
	size_t left = 0;

	if (!st)
		return;
	for (size_t b = 0; b < MLD_STATE_GBUCKETS; b++)
		while (st->members[b]) {
			struct mld_member *m = st->members[b];

			mld_state_leave_all(st, m);
			st->members[b] = m->next;
			free(m);
			left++;
		}
	for (size_t b = 0; b < MLD_STATE_BUCKETS; b++)
		while (st->chain[b]) {
			struct mld_entry *e = st->chain[b];

			st->chain[b] = e->next;
			free(e);
		}
	if (st->fd >= 0)
		close(st->fd);
	if (left || st->nif)
		mld_state_log(st, CTP_LOG_INFO, __func__, "mld: left %zu groups, closed the "
		    "membership socket", left);
	free(st);
}
