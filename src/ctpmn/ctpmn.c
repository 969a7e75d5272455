/*
 * ctpmn.c: the mobile node's side of CXTP, from the command line: one MN's
 * handover (handover), many simulated MNs at once (many), their keys for
 * the AR operator (keys), and the offline token helper (token).  This file
 * reads the command line and prepares each MN (address, key, sequence
 * number, token, K_n); ctpmn_run.c runs the handovers.
 *
 * Keys: the MN-pAR key K (RFC 4067 2.7) is needed only for the token and
 * for K_n (PROFILE 4), both computed before anything is sent; K is wiped
 * right after, K_n when the run ends.  No key is ever logged; only `keys`
 * prints them, because that is what it is for.
 *
 * Simulated MNs (`many`, `keys`): MN i has the previous address base + i
 * and the key K_i = first 20 octets of HMAC-SHA256(master, the 4 or 16
 * octets of that address).  Twenty octets because RFC 4067's only key
 * algorithm is HMAC-SHA1 and PROFILE 1.4 allows 20 or 32; deriving from
 * the address lets the operator's pAR and ctpmn agree on N keys from one
 * secret, and `keys` hands them over.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_token.h"
#include "ctp/ctp_val.h"
#include "ctpmn.h"

#define CTPMN_DERIVED_KEY_LEN 20

static const char usage[] =
"usage: ctpmn [--version] [--help] COMMAND [ARGS]\n"
"\n"
"The mobile node's side of CXTP (RFC 4067): what an MN sends and answers\n"
"during a handover, for one MN or for many simulated ones.\n"
"\n"
"  handover --key HEX --prev ADDR --nar ADDR --par ADDR [OPTIONS]\n"
"            one MN (previous address --prev) hands over from pAR to nAR.\n"
"            Reactive (default): a CTAR to nAR carrying pAR's address.\n"
"            --predictive: first a CTAR to pAR carrying nAR's address,\n"
"            its CTAA, --wait-ms (the handover), then the CTAR to nAR with\n"
"            the same sequence number and token (also when pAR does not\n"
"            answer: the MN moves anyway).  The token is RFC 4067 2.7's\n"
"            HMAC-SHA1 under --key over the request CDBs as sent.  A CTAR\n"
"            with A = 1 goes out again until a CTAA comes from that AR,\n"
"            --retry-ms after the first, doubling (2, 6, 14 s by default),\n"
"            and is given up --timeout-ms after the first.  Each CTAA's status\n"
"            entries are printed (none: everything was transferred).  A CTN\n"
"            whose tag verifies under K_n = HMAC-SHA256(key, \"CXTP notify\"\n"
"            | seq) and that names the MN's address and sequence number is\n"
"            answered with a CTNA and its CDBs are printed (by name when a\n"
"            plugin serves them); one that does not verify is reported as\n"
"            such and gets no CTNA.  --key is the MN-pAR key, 1 to 64\n"
"            octets of hex; it is wiped once the token and K_n are\n"
"            computed, and never printed.\n"
"  many --count N --prev-base ADDR --key-master HEX --nar ADDR --par ADDR\n"
"       [--rate PER_S] [OPTIONS]\n"
"            N simulated MNs (at most 65536) hand over at once, or --rate\n"
"            of them a second, sharing one socket.  MN i (from 0) has the\n"
"            previous address prev-base + i and the key K_i = the first 20\n"
"            octets of HMAC-SHA256(master, the 4 or 16 octets of that\n"
"            address); its sequence number is random.  Prints how many\n"
"            succeeded, failed and timed out and the CTAR->CTAA latency at\n"
"            nAR (median, p90, p99), or with --json every MN's result.\n"
"  keys --key-master HEX --prev-base ADDR --count N [--json]\n"
"            print each simulated MN's address and key K_i, derived as\n"
"            `many` does, for the operator to give pAR: \"ADDR KEYHEX\" lines,\n"
"            or with --json the array [{\"mn\": ADDR, \"key\": HEX}].  Printing\n"
"            keys is what this command is for: keep its output private.\n"
"  esp --sa FILE --sa FILE [--to ADDR] [--udp PORT | --raw] [--count N]\n"
"      [--interval-ms N] [--replay K] [--state FILE] [--json]\n"
"            the MN's IPsec traffic: ESP packets on the MN's outbound SA to\n"
"            the gateway, whose echoes come back on the inbound one; each\n"
"            --sa is one SA as `ctpctl decode --json` prints an SA CDB, from\n"
"            the gateway's side; `ctpmn esp --help` says more\n"
"  token --key HEX --prev ADDR --seq N [--cdb HEX]...\n"
"            print the 8-hex-digit authorization token of RFC 4067 2.7:\n"
"            the first 32 bits of HMAC-SHA1(key, previous address |\n"
"            sequence number | request CDBs exactly as sent).  --seq is\n"
"            decimal or 0x hex.  Each --cdb is one request CDB as sent, in\n"
"            hex (e.g. ff010000); two octets alone are taken as an FPT and\n"
"            sent as its 4-octet request CDB (FPT, Length 0, flags 0).\n"
"\n"
"Options of handover and many (addresses all of one family):\n"
"  --predictive     predictive mode (above)\n"
"  --seq N          handover only: the sequence number (default random)\n"
"  --fpt FPT        ask for this feature only (a 4-octet request CDB);\n"
"                   repeatable; none asks for all contexts\n"
"  --no-ack         A = 0: no CTAA asked for, nothing retransmitted\n"
"  --udp PORT       the unprivileged UDP encoding: to the ARs' UDP PORT from\n"
"                   an ephemeral port.  Default: raw ICMP type 41 (IPv4) or\n"
"                   ICMPv6 type 150, hop limit 255 (root or CAP_NET_RAW)\n"
"  --par-udp PORT   with --udp: pAR's UDP port when it is not nAR's (two ARs\n"
"                   on one host, each with its own port)\n"
"  --src ADDR       send from ADDR and accept packets to it only\n"
"  --ifname DEV     bind the socket to the device DEV\n"
"  --wait-ms N      predictive: from pAR's CTAA to the CTAR to nAR (0)\n"
"  --retry-ms N     CT_REQUEST_RETRY, the first retransmission wait (2000)\n"
"  --timeout-ms N   CT_RETRY_MAX: give a CTAR up N ms after its first\n"
"                   transmission (15000)\n"
"  --ctn-ms N       after the last CTAA, wait up to N ms for a CTN (1000;\n"
"                   0: do not wait)\n"
"  --plugins DIR    feature plugins for describing CTN CDBs (default as\n"
"                   ctpctl: $CTPD_PLUGIN_DIR, plugins/ next to ctpmn, then\n"
"                   " CTP_PLUGINDIR ")\n"
"  --sa FILE        handover only, repeatable: one of the MN's SAs, as\n"
"                   `ctpmn esp --sa` reads it; a verified CTN that names it\n"
"                   (a new SPI, a new gateway address, a smaller PMTU) is\n"
"                   applied to the file, which is rewritten in place\n"
"  --json           print the result as JSON (below)\n"
"  -v, --verbose    log what happens on stderr; twice for more\n"
"\n"
"handover --json prints one object: mn, seq, token, mode (reactive or\n"
"predictive), a, ctaa (one per CTAA: from, ar (par or nar), rtt_ms, rtt_us\n"
"from the first CTAR, retransmissions, status: [{fpt, status, status_name}]),\n"
"unanswered (to, ar, ctars_sent), ctn (from, verified, cdbs), ctna_sent,\n"
"bytes_sent, bytes_received (CXTP octets), packets_sent, packets_received\n"
"(CTAA and CTN for this MN), elapsed_ms, result (ok, refused or timeout)\n"
"and, unless ok, error.  many --json: count, mode, carrier, ok, failed,\n"
"timed_out, latency_ms and latency_us (n, min, median, p90, p99, max of\n"
"nAR's CTAAs), the totals, elapsed_ms, and mns: one such object per MN.\n"
"\n"
"Exit status: 0 every CTAA came back without a failure entry (status 0,\n"
"and 0x81 SPI reassigned, are not failures; with --no-ack, the CTARs went\n"
"out); 1 a CTAA listed a failure, a CTAR timed out, or a local error\n"
"(stderr says which); 2 usage errors.\n";

/* ---- numbers, addresses, keys ------------------------------------------- */

