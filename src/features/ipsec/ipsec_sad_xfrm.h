/*
 * ipsec_sad_xfrm.h: the inside of the xfrm SAD backend (ipsec_sad_xfrm.c),
 * for its unit tests (tests/unit/test_sad_xfrm.c) and the kernel-test driver
 * (tests/vm/xfrm_drv.c).  The plugin uses only ipsec_sad.h.
 *
 * Three layers, each usable alone:
 *
 *   codec    netlink messages of NETLINK_XFRM to and from host structs:
 *            pure functions over the cursor and the writer (ctp_cur.h), no
 *            I/O.  Netlink is in host byte order (addresses, SPIs and ports
 *            in network order), so the codec reads fixed fields by copying
 *            them at their exact size, never by casting packet memory.
 *   convert  what the kernel holds (struct ipsec_xfrm_state, the SPD) to
 *            PROFILE 6 (struct ipsec_sa) and back into an XFRM_MSG_NEWSA.
 *   socket   one blocking request/response exchange with the kernel.
 *
 * Keys: struct ipsec_xfrm_state and every buffer that held an SA message
 * carry key octets; ipsec_sad_xfrm_state_clear() and the socket layer wipe
 * them (ctp_wipe).  Nothing here logs.
 */
#ifndef IPSEC_SAD_XFRM_H
#define IPSEC_SAD_XFRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>         /* before linux/xfrm.h: glibc's in6_addr wins */
#include <linux/xfrm.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_cur.h"
#include "ctp/ctp_err.h"
#include "features/ipsec/ipsec_sa.h"
#include "features/ipsec/ipsec_sad.h"

/* Newer than the 6.1 UAPI headers this builds against (6.10): the SA's
 * direction.  Read when present, never sent. */
#define IPSEC_XFRMA_SA_DIR      (XFRMA_MTIMER_THRESH + 1)
#define IPSEC_XFRM_SA_DIR_IN    1
#define IPSEC_XFRM_SA_DIR_OUT   2

/* Templates in one policy: the kernel's XFRM_MAX_DEPTH (not in UAPI). */
#define IPSEC_XFRM_MAX_TMPL     6

/* The largest replay bitmap the kernel keeps: XFRMA_REPLAY_ESN_MAX bits. */
#define IPSEC_XFRM_BMP_WORDS    (4096 / 32)

/*
 * ctpd marks the policies it adds through the selector's `user` field,
 * which the kernel compares when it looks a policy up by selector
 * (selector_cmp) but never matches against packets (xfrm_selector_match):
 * a tagged policy is a policy of its own next to an untagged one with the
 * same selector, behaves exactly like it, and is found again after a
 * restart.  "ctpd" and "ctpb".
 */
#define IPSEC_XFRM_TAG_SPD      0x63747064u
#define IPSEC_XFRM_TAG_BLOCK    0x63747062u

/* Priority of the SPD entries install() adds (lower is preferred); the
 * selector's specificity is added to it, so narrower entries win. */
#define IPSEC_XFRM_PRIO_BASE    1024u

/* ---- codec: messages and attributes ------------------------------------- */

/* One netlink message of a datagram. */
struct ipsec_xfrm_msg {
	uint16_t        type, flags;
	uint32_t        seq, pid;
	struct ctp_cur  body;       /* the payload after the header */
	const uint8_t  *raw;        /* the whole message, header included */
	size_t          rawlen;
};

/*
 * The next message of the datagram in c: 1 with *m set, 0 at the end, or
 * CTP_E_LENGTH when a header does not fit, declares less than itself or
 * more than is left.  The payload cursor of m starts at offset 0 of the
 * message's body.
 */
int ipsec_sad_xfrm_msg_next(struct ctp_cur *c, struct ipsec_xfrm_msg *m);

/* The next attribute (struct nlattr) of c: 1 with type (flags masked off)
 * and its value cursor, 0 at the end, CTP_E_TLV when malformed. */
int ipsec_sad_xfrm_attr_next(struct ctp_cur *c, uint16_t *type, struct ctp_cur *val);

/* ---- codec: SAs and policies ---------------------------------------------- */

struct ipsec_xfrm_alg {
	char     name[65];          /* NUL-terminated, whatever the kernel sent */
	uint32_t key_bits;          /* alg_key_len */
	uint32_t icv_bits;          /* AEAD alg_icv_len, AUTH_TRUNC alg_trunc_len */
	uint16_t key_len;           /* octets in key */
	uint8_t  key[IPSEC_ALG_KEY_MAX];
};

enum ipsec_xfrm_replay_kind {
	IPSEC_XFRM_REPLAY_NONE = 0,
	IPSEC_XFRM_REPLAY_LEGACY,   /* XFRMA_REPLAY_VAL: 32-bit bitmap, bit d = seq - d */
	IPSEC_XFRM_REPLAY_ESN,      /* XFRMA_REPLAY_ESN_VAL: bmp[] ring, see ipsec_sad_xfrm.c */
};

