/*
 * ctp_xfrm_policy.c: ESP coverage of a peer in the kernel's SPD
 * (ctp_xfrm_policy.h has the rules).
 *
 * The core cannot use the IPsec plugin's netlink layer (a plugin is loaded
 * at run time and may be absent), so this file has its own, kept to what a
 * policy dump needs: one GETPOLICY dump request, the reply messages
 * gathered into one buffer (bounded), and a parser over the cursor that
 * copies the kernel's fixed structs at their exact size.  The matcher is a
 * pure function of that buffer, so the unit tests feed it dumps recorded
 * from a real kernel (tests/vectors/xfrm).
 *
 * What the kernel does, and where this follows it (net/xfrm/xfrm_policy.c,
 * 6.1): xfrm_policy_lookup() tries XFRM_POLICY_TYPE_SUB before MAIN;
 * xfrm_policy_match() needs the selector to match (xfrm_selector_match:
 * family, addr_match on both prefixes, ports under their masks, proto 0 or
 * equal, ifindex 0 or the output device), (mark & m) == v, and equal
 * if_id; among matches the lowest priority value wins.  Which of two
 * matching policies of equal priority wins depends on the order of the
 * kernel's lists, which a dump does not show: we require both.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>         /* before linux/xfrm.h: glibc's in6_addr wins */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

#include "ctp/ctp_cur.h"
#include "ctp/ctp_xfrm_policy.h"

#define CTP_XFRM_POL_TIMEOUT_MS 2000
#define CTP_XFRM_POL_RXBUF      65536            /* a dump datagram is at most 32 KiB */
#define CTP_XFRM_POL_DUMP_MAX   (8u << 20)       /* the whole dump we are willing to hold */
#define CTP_XFRM_POL_MAX_TMPL   6                /* the kernel's XFRM_MAX_DEPTH */
#define CTP_XFRM_POL_TRIES      3                /* dumps interrupted by a change */

/* One direction's best candidates: the order key is (type rank, priority). */
struct ctp_xfrm_best {
	bool     esp, other;            /* found one of each */
	uint64_t esp_key, other_key;
	char     other_what[160];        /* why the best other one does not cover */
};

/* The parts of one policy message the matcher reads. */
struct ctp_xfrm_pol {
	struct xfrm_userpolicy_info info;
	struct xfrm_user_tmpl       tmpl[CTP_XFRM_POL_MAX_TMPL];
	size_t                      ntmpl;
	struct xfrm_mark            mark;
	uint32_t                    if_id;
	uint8_t                     type;
};

/* ---- parsing ----------------------------------------------------------- */

static int
ctp_xfrm_attr_next(struct ctp_cur *c, uint16_t *type, struct ctp_cur *val)
{
	struct ctp_cur peek = *c;
	struct nlattr a;
	size_t pad;

	if (c->left == 0)
		return 0;
	if (ctp_cur_copy(&peek, &a, sizeof a) < 0 || a.nla_len < NLA_HDRLEN || a.nla_len > c->left)
		return CTP_E_LENGTH;
	(void)ctp_cur_skip(c, NLA_HDRLEN);
	(void)ctp_cur_sub(c, a.nla_len - NLA_HDRLEN, val);
	pad = NLA_ALIGN(a.nla_len) - a.nla_len;
	(void)ctp_cur_skip(c, pad < c->left ? pad : c->left);
	*type = a.nla_type & NLA_TYPE_MASK;
	return 1;
}

static int
ctp_xfrm_parse_pol(struct ctp_cur body, struct ctp_xfrm_pol *p)
{
	struct ctp_cur v = { NULL, 0, 0 };
	uint16_t type = 0;
	int more;

	memset(p, 0, sizeof *p);
	p->type = XFRM_POLICY_TYPE_MAIN;
	if (ctp_cur_copy(&body, &p->info, sizeof p->info) < 0)
		return CTP_E_LENGTH;
	(void)ctp_cur_skip(&body, NLMSG_ALIGN(sizeof p->info) - sizeof p->info);
	while ((more = ctp_xfrm_attr_next(&body, &type, &v)) > 0) {
		switch (type) {
		case XFRMA_TMPL:
			if (v.left % sizeof p->tmpl[0] || v.left / sizeof p->tmpl[0] > CTP_XFRM_POL_MAX_TMPL)
				return CTP_E_LENGTH;
			p->ntmpl = v.left / sizeof p->tmpl[0];
			(void)ctp_cur_copy(&v, p->tmpl, v.left);
			break;
		case XFRMA_MARK:
			if (ctp_cur_copy(&v, &p->mark, sizeof p->mark) < 0)
				return CTP_E_LENGTH;
			break;
		case XFRMA_IF_ID:
			if (ctp_cur_copy(&v, &p->if_id, sizeof p->if_id) < 0)
				return CTP_E_LENGTH;
			break;
		case XFRMA_POLICY_TYPE:
			if (ctp_cur_copy(&v, &p->type, sizeof p->type) < 0)
				return CTP_E_LENGTH;
			break;
		}
	}
	return more < 0 ? more : 0;
}

