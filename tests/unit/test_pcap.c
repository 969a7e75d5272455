/*
 * test_pcap.c: the exported-PDU capture writer (ctp_pcap.c).
 *
 * The layout test writes committed vectors (tests/vectors, or
 * $CTP_VECTOR_DIR) with both address families and every port type, reads
 * the file back and compares it octet by octet with records spelled out by
 * hand here from the format (transport-feasibility.md section 4), not with
 * anything the writer computes.
 *
 * With CTP_PCAP_OUT=FILE, test_pcap_export also writes every msg_*.hex
 * vector into FILE and, into FILE.expected, the line tshark should print for
 * each record; tests/pcap-writer/run.sh has tshark check it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_pcap.h"
#include "test.h"

static char pcap_dir[64];

static int
pcap_suite_init(void)
{
	snprintf(pcap_dir, sizeof pcap_dir, "/tmp/ctp-test-pcap.XXXXXX");
	return mkdtemp(pcap_dir) ? 0 : -1;
}

static int
pcap_suite_clean(void)
{
	char path[512];
	DIR *d = opendir(pcap_dir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", pcap_dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(pcap_dir);
	return 0;
}

static const char *
pcap_vector_dir(void)
{
	const char *d = getenv("CTP_VECTOR_DIR");

	return d ? d : "tests/vectors";
}

static unsigned char *
pcap_vector(const char *name, size_t *len)
{
	unsigned char *text, *bin = NULL;
	char path[512];
	size_t tlen;

	snprintf(path, sizeof path, "%s/%s", pcap_vector_dir(), name);
	if ((text = ctp_test_read_file(path, &tlen)) == NULL) {
		fprintf(stderr, "\n    %s: cannot read (run from the source tree)\n", path);
		return NULL;
	}
	bin = ctp_test_hex((const char *)text, len);
	free(text);
	return bin;
}

static struct sockaddr_in
pcap_sin(const char *addr, uint16_t port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof s);
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET, addr, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6
pcap_sin6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof s);
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, addr, &s.sin6_addr), 1);
	return s;
}

static uint32_t
pcap_host32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t
pcap_host16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint64_t
pcap_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * One record at *off: its header (timestamp within [t0, t1], lengths), then
 * the tags exactly as the hex says, then the PDU.
 */
static void
pcap_expect_record(const unsigned char *f, size_t flen, size_t *off, uint64_t t0, uint64_t t1,
    const char *tags_hex, const unsigned char *pdu, size_t pdulen)
{
	size_t tlen, at = *off;
	unsigned char *tags = ctp_test_hex(tags_hex, &tlen);
	uint64_t ts;

	CU_ASSERT_PTR_NOT_NULL_FATAL(tags);
	CU_ASSERT_FATAL(flen - at >= 16 + tlen + pdulen);
	ts = (uint64_t)pcap_host32(f + at) * 1000000 + pcap_host32(f + at + 4);
	CU_ASSERT(pcap_host32(f + at + 4) < 1000000);
	/* CLOCK_REALTIME, as read around the writes (a second of slack for
	 * a clock being stepped meanwhile) */
	CU_ASSERT(ts + 1000000 >= t0 && ts <= t1 + 1000000);
	CU_ASSERT_EQUAL(pcap_host32(f + at + 8), tlen + pdulen);    /* incl_len */
	CU_ASSERT_EQUAL(pcap_host32(f + at + 12), tlen + pdulen);   /* orig_len */
	at += 16;
	if (memcmp(f + at, tags, tlen) != 0) {
		fprintf(stderr, "\n    tags differ at record offset %zu:\n    got  ", *off);
		for (size_t i = 0; i < tlen; i++)
			fprintf(stderr, "%02x", f[at + i]);
		fprintf(stderr, "\n    want %s\n", tags_hex);
		CU_FAIL("tags");
	}
	at += tlen;
	CU_ASSERT(memcmp(f + at, pdu, pdulen) == 0);
	*off = at + pdulen;
	free(tags);
}

