/*
 * ctpmn_esp.c: `ctpmn esp`, the mobile node's side of the ESP traffic that
 * proves a transfer: it sends ESP packets on the MN's outbound SA to a
 * gateway that echoes them (the mem SAD with "echo"), decapsulates the
 * echoes on the MN's inbound SA and reports what came back, above all the
 * gateway's sequence numbers: none may ever arrive twice (PROFILE 5.1).
 *
 * The SAs are given as the gateway holds them, each a JSON file in the shape
 * `ctpctl decode --json` prints one CDB of FPT 0xFF01 ({"tlvs": [...]}; a
 * whole message with "cdbs" is taken too, its first 0xFF01 CDB): direction
 * 1 (into the gateway) is the MN's outbound SA, direction 2 its inbound;
 * ENDPOINTS local is the gateway, peer the MN.  ctpmn turns each round:
 * local and peer swap, the direction flips, the outbound SA gets a counter
 * (from --state, else just above the gateway's replay window, else 1) and
 * the inbound SA a window of 128 (from --state, else empty).
 *
 * Each payload is "CTPE" | a counter (8) | CLOCK_MONOTONIC ns (8), padded
 * with zeros to --size, Next Header 253 (RFC 3692: experimentation); an
 * echo is matched by its counter, which gives the round-trip time.
 *
 * Keys are read from the files and never printed; every copy is wiped
 * before exit.  The --state file holds only counters and the window.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_cur.h"
#include "ctp/ctp_defs.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_esp.h"
#include "features/ipsec/ipsec_sa.h"

/* ctpmn.c's command table calls this; declared here too so that the file
 * stands on its own (-Wmissing-prototypes). */
int ctpmn_esp_main(int argc, char **argv);

#define ESP_FILE_MAX     (1024 * 1024)
#define ESP_COUNT_MAX    1000000
#define ESP_SIZE_MIN     20          /* magic, counter, timestamp */
#define ESP_SIZE_MAX     8192
#define ESP_NH           253         /* RFC 3692 */
#define ESP_WINDOW       128
#define ESP_DUPS_SHOWN   16
#define ESP_PKT_MAX      (ESP_SIZE_MAX + 256)
#define ESP_MAGIC        "CTPE"

static const char esp_usage[] =
"usage: ctpmn esp --sa FILE --sa FILE [--to ADDR] [--udp PORT | --raw]\n"
"                 [--count N] [--interval-ms N] [--wait-ms N] [--size N]\n"
"                 [--replay K] [--state FILE] [--json]\n"
"\n"
"The MN's side of ESP (RFC 4303) towards a gateway that echoes every packet\n"
"(ctpd's mem SAD with echo on): send N packets on the MN's outbound SA,\n"
"decapsulate the echoes on its inbound SA, report what came back.\n"
"\n"
"  --sa FILE        one SA as JSON, as `ctpctl decode --json` prints a CDB of\n"
"                   FPT 0xFF01 (an object with \"tlvs\"), written from the\n"
"                   gateway's point of view: direction 1 (into the gateway)\n"
"                   is the MN's outbound SA, 2 its inbound; local = gateway,\n"
"                   peer = MN.  Give both.\n"
"  --to ADDR        send to ADDR (default: the gateway, ENDPOINTS local)\n"
"  --udp PORT       RFC 3948 UDP encapsulation to PORT (the default, 4500)\n"
"  --raw            raw ESP, IP protocol 50 (root or CAP_NET_RAW)\n"
"  --count N        packets to send (10)\n"
"  --interval-ms N  between two packets (0: as fast as they go)\n"
"  --wait-ms N      after the last packet, wait up to N ms for echoes (500)\n"
"  --size N         payload octets, 20 to 8192 (20)\n"
"  --replay K       then send the K-th packet again, octet for octet; the\n"
"                   gateway must refuse it (no echo)\n"
"  --state FILE     load the MN's counters (next outbound number, inbound\n"
"                   window) from FILE when it exists, save them at exit: a\n"
"                   run after a handover continues where the last one ended\n"
"  --json           the report as JSON\n"
"\n"
"The report: packets sent and echoed, echoes refused for a bad ICV (auth\n"
"failures) or by the replay window (duplicates: the gateway used a number\n"
"twice), the sequence numbers of the echoes (first, last), round-trip times,\n"
"and with --replay whether the replayed packet was echoed.\n"
"\n"
"Exit status: 0 no duplicate, no auth failure, no echo of a replay (lost\n"
"echoes are reported, not failed); 1 otherwise, or a local error; 2 usage.\n";

