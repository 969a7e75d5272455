/*
 * fake_ar.c: a stand-in access router for tests/mn/run.sh.  It uses the
 * real ctp_mnio and codec, and answers the MN as RFC 4067 and PROFILE 4 say
 * an AR does, with knobs to misbehave:
 *
 *   fake_ar --bind ADDR (--udp PORT | --icmp) [--key HEX] [--keys FILE]
 *           [--drop N] [--status FPT:CODE]... [--ctn] [--ctn-bad-tag]
 *           [--log FILE]
 *
 * Every CTAR is logged; the first N CTARs of each MN are dropped (to
 * observe retransmission); the others are answered with a CTAA (when A is
 * set) listing the --status entries, or AUTH_FAILED when the token does
 * not verify under the MN's key (--key for any MN, or --keys, the JSON
 * array `ctpmn keys --json` prints, where an MN missing from the array is
 * refused too).  With --ctn it then sends one CTN (sealed with K_n, or
 * with a broken tag for --ctn-bad-tag) carrying an IPsec profile CDB and
 * an SA CDB that moves one SA to a new SPI, and logs the CTNA that comes
 * back.  Log lines, one per event, flushed at once:
 *
 *   ready
 *   ctar mn=ADDR seq=N ar=ADDR a=0|1 token=ok|bad|nokey n=K t_ms=T
 *   ctaa mn=ADDR entries=K
 *   ctn mn=ADDR seq=N
 *   ctna mn=ADDR seq=N tag=ok|bad
 *
 * t_ms is the time since the MN's first CTAR with that sequence number.
 * SIGTERM or SIGINT ends it.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_mnio.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_token.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"

#define FAKE_MAX_MN     4096
#define FAKE_MAX_STATUS 16

/* An IPsec profile CDB (FPT 0xFF02) with one ENCR_PREF TLV (AES-GCM-16,
 * 256 bits): the "algorithm upgrade" kind of news a CTN carries. */
static const uint8_t fake_ctn_cdb_data[] = {
	0x00, 0x01, 0x00, 0x04, 0x00, 0x14, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* An IPsec SA CDB (FPT 0xFF01) as a gateway's CTN has it (the vector
 * tests/vectors/msg_ctn_ipsec_notify.hex): the MN's outbound ESP SA
 * 0xdeadbeef is now 0xdeadbef0 (PREV_SPI) at gateway 198.51.100.20. */
static const uint8_t fake_ctn_sa_data[] = {
	0x80, 0x01, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xf0, 0x32, 0x02, 0x02, 0x05,
	0x80, 0x02, 0x00, 0x0c, 0x04, 0x05, 0x02, 0x00, 0xc0, 0x00, 0x02, 0x0a,
	0xc6, 0x33, 0x64, 0x14, 0x00, 0x13, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef,
};

struct fake_mn {
	struct ctp_addr addr;
	uint8_t         key[CTP_KEY_MAX];
	size_t          keylen;
	uint32_t        seq;
	int             have_seq;
	unsigned        ctars, ctars_seq;
	uint64_t        first_ms;
	int             ctn_sent;
};

static struct {
	uv_loop_t       *loop;
	struct ctp_mnio *io;
	uv_signal_t      sigterm, sigint;
	FILE            *log;
	uint8_t          key[CTP_KEY_MAX];
	size_t           keylen;
	unsigned         drop;
	struct ctp_status_ent status[FAKE_MAX_STATUS];
	size_t           nstatus;
	int              ctn, ctn_bad;
	int              strict;   /* keys were given: no key, no transfer */
	struct fake_mn   mns[FAKE_MAX_MN];
	size_t           nmns;
	struct ctp_msg   in, out;
	uint8_t          buf[CTP_MAX_MSG_LEN];
} fake;