static int
ctpmn_parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *s == '-' || *s == 0 || *end || x > max)
		return -1;
	*v = x;
	return 0;
}

static int
ctpmn_parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (ctpmn_parse_u64(s, UINT32_MAX, &x) < 0)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

int
ctpmn_addr_add(const struct ctp_addr *base, uint64_t i, struct ctp_addr *out)
{
	size_t len = ctp_addr_len(base->family);
	unsigned carry = 0;

	if (len == 0)
		return -1;
	*out = *base;
	for (size_t k = len; k-- > 0;) {
		unsigned x = out->a[k] + (unsigned)(i & 0xff) + carry;

		out->a[k] = (uint8_t)x;
		carry = x >> 8;
		i >>= 8;
	}
	return carry || i ? -1 : 0;
}

/* K_i = first 20 octets of HMAC-SHA256(master, address octets). */
static int
ctpmn_derive_key(const uint8_t *master, size_t mlen, const struct ctp_addr *a,
    uint8_t key[CTPMN_DERIVED_KEY_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int ok;

	ok = HMAC(EVP_sha256(), master, (int)mlen, a->a, ctp_addr_len(a->family), md,
	    &mdlen) != NULL && mdlen >= CTPMN_DERIVED_KEY_LEN;
	if (ok)
		memcpy(key, md, CTPMN_DERIVED_KEY_LEN);
	ctp_wipe(md, sizeof md);
	return ok ? 0 : CTP_E_CRYPTO;
}

static int
ctpmn_parse_key(const char *cmd, const char *opt, const char *s, uint8_t *key, size_t *len)
{
	if (ctp_hex_decode(s, strlen(s), key, CTP_KEY_MAX, len) < 0 || *len == 0) {
		fprintf(stderr, "ctpmn %s: %s: 1 to %d octets of hex\n", cmd, opt, CTP_KEY_MAX);
		return -1;
	}
	return 0;
}

static int
ctpmn_parse_addr(const char *cmd, const char *opt, const char *s, struct ctp_addr *a)
{
	if (ctp_addr_parse(a, s) < 0) {
		fprintf(stderr, "ctpmn %s: %s: \"%s\" is not an IPv4 or IPv6 address\n", cmd, opt, s);
		return -1;
	}
	return 0;
}

/* ---- token -------------------------------------------------------------- */

static int
ctpmn_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "prev", required_argument, NULL, 'p' },
		{ "seq", required_argument, NULL, 's' },
		{ "cdb", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint8_t key[CTP_KEY_MAX], cdbs[CTP_MAX_MSG_LEN];
	size_t keylen = 0, cdblen = 0, n;
	struct ctp_addr prev = { 0 };
	int have_key = 0, have_seq = 0, c, rc = 2;
	uint32_t seq = 0, token;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:p:s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (ctpmn_parse_key("token", "--key", optarg, key, &keylen) < 0)
				goto out;
			have_key = 1;
			break;
		case 'p':
			if (ctpmn_parse_addr("token", "--prev", optarg, &prev) < 0)
				goto out;
			break;
		case 's':
			if (ctpmn_parse_u32(optarg, &seq) < 0) {
				fprintf(stderr, "ctpmn token: --seq: \"%s\" is not a 32-bit number\n", optarg);
				goto out;
			}
			have_seq = 1;
			break;
		case 'c':
			if (ctp_hex_decode(optarg, strlen(optarg), cdbs + cdblen,
			    sizeof cdbs - cdblen - 2, &n) < 0 || n < 2 || n == 3) {
				fprintf(stderr, "ctpmn token: --cdb: \"%s\" is not a request CDB in hex\n",
				    optarg);
				goto out;
			}
			if (n == 2) {   /* an FPT: its 4-octet request CDB */
				cdbs[cdblen + 2] = 0;
				cdbs[cdblen + 3] = 0;
				n = 4;
			}
			cdblen += n;
			break;
		case 'h':
			fputs(usage, stdout);
			rc = 0;
			goto out;
		default:
			goto out;
		}
	}
	if (!have_key || !prev.family || !have_seq || optind != argc) {
		fprintf(stderr, "ctpmn token: --key, --prev and --seq are required\n");
		goto out;
	}
	if (ctp_token_compute(key, keylen, &prev, seq, cdbs, cdblen, &token) < 0) {
		fprintf(stderr, "ctpmn token: HMAC-SHA1 failed\n");
		rc = 1;
		goto out;
	}
	printf("%08" PRIx32 "\n", token);
	rc = 0;