struct esp_run {
	/* options */
	const char      *sa_file[2];
	const char      *state_file;
	struct ctp_addr  to;
	int              have_to, raw, json;
	uint16_t         port;
	uint64_t         count, interval_ms, wait_ms, size, replay_k;

	/* the MN's SAs and engines */
	struct ipsec_sa  out, in;
	struct ipsec_esp *eout, *ein;
	int              fd, family;

	/* what happened */
	uint64_t         sent, send_errors, echoed, auth_fail, replay_drops, malformed;
	uint64_t         other, late_dup, seq_first, seq_last, sent_first, sent_last;
	uint64_t         rtt_min, rtt_max, rtt_sum;
	uint32_t         dups[ESP_DUPS_SHOWN];
	size_t           ndups;
	uint8_t         *echo_seen;          /* per counter */
	uint8_t          replay_pkt[ESP_PKT_MAX];
	size_t           replay_len;
	uint64_t         replay_seq;
	int              replay_sent, replay_echoed;
};

static uint64_t
ctpmn_esp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
ctpmn_esp_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *s == '-' || !*s || *end || x < min || x > max) {
		fprintf(stderr, "ctpmn esp: --%s: \"%s\" is not a number from %llu to %llu\n", opt,
		    s, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*v = x;
	return 0;
}

/* ---- the SA files ------------------------------------------------------- */

/* JSON (a CDB object, or a message with "cdbs") to a verified SA. */
static int
ctpmn_esp_load_sa(const char *path, struct ipsec_sa *sa)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	uint8_t *text = NULL, cdbbuf[2048];
	const struct ctp_val *obj, *cdbs;
	struct ctp_val *root = NULL;
	struct ctp_wbuf w;
	struct ctp_cur c;
	struct ctp_cdb cdb;
	struct ctp_err err;
	size_t len = 0, at;
	int rc;

	ctp_err_clear(&err);
	if ((rc = ctp_read_file(path, ESP_FILE_MAX, &text, &len)) < 0) {
		fprintf(stderr, "ctpmn esp: %s: %s\n", path,
		    rc == CTP_E_IO ? strerror(errno) : ctp_strerror(rc));
		return -1;
	}
	rc = ctp_json_parse((const char *)text, len, &root, &err);
	ctp_wipe(text, len);
	free(text);
	if (rc < 0) {
		fprintf(stderr, "ctpmn esp: %s: %s\n", path, err.what);
		return -1;
	}
	obj = root;
	if ((cdbs = ctp_val_get(root, "cdbs")) != NULL && cdbs->kind == CTP_V_ARR) {
		uint64_t fpt;

		obj = NULL;
		for (size_t i = 0; !obj && i < cdbs->n; i++)
			if (ctp_val_get_u64(cdbs->items[i], "fpt", 0xffff, &fpt, NULL) == 0 &&
			    fpt == CTP_FPT_IPSEC_SA)
				obj = cdbs->items[i];
	}
	if (!obj || !ctp_val_get(obj, "tlvs")) {
		fprintf(stderr, "ctpmn esp: %s: no IPsec SA (an object with \"tlvs\", as `ctpctl "
		    "decode --json` prints a CDB of FPT 0xFF01)\n", path);
		ctp_val_free(root);
		return -1;
	}
	ctp_wbuf_init(&w, cdbbuf, sizeof cdbbuf);
	at = ctp_cdb_begin(&w, CTP_FPT_IPSEC_SA, 0, 0);
	rc = ctp_tlv_build(fd, ctp_val_get(obj, "tlvs"), &w, &err);
	if (rc == 0)
		rc = ctp_cdb_end(&w, at, 0, 0);
	ctp_val_free(root);
	if (rc == 0) {
		ctp_cur_init(&c, cdbbuf, w.len, 0);
		rc = ctp_cdb_next(&c, 0, &cdb, &err) == 1 ? ipsec_sa_decode(&cdb, sa, &err) :
		    CTP_E_CDB;
	}
	ctp_wipe(cdbbuf, sizeof cdbbuf);
	if (rc < 0) {
		fprintf(stderr, "ctpmn esp: %s: %s\n", path,
		    err.code ? err.what : ctp_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * Turn a gateway's SA into the MN's: swap the ends, flip the direction.  An
 * outbound SA starts above the gateway's window (its REPLAY), an inbound
 * one with an empty window; --state may say better.
 */
static void
ctpmn_esp_flip(struct ipsec_sa *sa)
{
	struct ctp_addr t = sa->local;
	uint64_t start = 1;

	sa->local = sa->peer;
	sa->peer = t;
	sa->has_usage = sa->has_snapshot_age = false;
	memset(&sa->where, 0, sizeof sa->where);
	if (sa->direction == CTP_DIRECTION_IN) {
		if (sa->has_replay && sa->replay.highest < UINT64_MAX)
			start = sa->replay.highest + 1;
		sa->direction = CTP_DIRECTION_OUT;
		sa->flags &= (uint8_t)~IPSEC_SA_F_ANTI_REPLAY;
		sa->has_replay = false;
		sa->has_seq_out = true;
		sa->seq_out.next = start;
		sa->seq_out.margin = 0;
	} else {
		sa->direction = CTP_DIRECTION_IN;
		sa->flags |= IPSEC_SA_F_ANTI_REPLAY;
		sa->has_seq_out = false;
		sa->has_replay = true;
		sa->replay.window = ESP_WINDOW;
		sa->replay.highest = 0;
		sa->replay.bitmap_len = ESP_WINDOW / 8;
		memset(sa->replay.bitmap, 0, sizeof sa->replay.bitmap);
	}
}

/* ---- the state file ----------------------------------------------------- */

static int
ctpmn_esp_state_load(struct esp_run *r)
{
	const struct ctp_val *o, *i;
	struct ctp_val *root = NULL;
	uint8_t *text = NULL;
	uint64_t spi, next, win, hi;
	struct ctp_err err;
	size_t len = 0, blen = 0;
	int rc;

	if (!r->state_file)
		return 0;
	ctp_err_clear(&err);
	if ((rc = ctp_read_file(r->state_file, ESP_FILE_MAX, &text, &len)) < 0) {
		if (rc == CTP_E_IO && errno == ENOENT)
			return 0;   /* the first run */
		fprintf(stderr, "ctpmn esp: --state %s: %s\n", r->state_file, ctp_strerror(rc));
		return -1;
	}
	rc = ctp_json_parse((const char *)text, len, &root, &err);
	free(text);
	o = ctp_val_get(root, "out");
	i = ctp_val_get(root, "in");
	if (rc < 0 || !o || !i ||
	    ctp_val_get_u64(o, "spi", UINT32_MAX, &spi, &err) < 0 || spi != r->out.spi ||
	    ctp_val_get_u64(o, "next", UINT64_MAX, &next, &err) < 0 ||
	    ctp_val_get_u64(i, "spi", UINT32_MAX, &spi, &err) < 0 || spi != r->in.spi ||
	    ctp_val_get_u64(i, "window", CTP_REPLAY_MAX_WINDOW, &win, &err) < 0 ||
	    ctp_val_get_u64(i, "highest", UINT64_MAX, &hi, &err) < 0 ||
	    ctp_val_get_hex(i, "bitmap", r->in.replay.bitmap, sizeof r->in.replay.bitmap, &blen,
	    &err) < 0 || blen != win / 8) {
		fprintf(stderr, "ctpmn esp: --state %s: %s\n", r->state_file,
		    err.code ? err.what : "not the state of these SAs (SPIs differ): remove it "
		    "or use another file");
		ctp_val_free(root);
		return -1;
	}
	ctp_val_free(root);
	r->out.seq_out.next = next;
	r->in.replay.window = (uint32_t)win;
	r->in.replay.highest = hi;
	r->in.replay.bitmap_len = (uint16_t)blen;
	return 0;
}

static int
ctpmn_esp_state_save(struct esp_run *r)
{
	struct ctp_val *root, *o, *i;
	struct ipsec_sa snap;
	char *tmp = NULL;
	FILE *f = NULL;
	int rc = 0;

	if (!r->state_file)
		return 0;
	root = ctp_val_obj();
	o = ctp_val_obj();
	i = ctp_val_obj();
	if (!root || !o || !i) {
		ctp_val_free(root);
		ctp_val_free(o);
		ctp_val_free(i);
		fprintf(stderr, "ctpmn esp: --state %s: out of memory\n", r->state_file);
		return CTP_E_NOMEM;
	}
	memset(&snap, 0, sizeof snap);
	ipsec_esp_export(r->eout, &snap);
	ipsec_esp_export(r->ein, &snap);
	rc |= ctp_val_set_u64(o, "spi", r->out.spi);
	rc |= ctp_val_set_u64(o, "next", snap.seq_out.next);
	rc |= ctp_val_set_u64(i, "spi", r->in.spi);
	rc |= ctp_val_set_u64(i, "window", snap.replay.window);
	rc |= ctp_val_set_u64(i, "highest", snap.replay.highest);
	rc |= ctp_val_set_hex(i, "bitmap", snap.replay.bitmap, snap.replay.bitmap_len);
	/* root owns o and i from here, also when the set fails */
	rc |= ctp_val_obj_set(root, "out", o);
	rc |= ctp_val_obj_set(root, "in", i);
	ipsec_sa_clear(&snap);
	if (rc)
		rc = CTP_E_NOMEM;
	if (rc == 0 && asprintf(&tmp, "%s.tmp", r->state_file) < 0) {
		tmp = NULL;
		rc = CTP_E_NOMEM;
	}
	/* written aside, then renamed: a run killed meanwhile leaves the old
	 * state, never half of a new one */
	if (rc == 0 && ((f = fopen(tmp, "w")) == NULL ||
	    ctp_json_write(root, f, CTP_JSON_PRETTY) < 0 || fputc('\n', f) == EOF))
		rc = CTP_E_IO;
	if (f && fclose(f) != 0)
		rc = CTP_E_IO;
	if (rc == 0 && rename(tmp, r->state_file) < 0)
		rc = CTP_E_IO;
	if (rc < 0) {
		fprintf(stderr, "ctpmn esp: --state %s: cannot save: %s\n", r->state_file,
		    rc == CTP_E_IO ? strerror(errno) : ctp_strerror(rc));
		if (tmp)
			unlink(tmp);
	}
	free(tmp);
	ctp_val_free(root);
	return rc;
}

/* ---- the wire ----------------------------------------------------------- */

static socklen_t
ctpmn_esp_sockaddr(const struct ctp_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == CTP_FAMILY_IPV4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a, 4);
		return sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		return sizeof *sin6;
	}
}

static int
ctpmn_esp_open_socket(struct esp_run *r)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	r->family = r->to.family == CTP_FAMILY_IPV6 ? AF_INET6 : AF_INET;
	r->fd = r->raw ? socket(r->family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ESP) :
	    socket(r->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		fprintf(stderr, "ctpmn esp: %s socket: %s%s\n", r->raw ? "raw ESP" : "UDP",
		    strerror(errno), r->raw && (errno == EPERM || errno == EACCES) ?
		    " (--raw needs root or CAP_NET_RAW)" : "");
		return -1;
	}
	/* from the MN's own address when it is one of ours, so that the
	 * gateway sees the SA's peer; else from wherever routing says (the
	 * gateway finds the SA by SPI and answers the address it sees) */
	if (r->in.local.family == r->to.family) {
		sl = ctpmn_esp_sockaddr(&r->in.local, 0, &ss);
		(void)bind(r->fd, (struct sockaddr *)&ss, sl);
	}
	return 0;
}