/* ---- matching ---------------------------------------------------------- */

static int
ctp_xfrm_af(unsigned family)
{
	return family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
}

static bool
ctp_xfrm_prefix_has(const xfrm_address_t *prefix, unsigned plen, const struct ctp_addr *a)
{
	struct ctp_addr p;

	if (plen == 0)
		return true;
	if (plen > 8 * ctp_addr_len(a->family))
		return false;
	(void)ctp_addr_set(&p, a->family, (const uint8_t *)prefix);
	return ctp_addr_in_prefix(a, &p, plen) == 1;
}

static bool
ctp_xfrm_port_has(uint16_t sel_port, uint16_t mask, uint16_t port)
{
	return ((sel_port ^ htons(port)) & mask) == 0;
}

/*
 * Does p apply to the packets src:sport -> dst:dport of f's protocol?
 * 1 yes, 2 perhaps (bound to an interface), 0 no.
 */
static int
ctp_xfrm_applies(const struct ctp_xfrm_pol *p, const struct ctp_xfrm_flow *f,
    const struct ctp_addr *src, uint16_t sport, const struct ctp_addr *dst, uint16_t dport)
{
	const struct xfrm_selector *s = &p->info.sel;

	if (s->family != ctp_xfrm_af(f->local.family) ||
	    !ctp_xfrm_prefix_has(&s->saddr, s->prefixlen_s, src) ||
	    !ctp_xfrm_prefix_has(&s->daddr, s->prefixlen_d, dst) ||
	    (s->proto != 0 && s->proto != f->proto) ||
	    !ctp_xfrm_port_has(s->sport, s->sport_mask, sport) ||
	    !ctp_xfrm_port_has(s->dport, s->dport_mask, dport))
		return 0;
	if (p->mark.v != 0 || p->if_id != 0)   /* our packets carry no mark, no if_id */
		return 0;
	return s->ifindex ? 2 : 1;
}

/* Empty when p requires ESP, else why not. */
static const char *
ctp_xfrm_not_esp(const struct ctp_xfrm_pol *p)
{
	bool optional = false;

	if (p->info.action != XFRM_POLICY_ALLOW)
		return "blocks the traffic";
	for (size_t i = 0; i < p->ntmpl; i++)
		if (p->tmpl[i].id.proto == IPPROTO_ESP) {
			if (!p->tmpl[i].optional)
				return "";
			optional = true;
		}
	if (optional)
		return "has an optional ESP template (plaintext passes)";
	return p->ntmpl ? "has no ESP template" : "lets plaintext pass (no template)";
}

static void
ctp_xfrm_consider(struct ctp_xfrm_best *b, const struct ctp_xfrm_pol *p, int applies)
{
	uint64_t key = (uint64_t)(p->type == XFRM_POLICY_TYPE_SUB ? 0 : 1) << 32 | p->info.priority;
	const char *why = ctp_xfrm_not_esp(p);

	if (!*why && applies == 1) {
		if (!b->esp || key < b->esp_key) {
			b->esp = true;
			b->esp_key = key;
		}
		return;
	}
	if (!*why)
		why = "requires ESP, but only on one interface";
	if (!b->other || key < b->other_key) {
		b->other = true;
		b->other_key = key;
		snprintf(b->other_what, sizeof b->other_what, "%s policy of priority %u %s%s",
		    p->type == XFRM_POLICY_TYPE_SUB ? "a sub" : "the", p->info.priority, why,
		    applies == 2 && *ctp_xfrm_not_esp(p) ? " (on one interface)" : "");
	}
}

/* Covered in one direction?  Otherwise append why to cov->why. */
static bool
ctp_xfrm_verdict(const struct ctp_xfrm_best *b, const char *dir, const struct ctp_addr *src,
    uint16_t sport, const struct ctp_addr *dst, uint16_t dport, uint8_t proto,
    struct ctp_xfrm_cover *cov)
{
	char s[CTP_ADDRSTRLEN], d[CTP_ADDRSTRLEN], line[384];
	size_t l;