static void
test_pcap_layout(void)
{
	unsigned char *ctar4, *ctd6, *ctc4, *ctaa6, *f;
	size_t ctar4_len, ctd6_len, ctc4_len, ctaa6_len, flen, off;
	struct sockaddr_in a4 = pcap_sin("192.0.2.10", 0), b4 = pcap_sin("198.51.100.1", 0);
	struct sockaddr_in6 a6 = pcap_sin6("2001:db8::1", 5091);
	struct sockaddr_in6 b6 = pcap_sin6("2001:db8:1::fe", 40001);
	struct sockaddr_in6 m6 = pcap_sin6("::ffff:203.0.113.7", 9899);
	struct sockaddr_in6 u6 = pcap_sin6("2001:db8:2::a", 9901);
	struct ctp_pcap *p = NULL;
	struct ctp_err err = { 0 };
	struct stat st;
	char path[128];
	uint64_t t0, t1;

	ctar4 = pcap_vector("msg_ctar_v4.hex", &ctar4_len);
	ctd6 = pcap_vector("msg_ctd_v6.hex", &ctd6_len);
	ctc4 = pcap_vector("msg_ctc_v4.hex", &ctc4_len);
	ctaa6 = pcap_vector("msg_ctaa_v6.hex", &ctaa6_len);
	CU_ASSERT_FATAL(ctar4 && ctd6 && ctc4 && ctaa6);

	snprintf(path, sizeof path, "%s/layout.pcap", pcap_dir);
	t0 = pcap_now_us();
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_open(path, &p, &err), 0);
	/* MN -> nAR over ICMP: addresses, no port tags */
	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&a4, (struct sockaddr *)&b4,
	    IPPROTO_ICMP, ctar4, ctar4_len), 0);
	/* AR -> AR over SCTP/IPv6 */
	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&a6, (struct sockaddr *)&b6,
	    IPPROTO_SCTP, ctd6, ctd6_len), 0);
	/* a v4-mapped source (dual-stack socket) and a native IPv4 destination */
	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&m6, (struct sockaddr *)&b4,
	    IPPROTO_SCTP, ctc4, ctc4_len), 0);
	/* the MN's UDP encoding, IPv6, and a missing source address */
	CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, (struct sockaddr *)&u6,
	    IPPROTO_UDP, ctaa6, ctaa6_len), 0);
	/* flushed per record: complete on disk before close */
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = ctp_test_read_file(path, &flen)));
	t1 = pcap_now_us();
	ctp_pcap_close(p);

	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

	/* file header, host byte order */
	CU_ASSERT_FATAL(flen >= 24);
	CU_ASSERT_EQUAL(pcap_host32(f), 0xa1b2c3d4u);
	CU_ASSERT_EQUAL(pcap_host16(f + 4), 2);
	CU_ASSERT_EQUAL(pcap_host16(f + 6), 4);
	CU_ASSERT_EQUAL(pcap_host32(f + 8), 0);
	CU_ASSERT_EQUAL(pcap_host32(f + 12), 0);
	CU_ASSERT(pcap_host32(f + 16) >= 65535 + 100);   /* snaplen: a whole message */
	CU_ASSERT_EQUAL(pcap_host32(f + 20), 252);

	off = 24;
	pcap_expect_record(f, flen, &off, t0, t1,
	    "000c0004 63787470"                 /* tag 12: "cxtp" */
	    "00140004 c000020a"                 /* tag 20: 192.0.2.10 */
	    "00150004 c6336401"                 /* tag 21: 198.51.100.1 */
	    "00000000",                         /* end */
	    ctar4, ctar4_len);
	pcap_expect_record(f, flen, &off, t0, t1,
	    "000c0004 63787470"
	    "00160010 20010db8000000000000000000000001"   /* tag 22: 2001:db8::1 */
	    "00170010 20010db80001000000000000000000fe"   /* tag 23: 2001:db8:1::fe */
	    "00180004 00000001"                 /* tag 24: port type SCTP */
	    "00190004 000013e3"                 /* tag 25: 5091 */
	    "001a0004 00009c41"                 /* tag 26: 40001 */
	    "00000000",
	    ctd6, ctd6_len);
	pcap_expect_record(f, flen, &off, t0, t1,
	    "000c0004 63787470"
	    "00140004 cb007107"                 /* ::ffff:203.0.113.7 as IPv4 */
	    "00150004 c6336401"
	    "00180004 00000001"
	    "00190004 000026ab"                 /* 9899 */
	    "001a0004 00000000"
	    "00000000",
	    ctc4, ctc4_len);
	pcap_expect_record(f, flen, &off, t0, t1,
	    "000c0004 63787470"
	    "00170010 20010db800020000000000000000000a"   /* only the destination */
	    "00180004 00000003"                 /* port type UDP */
	    "00190004 00000000"
	    "001a0004 000026ad"                 /* 9901 */
	    "00000000",
	    ctaa6, ctaa6_len);
	CU_ASSERT_EQUAL(off, flen);
	free(f);
	free(ctar4);
	free(ctd6);
	free(ctc4);
	free(ctaa6);
}

