/*
 * fuzz_conf.c: libFuzzer harness for the configuration loader
 * (ctp_conf_load: libxml2 with no network and no DTD, the compiled-in XSD,
 * then src/ctp/ctp_conf.c's conversion and cross checks).
 *
 * The input is the file.  It is written to a scratch folder next to
 * "../files/" placeholders of tests/conf/files (ca.pem, nar.pem, nar.key,
 * plugin.placeholder), so that the configurations of tests/conf/good load.
 *
 * Properties: a load succeeds with a configuration in the schema's ranges
 * or fails with a code and at least one line; every line is one printable
 * line that starts with the file's name (or the schema's); no line shows
 * the value of a psk attribute (a key: PROFILE 5.3).  Anything else is a
 * finding: abort().
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_conf_path[256];
static char fuzz_conf_dir[200];

/* The psk attribute values of the input (at most a few), to look for. */
static struct {
	char   val[4][160];
	size_t n;
	size_t lines;
	int    bad;
} fuzz_conf_seen;

static void
fuzz_conf_touch(const char *dir, const char *name)
{
	char p[320];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL)
		abort();
	fputs("placeholder\n", f);
	fclose(f);
}

/* The scratch folder goes when the process ends normally. */
static void
fuzz_conf_cleanup(void)
{
	static const char *const names[] = { "files/ca.pem", "files/nar.pem", "files/nar.key",
		"files/plugin.placeholder", "conf/ctpd.xml", "files", "conf", "" };
	char p[320];

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", fuzz_conf_dir, names[i]);
		(void)remove(p);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char files[240], conf[240];
	const char *tmp = getenv("TMPDIR");

	(void)argc, (void)argv;
	snprintf(fuzz_conf_dir, sizeof fuzz_conf_dir, "%s/fuzz-conf.XXXXXX", tmp && *tmp ? tmp :
	    "/tmp");
	if (mkdtemp(fuzz_conf_dir) == NULL)
		abort();
	snprintf(files, sizeof files, "%s/files", fuzz_conf_dir);
	snprintf(conf, sizeof conf, "%s/conf", fuzz_conf_dir);
	if (mkdir(files, 0700) < 0 || mkdir(conf, 0700) < 0)
		abort();
	fuzz_conf_touch(files, "ca.pem");
	fuzz_conf_touch(files, "nar.pem");
	fuzz_conf_touch(files, "nar.key");
	fuzz_conf_touch(files, "plugin.placeholder");
	snprintf(fuzz_conf_path, sizeof fuzz_conf_path, "%s/ctpd.xml", conf);
	atexit(fuzz_conf_cleanup);
	ctp_log_open("fuzz", CTP_LOG_STDERR, CTP_LOG_ERR - 1);
	return 0;
}

static void
fuzz_conf_line(const char *line, void *arg)
{
	size_t n = strlen(line);

	(void)arg;
	fuzz_conf_seen.lines++;
	if (strncmp(line, fuzz_conf_path, strlen(fuzz_conf_path)) != 0 &&
	    strncmp(line, "ctpd.xsd", 8) != 0)
		fuzz_conf_seen.bad = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i], d = (unsigned char)line[i + 1];

		/* C0, DEL, and C1 as UTF-8: nothing that drives a terminal */
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && d >= 0x80 && d <= 0x9f))
			fuzz_conf_seen.bad = 1;
	}
	for (size_t i = 0; i < fuzz_conf_seen.n; i++)
		if (strstr(line, fuzz_conf_seen.val[i]))
			fuzz_conf_seen.bad = 2;
}

/* psk="..." or psk='...' values of 8 characters or more. */
static void
fuzz_conf_psks(const char *s, size_t len)
{
	fuzz_conf_seen.n = 0;
	for (size_t i = 0; i + 5 < len && fuzz_conf_seen.n < 4; i++) {
		size_t j, k;
		char q;

		/* the attribute psk itself, not xpsk= or psk-identity= */
		if (memcmp(s + i, "psk", 3) != 0 || !i || (s[i - 1] != ' ' && s[i - 1] != '\t' &&
		    s[i - 1] != '\n' && s[i - 1] != '\r'))
			continue;
		for (j = i + 3; j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n'); j++)
			;
		if (j >= len || s[j] != '=')
			continue;
		for (j++; j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n'); j++)
			;
		if (j >= len || (s[j] != '"' && s[j] != '\''))
			continue;
		q = s[j++];
		for (k = j; k < len && s[k] != q && s[k] != '&' && s[k] != '<' && s[k]; k++)
			;
		/* plain text only: an entity or whitespace would change what is shown */
		if (k < len && s[k] == q && k - j >= 8 && k - j < sizeof fuzz_conf_seen.val[0]) {
			int plain = 1;

			/* a key is hex, 16 octets at least (ctp_conf.c): another
			 * value is not one, whatever the attribute's name */
			for (size_t m = j; m < k; m++)
				plain &= isxdigit((unsigned char)s[m]) != 0;
			plain &= k - j >= 32;
			if (plain) {
				memcpy(fuzz_conf_seen.val[fuzz_conf_seen.n], s + j, k - j);
				fuzz_conf_seen.val[fuzz_conf_seen.n][k - j] = 0;
				fuzz_conf_seen.n++;
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctp_err err = { 0 };
	struct ctp_conf *c = NULL;
	FILE *f;
	int rc;

	if (size > 256 * 1024)
		return 0;
	if ((f = fopen(fuzz_conf_path, "wb")) == NULL)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	memset(&fuzz_conf_seen, 0, sizeof fuzz_conf_seen);
	fuzz_conf_psks((const char *)data, size);

	rc = ctp_conf_load(fuzz_conf_path, fuzz_conf_line, NULL, &c, &err);
	if (fuzz_conf_seen.bad) {
		fprintf(stderr, "fuzz_conf: %s (the line: \"%s\")\n", fuzz_conf_seen.bad == 2 ?
		    "a psk value in an error line" : "an error line that is not one printable line",
		    err.what);
		abort();
	}
	if (rc < 0) {
		if (c || fuzz_conf_seen.lines == 0 || !err.what[0] || err.code != rc)
			abort();
		return 0;
	}
	if (!c || fuzz_conf_seen.lines != 0)
		abort();
	/* the schema's ranges hold in the struct */
	if (c->limits.peers < 1 || c->limits.peers > 4096 || c->limits.transfers < 1 ||
	    c->limits.transfers_per_peer > c->limits.transfers ||
	    c->limits.cdbs_per_message < 1 || c->limits.control_clients < 1 ||
	    c->npeers > CTP_CONF_MAX_PEERS || c->nplugins > CTP_CONF_MAX_PLUGINS ||
	    c->naddrs > CTP_CONF_MAX_ADDRS || c->timers.request_rate < 1 || !c->control)
		abort();
	for (size_t i = 0; i < c->npeers; i++)
		if (!c->peers[i].name || (c->peers[i].psk && (c->peers[i].psk->len < 16 ||
		    c->peers[i].psk->len > 64)))
			abort();
	for (size_t i = 0; i < c->nplugins; i++)
		if (!c->plugins[i].name || !c->plugins[i].config)
			abort();
	ctp_conf_free(c);
	return 0;
}
