/*
 * ctpd.c: the daemon's main: options, configuration, start-up, signals.
 *
 * SIGTERM and SIGINT stop gracefully (associations shut down with SHUTDOWN,
 * plugins unloaded, everything freed); SIGHUP reloads the configuration and
 * keeps the associations whose settings did not change.  Without -f the
 * daemon detaches, and its parent exits only once start-up has succeeded
 * (status 0) or failed (status 1, the reason on standard error), so init
 * systems and scripts see real errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <libxml/parser.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_engine.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_mnio.h"
#include "ctp/ctp_node.h"
#include "ctp/ctp_priv.h"
#include "ctp/ctp_secret.h"

#ifndef CTP_SYSCONFDIR
#define CTP_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF CTP_SYSCONFDIR "/ctpd/ctpd.xml"

static const char usage[] =
"usage: ctpd [-f] [-d] [-c FILE] [--pcap FILE] [--pid-file FILE]\n"
"       ctpd --check-config [-c FILE]\n"
"       ctpd --version | --help\n"
"\n"
"  -c, --config FILE  the configuration (default " DEFAULT_CONF ")\n"
"  -f, --foreground   stay in the foreground and log to standard error\n"
"  -d, --debug        log at debug level (overrides the configuration)\n"
"      --log-private  also log at the private level, which may show key\n"
"                     bytes: for laboratory debugging only\n"
"      --check-config validate the configuration, print each error as\n"
"                     FILE:LINE: what, and exit 0 (valid) or 1\n"
"      --pcap FILE    write every CXTP message sent and received, decrypted,\n"
"                     to FILE as an exported-PDU capture (for wireshark/cxtp.lua)\n"
"      --pid-file FILE  write the daemon's process id to FILE\n"
"      --print-schema print the configuration schema (XSD) and exit\n"
"  -V, --version      print the version and exit\n"
"  -h, --help         this text\n"
"\n"
"Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration.\n"
"ctpctl(8) talks to a running daemon over its control socket.\n";

struct daemon {
	uv_loop_t        loop;
	struct ctp_node *node;
	struct ctp_engine *engine;
	struct ctp_mnio  *mnio;
	const char      *conf_path;
	const char      *pcap;
	int              debug;
	uv_signal_t      sig[3];
	int              stopping;
};

static void
print_error_line(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

/* Options that the command line overrides in a freshly loaded configuration. */
static int
apply_overrides(struct daemon *d, struct ctp_conf *c)
{
	if (d->debug)
		c->log_level = d->debug > 1 ? CTP_LOG_PRIVATE : CTP_LOG_DEBUG;
	if (d->pcap) {
		char *p = strdup(d->pcap);

		if (!p)
			return -1;
		free(c->pcap);
		c->pcap = p;
	}
	return 0;
}

static void
signals_closed(uv_handle_t *h)
{
	(void)h;
}

static void
node_stopped(void *arg)
{
	struct daemon *d = arg;

	d->node = NULL;
	for (int i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&d->sig[i], signals_closed);
	log_notice("stopped");
}

/* Transfers end first (their plugins hear the outcome), then the MN link,
 * then the node with its associations. */
static void
stop_all(struct daemon *d)
{
	ctp_engine_free(d->engine);
	d->engine = NULL;
	if (d->mnio) {
		ctp_mnio_close(d->mnio);
		d->mnio = NULL;
	}
	if (d->node)
		ctp_node_stop(d->node, node_stopped, d);
}

static int
mn_send(void *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier, const uint8_t *msg,
    size_t len)
{
	return ctp_mnio_send(io, to, carrier, msg, len);
}

/* The engine and the link to mobile nodes, once the node runs. */
static int
start_engine(struct daemon *d, const struct ctp_conf *c, struct ctp_err *err)
{
	struct ctp_mnio_cfg mc = { .icmp = c->mn_icmp, .udp_port = c->mn_udp_port };
	struct ctp_engine_mn_ops ops = { .send = mn_send };
	int rc;

	if ((rc = ctp_engine_new(d->node, &d->engine, err)) < 0)
		return rc;
	if (!(c->roles & CTP_ROLE_AR) || (!mc.icmp && !mc.udp_port))
		return 0;   /* SGs and ARs without mobile nodes have no MN link */
	if ((rc = ctp_mnio_open(&d->loop, &mc, ctp_engine_mn_input, d->engine, &d->mnio, err)) < 0)
		return rc;
	ops.io = d->mnio;
	ctp_engine_set_mn_ops(d->engine, &ops);
	return 0;
}

static void
on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->data;

	if (signum == SIGHUP) {
		struct ctp_conf *nc = NULL;
		struct ctp_err err = { 0 };

		if (d->stopping || !d->node)
			return;
		log_notice("SIGHUP: reloading %s", d->conf_path);
		if (ctp_conf_load(d->conf_path, NULL, NULL, &nc, &err) < 0) {
			log_err("reload refused, keeping the running configuration: %s", err.what);
			return;
		}
		if (apply_overrides(d, nc) < 0 || ctp_node_reload(d->node, nc, &err) < 0)
			log_err("reload failed: %s", err.what);
		return;
	}
	if (d->stopping)
		return;
	d->stopping = 1;
	log_notice("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	stop_all(d);
}

/* Detach; the parent waits on a pipe for the child's verdict on start-up. */
static int
detach(int *report_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		char buf[512];
		ssize_t n;

		close(fds[1]);
		n = read(fds[0], buf, sizeof buf - 1);
		if (n == 1 && buf[0] == 0)
			_exit(0);
		if (n > 0) {
			buf[n] = 0;
			fprintf(stderr, "%s", buf);
		} else
			fprintf(stderr, "ctpd: the daemon died during start-up\n");
		_exit(1);
	}
	close(fds[0]);
	if (setsid() < 0)
		return -1;
	if (chdir("/") < 0)
		return -1;
	*report_fd = fds[1];
	return 0;
}