/* Open failures name the file; bad arguments are refused; 0600 always. */
static void
test_pcap_errors(void)
{
	struct sockaddr_in a4 = pcap_sin("192.0.2.1", 1);
	static const uint8_t ctc[] = { 0x26, 0x00, 0x00, 0x08, 0xc0, 0x00, 0x02, 0x0a };
	struct ctp_pcap *p = NULL;
	struct ctp_err err = { 0 };
	struct stat st;
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/no/such/dir.pcap", pcap_dir);
	CU_ASSERT_EQUAL(ctp_pcap_open(path, &p, &err), CTP_E_IO);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "No such file"));

	/* an existing world-readable file is truncated and made private */
	snprintf(path, sizeof path, "%s/old.pcap", pcap_dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = fopen(path, "w")));
	fputs("an old capture, much longer than a pcap file header", f);
	fclose(f);
	CU_ASSERT_EQUAL(chmod(path, 0644), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_open(path, &p, &err), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(st.st_size, 24);

	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&a4, (struct sockaddr *)&a4,
	    IPPROTO_RAW, ctc, sizeof ctc), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_pcap_write(NULL, NULL, NULL, IPPROTO_SCTP, ctc, sizeof ctc),
	    CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, NULL, IPPROTO_SCTP, NULL, 1), CTP_E_INVAL);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 24);   /* nothing written by refused calls */
	ctp_pcap_close(p);
	ctp_pcap_close(NULL);
}

struct pcap_logged {
	unsigned n;
	char     last[256];
};

static void
pcap_log_hook(int level, const char *line, void *arg)
{
	struct pcap_logged *l = arg;

	if (level <= CTP_LOG_ERR) {
		l->n++;
		snprintf(l->last, sizeof l->last, "%s", line);
	}
}

/*
 * A write that fails (here: past RLIMIT_FSIZE) is logged once, naming the
 * file, and the capture stops there rather than append records after a
 * half-written one.
 */
static void
test_pcap_write_error(void)
{
	static const uint8_t ctc[] = { 0x26, 0x00, 0x00, 0x08, 0xc0, 0x00, 0x02, 0x0a };
	struct rlimit old, small;
	struct pcap_logged logged = { 0 };
	struct ctp_pcap *p = NULL;
	struct ctp_err err = { 0 };
	uint8_t big[200] = { 0x26 };
	void (*oldsig)(int);
	char path[128];
	int level = ctp_log_level();

	/* the device is full: the file header cannot be written */
	if (access("/dev/full", W_OK) == 0) {
		CU_ASSERT_EQUAL(ctp_pcap_open("/dev/full", &p, &err), CTP_E_IO);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "/dev/full"));
		CU_ASSERT_PTR_NULL(p);
	}

	snprintf(path, sizeof path, "%s/limited.pcap", pcap_dir);
	CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 24 + 16 + 12 + sizeof ctc;   /* header and one small record */
	oldsig = signal(SIGXFSZ, SIG_IGN);
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &small), 0);
	ctp_log_set_hook(pcap_log_hook, &logged);
	ctp_log_set_level(0);
	ctp_err_clear(&err);
	if (ctp_pcap_open(path, &p, &err) == 0) {
		CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, NULL, IPPROTO_ICMP, ctc, sizeof ctc), 0);
		CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, NULL, IPPROTO_ICMP, big, sizeof big),
		    CTP_E_IO);
		CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, NULL, IPPROTO_ICMP, ctc, sizeof ctc),
		    CTP_E_IO);
		ctp_pcap_close(p);
	} else
		CU_FAIL("open");
	ctp_log_set_level(level);
	ctp_log_set_hook(NULL, NULL);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	CU_ASSERT_EQUAL(logged.n, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(logged.last, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(logged.last, "no more messages"));
}

/* A PDU beyond the snap length is cut there; orig_len keeps the truth. */
static void
test_pcap_snaplen(void)
{
	const size_t big = 300000, tags = 8 + 4;   /* name, end */
	struct ctp_pcap *p = NULL;
	struct ctp_err err = { 0 };
	unsigned char *f;
	uint8_t *pdu = calloc(1, big);
	char path[128];
	size_t flen;
	uint32_t snap;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pdu);
	snprintf(path, sizeof path, "%s/big.pcap", pcap_dir);
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_open(path, &p, &err), 0);
	CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, NULL, IPPROTO_ICMPV6, pdu, big), 0);
	ctp_pcap_close(p);
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = ctp_test_read_file(path, &flen)));
	snap = pcap_host32(f + 16);
	CU_ASSERT_EQUAL(pcap_host32(f + 24 + 8), snap);
	CU_ASSERT_EQUAL(pcap_host32(f + 24 + 12), big + tags);
	CU_ASSERT_EQUAL(flen, 24 + 16 + (size_t)snap);
	free(f);
	free(pdu);
}