static void
ctpmn_esp_send_pkt(struct esp_run *r, const uint8_t *pkt, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = ctpmn_esp_sockaddr(&r->to, r->raw ? 0 : r->port, &ss);

	if (sendto(r->fd, pkt, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len)
		r->send_errors++;
}

static int
ctpmn_esp_send_one(struct esp_run *r, uint64_t counter)
{
	uint8_t payload[ESP_SIZE_MAX], pkt[ESP_PKT_MAX];
	struct ctp_wbuf w;
	uint64_t seq = 0;
	int rc;

	memset(payload, 0, r->size);
	ctp_wbuf_init(&w, payload, r->size);
	ctp_wbuf_bytes(&w, ESP_MAGIC, 4);
	ctp_wbuf_u64(&w, counter);
	ctp_wbuf_u64(&w, ctpmn_esp_now_ns());
	ctp_wbuf_init(&w, pkt, sizeof pkt);
	if ((rc = ipsec_esp_encap(r->eout, payload, r->size, ESP_NH, &w, &seq)) < 0) {
		fprintf(stderr, "ctpmn esp: packet %" PRIu64 " not sent: %s\n", counter,
		    rc == CTP_E_LIMIT ? "sequence space exhausted" : ctp_strerror(rc));
		return -1;
	}
	if (!r->sent_first)
		r->sent_first = seq;
	r->sent_last = seq;
	if (counter == r->replay_k) {
		memcpy(r->replay_pkt, pkt, w.len);
		r->replay_len = w.len;
		r->replay_seq = seq;
	}
	ctpmn_esp_send_pkt(r, pkt, w.len);
	r->sent++;
	return 0;
}

/* One datagram from the socket. */
static void
ctpmn_esp_receive(struct esp_run *r, const uint8_t *buf, size_t n)
{
	uint8_t out[ESP_PKT_MAX];
	const uint8_t *esp = NULL;
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;
	struct ctp_cur c;
	uint32_t spi, sl;
	uint64_t counter, ts, rtt;
	uint8_t magic[4];
	size_t len;
	int rc;

	ctp_cur_init(&c, buf, n, 0);
	if (r->raw && r->family == AF_INET) {
		uint8_t vhl;

		/* raw IPv4 sockets see the header */
		if (ctp_cur_u8(&c, &vhl) < 0 || (vhl & 15) < 5 ||
		    ctp_cur_skip(&c, (size_t)(vhl & 15) * 4 - 1) < 0) {
			r->malformed++;
			return;
		}
	}
	len = c.left;
	if (ctp_cur_view(&c, len, &esp) < 0 || ipsec_esp_peek(esp, len, &spi, &sl) < 0) {
		r->malformed++;
		return;
	}
	if (spi != r->in.spi) {
		r->other++;   /* not ours: with --raw, our own packets among them */
		return;
	}
	ctp_wbuf_init(&w, out, sizeof out);
	rc = ipsec_esp_decap(r->ein, esp, len, &w, &rx);
	if (rc == CTP_E_AUTH) {
		r->auth_fail++;
		return;
	}
	if (rc == CTP_E_STATE) {
		/* the gateway sent a number the window has seen (or one left of
		 * it): what PROFILE 5.1 forbids */
		r->replay_drops++;
		if (r->ndups < ESP_DUPS_SHOWN)
			r->dups[r->ndups++] = sl;
		return;
	}
	if (rc < 0) {
		r->malformed++;
		return;
	}
	ctp_cur_init(&c, out, rx.len, 0);
	if (rx.next_header != ESP_NH || ctp_cur_copy(&c, magic, 4) < 0 ||
	    memcmp(magic, ESP_MAGIC, 4) != 0 || ctp_cur_u64(&c, &counter) < 0 ||
	    ctp_cur_u64(&c, &ts) < 0 || counter == 0 || counter > r->count) {
		r->other++;
		return;
	}
	if (!r->seq_first)
		r->seq_first = rx.seq;
	r->seq_last = rx.seq;
	/* an echo of packet K after its replay went out, when K's first echo
	 * already came: the gateway accepted the replay */
	if (r->replay_sent && counter == r->replay_k && r->echo_seen[counter]) {
		r->replay_echoed = 1;
		return;
	}
	if (r->echo_seen[counter]) {
		r->late_dup++;   /* the same payload twice, under new numbers */
		return;
	}
	r->echo_seen[counter] = 1;
	r->echoed++;
	rtt = ctpmn_esp_now_ns() - ts;
	if (!r->rtt_min || rtt < r->rtt_min)
		r->rtt_min = rtt;
	if (rtt > r->rtt_max)
		r->rtt_max = rtt;
	r->rtt_sum += rtt;
}

/* Receive for up to ms milliseconds; stop early once every packet sent has
 * come back when until_all. */
static void
ctpmn_esp_listen(struct esp_run *r, uint64_t ms, int until_all)
{
	uint64_t end = ctpmn_esp_now_ns() + ms * 1000000u;
	uint8_t buf[ESP_PKT_MAX + 64];

	for (;;) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		uint64_t now = ctpmn_esp_now_ns();
		int timeout;

		if (until_all && r->echoed >= r->sent)
			return;
		if (now >= end)
			timeout = 0;
		else
			timeout = (int)((end - now + 999999) / 1000000);
		if (poll(&p, 1, timeout) <= 0) {
			if (now >= end)
				return;
			continue;
		}
		for (;;) {
			ssize_t n = recv(r->fd, buf, sizeof buf, MSG_DONTWAIT);

			if (n < 0)
				break;
			ctpmn_esp_receive(r, buf, (size_t)n);
		}
	}
}