	if (b->esp && (!b->other || b->esp_key < b->other_key))
		return true;
	snprintf(line, sizeof line, "%s%s %s port %u -> %s port %u (%s): %s", cov->why[0] ? "; " : "",
	    dir, ctp_addr_fmt(src, s, sizeof s), sport, ctp_addr_fmt(dst, d, sizeof d), dport,
	    proto == IPPROTO_SCTP ? "SCTP" : proto == IPPROTO_UDP ? "UDP" : "?",
	    !b->esp && !b->other ? "no policy applies" :
	    b->esp && b->other && b->esp_key == b->other_key ?
	    "an ESP policy ties with one that does not require ESP" :
	    b->other_what);
	if (b->esp && b->other && b->esp_key > b->other_key) {
		size_t n = strlen(line);

		snprintf(line + n, sizeof line - n, " and wins over the ESP one");
	}
	l = strlen(cov->why);
	snprintf(cov->why + l, sizeof cov->why - l, "%s", line);
	return false;
}

int
ctp_xfrm_policy_match(const uint8_t *dump, size_t len, const struct ctp_xfrm_flow *f,
    struct ctp_xfrm_cover *cov, struct ctp_err *err)
{
	struct ctp_xfrm_best out, in;
	struct ctp_xfrm_pol p;
	struct ctp_cur c;

	if (!cov || !f || (!dump && len) || !ctp_addr_len(f->local.family) ||
	    f->local.family != f->peer.family)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_xfrm_policy_match: bad flow");
	memset(cov, 0, sizeof *cov);
	memset(&out, 0, sizeof out);
	memset(&in, 0, sizeof in);
	ctp_cur_init(&c, dump, len, 0);
	while (c.left) {
		struct ctp_cur peek = c, body = { NULL, 0, 0 };
		struct nlmsghdr h;
		size_t at = c.off, pad;
		int a, rc;

		if (ctp_cur_copy(&peek, &h, sizeof h) < 0 || h.nlmsg_len < sizeof h ||
		    h.nlmsg_len > c.left)
			return ctp_err_set(err, CTP_E_LENGTH, at, 0,
			    "SPD dump: netlink message at offset %zu does not fit", at);
		(void)ctp_cur_skip(&c, NLMSG_HDRLEN);
		(void)ctp_cur_sub(&c, h.nlmsg_len - NLMSG_HDRLEN, &body);
		pad = NLMSG_ALIGN(h.nlmsg_len) - h.nlmsg_len;
		(void)ctp_cur_skip(&c, pad < c.left ? pad : c.left);
		if (h.nlmsg_type != XFRM_MSG_NEWPOLICY && h.nlmsg_type != XFRM_MSG_UPDPOLICY)
			continue;
		if ((rc = ctp_xfrm_parse_pol(body, &p)) < 0)
			return ctp_err_set(err, rc, at, 0,
			    "SPD dump: the policy at offset %zu is malformed", at);
		if (p.info.dir == XFRM_POLICY_OUT &&
		    (a = ctp_xfrm_applies(&p, f, &f->local, f->local_port, &f->peer, f->peer_port)))
			ctp_xfrm_consider(&out, &p, a);
		else if (p.info.dir == XFRM_POLICY_IN &&
		    (a = ctp_xfrm_applies(&p, f, &f->peer, f->peer_port, &f->local, f->local_port)))
			ctp_xfrm_consider(&in, &p, a);
	}
	cov->out_ok = ctp_xfrm_verdict(&out, "outbound", &f->local, f->local_port, &f->peer,
	    f->peer_port, f->proto, cov);
	cov->in_ok = ctp_xfrm_verdict(&in, "inbound", &f->peer, f->peer_port, &f->local,
	    f->local_port, f->proto, cov);
	return cov->out_ok && cov->in_ok;
}

/* ---- reading the SPD ------------------------------------------------------ */

struct ctp_xfrm_buf {
	uint8_t *p;
	size_t   len, cap;
};