/* Linear: the tests run at most a few hundred MNs. */
static struct fake_mn *
fake_mn(const struct ctp_addr *a, int create)
{
	for (size_t i = 0; i < fake.nmns; i++)
		if (ctp_addr_eq(&fake.mns[i].addr, a))
			return &fake.mns[i];
	if (!create || fake.nmns == FAKE_MAX_MN)
		return NULL;
	memset(&fake.mns[fake.nmns], 0, sizeof fake.mns[0]);
	fake.mns[fake.nmns].addr = *a;
	return &fake.mns[fake.nmns++];
}

static void
fake_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fake_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(fake.log, fmt, ap);
	va_end(ap);
	fputc('\n', fake.log);
	fflush(fake.log);
}

static void
fake_send(const struct sockaddr *to, enum ctp_mnio_carrier carrier, struct ctp_msg *m,
    const struct fake_mn *mn, int seal)
{
	struct ctp_err err = { 0 };
	uint8_t kn[CTP_NOTIFY_KEY_LEN];
	size_t len;
	int rc;

	if (ctp_msg_encode(m, fake.buf, sizeof fake.buf, &len, &err) < 0) {
		fprintf(stderr, "fake_ar: encode: %s\n", err.what);
		return;
	}
	if (seal) {
		if (ctp_notify_key(mn->key, mn->keylen, mn->seq, kn) < 0 ||
		    ctp_tag_seal(fake.buf, len, kn) < 0) {
			fprintf(stderr, "fake_ar: cannot seal\n");
			return;
		}
		ctp_wipe(kn, sizeof kn);
		if (fake.ctn_bad)
			fake.buf[len - 1] ^= 0x01;
	}
	if ((rc = ctp_mnio_send(fake.io, to, carrier, fake.buf, len)) < 0)
		fprintf(stderr, "fake_ar: send: %s\n", ctp_strerror(rc));
}

static void
fake_ctar(const struct sockaddr *from, enum ctp_mnio_carrier carrier)
{
	const struct ctp_msg *m = &fake.in;
	struct fake_mn *mn = fake_mn(&m->mn_prev, 1);
	char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];
	const char *tok = "nokey";
	uint64_t now = uv_now(fake.loop);

	if (!mn)
		return;
	if (!mn->keylen && fake.keylen) {
		memcpy(mn->key, fake.key, fake.keylen);
		mn->keylen = fake.keylen;
	}
	if (mn->keylen)
		tok = ctp_token_verify(mn->key, mn->keylen, m) ? "ok" : "bad";
	if (!mn->have_seq || mn->seq != m->seq) {
		mn->have_seq = 1;
		mn->seq = m->seq;
		mn->ctars_seq = 0;
		mn->first_ms = now;
		mn->ctn_sent = 0;
	}
	mn->ctars++;
	mn->ctars_seq++;
	fake_log("ctar mn=%s seq=%" PRIu32 " ar=%s a=%d token=%s n=%u t_ms=%" PRIu64,
	    ctp_addr_fmt(&m->mn_prev, a, sizeof a), m->seq, ctp_addr_fmt(&m->ar, b, sizeof b),
	    ctp_msg_xflag(m), tok, mn->ctars_seq, now - mn->first_ms);
	if (mn->ctars <= fake.drop) {
		fake_log("drop mn=%s n=%u", a, mn->ctars);
		return;
	}
	if (ctp_msg_xflag(m)) {
		ctp_msg_init(&fake.out, CTP_MSG_CTAA, m->mn_prev.family);
		fake.out.mn_prev = m->mn_prev;
		/* an AR with keys refuses an MN it has none for */
		if (strcmp(tok, "bad") == 0 || (strcmp(tok, "nokey") == 0 && fake.strict)) {
			if (m->ncdb == 0)
				ctp_msg_add_status(&fake.out, 0, CTP_ST_AUTH_FAILED);
			for (size_t i = 0; i < m->ncdb; i++)
				ctp_msg_add_status(&fake.out, m->cdb[i].fpt, CTP_ST_AUTH_FAILED);
		} else {
			for (size_t i = 0; i < fake.nstatus; i++)
				ctp_msg_add_status(&fake.out, fake.status[i].fpt, fake.status[i].code);
		}
		fake_send(from, carrier, &fake.out, mn, 0);
		fake_log("ctaa mn=%s entries=%zu", a, fake.out.nstatus);
	}
	if (fake.ctn && mn->keylen && !mn->ctn_sent && strcmp(tok, "bad") != 0) {
		ctp_msg_init(&fake.out, CTP_MSG_CTN, m->mn_prev.family);
		fake.out.mn_prev = m->mn_prev;
		fake.out.seq = m->seq;
		ctp_msg_add_cdb(&fake.out, 0xff02, fake_ctn_cdb_data, sizeof fake_ctn_cdb_data);
		ctp_msg_add_cdb(&fake.out, 0xff01, fake_ctn_sa_data, sizeof fake_ctn_sa_data);
		fake_send(from, carrier, &fake.out, mn, 1);
		mn->ctn_sent = 1;
		fake_log("ctn mn=%s seq=%" PRIu32, a, m->seq);
	}
}