/* ---- the report --------------------------------------------------------- */

static int
ctpmn_esp_report(const struct esp_run *r)
{
	char to[CTP_ADDRSTRLEN];
	struct ctp_val *o, *d, *rt, *rp;
	uint64_t avg = r->echoed ? r->rtt_sum / r->echoed : 0;

	ctp_addr_fmt(&r->to, to, sizeof to);
	if (!r->json) {
		if (r->raw)
			printf("to %s raw ESP, out SPI 0x%08x, in SPI 0x%08x\n", to, r->out.spi,
			    r->in.spi);
		else
			printf("to %s UDP port %u, out SPI 0x%08x, in SPI 0x%08x\n", to, r->port,
			    r->out.spi, r->in.spi);
		printf("sent %" PRIu64 " (sequence %" PRIu64 "..%" PRIu64 "), echoed %" PRIu64
		    ", lost %" PRIu64 ", send errors %" PRIu64 "\n", r->sent, r->sent_first,
		    r->sent_last, r->echoed, r->sent - r->echoed, r->send_errors);
		printf("echo sequence numbers %" PRIu64 "..%" PRIu64 ", duplicates %" PRIu64
		    ", auth failures %" PRIu64 ", malformed %" PRIu64 ", other %" PRIu64 "\n",
		    r->seq_first, r->seq_last, r->replay_drops, r->auth_fail, r->malformed,
		    r->other);
		for (size_t i = 0; i < r->ndups; i++)
			printf("duplicate: sequence number (low 32 bits) %u\n", r->dups[i]);
		if (r->echoed)
			printf("rtt min %" PRIu64 " us, avg %" PRIu64 " us, max %" PRIu64 " us\n",
			    r->rtt_min / 1000, avg / 1000, r->rtt_max / 1000);
		if (r->replay_k)
			printf("replay of packet %" PRIu64 " (sequence %" PRIu64 "): %s\n",
			    r->replay_k, r->replay_seq, !r->replay_sent ? "not sent" :
			    r->replay_echoed ? "ECHOED: the gateway accepted a replay" :
			    "refused (no echo)");
		printf("next outbound sequence number %" PRIu64 "\n", ipsec_esp_next_seq(r->eout));
		return fflush(stdout) == 0 ? 0 : -1;
	}
	if ((o = ctp_val_obj()) == NULL || (d = ctp_val_arr()) == NULL ||
	    (rt = ctp_val_obj()) == NULL)
		return -1;
	ctp_val_set_str(o, "to", to);
	ctp_val_set_str(o, "transport", r->raw ? "raw" : "udp");
	if (!r->raw)
		ctp_val_set_u64(o, "port", r->port);
	ctp_val_set_u64(o, "out_spi", r->out.spi);
	ctp_val_set_u64(o, "in_spi", r->in.spi);
	ctp_val_set_u64(o, "sent", r->sent);
	ctp_val_set_u64(o, "send_errors", r->send_errors);
	ctp_val_set_u64(o, "sent_seq_first", r->sent_first);
	ctp_val_set_u64(o, "sent_seq_last", r->sent_last);
	ctp_val_set_u64(o, "echoed", r->echoed);
	ctp_val_set_u64(o, "lost", r->sent - r->echoed);
	ctp_val_set_u64(o, "auth_failures", r->auth_fail);
	ctp_val_set_u64(o, "replay_drops", r->replay_drops);
	ctp_val_set_u64(o, "duplicates", r->replay_drops);
	for (size_t i = 0; i < r->ndups; i++)
		ctp_val_arr_push(d, ctp_val_u64(r->dups[i]));
	ctp_val_obj_set(o, "duplicate_seqs", d);
	ctp_val_set_u64(o, "duplicate_payloads", r->late_dup);
	ctp_val_set_u64(o, "malformed", r->malformed);
	ctp_val_set_u64(o, "other", r->other);
	ctp_val_set_u64(o, "seq_first", r->seq_first);
	ctp_val_set_u64(o, "seq_last", r->seq_last);
	ctp_val_set_u64(rt, "min", r->rtt_min / 1000);
	ctp_val_set_u64(rt, "avg", avg / 1000);
	ctp_val_set_u64(rt, "max", r->rtt_max / 1000);
	ctp_val_obj_set(o, "rtt_us", rt);
	if (r->replay_k && (rp = ctp_val_obj()) != NULL) {
		ctp_val_set_u64(rp, "packet", r->replay_k);
		ctp_val_set_u64(rp, "seq", r->replay_seq);
		ctp_val_obj_set(rp, "sent", ctp_val_bool(r->replay_sent));
		ctp_val_obj_set(rp, "echoed", ctp_val_bool(r->replay_echoed));
		ctp_val_obj_set(o, "replay", rp);
	}
	ctp_val_set_u64(o, "next_seq", ipsec_esp_next_seq(r->eout));
	if (r->state_file)
		ctp_val_set_str(o, "state", r->state_file);
	if (ctp_json_write(o, stdout, CTP_JSON_PRETTY) < 0 || putchar('\n') == EOF) {
		ctp_val_free(o);
		return -1;
	}
	ctp_val_free(o);
	return fflush(stdout) == 0 ? 0 : -1;
}

