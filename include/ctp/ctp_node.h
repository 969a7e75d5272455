/*
 * ctp_node.h: one ctpd node: its configuration, transport, secure channels,
 * peers, plugins, control socket, capture and counters.  The node moves
 * whole CXTP messages between peers and whoever handles them (the engine);
 * it knows nothing of transfers.
 *
 * Associations.  Every configured peer gets one association.  The node
 * whose (address, port) sorts lower connects at once and is the TLS client;
 * the other waits reconnect_ms for it and then connects too (SCTP merges
 * simultaneous set-ups), so either side can bring the pair up.  A lost
 * association is re-established with a doubling back-off.  An association
 * from an address no peer is configured with is refused and counted.
 *
 * Threading: the loop thread only.  Memory: the node owns everything it
 * creates; ctp_node_stop() releases it asynchronously and calls done.
 */
#ifndef CTP_NODE_H
#define CTP_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctp/ctp_chan.h"
#include "ctp/ctp_conf.h"
#include "ctp/ctp_ctl.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_tr.h"

struct ctp_node;

enum ctp_peer_state {
	CTP_PEER_DOWN = 0,
	CTP_PEER_CONNECTING,   /* association being set up */
	CTP_PEER_HANDSHAKE,    /* association up, channel authenticating */
	CTP_PEER_UP,           /* both sides authenticated */
};

const char *ctp_peer_state_name(enum ctp_peer_state s);

struct ctp_peer {
	struct ctp_node        *node;
	struct ctp_conf_peer    conf;       /* own copy (strings and PSK owned) */
	enum ctp_peer_state     state;
	struct ctp_tr_peer     *tp;         /* NULL while down */
	struct ctp_chan        *chan;
	uint64_t                since_ms;   /* of the last state change */
	unsigned                backoff_ms;
	uv_timer_t             *reconnect;
	/* counters */
	uint64_t                msgs_in, msgs_out, bytes_in, bytes_out;
	uint64_t                rejections;
	char                    last_error[128];
	/* messages waiting for the channel to come up (bounded) */
	struct ctp_pending     *pending;
	size_t                  npending;
	void                   *engine;     /* the engine's per-peer state */
	/* +1 each time the channel comes up: messages of one association,
	 * and only those, arrive in order and at most once (PROFILE 2), so
	 * the engine binds each exchange to the generation it runs on */
	uint32_t                gen;
};

/* What the node hands up: decoded messages (raw octets alongside). */
struct ctp_node_handler {
	/* A valid message from an authenticated peer. */
	void (*peer_msg)(struct ctp_peer *p, const struct ctp_msg *m, const uint8_t *raw,
	    size_t len, void *ud);
	/* A peer's channel came up or went down. */
	void (*peer_up)(struct ctp_peer *p, void *ud);
	void (*peer_down)(struct ctp_peer *p, void *ud);
	/* Add members to the replies of the status and stats commands. */
	void (*describe_status)(struct ctp_val *reply, void *ud);
	void (*describe_stats)(struct ctp_val *reply, void *ud);
};

struct ctp_node_stats {
	uint64_t msgs_in[CTP_MSG_MAX + 1], msgs_out[CTP_MSG_MAX + 1];
	uint64_t bytes_in, bytes_out;
	uint64_t handshakes, handshake_failures;
	uint64_t decode_errors;
	uint64_t refused_unknown_peer, refused_auth, refused_keys_plain;
	uint64_t send_failures;
};

/* Everything but the loop is created here; nothing runs until start.  The
 * node owns conf from now on (also when this fails). */
int ctp_node_new(uv_loop_t *loop, struct ctp_conf *conf, struct ctp_node **out,
    struct ctp_err *err);
/* Open the transport, the control socket and the capture; connect peers. */
int ctp_node_start(struct ctp_node *n, struct ctp_err *err);
void ctp_node_set_handler(struct ctp_node *n, const struct ctp_node_handler *h, void *ud);
/* Graceful: SHUTDOWN every association, close handles, unload plugins. */
void ctp_node_stop(struct ctp_node *n, void (*done)(void *arg), void *arg);
/* SIGHUP: apply newconf (the node owns it and frees the old one), keeping
 * associations whose settings did not change. */
int ctp_node_reload(struct ctp_node *n, struct ctp_conf *newconf, struct ctp_err *err);

/*
 * Send one encoded message to p.  Before the channel is up the message
 * waits (bounded; CTP_E_AGAIN when full) and goes out once it is.
 * flags: CTP_CHAN_KEYS when it carries key material.
 */
int ctp_node_send(struct ctp_peer *p, const uint8_t *msg, size_t len, unsigned flags);

struct ctp_peer *ctp_node_peer(struct ctp_node *n, const char *name);
struct ctp_peer *ctp_node_peer_by_addr(struct ctp_node *n, const struct ctp_addr *a);
size_t ctp_node_npeers(const struct ctp_node *n);
struct ctp_peer *ctp_node_peer_at(struct ctp_node *n, size_t i);

const struct ctp_conf *ctp_node_conf(const struct ctp_node *n);
struct ctp_registry *ctp_node_registry(struct ctp_node *n);
struct ctp_ctl *ctp_node_ctl(struct ctp_node *n);
struct ctp_node_stats *ctp_node_stats(struct ctp_node *n);
/* Count one outgoing message by its first octet (type 0 when out of range). */
void ctp_node_count_out(struct ctp_node *n, uint8_t first);
uv_loop_t *ctp_node_loop(struct ctp_node *n);
uint64_t ctp_node_now(const struct ctp_node *n);   /* loop ms */

/* A plugin linked into the program (tests): like a <plugin> of the
 * configuration, before ctp_node_start. */
int ctp_node_add_plugin(struct ctp_node *n, const struct ctp_feature *f,
    const struct ctp_val *config, struct ctp_err *err);

/* The peer's address as a CXTP address. */
void ctp_peer_addr(const struct ctp_peer *p, struct ctp_addr *a);

/* Write a message to the node's capture (when one is configured). */
void ctp_node_capture(struct ctp_node *n, const struct sockaddr *src,
    const struct sockaddr *dst, int proto, const uint8_t *msg, size_t len);

/* The host operations plugins get (log, clock, commands, peers). */
const struct ctp_host_ops *ctp_node_host_ops(void);

#endif