static void
report_startup(int fd, const char *error)
{
	if (fd < 0)
		return;
	if (error) {
		dprintf(fd, "ctpd: %s\n", error);
	} else {
		char ok = 0;

		if (write(fd, &ok, 1) != 1)
			(void)0;
	}
	close(fd);
}

static void
quiet_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "log-private", no_argument, NULL, 'P' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "pcap", required_argument, NULL, 'p' },
		{ "pid-file", required_argument, NULL, 'i' },
		{ "print-schema", no_argument, NULL, 'S' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct daemon d = { .conf_path = DEFAULT_CONF };
	int foreground = 0, check = 0, c, rc = 1, report_fd = -1;
	size_t arena;
	const char *pidfile = NULL;
	struct ctp_conf *conf = NULL;
	struct ctp_err err = { 0 };
	char line[512];

	while ((c = getopt_long(argc, argv, "c:fdVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d.conf_path = optarg; break;
		case 'f': foreground = 1; break;
		case 'd': d.debug = d.debug ? d.debug : 1; break;
		case 'P': d.debug = 2; break;
		case 'C': check = 1; break;
		case 'p': d.pcap = optarg; break;
		case 'i': pidfile = optarg; break;
		case 'S':
			fwrite(ctp_conf_xsd, 1, ctp_conf_xsd_len, stdout);
			return 0;
		case 'V':
			printf("ctpd %s\n", CTP_VERSION_STR);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ctpd: unexpected argument \"%s\" (ctpd --help)\n", argv[optind]);
		return 2;
	}
	/* before the first key (the PSKs of the configuration) and before
	 * privileges go: the arena is locked once, while we may */
	arena = check ? 0 : ctp_secret_init(0);
	xmlInitParser();
	if (check) {
		rc = ctp_conf_load(d.conf_path, print_error_line, NULL, &conf, &err) < 0 ? 1 : 0;
		if (rc == 0)
			printf("%s: valid\n", d.conf_path);
		ctp_conf_free(conf);
		xmlCleanupParser();
		return rc;
	}
	ctp_log_open("ctpd", CTP_LOG_STDERR, CTP_LOG_NOTICE);
	if (ctp_conf_load(d.conf_path, NULL, NULL, &conf, &err) < 0) {
		fprintf(stderr, "%s\n", err.what);
		xmlCleanupParser();
		return 1;
	}
	if (apply_overrides(&d, conf) < 0) {
		fprintf(stderr, "ctpd: out of memory\n");
		ctp_conf_free(conf);
		return 1;
	}
	ctp_log_open("ctpd", foreground || !conf->log_syslog ? CTP_LOG_STDERR : CTP_LOG_SYSLOG,
	    conf->log_level);
	if (arena)
		log_info("keys: a locked arena of %zu KiB, kept out of core dumps", arena >> 10);
	else
		log_warn("keys: not locked in memory (mlock refused: RLIMIT_MEMLOCK without "
		    "CAP_IPC_LOCK, or a sanitized build); they are still wiped when freed");
	if (!foreground) {
		if (detach(&report_fd) < 0) {
			fprintf(stderr, "ctpd: cannot detach: %s\n", strerror(errno));
			ctp_conf_free(conf);
			return 1;
		}
		if (!conf->log_syslog)
			ctp_log_open("ctpd", CTP_LOG_SYSLOG, conf->log_level);
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&d.loop);
	if (ctp_node_new(&d.loop, conf, &d.node, &err) < 0 ||
	    start_engine(&d, conf, &err) < 0 || ctp_node_start(d.node, &err) < 0) {
		snprintf(line, sizeof line, "%s", err.what);
		log_err("start-up failed: %s", line);
		report_startup(report_fd, line);
		ctp_engine_free(d.engine);
		if (d.mnio)
			ctp_mnio_close(d.mnio);
		if (d.node) {
			ctp_node_stop(d.node, NULL, NULL);
			d.node = NULL;
		}
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		xmlCleanupParser();
		return 1;
	}
	/* everything that needs root is open: keep only what runs need */
	if (conf->user) {
		uint64_t keep = CTP_PRIV_NET_ADMIN | (conf->mn_icmp ? CTP_PRIV_NET_RAW : 0);

		if (ctp_priv_drop(conf->user, keep, &err) < 0) {
			snprintf(line, sizeof line, "%s", err.what);
			log_err("start-up failed: %s", line);
			report_startup(report_fd, line);
			ctp_engine_free(d.engine);
			if (d.mnio)
				ctp_mnio_close(d.mnio);
			ctp_node_stop(d.node, NULL, NULL);
			uv_run(&d.loop, UV_RUN_DEFAULT);
			uv_loop_close(&d.loop);
			xmlCleanupParser();
			return 1;
		}
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
		} else
			log_warn("cannot write %s: %s", pidfile, strerror(errno));
	}
	{
		const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };

		for (int i = 0; i < 3; i++) {
			uv_signal_init(&d.loop, &d.sig[i]);
			d.sig[i].data = &d;
			uv_signal_start(&d.sig[i], on_signal, sigs[i]);
		}
	}
	log_notice("ctpd %s started (%s)", CTP_VERSION_STR, d.conf_path);
	report_startup(report_fd, NULL);
	if (!foreground)
		quiet_stdio();
	uv_run(&d.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&d.loop) == 0 ? 0 : 1;
	if (rc)
		log_err("handles left open at exit");
	if (pidfile)
		unlink(pidfile);
	xmlCleanupParser();
	return rc;
}
