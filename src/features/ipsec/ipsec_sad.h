/*
 * ipsec_sad.h: the IPsec plugin's seam to a security association database
 * (iked's ipsec.c -> pfkey.c, strongSwan's kernel_ipsec_t).  Two backends:
 *
 *   mem   an in-process SAD and SPD with an ESP datapath on OpenSSL
 *         (ipsec_esp.h): for gateways without kernel IPsec, tests and
 *         benchmarks.  It sends and receives real ESP packets, so a
 *         transfer can be proved with traffic.
 *   xfrm  Linux XFRM over netlink: the kernel's SAD and SPD.
 *
 * An SA is named by its lookup triple (RFC 4301 4.4.2): SPI, protocol and
 * the destination address (for an inbound SA at this node: our address;
 * outbound: the peer's).  The operations follow a transfer's life:
 *
 *   list        the SAs related to an MN (its address is an endpoint, or an
 *               SA's selectors cover its traffic);
 *   freeze      stop sending on an outbound SA (PROFILE 5.1: before the
 *               snapshot), and report the highest sequence number used;
 *   snapshot    every field of PROFILE 6 (keys, counters fresh from the
 *               datapath, replay window, lifetimes, usage);
 *   install     a received SA, with its replay state and next sequence
 *               number, active at once;
 *   remove      after a commit;
 *   thaw        after a clean abort: resume sending where it stopped;
 *   quarantine  after an abort with no verdict: never send again, keep it
 *               for the record (the MN re-keys);
 *   spi_in_use  for SPI conflicts at a new endpoint.
 *
 * Threading: the loop thread only.  Keys never leave through describe.
 */
#ifndef IPSEC_SAD_H
#define IPSEC_SAD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_sa.h"

#define IPSEC_SAD_MAX_LIST 64   /* SAs of one MN handed over at once */

struct ipsec_sa_ref {
	uint32_t        spi;
	uint8_t         protocol;   /* 50 ESP, 51 AH */
	struct ctp_addr dst;
};

enum ipsec_sa_state {
	IPSEC_SA_ACTIVE = 0,
	IPSEC_SA_FROZEN,        /* handed over, waiting for the verdict */
	IPSEC_SA_QUARANTINED,   /* no verdict came: out of the datapath for good */
};

struct ipsec_sad;

/* What a backend may use of its host (the plugin). */
struct ipsec_sad_env {
	uv_loop_t  *loop;       /* the daemon's loop (datapath sockets, timers) */
	void      (*log)(void *arg, int level, const char *func, const char *msg);
	void       *log_arg;
	/* this node's own addresses (for "local" endpoints and SA lookups) */
	struct ctp_addr addrs[8];
	size_t      naddrs;
};

struct ipsec_sad_ops {
	const char *name;       /* "mem", "xfrm" */
	/* config: the <sad> element's value tree (backend-specific members) */
	int  (*open)(const struct ctp_val *config, const struct ipsec_sad_env *env,
	    struct ipsec_sad **out, struct ctp_err *err);
	void (*close)(struct ipsec_sad *s);

	int  (*list)(struct ipsec_sad *s, const struct ctp_addr *mn, struct ipsec_sa_ref *out,
	    size_t max, size_t *n);
	int  (*freeze)(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, uint64_t *highest_sent);
	int  (*snapshot)(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, struct ipsec_sa *out);
	int  (*install)(struct ipsec_sad *s, const struct ipsec_sa *sa, struct ctp_err *err);
	int  (*remove)(struct ipsec_sad *s, const struct ipsec_sa_ref *ref);
	int  (*thaw)(struct ipsec_sad *s, const struct ipsec_sa_ref *ref);
	int  (*quarantine)(struct ipsec_sad *s, const struct ipsec_sa_ref *ref);
	/* 1 in use, 0 free, <0 error */
	int  (*spi_in_use)(struct ipsec_sad *s, uint32_t spi, uint8_t protocol,
	    const struct ctp_addr *dst);
	/* 1 when this endpoint can run the algorithm (ENCR or INTEG, IKEv2 ID) */
	int  (*supports)(struct ipsec_sad *s, unsigned type, unsigned id, unsigned key_bits);
	/* One object per SA for `ctpctl sas`: lookup triple, state, algorithms
	 * by name, counters, lifetimes; NEVER key octets. */
	int  (*describe)(struct ipsec_sad *s, struct ctp_val *arr);
	/* For a whole node's fail-over: fn gets the far end of every SA that
	 * is not quarantined (the end that is not this node; an address may
	 * come more than once).  0 or CTP_E_*. */
	int  (*each_peer)(struct ipsec_sad *s, void (*fn)(void *arg, const struct ctp_addr *peer),
	    void *arg);
};

extern const struct ipsec_sad_ops ipsec_sad_mem;
extern const struct ipsec_sad_ops ipsec_sad_xfrm;

/*
 * mem only: the datapath's counters that belong to no SA (packets in,
 * unknown SPI, looped back, IKE and keep-alives on the UDP port, malformed,
 * echoed, blocked, send and state-file errors), set as members of obj.
 * 0 or CTP_E_NOMEM.  s must come from ipsec_sad_mem.open.
 */
int ipsec_sad_mem_counters(struct ipsec_sad *s, struct ctp_val *obj);

/*
 * mem only: a gateway originates traffic (both ends of a type 4 SA are
 * gateways, so no MN can drive it).  Sends count ESP packets (at most
 * IPSEC_SAD_MEM_SEND_MAX) on the ACTIVE outbound SA ref to its peer, on the
 * datapath: UDP to the SA's ENCAP destination port, else the SAD's "port";
 * raw ESP.  They are dummy packets (Next Header 59, RFC 4303 2.6): the peer
 * accepts and counts them but never echoes one.  Each takes the SA's next
 * sequence number (with the state file's reservation first), so the
 * peer's replay window and both SADs' describe() show which numbers went.
 * Returns the number of packets sent (> 0; fewer than count when the
 * datapath failed midway, err says why), or with err filled:
 * CTP_E_NOTFOUND (no such SA), CTP_E_INVAL (inbound, not ESP, no datapath,
 * count out of range), CTP_E_STATE (frozen or quarantined: never sends,
 * PROFILE 5.1), CTP_E_LIMIT (sequence space or hard lifetime used up),
 * CTP_E_IO (no reservation could be written, or the socket failed).
 */
#define IPSEC_SAD_MEM_SEND_MAX 10000
int ipsec_sad_mem_esp_send(struct ipsec_sad *s, const struct ipsec_sa_ref *ref, unsigned count,
    struct ctp_err *err);

/* The lookup triple of an SA as this node holds it. */
void ipsec_sa_ref_of(const struct ipsec_sa *sa, struct ipsec_sa_ref *ref);

#endif