out:
	ctp_wipe(key, sizeof key);
	return rc;
}

/* ---- handover, many, keys: one command line ------------------------------- */

enum ctpmn_cmd { CMD_HANDOVER, CMD_MANY, CMD_KEYS };

struct ctpmn_args {
	struct ctpmn_opts opts;
	uint8_t           key[CTP_KEY_MAX];     /* --key or --key-master */
	size_t            keylen;
	struct ctp_addr   prev;                 /* --prev or --prev-base */
	uint32_t          seq;
	int               have_seq;
	uint64_t          count;
};

enum {
	OPT_KEY = 256, OPT_PREV, OPT_NAR, OPT_PAR, OPT_PREDICTIVE, OPT_SEQ, OPT_FPT, OPT_NO_ACK,
	OPT_UDP, OPT_SRC, OPT_IFNAME, OPT_WAIT, OPT_RETRY, OPT_TIMEOUT, OPT_CTN, OPT_PLUGINS, OPT_SA,
	OPT_JSON, OPT_COUNT, OPT_PREV_BASE, OPT_MASTER, OPT_RATE, OPT_PAR_UDP,
};

/* Which command takes which option: H handover, M many, K keys. */
static const struct {
	struct option opt;
	const char   *cmds;
} ctpmn_options[] = {
	{ { "key", required_argument, NULL, OPT_KEY }, "H" },
	{ { "prev", required_argument, NULL, OPT_PREV }, "H" },
	{ { "seq", required_argument, NULL, OPT_SEQ }, "H" },
	{ { "count", required_argument, NULL, OPT_COUNT }, "MK" },
	{ { "prev-base", required_argument, NULL, OPT_PREV_BASE }, "MK" },
	{ { "key-master", required_argument, NULL, OPT_MASTER }, "MK" },
	{ { "rate", required_argument, NULL, OPT_RATE }, "M" },
	{ { "nar", required_argument, NULL, OPT_NAR }, "HM" },
	{ { "par", required_argument, NULL, OPT_PAR }, "HM" },
	{ { "predictive", no_argument, NULL, OPT_PREDICTIVE }, "HM" },
	{ { "fpt", required_argument, NULL, OPT_FPT }, "HM" },
	{ { "no-ack", no_argument, NULL, OPT_NO_ACK }, "HM" },
	{ { "udp", required_argument, NULL, OPT_UDP }, "HM" },
	{ { "par-udp", required_argument, NULL, OPT_PAR_UDP }, "HM" },
	{ { "src", required_argument, NULL, OPT_SRC }, "HM" },
	{ { "ifname", required_argument, NULL, OPT_IFNAME }, "HM" },
	{ { "wait-ms", required_argument, NULL, OPT_WAIT }, "HM" },
	{ { "retry-ms", required_argument, NULL, OPT_RETRY }, "HM" },
	{ { "timeout-ms", required_argument, NULL, OPT_TIMEOUT }, "HM" },
	{ { "ctn-ms", required_argument, NULL, OPT_CTN }, "HM" },
	{ { "plugins", required_argument, NULL, OPT_PLUGINS }, "HM" },
	{ { "sa", required_argument, NULL, OPT_SA }, "H" },
	{ { "verbose", no_argument, NULL, 'v' }, "HM" },
	{ { "json", no_argument, NULL, OPT_JSON }, "HMK" },
	{ { "help", no_argument, NULL, 'h' }, "HMK" },
};