/* One SA as the kernel reports it (XFRM_MSG_NEWSA), refreshed by GETAE. */
struct ipsec_xfrm_state {
	struct xfrm_usersa_info info;
	bool     has_aead, has_crypt, has_auth, auth_trunc;
	struct ipsec_xfrm_alg aead, crypt, auth;
	bool     has_encap;
	struct xfrm_encap_tmpl encap;
	bool     has_mark;
	struct xfrm_mark mark;
	uint32_t if_id, extra_flags;
	uint8_t  dir;               /* IPSEC_XFRM_SA_DIR_*, 0 when the kernel does not say */
	uint8_t  replay_kind;       /* enum ipsec_xfrm_replay_kind */
	struct xfrm_replay_state replay;
	struct {
		uint32_t bmp_len, oseq, seq, oseq_hi, seq_hi, replay_window;
		uint32_t bmp[IPSEC_XFRM_BMP_WORDS];
	} esn;
	bool     has_comp, has_coaddr, has_sec_ctx, has_offload; /* cannot move */
	bool     ae;                /* replay state and counters came from GETAE */
};

/* One SPD entry (XFRM_MSG_NEWPOLICY). */
struct ipsec_xfrm_policy {
	struct xfrm_userpolicy_info info;
	size_t   ntmpl;
	struct xfrm_user_tmpl tmpl[IPSEC_XFRM_MAX_TMPL];
	bool     has_mark;
	struct xfrm_mark mark;
	uint32_t if_id;
	uint8_t  type;              /* XFRM_POLICY_TYPE_MAIN or _SUB */
};

void ipsec_sad_xfrm_state_clear(struct ipsec_xfrm_state *st);

/*
 * Parse an XFRM_MSG_NEWSA (a GETSA reply or a dump entry), an
 * XFRM_MSG_NEWAE (a GETAE reply, merged into st: replay state and current
 * lifetime counters; the SA must be the same) or an XFRM_MSG_NEWPOLICY.
 * CTP_E_TYPE for another message type, CTP_E_SHORT/CTP_E_TLV/CTP_E_LENGTH
 * for a malformed one, CTP_E_VALUE for a GETAE reply about another SA; err
 * says where (offsets within the message).  On failure st is cleared.
 */
int ipsec_sad_xfrm_parse_state(const struct ipsec_xfrm_msg *m, struct ipsec_xfrm_state *st,
    struct ctp_err *err);
int ipsec_sad_xfrm_parse_ae(const struct ipsec_xfrm_msg *m, struct ipsec_xfrm_state *st,
    struct ctp_err *err);
int ipsec_sad_xfrm_parse_policy(const struct ipsec_xfrm_msg *m, struct ipsec_xfrm_policy *p,
    struct ctp_err *err);

/* ---- convert ------------------------------------------------------------- */

/* What turning a kernel SA into PROFILE 6 needs besides the SA. */
struct ipsec_xfrm_view {
	const struct ctp_addr          *local;   /* this node's addresses */
	size_t                          nlocal;
	int64_t                         now_s;   /* CLOCK_REALTIME, as add_time/use_time */
	const struct ipsec_xfrm_policy *pol;     /* the SPD, for SELECTORs */
	size_t                          npol;
};

/*
 * Every PROFILE 6 field of st that applies (see ipsec_sad_xfrm.c for each).
 * CTP_E_UNSUPPORTED (err->status 0x83 for an algorithm, 0x82 otherwise)
 * for an SA PROFILE 6 cannot carry: IPComp, BEET, TCP encapsulation, an
 * algorithm outside ipsec_alg.c, a security context.
 */
int ipsec_sad_xfrm_to_sa(const struct ipsec_xfrm_state *st, const struct ipsec_xfrm_view *v,
    struct ipsec_sa *sa, struct ctp_err *err);

/* 1 when SPD entry p sends to or accepts from the SA (its templates). */
bool ipsec_sad_xfrm_policy_uses(const struct ipsec_xfrm_policy *p,
    const struct ipsec_xfrm_state *st);

/*
 * The selectors of st's traffic: the SA's own xfrm_selector when it is not
 * the wildcard, else those of the ALLOW entries of v in direction dir that
 * use it (ipsec_sad_xfrm_policy_uses), at most max, duplicates dropped.
 * Each comes with the mark and if_id of where it was found.  *n = 0 when
 * nothing restricts the SA.  CTP_E_LIMIT when more than max.
 */
struct ipsec_xfrm_traffic {
	struct xfrm_selector sel;
	struct xfrm_mark     mark;
	uint32_t             if_id;
};
int ipsec_sad_xfrm_traffic(const struct ipsec_xfrm_state *st, const struct ipsec_xfrm_view *v,
    uint8_t dir, struct ipsec_xfrm_traffic *out, size_t max, size_t *n);