static void
fake_ctna(const uint8_t *msg)
{
	const struct ctp_msg *m = &fake.in;
	struct fake_mn *mn = fake_mn(&m->mn_prev, 0);
	uint8_t kn[CTP_NOTIFY_KEY_LEN];
	char a[CTP_ADDRSTRLEN];
	int ok = 0;

	if (mn && mn->keylen && ctp_notify_key(mn->key, mn->keylen, m->seq, kn) == 0) {
		ok = ctp_tag_verify(msg, m->length, kn);
		ctp_wipe(kn, sizeof kn);
	}
	fake_log("ctna mn=%s seq=%" PRIu32 " tag=%s", ctp_addr_fmt(&m->mn_prev, a, sizeof a),
	    m->seq, ok ? "ok" : "bad");
}

static void
fake_input(void *ud, const struct sockaddr *from, enum ctp_mnio_carrier carrier,
    const uint8_t *msg, size_t len)
{
	struct ctp_err err = { 0 };

	(void)ud;
	if (ctp_msg_decode(&fake.in, msg, len, CTP_DEC_ICMP, &err) < 0) {
		fake_log("bad %s", err.what);
		return;
	}
	if (fake.in.type == CTP_MSG_CTAR)
		fake_ctar(from, carrier);
	else if (fake.in.type == CTP_MSG_CTNA)
		fake_ctna(msg);
}

static void
fake_stop(uv_signal_t *h, int sig)
{
	(void)sig;
	(void)h;
	ctp_mnio_close(fake.io);
	uv_close((uv_handle_t *)&fake.sigterm, NULL);
	uv_close((uv_handle_t *)&fake.sigint, NULL);
}