/*
 * For tests/pcap-writer/run.sh: every msg_*.hex vector, in name order, with
 * the carriage its type would really have (the MN's messages over ICMP, or
 * UDP for every other one, AR-AR over SCTP), addresses of the vector's
 * family.  FILE.expected gets what tshark -T fields should print:
 * cxtp.type, source, destination, port type, ports.
 */
static int
pcap_is_vector(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return strncmp(e->d_name, "msg_", 4) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".hex") == 0;
}

static void
test_pcap_export(void)
{
	const char *out = getenv("CTP_PCAP_OUT");
	struct dirent **names = NULL;
	struct ctp_pcap *p = NULL;
	struct ctp_err err = { 0 };
	char exp_path[4096];
	unsigned mn_count = 0;
	FILE *exp;
	int n;

	if (!out)
		return;   /* only on request */
	snprintf(exp_path, sizeof exp_path, "%s.expected", out);
	CU_ASSERT_PTR_NOT_NULL_FATAL((exp = fopen(exp_path, "w")));
	if (ctp_pcap_open(out, &p, &err) < 0) {
		fprintf(stderr, "\n    %s\n", err.what);
		CU_FAIL_FATAL("open");
	}
	n = scandir(pcap_vector_dir(), &names, pcap_is_vector, alphasort);
	CU_ASSERT_FATAL(n > 0);
	for (int i = 0; i < n; i++) {
		unsigned char *pdu;
		size_t len;
		int v6 = strstr(names[i]->d_name, "_v6") != NULL, proto, mn, type;
		struct sockaddr_storage src, dst;
		char s1[64], s2[64];
		uint16_t sport = (uint16_t)(40000 + i), dport = 5091;

		if ((pdu = pcap_vector(names[i]->d_name, &len)) == NULL || len == 0) {
			CU_FAIL("vector unreadable or empty");
			free(pdu);
			free(names[i]);
			continue;
		}
		type = pdu[0] & 0x1f;
		/* CTAR, CTAA, CTN, CTNA travel between MN and AR */
		mn = type == 1 || type == 2 || type == 8 || type == 9;
		proto = mn ? (mn_count++ % 2 ? IPPROTO_UDP : v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP) :
		    IPPROTO_SCTP;
		if (proto == IPPROTO_UDP)
			dport = 9899;
		/* written as tshark prints them: i + 1, as 2001:db8:0::1 would
		 * be shown as 2001:db8::1 */
		snprintf(s1, sizeof s1, v6 ? "2001:db8:%x::1" : "192.0.2.%u", (unsigned)i + 1);
		snprintf(s2, sizeof s2, v6 ? "2001:db8:ff::%x" : "198.51.100.%u", (unsigned)i + 100);
		if (v6) {
			*(struct sockaddr_in6 *)&src = pcap_sin6(s1, sport);
			*(struct sockaddr_in6 *)&dst = pcap_sin6(s2, dport);
		} else {
			*(struct sockaddr_in *)&src = pcap_sin(s1, sport);
			*(struct sockaddr_in *)&dst = pcap_sin(s2, dport);
		}
		CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&src, (struct sockaddr *)&dst,
		    proto, pdu, len), 0);
		if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
			fprintf(exp, "%d\t%s\t%s\t\t\t\n", type, s1, s2);
		else
			fprintf(exp, "%d\t%s\t%s\t%d\t%u\t%u\n", type, s1, s2,
			    proto == IPPROTO_SCTP ? 1 : 3, sport, dport);
		free(pdu);
		free(names[i]);
	}
	free(names);
	ctp_pcap_close(p);
	CU_ASSERT_EQUAL(fclose(exp), 0);
}

CTP_TEST_SUITE(pcap, pcap_suite_init, pcap_suite_clean,
    CTP_TEST(test_pcap_layout),
    CTP_TEST(test_pcap_errors),
    CTP_TEST(test_pcap_write_error),
    CTP_TEST(test_pcap_snaplen),
    CTP_TEST(test_pcap_export),
);
