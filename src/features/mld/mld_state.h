/*
 * mld_state.h: what the MLD feature knows at one router.
 *
 * The table: which IPv6 multicast groups this router's mobile nodes listen
 * to, one entry per (MN previous address, group), with the subnet prefix of
 * the MN's link when it is known (RFC 4067 appendix B).  An entry is
 *
 *   active   this router serves it; a transfer for the MN takes it;
 *   frozen   a transfer took it and has no verdict yet, or never got one
 *            (mld_ops.c says why keeping it frozen is right then); no
 *            later transfer takes it again.  add, or the context coming
 *            back in a transfer, makes it active again.
 *
 * The memberships: for a group it took over in a transfer, the router
 * enters "Listeners Present" on its MN-facing interfaces as if an MLD
 * Report had arrived (appendix B), by joining the group as a host on each
 * configured interface.  The joins are made on one AF_INET6 datagram socket
 * that lives as long as the state: a membership lasts as long as the
 * socket, the kernel reports it (ip -6 maddr, /proc/net/igmp6) and answers
 * queries for it.  A group is joined once however many MNs listen to it
 * (the entries holding it are counted) and left when the last one goes.
 * Without interfaces nothing is joined: the table is tracked and moved.
 *
 * Threading: the loop thread only.  Memory: the state owns its entries; a
 * pointer to an entry is valid until the entry is deleted or the state
 * freed.
 */
#ifndef MLD_STATE_H
#define MLD_STATE_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_feature.h"
#include "features/mld/mld_cdb.h"

#define MLD_STATE_MAX_ENTRIES 65536   /* in all; add refuses more (CTP_E_LIMIT) */
#define MLD_STATE_MAX_IFS     16      /* configured interfaces */

enum mld_entry_state { MLD_ACTIVE = 0, MLD_FROZEN };

struct mld_entry {
	struct mld_entry     *next;     /* the state's chain */
	struct ctp_addr       mn;       /* the MN's previous address (v4 or v6) */
	struct mld_ctx        ctx;      /* the group, and the prefix when known */
	enum mld_entry_state  state;
	bool                  joined;   /* holds one count of the group's membership */
	uint64_t              gen;      /* new for every entry created: a transfer
	                                   acts only on the entry it took */
};

struct mld_state;

/*
 * A state for the given interfaces (names checked by the caller; they are
 * resolved at each join, so an interface may come and go while the daemon
 * runs).  With interfaces it opens the membership socket: CTP_E_IO when it
 * cannot.  log, from ops, may be NULL in tests.
 */
int mld_state_new(const struct ctp_host_ops *ops, struct ctp_host *host,
    const char *const *ifnames, size_t nif, struct mld_state **out, struct ctp_err *err);
/* Leave every group, close the socket, free the entries.  NULL is fine. */
void mld_state_free(struct mld_state *st);

size_t mld_state_ninterfaces(const struct mld_state *st);
const char *mld_state_interface(const struct mld_state *st, size_t i);

/* The entry for (mn, group), or NULL. */
struct mld_entry *mld_state_find(struct mld_state *st, const struct ctp_addr *mn,
    const uint8_t *group);

/*
 * Add (mn, ctx->group), or refresh the entry there is: it becomes active and
 * takes ctx's prefix when ctx has one.  join: the router listens too (the
 * context came in a transfer); an entry keeps a membership it holds either
 * way.  event names the cause in the log line.  Returns 1 created, 0
 * refreshed; CTP_E_LIMIT when the table is full, CTP_E_NOMEM, or CTP_E_IO
 * when a join failed (err says on which interface and why; nothing
 * changed).  *out, when not NULL, gets the entry.
 */
int mld_state_add(struct mld_state *st, const struct ctp_addr *mn, const struct mld_ctx *ctx,
    bool join, const char *event, struct mld_entry **out, struct ctp_err *err);

/* Delete e, leaving its group when e held the last count of it. */
void mld_state_del(struct mld_state *st, struct mld_entry *e, const char *event);

/* Change e's state, logging "old -> new (event)". */
void mld_state_set(struct mld_state *st, struct mld_entry *e, enum mld_entry_state s,
    const char *event);

/*
 * Call fn for every entry of mn (NULL: every entry), in the order they were
 * added; fn may delete the entry it is given.  Stops at, and returns, the
 * first non-zero fn returns.
 */
int mld_state_each(struct mld_state *st, const struct ctp_addr *mn,
    int (*fn)(struct mld_state *st, struct mld_entry *e, void *arg), void *arg);
size_t mld_state_count(struct mld_state *st, const struct ctp_addr *mn);
/* Groups this router holds a membership of. */
size_t mld_state_joined_groups(const struct mld_state *st);

const char *mld_state_name(enum mld_entry_state s);
/* IPv6 text of 16 octets into buf (CTP_ADDRSTRLEN); returns buf. */
const char *mld_state_fmt6(const uint8_t *a, char *buf, size_t len);

/* A line through the host's log (nothing when the host gave none). */
void mld_state_log(const struct mld_state *st, int level, const char *func, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

#endif