static int
ctp_xfrm_buf_add(struct ctp_xfrm_buf *b, const uint8_t *p, size_t n)
{
	if (b->len + n > CTP_XFRM_POL_DUMP_MAX)
		return CTP_E_LIMIT;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		uint8_t *q;

		while (cap < b->len + n)
			cap *= 2;
		if ((q = realloc(b->p, cap)) == NULL)
			return CTP_E_NOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/*
 * One dump into b: 0, 1 when the kernel says the dump was interrupted by
 * a change (retry), or CTP_E_* with err filled.
 */
static int
ctp_xfrm_dump_once(int fd, uint32_t seq, uint8_t *rx, struct ctp_xfrm_buf *b,
    struct ctp_err *err)
{
	struct {
		struct nlmsghdr             h;
		struct xfrm_userpolicy_id   id;
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	bool intr = false;

	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = sizeof req;
	req.h.nlmsg_type = XFRM_MSG_GETPOLICY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq;
	b->len = 0;
	while (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		if (errno != EINTR)
			return ctp_err_set(err, CTP_E_IO, 0, 0, "cannot ask the kernel for its SPD: %s",
			    strerror(errno));
	for (;;) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, rx, CTP_XFRM_POL_RXBUF, MSG_TRUNC, (struct sockaddr *)&from, &fl);
		struct ctp_cur c;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ctp_err_set(err, CTP_E_IO, 0, 0, "reading the SPD: %s",
			    errno == EAGAIN || errno == EWOULDBLOCK ? "the kernel did not answer in time" :
			    strerror(errno));
		}
		if ((size_t)n > CTP_XFRM_POL_RXBUF)
			return ctp_err_set(err, CTP_E_IO, 0, 0, "reading the SPD: datagram truncated");
		if (from.nl_pid != 0)
			continue;
		ctp_cur_init(&c, rx, (size_t)n, 0);
		while (c.left) {
			struct ctp_cur peek = c;
			struct nlmsghdr h;
			int rc;

			if (ctp_cur_copy(&peek, &h, sizeof h) < 0 || h.nlmsg_len < sizeof h ||
			    h.nlmsg_len > c.left)
				return ctp_err_set(err, CTP_E_IO, 0, 0, "reading the SPD: bad netlink framing");
			if (h.nlmsg_seq == seq) {
				if (h.nlmsg_flags & NLM_F_DUMP_INTR)
					intr = true;
				if (h.nlmsg_type == NLMSG_DONE)
					return intr ? 1 : 0;
				if (h.nlmsg_type == NLMSG_ERROR) {
					int32_t e = 0;

					if (h.nlmsg_len >= NLMSG_HDRLEN + sizeof e)
						memcpy(&e, c.p + NLMSG_HDRLEN, sizeof e);
					return ctp_err_set(err, CTP_E_IO, 0, 0, "the kernel refused the SPD dump: %s",
					    strerror(e < 0 ? -e : EPROTO));
				}
				if ((rc = ctp_xfrm_buf_add(b, c.p, NLMSG_ALIGN(h.nlmsg_len) <= c.left ?
				    NLMSG_ALIGN(h.nlmsg_len) : h.nlmsg_len)) < 0)
					return ctp_err_set(err, rc, 0, 0, "the SPD is too large to check (over %u octets)",
					    CTP_XFRM_POL_DUMP_MAX);
			}
			(void)ctp_cur_skip(&c, NLMSG_ALIGN(h.nlmsg_len) <= c.left ?
			    NLMSG_ALIGN(h.nlmsg_len) : h.nlmsg_len);
		}
	}
}

int
ctp_xfrm_policy_check(const struct ctp_xfrm_flow *f, struct ctp_xfrm_cover *cov,
    struct ctp_err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { CTP_XFRM_POL_TIMEOUT_MS / 1000, (CTP_XFRM_POL_TIMEOUT_MS % 1000) * 1000 };
	struct ctp_xfrm_buf b = { NULL, 0, 0 };
	uint8_t *rx = NULL;
	int fd, rc = 0;

	if (cov)
		memset(cov, 0, sizeof *cov);
	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM)) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "cannot read the SPD: %s%s", strerror(errno),
		    errno == EPROTONOSUPPORT ? " (no XFRM netlink in this kernel: xfrm_user)" : "");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "cannot read the SPD: %s", strerror(errno));
		goto out;
	}
	if ((rx = malloc(CTP_XFRM_POL_RXBUF)) == NULL) {
		rc = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ctp_xfrm_policy_check: out of memory");
		goto out;
	}
	for (int i = 0; i < CTP_XFRM_POL_TRIES; i++)
		if ((rc = ctp_xfrm_dump_once(fd, (uint32_t)time(NULL) + (uint32_t)i, rx, &b, err)) <= 0)
			break;
	if (rc == 1)
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "the SPD kept changing while it was read");
	if (rc == 0)
		rc = ctp_xfrm_policy_match(b.p, b.len, f, cov, err);
out:
	free(rx);
	free(b.p);
	close(fd);
	return rc;
}
