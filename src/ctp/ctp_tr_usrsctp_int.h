/*
 * ctp_tr_usrsctp_int.h: what the usrsctp glue (ctp_tr_usrsctp.c) shares with
 * the packet wires that carry its SCTP packets: the UDP wire (RFC 6951, in
 * ctp_tr_usrsctp.c itself) and the in-memory wire (ctp_tr_mem.c).
 *
 * A wire moves whole SCTP packets between addresses and knows nothing of
 * SCTP; the glue owns the stack, the associations and the owner's
 * callbacks.  This header does not include <usrsctp.h>: a wire never calls
 * the stack, it only hands packets to ctp_tr_usrsctp_input().
 *
 * Everything runs on the loop thread.
 */
#ifndef CTP_TR_USRSCTP_INT_H
#define CTP_TR_USRSCTP_INT_H

#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_tr.h"

struct ctp_tr_usrsctp_wire {
	const char *name;
	/*
	 * Start carrying packets for t (keep private state with
	 * ctp_tr_usrsctp_wire_data()).  0 or a CTP_E_* code; on failure the
	 * wire leaves nothing behind that refers to t (a handle it must
	 * close asynchronously may not call ctp_tr_usrsctp_closed(t)).
	 */
	int      (*open)(struct ctp_tr *t, struct ctp_err *err);
	/*
	 * One SCTP packet for `to`.  Called from usrsctp's conn_output, with
	 * the stack's locks held: copy the packet or give it to the kernel,
	 * never call usrsctp (it would deadlock) nor deliver anything
	 * synchronously (a delivery is a usrsctp_conninput).  Losing a packet
	 * is allowed: SCTP retransmits.
	 */
	void     (*output)(struct ctp_tr *t, const struct sockaddr *to, const void *pkt,
	    size_t len);
	/*
	 * Stop receiving and close the wire's handles.  Returns how many
	 * close callbacks will call ctp_tr_usrsctp_closed(t); t stays valid
	 * until the last of them.
	 */
	unsigned (*close)(struct ctp_tr *t);
};

/*
 * Open a transport of the glue over wire w; ops is what the owner sees as
 * its backend (ctp_tr_usrsctp or ctp_tr_mem).
 */
int ctp_tr_usrsctp_open_wire(uv_loop_t *loop, const struct ctp_tr_cfg *cfg,
    const struct ctp_tr_cb *cb, void *ud, const struct ctp_tr_usrsctp_wire *w,
    struct ctp_tr **out, struct ctp_err *err);

/*
 * A packet from `from` for t.  Runs the stack, and with it the owner's
 * callbacks: call it only from a loop callback of the wire, never from
 * inside output().  The packet is copied; pkt may be reused at once.
 */
void ctp_tr_usrsctp_input(struct ctp_tr *t, const struct sockaddr *from, const void *pkt,
    size_t len);

/* One of the handles counted by the wire's close() has closed. */
void ctp_tr_usrsctp_closed(struct ctp_tr *t);

/* What a wire needs of its transport. */
uv_loop_t *ctp_tr_usrsctp_loop(const struct ctp_tr *t);
const char *ctp_tr_usrsctp_name(const struct ctp_tr *t);
/* The address the wire serves: cfg->bind, its port defaulted to the UDP port. */
const struct sockaddr *ctp_tr_usrsctp_local(const struct ctp_tr *t);
void **ctp_tr_usrsctp_wire_data(struct ctp_tr *t);

/* The operations both backends share. */
int ctp_tr_usrsctp_connect(struct ctp_tr *t, const struct sockaddr *addr,
    struct ctp_tr_peer **out, struct ctp_err *err);
int ctp_tr_usrsctp_send(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const void *buf,
    size_t len);
void ctp_tr_usrsctp_close_peer(struct ctp_tr_peer *p, int abort);
void ctp_tr_usrsctp_close(struct ctp_tr *t, void (*done)(void *arg), void *arg);

/* IPv4/IPv6 socket addresses with their port: length (0 for anything
 * else), equality, and "192.0.2.1:9899" / "[2001:db8::1]:9899". */
socklen_t ctp_tr_usrsctp_sa_len(const struct sockaddr *sa);
int ctp_tr_usrsctp_sa_eq(const struct sockaddr *a, const struct sockaddr *b);
const char *ctp_tr_usrsctp_sa_fmt(const struct sockaddr *sa, char *buf, size_t len);

#endif