static int
fake_load_keys(const char *path)
{
	struct ctp_val *v = NULL;
	struct ctp_err err = { 0 };
	uint8_t *text;
	size_t len;
	int rc;

	if ((rc = ctp_read_file(path, 16 << 20, &text, &len)) < 0) {
		fprintf(stderr, "fake_ar: %s: %s\n", path, ctp_strerror(rc));
		return -1;
	}
	rc = ctp_json_parse((const char *)text, len, &v, &err);
	free(text);
	if (rc < 0 || v->kind != CTP_V_ARR) {
		fprintf(stderr, "fake_ar: %s: %s\n", path, rc < 0 ? err.what : "not an array");
		ctp_val_free(v);
		return -1;
	}
	for (size_t i = 0; i < v->n; i++) {
		struct ctp_addr a;
		struct fake_mn *mn;
		const char *s;

		if (ctp_val_get_str(v->items[i], "mn", &s, &err) < 0 || ctp_addr_parse(&a, s) < 0 ||
		    (mn = fake_mn(&a, 1)) == NULL ||
		    ctp_val_get_hex(v->items[i], "key", mn->key, sizeof mn->key, &mn->keylen, &err) < 0) {
			fprintf(stderr, "fake_ar: %s: entry %zu is not {\"mn\", \"key\"}\n", path, i);
			ctp_val_free(v);
			return -1;
		}
	}
	ctp_val_free(v);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "udp", required_argument, NULL, 'u' },
		{ "icmp", no_argument, NULL, 'i' },
		{ "key", required_argument, NULL, 'k' },
		{ "keys", required_argument, NULL, 'K' },
		{ "drop", required_argument, NULL, 'd' },
		{ "status", required_argument, NULL, 's' },
		{ "ctn", no_argument, NULL, 'c' },
		{ "ctn-bad-tag", no_argument, NULL, 'C' },
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctp_mnio_cfg cfg;
	struct ctp_err err = { 0 };
	struct ctp_addr b;
	unsigned fpt, code;
	int c;

	memset(&cfg, 0, sizeof cfg);
	fake.log = stdout;
	ctp_log_open("fake_ar", CTP_LOG_STDERR, getenv("FAKE_AR_DEBUG") ? CTP_LOG_DEBUG :
	    CTP_LOG_WARN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (ctp_addr_parse(&b, optarg) < 0)
				goto usage;
			if (b.family == 4) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&cfg.bind;

				s4->sin_family = AF_INET;
				memcpy(&s4->sin_addr, b.a, 4);
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&cfg.bind;

				s6->sin6_family = AF_INET6;
				memcpy(&s6->sin6_addr, b.a, 16);
			}
			break;
		case 'u':
			cfg.udp_port = (uint16_t)atoi(optarg);
			break;
		case 'i':
			cfg.icmp = 1;
			break;
		case 'k':
			if (ctp_hex_decode(optarg, strlen(optarg), fake.key, sizeof fake.key,
			    &fake.keylen) < 0)
				goto usage;
			break;
		case 'K':
			if (fake_load_keys(optarg) < 0)
				return 1;
			fake.strict = 1;
			break;
		case 'd':
			fake.drop = (unsigned)atoi(optarg);
			break;
		case 's':
			if (sscanf(optarg, "%i:%i", (int *)&fpt, (int *)&code) != 2 ||
			    fake.nstatus == FAKE_MAX_STATUS)
				goto usage;
			fake.status[fake.nstatus].fpt = (uint16_t)fpt;
			fake.status[fake.nstatus++].code = (uint8_t)code;
			break;
		case 'c':
			fake.ctn = 1;
			break;
		case 'C':
			fake.ctn = fake.ctn_bad = 1;
			break;
		case 'l':
			if ((fake.log = fopen(optarg, "a")) == NULL) {
				perror(optarg);
				return 1;
			}
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc || (!cfg.icmp && !cfg.udp_port))
		goto usage;

	fake.loop = uv_default_loop();
	if (ctp_mnio_open(fake.loop, &cfg, fake_input, NULL, &fake.io, &err) < 0) {
		fprintf(stderr, "fake_ar: %s\n", err.what);
		return 1;
	}
	uv_signal_init(fake.loop, &fake.sigterm);
	uv_signal_start(&fake.sigterm, fake_stop, SIGTERM);
	uv_signal_init(fake.loop, &fake.sigint);
	uv_signal_start(&fake.sigint, fake_stop, SIGINT);
	fake_log("ready");
	uv_run(fake.loop, UV_RUN_DEFAULT);
	uv_loop_close(fake.loop);
	for (size_t i = 0; i < fake.nmns; i++)
		ctp_wipe(fake.mns[i].key, sizeof fake.mns[i].key);
	ctp_wipe(fake.key, sizeof fake.key);
	return 0;
usage:
	fprintf(stderr, "usage: fake_ar --bind ADDR (--udp PORT | --icmp) [--key HEX] "
	    "[--keys FILE] [--drop N] [--status FPT:CODE]... [--ctn | --ctn-bad-tag] "
	    "[--log FILE]\n");
	return 2;
}