#define CTPMN_NOPTS (sizeof ctpmn_options / sizeof ctpmn_options[0])

static int
ctpmn_ms_opt(const char *cmd, const char *name, const char *s, uint64_t *v)
{
	/* a day is long enough for any wait and keeps loop arithmetic safe */
	if (ctpmn_parse_u64(s, 86400000, v) < 0) {
		fprintf(stderr, "ctpmn %s: --%s: \"%s\" is not a number of milliseconds\n", cmd,
		    name, s);
		return -1;
	}
	return 0;
}

/* Returns 0 to go on, 1 after --help, -1 on a usage error (said). */
static int
ctpmn_parse(enum ctpmn_cmd cmd, int argc, char **argv, struct ctpmn_args *a)
{
	static const char letter[] = { 'H', 'M', 'K' };
	struct option longopts[CTPMN_NOPTS + 1];
	struct ctpmn_opts *o = &a->opts;
	struct ctp_addr src = { 0 };
	const char *name = o->cmd;
	int have_key = 0, c, idx;
	uint64_t v;
	size_t n = 0;

	for (size_t i = 0; i < CTPMN_NOPTS; i++)
		if (strchr(ctpmn_options[i].cmds, letter[cmd]))
			longopts[n++] = ctpmn_options[i].opt;
	memset(&longopts[n], 0, sizeof longopts[n]);

	optind = 1;
	while ((c = getopt_long(argc, argv, cmd == CMD_KEYS ? "h" : "vh", longopts, &idx)) != -1) {
		switch (c) {
		case OPT_KEY:
		case OPT_MASTER:
			if (ctpmn_parse_key(name, c == OPT_KEY ? "--key" : "--key-master", optarg,
			    a->key, &a->keylen) < 0)
				return -1;
			have_key = 1;
			break;
		case OPT_PREV:
		case OPT_PREV_BASE:
			if (ctpmn_parse_addr(name, c == OPT_PREV ? "--prev" : "--prev-base", optarg,
			    &a->prev) < 0)
				return -1;
			break;
		case OPT_NAR:
			if (ctpmn_parse_addr(name, "--nar", optarg, &o->nar) < 0)
				return -1;
			break;
		case OPT_PAR:
			if (ctpmn_parse_addr(name, "--par", optarg, &o->par) < 0)
				return -1;
			break;
		case OPT_SRC:
			if (ctpmn_parse_addr(name, "--src", optarg, &src) < 0)
				return -1;
			break;
		case OPT_SEQ:
			if (ctpmn_parse_u32(optarg, &a->seq) < 0) {
				fprintf(stderr, "ctpmn %s: --seq: \"%s\" is not a 32-bit number\n", name,
				    optarg);
				return -1;
			}
			a->have_seq = 1;
			break;
		case OPT_FPT:
			if (ctpmn_parse_u64(optarg, UINT16_MAX, &v) < 0 || v == 0) {
				fprintf(stderr, "ctpmn %s: --fpt: \"%s\" is not an FPT (1 to 0xffff)\n",
				    name, optarg);
				return -1;
			}
			if (o->nfpts == CTPMN_MAX_FPTS) {
				fprintf(stderr, "ctpmn %s: at most %d --fpt\n", name, CTPMN_MAX_FPTS);
				return -1;
			}
			o->fpts[o->nfpts++] = (uint16_t)v;
			break;
		case OPT_UDP:
			if (ctpmn_parse_u64(optarg, UINT16_MAX, &v) < 0 || v == 0) {
				fprintf(stderr, "ctpmn %s: --udp: \"%s\" is not a port\n", name, optarg);
				return -1;
			}
			o->udp_port = (uint16_t)v;
			break;
		case OPT_PAR_UDP:
			if (ctpmn_parse_u64(optarg, UINT16_MAX, &v) < 0 || v == 0) {
				fprintf(stderr, "ctpmn %s: --par-udp: \"%s\" is not a port\n", name,
				    optarg);
				return -1;
			}
			o->par_udp_port = (uint16_t)v;
			break;
		case OPT_COUNT:
			if (ctpmn_parse_u64(optarg, CTPMN_MAX_COUNT, &a->count) < 0 || a->count == 0) {
				fprintf(stderr, "ctpmn %s: --count: 1 to %d\n", name, CTPMN_MAX_COUNT);
				return -1;
			}
			break;
		case OPT_RATE: {
			char *end;

			errno = 0;
			o->rate = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o->rate > 0) || o->rate > 1e6) {
				fprintf(stderr, "ctpmn %s: --rate: \"%s\" is not a rate (MNs per second)\n",
				    name, optarg);
				return -1;
			}
			break;
		}
		case OPT_PREDICTIVE:
			o->predictive = 1;
			break;
		case OPT_NO_ACK:
			o->ack = 0;
			break;
		case OPT_IFNAME:
			o->ifname = optarg;
			break;
		case OPT_PLUGINS:
			o->plugins = optarg;
			break;
		case OPT_SA:
			if (o->nsa == CTPMN_MAX_SA) {
				fprintf(stderr, "ctpmn %s: at most %d --sa\n", name, CTPMN_MAX_SA);
				return -1;
			}
			o->sa[o->nsa++] = optarg;
			break;
		case OPT_WAIT:
		case OPT_RETRY:
		case OPT_TIMEOUT:
		case OPT_CTN:
			if (ctpmn_ms_opt(name, longopts[idx].name, optarg,
			    c == OPT_WAIT ? &o->wait_ms : c == OPT_RETRY ? &o->retry_ms :
			    c == OPT_TIMEOUT ? &o->timeout_ms : &o->ctn_ms) < 0)
				return -1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			/* getopt said what */
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ctpmn %s: unexpected argument \"%s\"\n", name, argv[optind]);
		return -1;
	}
	if (!have_key || !a->prev.family || (cmd != CMD_HANDOVER && a->count == 0) ||
	    (cmd != CMD_KEYS && (!o->nar.family || !o->par.family))) {
		fprintf(stderr, "ctpmn %s: %s are required (ctpmn --help)\n", name,
		    cmd == CMD_HANDOVER ? "--key, --prev, --nar and --par" :
		    cmd == CMD_MANY ? "--count, --prev-base, --key-master, --nar and --par" :
		    "--key-master, --prev-base and --count");
		return -1;
	}
	if (cmd != CMD_KEYS && (o->nar.family != a->prev.family || o->par.family != a->prev.family ||
	    (src.family && src.family != a->prev.family))) {
		fprintf(stderr, "ctpmn %s: the addresses must all be IPv4 or all IPv6 (a CXTP message "
		    "has one address family)\n", name);
		return -1;
	}
	if (cmd != CMD_HANDOVER) {
		struct ctp_addr last;

		if (ctpmn_addr_add(&a->prev, a->count - 1, &last) < 0) {
			fprintf(stderr, "ctpmn %s: --prev-base + --count runs past the last address\n",
			    name);
			return -1;
		}
	}
	if (o->par_udp_port && !o->udp_port) {
		fprintf(stderr, "ctpmn %s: --par-udp goes with --udp\n", name);
		return -1;
	}
	if (o->timeout_ms == 0 || o->retry_ms == 0) {
		fprintf(stderr, "ctpmn %s: --timeout-ms and --retry-ms must be at least 1\n", name);
		return -1;
	}
	if (src.family) {
		if (src.family == 4) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&o->src;

			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, src.a, 4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->src;

			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, src.a, 16);
		}
	}
	return 0;
}

