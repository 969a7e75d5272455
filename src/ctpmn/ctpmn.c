/*
 * ctpmn.c: the mobile node's side of CXTP.  For now the offline helper that
 * computes the RFC 4067 authorization token; the MN state machine (CTAR,
 * CTAA, CTN/CTNA) joins it with the engine.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_token.h"
#include "ctp/ctp_val.h"

static const char usage[] =
"usage: ctpmn [--version] [--help] COMMAND [ARGS]\n"
"\n"
"  token --key HEX --prev ADDR --seq N [--cdb HEX]...\n"
"            print the 8-hex-digit authorization token of RFC 4067 2.7:\n"
"            the first 32 bits of HMAC-SHA1(key, previous address |\n"
"            sequence number | request CDBs exactly as sent).  --seq is\n"
"            decimal or 0x hex.  Each --cdb is one request CDB as sent, in\n"
"            hex (e.g. ff010000); two octets alone are taken as an FPT and\n"
"            sent as its 4-octet request CDB (FPT, Length 0, flags 0).\n";

static int
parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *s == '-' || *s == 0 || *end || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int
cmd_token(int argc, char **argv)
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
			if (ctp_hex_decode(optarg, strlen(optarg), key, sizeof key, &keylen) < 0 ||
			    keylen == 0) {
				fprintf(stderr, "ctpmn token: --key: 1 to %d octets of hex\n", CTP_KEY_MAX);
				goto out;
			}
			have_key = 1;
			break;
		case 'p':
			if (ctp_addr_parse(&prev, optarg) < 0) {
				fprintf(stderr, "ctpmn token: --prev: \"%s\" is not an IPv4 or IPv6 address\n",
				    optarg);
				goto out;
			}
			break;
		case 's':
			if (parse_u32(optarg, &seq) < 0) {
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

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ctpmn %s\n", CTP_VERSION_STR);
		return 0;
	}
	if (strcmp(argv[1], "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	fprintf(stderr, "ctpmn: unknown command \"%s\" (ctpmn --help lists them)\n", argv[1]);
	return 2;
}
