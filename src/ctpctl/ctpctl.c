/*
 * ctpctl.c: the operator's tool.  Offline it decodes and encodes CXTP
 * messages; later commands talk to a running ctpd over its control socket.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctp/ctp_log.h"
#include "ctpctl.h"

static const char usage[] =
"usage: ctpctl [--version] [--help] [-s SOCKET] COMMAND [ARGS]\n"
"\n"
"Offline commands (no daemon needed):\n"
"  decode [--json] [--plugins DIR] (--hex HEX | FILE | -)\n"
"            decode one CXTP message (raw octets or hex text) and print it\n"
"            as a tree, or as JSON; exit 1 on malformed input\n"
"  encode --json [--hex | --raw] [--force] [--plugins DIR] (FILE | -)\n"
"            the reverse: JSON (as decode --json prints it) to octets;\n"
"            hex on a terminal, raw octets otherwise\n"
"\n"
"Plugins are looked for in --plugins DIR, $CTPD_PLUGIN_DIR, the plugins/\n"
"folder next to ctpctl, then " CTP_PLUGINDIR ".\n"
"\n"
"Daemon commands (ask a running ctpd over its control socket):\n"
"  status [--json]     node, version, roles, uptime, transport backend, counts\n"
"  peers [--json]      each peer: address, security, state, cipher, counters\n"
"  transfers [--json]  context transfers, live and recent, with their steps\n"
"  stats [--json]      message, byte, handshake, rejection and transfer counters\n"
"  plugins [--json]    the feature plugins loaded, with their FPTs\n"
"  sas [--json]        the ipsec plugin's SAs: lookup triple, state (active,\n"
"                      frozen, quarantined), algorithms, counters; never keys\n"
"  trigger push|pull|move MN PEER [--fpt FPT]...\n"
"                      start a transfer on a network trigger: push (at pAR,\n"
"                      predictive, to nAR PEER), pull (at nAR, reactive, from\n"
"                      pAR PEER), move (at an SG, to the SG PEER)\n"
"  trigger move-all PEER [--fpt FPT]...\n"
"                      at an SG: every MN's contexts to the SG PEER (a whole\n"
"                      node's fail-over), paced; status shows the progress\n"
"  mn-key set MN KEY | del MN | list | load FILE\n"
"                      the MN-pAR keys (hex, 20 or 32 octets); load takes the\n"
"                      JSON array `ctpmn keys` prints; keys are never shown\n"
"  call CMD [JSON-ARGS]\n"
"                      send any command (arguments as one JSON object) and\n"
"                      print the reply as JSON\n"
"  -s SOCKET           the control socket (default $CTPD_SOCKET, else\n"
"                      /run/ctpd.sock); before or after the command\n"
"  Exit status: 0 answered, 1 the daemon answered with an error, 2 usage,\n"
"  3 no usable answer (no daemon listening, permission, timeout).\n";

static void
host_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	(void)host;
	if (level <= CTP_LOG_WARN)
		fprintf(stderr, "ctpctl: %s: %s\n", func, msg);
}

static uint64_t
host_now_ms(struct ctp_host *host)
{
	struct timespec ts;

	(void)host;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const struct ctp_host_ops host_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = host_log,
	.now_ms = host_now_ms,
};

struct ctp_registry *
ctpctl_load_plugins(const char *dir)
{
	struct ctp_registry *reg = ctp_registry_new(&host_ops, NULL);
	struct ctp_err err = { 0 };
	char buf[PATH_MAX];

	if (!reg) {
		fprintf(stderr, "ctpctl: out of memory\n");
		return NULL;
	}
	if (!dir)
		dir = ctp_registry_default_dir(buf, sizeof buf);
	if (dir && ctp_registry_load_dir(reg, dir, &err) < 0) {
		fprintf(stderr, "ctpctl: %s\n", err.what);
		ctp_registry_free(reg);
		return NULL;
	}
	return reg;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "decode", ctpctl_decode },
		{ "encode", ctpctl_encode },
		{ "status", ctpctl_status },
		{ "peers", ctpctl_peers },
		{ "transfers", ctpctl_transfers },
		{ "stats", ctpctl_stats },
		{ "plugins", ctpctl_plugins },
		{ "sas", ctpctl_sas },
		{ "call", ctpctl_call },
		{ "trigger", ctpctl_trigger },
		{ "mn-key", ctpctl_mn_key },
	};

	ctp_log_open("ctpctl", CTP_LOG_STDERR, CTP_LOG_WARN);
	if (ctpctl_socket_option(&argc, &argv) < 0)
		return 2;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ctpctl %s\n", CTP_VERSION_STR);
		return 0;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ctpctl: unknown command \"%s\" (ctpctl --help lists them)\n", argv[1]);
	return 2;
}