static void
ctpmn_defaults(struct ctpmn_args *a, const char *cmd)
{
	memset(a, 0, sizeof *a);
	a->opts.cmd = cmd;
	a->opts.ack = 1;
	a->opts.retry_ms = CTP_REQUEST_RETRY_MS;
	a->opts.timeout_ms = CTP_RETRY_MAX_MS;
	a->opts.ctn_ms = 1000;
	a->opts.src.ss_family = AF_UNSPEC;
}

static void
ctpmn_log(const struct ctpmn_opts *o)
{
	ctp_log_open("ctpmn", CTP_LOG_STDERR, o->verbose >= 2 ? CTP_LOG_DEBUG :
	    o->verbose == 1 ? CTP_LOG_INFO : CTP_LOG_WARN);
}

/* Token and K_n of one MN; the key is the caller's to wipe. */
static int
ctpmn_prepare(struct ctpmn_node *nd, const uint8_t *key, size_t keylen, const uint8_t *cdbs,
    size_t cdblen)
{
	int rc = ctp_token_compute(key, keylen, &nd->prev, nd->seq, cdbs, cdblen, &nd->token);

	if (rc == 0)
		rc = ctp_notify_key(key, keylen, nd->seq, nd->kn);
	return rc;
}

static int
ctpmn_random_seq(uint32_t *seq)
{
	/* RFC 4067 2.5.1: chosen randomly, which also keeps it from being
	 * reused within 7 s */
	return getrandom(seq, sizeof *seq, 0) == (ssize_t)sizeof *seq ? 0 : -1;
}