/*
 * The PROFILE bitmap (MSB of octet 0 = highest) from the kernel's replay
 * state in st, and back into the kernel's ring for `highest` and `window`;
 * see the comment above ipsec_sad_xfrm_ring_index() in ipsec_sad_xfrm.c.
 */
void ipsec_sad_xfrm_bitmap_from_kernel(const struct ipsec_xfrm_state *st, uint32_t window,
    uint64_t highest, uint8_t *bitmap);
void ipsec_sad_xfrm_bitmap_to_kernel(const uint8_t *bitmap, uint32_t window, uint64_t highest,
    uint32_t *bmp);

/* ---- encoders: one whole request each; w->err says CTP_E_NOSPACE -------- */

/*
 * XFRM_MSG_NEWSA for sa as this node holds it (direction decides which end
 * is the destination), with XFRMA_REPLAY_ESN_VAL (the replay state and
 * oseq = SEQ_OUT.next - 1), XFRMA_LTIME_VAL (USAGE, aged to now_s),
 * lifetimes, encapsulation, mark and if_id.  CTP_E_VALUE (err set) when
 * the SA cannot be expressed: status 0x83 for an algorithm without a Linux
 * name, 0x82 for a port range that is no port and mask, 0x88 for a number
 * beyond 32 bits without ESN, 0x05 for the rest; CTP_E_NOSPACE when w is
 * full.  w holds keys afterwards: wipe it.
 */
int ipsec_sad_xfrm_build_newsa(struct ctp_wbuf *w, uint32_t seq, const struct ipsec_sa *sa,
    int64_t now_s, struct ctp_err *err);

/* XFRM_MSG_GETSA / DELSA (type) by (daddr, SPI, protocol) and mark. */
void ipsec_sad_xfrm_build_sa_id(struct ctp_wbuf *w, uint16_t type, uint32_t seq,
    const struct ipsec_sa_ref *ref, const struct xfrm_mark *mark);
/* XFRM_MSG_GETAE for the same. */
void ipsec_sad_xfrm_build_getae(struct ctp_wbuf *w, uint32_t seq, const struct ipsec_sa_ref *ref,
    const struct xfrm_mark *mark);
/* A dump of the SAD (XFRM_MSG_GETSA) or the SPD (XFRM_MSG_GETPOLICY); for
 * the SAD, dst (may be NULL) limits it to SAs with that destination. */
void ipsec_sad_xfrm_build_dump(struct ctp_wbuf *w, uint16_t type, uint32_t seq,
    const struct ctp_addr *dst);
/* XFRM_MSG_NEWPOLICY / UPDPOLICY with p, or XFRM_MSG_DELPOLICY by p's
 * selector, direction, type, mark and if_id. */
void ipsec_sad_xfrm_build_policy(struct ctp_wbuf *w, uint16_t type, uint32_t seq,
    const struct ipsec_xfrm_policy *p);

/* ---- socket ---------------------------------------------------------------- */

struct ipsec_xfrm_nl {
	int       fd;
	uint32_t  seq;
	int       timeout_ms;
	uint8_t  *buf;              /* receive buffer, wiped after every exchange */
	size_t    cap;
	int       kerrno;           /* the kernel's errno of the last exchange, 0 */
	char      kmsg[128];        /* its extended-ack text, "" */
};

/* CTP_E_IO (errno in nl->kerrno) when the socket cannot be had. */
int ipsec_sad_xfrm_nl_open(struct ipsec_xfrm_nl *nl, int timeout_ms);
void ipsec_sad_xfrm_nl_close(struct ipsec_xfrm_nl *nl);

/*
 * Send the request in req (its sequence number is set here) and read the
 * answer: cb sees every reply message until the ACK (requests) or
 * NLMSG_DONE (dumps, NLM_F_DUMP).  Returns 0; cb's first negative value
 * (the rest of the answer is still read, so the socket stays in step); the
 * kernel's errno mapped to CTP_E_* (ESRCH/ENOENT -> NOTFOUND, EEXIST ->
 * EXIST, ENOSYS -> UNSUPPORTED, ...) with nl->kerrno and nl->kmsg set;
 * CTP_E_TIMEDOUT; or CTP_E_AGAIN for a dump the kernel marks interrupted
 * (NLM_F_DUMP_INTR: the table changed under it), which the caller repeats.
 */
typedef int (*ipsec_xfrm_nl_cb)(const struct ipsec_xfrm_msg *m, void *arg);
int ipsec_sad_xfrm_nl_talk(struct ipsec_xfrm_nl *nl, uint8_t *req, size_t len,
    ipsec_xfrm_nl_cb cb, void *arg);

#endif
