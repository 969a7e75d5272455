/*
 * ctp_tr.h: the transport seam between ARs and SGs (PROFILE 2): SCTP
 * associations carrying messages on a stream with a PPID.  A transport knows
 * no message types.
 *
 * Backends (one .c file each, because <usrsctp.h> and <netinet/sctp.h>
 * cannot share a translation unit):
 *   ctp_tr_usrsctp  the userland stack, no-threads mode, AF_CONN carried in
 *                   UDP (RFC 6951 wire format) over one libuv UDP socket;
 *   ctp_tr_mem      the same stack over an in-memory packet wire that can
 *                   drop, delay, duplicate and reorder packets (tests);
 *   ctp_tr_kernel   the kernel's SCTP through lksctp-tools: one one-to-many
 *                   socket under uv_poll_t, RFC 6458 sendv/recvv, optional
 *                   RFC 6951 encapsulation to reach usrsctp nodes.
 *
 * Rules (the loop's): everything runs on the one loop thread; callbacks
 * may call back into the transport (send, close_peer) except from inside
 * ctp_tr_close; a peer's memory stays valid until its down callback has
 * returned; a transport's until the close callback.
 */
#ifndef CTP_TR_H
#define CTP_TR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "ctp/ctp_err.h"

struct ctp_tr;

/* Why an association went down. */
enum ctp_tr_down {
	CTP_TR_DOWN_SHUTDOWN = 1,   /* graceful SHUTDOWN, either side */
	CTP_TR_DOWN_LOST,           /* retransmissions exhausted, peer gone */
	CTP_TR_DOWN_REFUSED,        /* could not establish (ABORT, no answer) */
	CTP_TR_DOWN_ABORTED,        /* ABORT received or sent */
	CTP_TR_DOWN_LOCAL,          /* closed by us (close_peer, close) */
};

const char *ctp_tr_down_name(int reason);

/* One association, as every backend sees it: backends embed it first. */
struct ctp_tr_peer {
	struct ctp_tr          *tr;
	struct sockaddr_storage addr;     /* the peer's address and SCTP port (or UDP
	                                     port for usrsctp): what the config names */
	void                   *ud;       /* the owner's (the secure channel) */
	int                     up;       /* association established */
	int                     outbound; /* we initiated it */
	int                     pr_sctp;  /* both ends support PR-SCTP */
	/* counters */
	uint64_t                msgs_in, msgs_out, bytes_in, bytes_out;
	uint64_t                send_queued;   /* messages that had to wait */
	size_t                  queue_bytes;   /* waiting now */
};

struct ctp_tr_cb {
	/* An association is up.  For one the peer opened, this is the first
	 * time the owner hears of p: it decides there whether it knows the
	 * address (or closes p). */
	void (*up)(struct ctp_tr_peer *p, void *ud);
	/* It is gone (reason: enum ctp_tr_down); p is freed after this returns. */
	void (*down)(struct ctp_tr_peer *p, int reason, void *ud);
	/* One whole message. */
	void (*msg)(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid,
	    const uint8_t *buf, size_t len, void *ud);
	/* The send queue drained below its limit again. */
	void (*writable)(struct ctp_tr_peer *p, void *ud);
};

struct ctp_tr_cfg {
	const char             *name;         /* for logs */
	struct sockaddr_storage bind;         /* local address; port = SCTP port
	                                         (kernel) or UDP port (usrsctp) */
	uint16_t                sctp_port;    /* 5091 */
	uint16_t                udp_port;     /* RFC 6951 port, 9899 */
	int                     udp_encaps;   /* kernel: reach peers over RFC 6951 */
	unsigned                max_peers;    /* bound on associations and, for
	                                         usrsctp, on unauthenticated UDP sources */
	unsigned                max_transfer_ms; /* CT_MAX_TRANSFER_TIME: drives the
	                                         retransmission limits and PR-SCTP TTL */
	size_t                  queue_max;    /* bytes a peer may have waiting */
	unsigned                idle_peer_ms; /* usrsctp: forget UDP sources without an
	                                         association after this long */
};

struct ctp_tr_ops {
	const char *name;
	/* Start listening; *out is ready for connect/send once this returns 0. */
	int  (*open)(uv_loop_t *loop, const struct ctp_tr_cfg *cfg, const struct ctp_tr_cb *cb,
	    void *ud, struct ctp_tr **out, struct ctp_err *err);
	/* Open an association to addr (its port: the peer's SCTP port for the
	 * kernel, its UDP port for usrsctp).  Returns the peer at once; up or
	 * down follows.  An association that already exists is returned. */
	int  (*connect)(struct ctp_tr *t, const struct sockaddr *addr, struct ctp_tr_peer **out,
	    struct ctp_err *err);
	/* Send one message.  0 when sent or queued; CTP_E_AGAIN when the queue
	 * is full (nothing was queued); CTP_E_STATE when the peer is not up. */
	int  (*send)(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const void *buf,
	    size_t len);
	/* SHUTDOWN (abort = 0) or ABORT; down follows. */
	void (*close_peer)(struct ctp_tr_peer *p, int abort);
	/* Shut every association down and release everything; done runs once
	 * all handles are closed (the loop must keep running until then). */
	void (*close)(struct ctp_tr *t, void (*done)(void *arg), void *arg);
};

extern const struct ctp_tr_ops ctp_tr_usrsctp;
extern const struct ctp_tr_ops ctp_tr_mem;
extern const struct ctp_tr_ops ctp_tr_kernel;

/*
 * Which backend to use when the configuration says "auto": the kernel's
 * when it can open an SCTP socket, else usrsctp.  why gets one line for the
 * log ("kernel SCTP unavailable: Protocol not supported; using usrsctp").
 */
const struct ctp_tr_ops *ctp_tr_pick(char *why, size_t len);

/* ---- the in-memory wire (ctp_tr_mem) ---------------------------------- */

/*
 * All ctp_tr_mem transports of a process share one wire; a transport's
 * address is its cfg.bind (address and port).  Packets between two
 * addresses can be dropped, delayed, duplicated or reordered on command;
 * the wire delivers from a libuv timer, never from inside a send.
 */
struct ctp_mem_fault {
	unsigned drop_pct;      /* 0..100, per packet */
	unsigned dup_pct;
	unsigned reorder_pct;   /* held back and sent after the next packet */
	unsigned delay_ms;      /* added to every packet */
	unsigned drop_next;     /* drop exactly the next N packets */
	int      blackhole;     /* drop everything */
};

/* Faults for packets from a to b (NULL = any); seed makes runs repeatable. */
void ctp_mem_wire_fault(const struct sockaddr *from, const struct sockaddr *to,
    const struct ctp_mem_fault *f);
void ctp_mem_wire_seed(uint64_t seed);
void ctp_mem_wire_clear(void);
/* Packets carried, dropped, duplicated, reordered so far. */
void ctp_mem_wire_stats(uint64_t *carried, uint64_t *dropped, uint64_t *dups, uint64_t *reordered);

#endif