static int
ctpmn_handover(int argc, char **argv)
{
	struct ctpmn_args a;
	struct ctpmn_node nd;
	uint8_t cdbs[CTPMN_MAX_FPTS * CTP_CDB_HDR_LEN];
	size_t cdblen = 0;
	int rc;

	ctpmn_defaults(&a, "handover");
	memset(&nd, 0, sizeof nd);
	if ((rc = ctpmn_parse(CMD_HANDOVER, argc, argv, &a)) != 0) {
		ctp_wipe(a.key, sizeof a.key);
		return rc > 0 ? 0 : 2;
	}
	ctpmn_log(&a.opts);
	nd.prev = a.prev;
	if (a.have_seq)
		nd.seq = a.seq;
	else if (ctpmn_random_seq(&nd.seq) < 0) {
		fprintf(stderr, "ctpmn handover: no random sequence number: %s\n", strerror(errno));
		ctp_wipe(a.key, sizeof a.key);
		return 1;
	}
	rc = ctpmn_run_cdbs(&a.opts, &nd.prev, cdbs, sizeof cdbs, &cdblen);
	if (rc == 0)
		rc = ctpmn_prepare(&nd, a.key, a.keylen, cdbs, cdblen);
	ctp_wipe(a.key, sizeof a.key);
	if (rc < 0) {
		fprintf(stderr, "ctpmn handover: cannot compute the token: %s\n", ctp_strerror(rc));
		ctp_wipe(nd.kn, sizeof nd.kn);
		return 1;
	}
	return ctpmn_run(&a.opts, &nd, 1);
}