/* ---- the command -------------------------------------------------------- */

static int
ctpmn_esp_parse(int argc, char **argv, struct esp_run *r)
{
	enum { O_SA = 1, O_TO, O_UDP, O_RAW, O_COUNT, O_INTERVAL, O_WAIT, O_SIZE, O_REPLAY,
	    O_STATE, O_JSON, O_HELP };
	static const struct option longopts[] = {
		{ "sa", required_argument, NULL, O_SA },
		{ "to", required_argument, NULL, O_TO },
		{ "udp", required_argument, NULL, O_UDP },
		{ "raw", no_argument, NULL, O_RAW },
		{ "count", required_argument, NULL, O_COUNT },
		{ "interval-ms", required_argument, NULL, O_INTERVAL },
		{ "wait-ms", required_argument, NULL, O_WAIT },
		{ "size", required_argument, NULL, O_SIZE },
		{ "replay", required_argument, NULL, O_REPLAY },
		{ "state", required_argument, NULL, O_STATE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int nsa = 0, udp = 0, opt;
	uint64_t v;

	r->port = 4500;
	r->count = 10;
	r->wait_ms = 500;
	r->size = ESP_SIZE_MIN;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_SA:
			if (nsa == 2) {
				fprintf(stderr, "ctpmn esp: --sa twice only: the inbound and the "
				    "outbound SA\n");
				return -1;
			}
			r->sa_file[nsa++] = optarg;
			break;
		case O_TO:
			if (ctp_addr_parse(&r->to, optarg) < 0) {
				fprintf(stderr, "ctpmn esp: --to: \"%s\" is not an IPv4 or IPv6 "
				    "address\n", optarg);
				return -1;
			}
			r->have_to = 1;
			break;
		case O_UDP:
			if (ctpmn_esp_u64("udp", optarg, 1, 65535, &v) < 0)
				return -1;
			r->port = (uint16_t)v;
			udp = 1;
			break;
		case O_RAW:
			r->raw = 1;
			break;
		case O_COUNT:
			if (ctpmn_esp_u64("count", optarg, 0, ESP_COUNT_MAX, &r->count) < 0)
				return -1;
			break;
		case O_INTERVAL:
			if (ctpmn_esp_u64("interval-ms", optarg, 0, 3600000, &r->interval_ms) < 0)
				return -1;
			break;
		case O_WAIT:
			if (ctpmn_esp_u64("wait-ms", optarg, 0, 3600000, &r->wait_ms) < 0)
				return -1;
			break;
		case O_SIZE:
			if (ctpmn_esp_u64("size", optarg, ESP_SIZE_MIN, ESP_SIZE_MAX, &r->size) < 0)
				return -1;
			break;
		case O_REPLAY:
			if (ctpmn_esp_u64("replay", optarg, 1, ESP_COUNT_MAX, &r->replay_k) < 0)
				return -1;
			break;
		case O_STATE:
			r->state_file = optarg;
			break;
		case O_JSON:
			r->json = 1;
			break;
		case O_HELP:
		case 'h':
			fputs(esp_usage, stdout);
			return 1;
		default:
			fprintf(stderr, "ctpmn esp: unknown or incomplete option \"%s\" (ctpmn esp "
			    "--help)\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ctpmn esp: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (nsa != 2) {
		fprintf(stderr, "ctpmn esp: give --sa twice: the SA into the gateway and the SA "
		    "out of it (ctpmn esp --help)\n");
		return -1;
	}
	if (udp && r->raw) {
		fprintf(stderr, "ctpmn esp: --udp and --raw exclude each other\n");
		return -1;
	}
	if (r->replay_k && r->replay_k > r->count) {
		fprintf(stderr, "ctpmn esp: --replay %" PRIu64 ": only %" PRIu64 " packets are "
		    "sent\n", r->replay_k, r->count);
		return -1;
	}
	return 0;
}

/* The two SAs: which is which, flipped to the MN's side, engines made. */
static int
ctpmn_esp_setup(struct esp_run *r)
{
	struct ipsec_sa *sa = malloc(2 * sizeof *sa);
	struct ctp_err err;
	int rc = -1;

	if (!sa) {
		fprintf(stderr, "ctpmn esp: out of memory\n");
		return -1;
	}
	if (ctpmn_esp_load_sa(r->sa_file[0], &sa[0]) < 0 ||
	    ctpmn_esp_load_sa(r->sa_file[1], &sa[1]) < 0)
		goto out;
	if (sa[0].direction == sa[1].direction) {
		fprintf(stderr, "ctpmn esp: both SAs have direction %u: give one into the gateway "
		    "(1) and one out of it (2)\n", sa[0].direction);
		goto out;
	}
	/* from the gateway's side: into the gateway = the MN's outbound */
	r->out = sa[0].direction == CTP_DIRECTION_IN ? sa[0] : sa[1];
	r->in = sa[0].direction == CTP_DIRECTION_IN ? sa[1] : sa[0];
	if (!ctp_addr_eq(&r->out.local, &r->in.local) || !ctp_addr_eq(&r->out.peer, &r->in.peer))
		fprintf(stderr, "ctpmn esp: warning: the two SAs do not join the same gateway and "
		    "MN\n");
	if (!r->have_to)
		r->to = r->out.local;   /* the gateway */
	ctpmn_esp_flip(&r->out);
	ctpmn_esp_flip(&r->in);
	if (ctpmn_esp_state_load(r) < 0)
		goto out;
	ctp_err_clear(&err);
	if (ipsec_esp_new(&r->out, &r->eout, &err) < 0 ||
	    ipsec_esp_new(&r->in, &r->ein, &err) < 0) {
		fprintf(stderr, "ctpmn esp: SA 0x%08x: %s\n", r->eout ? r->in.spi : r->out.spi,
		    err.what);
		goto out;
	}
	rc = 0;
out:
	ipsec_sa_clear(&sa[0]);
	ipsec_sa_clear(&sa[1]);
	free(sa);
	return rc;
}

int
ctpmn_esp_main(int argc, char **argv)
{
	struct esp_run *r = calloc(1, sizeof *r);
	uint64_t next_at;
	int rc, status = 0;

	if (!r) {
		fprintf(stderr, "ctpmn esp: out of memory\n");
		return 1;
	}
	r->fd = -1;
	if ((rc = ctpmn_esp_parse(argc, argv, r)) != 0) {
		free(r);
		return rc > 0 ? 0 : 2;
	}
	if (ctpmn_esp_setup(r) < 0 || ctpmn_esp_open_socket(r) < 0 ||
	    (r->echo_seen = calloc(r->count + 1, 1)) == NULL) {
		status = 1;
		goto out;
	}
	next_at = ctpmn_esp_now_ns();
	for (uint64_t i = 1; i <= r->count; i++) {
		if (ctpmn_esp_send_one(r, i) < 0) {
			status = 1;
			break;
		}
		next_at += r->interval_ms * 1000000u;
		/* echoes are read while the next packet waits its turn */
		if (i < r->count) {
			uint64_t now = ctpmn_esp_now_ns();

			ctpmn_esp_listen(r, next_at > now ? (next_at - now) / 1000000u : 0, 0);
		}
	}
	ctpmn_esp_listen(r, r->wait_ms, 1);
	if (r->replay_k && r->replay_len) {
		ctpmn_esp_send_pkt(r, r->replay_pkt, r->replay_len);
		r->replay_sent = 1;
		ctpmn_esp_listen(r, r->wait_ms, 0);
	}
	if (ctpmn_esp_report(r) < 0) {
		fprintf(stderr, "ctpmn esp: cannot write the report: %s\n", strerror(errno));
		status = 1;
	}
	if (r->replay_drops || r->auth_fail || r->replay_echoed)
		status = 1;
	if (ctpmn_esp_state_save(r) < 0)
		status = 1;
out:
	if (r->fd >= 0)
		close(r->fd);
	ipsec_esp_free(r->eout);
	ipsec_esp_free(r->ein);
	free(r->echo_seen);
	ipsec_sa_clear(&r->out);
	ipsec_sa_clear(&r->in);
	ctp_wipe(r, sizeof *r);
	free(r);
	return status;
}