static int
ctpmn_many(int argc, char **argv)
{
	struct ctpmn_args a;
	struct ctpmn_node *nodes;
	uint8_t cdbs[CTPMN_MAX_FPTS * CTP_CDB_HDR_LEN], key[CTPMN_DERIVED_KEY_LEN];
	size_t cdblen = 0;
	int rc;

	ctpmn_defaults(&a, "many");
	a.opts.many = 1;
	if ((rc = ctpmn_parse(CMD_MANY, argc, argv, &a)) != 0) {
		ctp_wipe(a.key, sizeof a.key);
		return rc > 0 ? 0 : 2;
	}
	ctpmn_log(&a.opts);
	if ((nodes = calloc((size_t)a.count, sizeof *nodes)) == NULL) {
		fprintf(stderr, "ctpmn many: out of memory\n");
		ctp_wipe(a.key, sizeof a.key);
		return 1;
	}
	rc = ctpmn_run_cdbs(&a.opts, &a.prev, cdbs, sizeof cdbs, &cdblen);
	for (uint64_t i = 0; rc == 0 && i < a.count; i++) {
		struct ctpmn_node *nd = &nodes[i];

		(void)ctpmn_addr_add(&a.prev, i, &nd->prev);   /* checked by the parser */
		if (ctpmn_random_seq(&nd->seq) < 0)
			rc = CTP_E_IO;
		else if ((rc = ctpmn_derive_key(a.key, a.keylen, &nd->prev, key)) == 0)
			rc = ctpmn_prepare(nd, key, sizeof key, cdbs, cdblen);
		ctp_wipe(key, sizeof key);
	}
	ctp_wipe(a.key, sizeof a.key);
	if (rc < 0) {
		fprintf(stderr, "ctpmn many: cannot prepare the MNs: %s\n", ctp_strerror(rc));
		for (uint64_t i = 0; i < a.count; i++)
			ctp_wipe(nodes[i].kn, sizeof nodes[i].kn);
		free(nodes);
		return 1;
	}
	rc = ctpmn_run(&a.opts, nodes, (size_t)a.count);
	free(nodes);
	return rc;
}

static int
ctpmn_keys(int argc, char **argv)
{
	struct ctpmn_args a;
	uint8_t key[CTPMN_DERIVED_KEY_LEN];
	char addr[CTP_ADDRSTRLEN], hex[2 * CTPMN_DERIVED_KEY_LEN + 1];
	int rc = 0;

	ctpmn_defaults(&a, "keys");
	if ((rc = ctpmn_parse(CMD_KEYS, argc, argv, &a)) != 0) {
		ctp_wipe(a.key, sizeof a.key);
		return rc > 0 ? 0 : 2;
	}
	if (a.opts.json)
		printf("[");
	for (uint64_t i = 0; rc == 0 && i < a.count; i++) {
		struct ctp_addr mn;

		(void)ctpmn_addr_add(&a.prev, i, &mn);
		if ((rc = ctpmn_derive_key(a.key, a.keylen, &mn, key)) < 0)
			break;
		for (size_t k = 0; k < sizeof key; k++)
			snprintf(hex + 2 * k, 3, "%02x", key[k]);
		ctp_addr_fmt(&mn, addr, sizeof addr);
		if (a.opts.json)
			printf("%s\n  {\"mn\": \"%s\", \"key\": \"%s\"}", i ? "," : "", addr, hex);
		else
			printf("%s %s\n", addr, hex);
	}
	if (a.opts.json && rc == 0)
		printf("\n]\n");
	ctp_wipe(key, sizeof key);
	ctp_wipe(hex, sizeof hex);
	ctp_wipe(a.key, sizeof a.key);
	if (fflush(stdout) != 0 || rc < 0) {
		fprintf(stderr, "ctpmn keys: %s\n", rc < 0 ? ctp_strerror(rc) : strerror(errno));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "handover", ctpmn_handover },
		{ "many", ctpmn_many },
		{ "keys", ctpmn_keys },
		{ "token", ctpmn_token },
		{ "esp", ctpmn_esp_main },
	};

	ctp_log_open("ctpmn", CTP_LOG_STDERR, CTP_LOG_WARN);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ctpmn %s\n", CTP_VERSION_STR);
		return 0;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ctpmn: unknown command \"%s\" (ctpmn --help lists them)\n", argv[1]);
	return 2;
}
