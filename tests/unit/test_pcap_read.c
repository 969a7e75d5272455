/*
 * test_pcap_read.c: the exported-PDU capture reader (ctp_pcap_read_*, in
 * ctp_pcap.c), which the replay tests feed with the daemons' captures.
 *
 * The reader must give back exactly what the writer wrote (both address
 * families, every port type, a record without addresses), read files of
 * the other byte order and with nanosecond time stamps written here by
 * hand from the format, skip tags it does not know, refuse every malformed
 * header, record and tag with the right code, offset and a line naming the
 * record, and survive every truncation and every single-bit flip of a
 * valid file (each mutant in a buffer of exactly its size, so the
 * sanitizers see any read past it).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctp/ctp_pcap.h"
#include "test.h"

static char pcap_read_dir[64];

static int
pcap_read_init(void)
{
	snprintf(pcap_read_dir, sizeof pcap_read_dir, "/tmp/ctp-test-pcap-read.XXXXXX");
	return mkdtemp(pcap_read_dir) ? 0 : -1;
}

static int
pcap_read_clean(void)
{
	char path[128];

	snprintf(path, sizeof path, "%s/rt.pcap", pcap_read_dir);
	unlink(path);
	rmdir(pcap_read_dir);
	return 0;
}

static const uint8_t ctar4[] = {   /* CTAR, IPv4, no CDBs (tests/vectors/msg_ctar_v4) */
	0x21, 0xc0, 0x00, 0x14, 0xc0, 0x00, 0x02, 0x0a, 0xc6, 0x33, 0x64, 0x01,
	0x00, 0x00, 0x00, 0x01, 0x8d, 0x73, 0xda, 0xab,
};
static const uint8_t ctc4[] = { 0x26, 0x80, 0x00, 0x08, 0xc0, 0x00, 0x02, 0x0a };

static void
pcap_read_sa(struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	memset(ss, 0, sizeof *ss);
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		CU_ASSERT_EQUAL(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		CU_ASSERT_EQUAL(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	}
}

static void
pcap_read_addr_is(const struct ctp_addr *a, const char *want)
{
	char buf[CTP_ADDRSTRLEN];

	ctp_addr_fmt(a, buf, sizeof buf);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "\n    address %s, want %s\n", buf, want);
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static uint64_t
pcap_read_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* What ctp_pcap_write wrote comes back, field by field. */
static void
test_pcap_read_roundtrip(void)
{
	struct sockaddr_storage a, b, m, u;
	struct ctp_pcap *p = NULL;
	struct ctp_pcap_reader r;
	struct ctp_pcap_rec rec;
	struct ctp_err err = { 0 };
	unsigned char *f;
	char path[128];
	size_t flen;
	uint64_t t0, t1;

	snprintf(path, sizeof path, "%s/rt.pcap", pcap_read_dir);
	pcap_read_sa(&a, "192.0.2.10", 0);
	pcap_read_sa(&b, "2001:db8::1", 5091);
	pcap_read_sa(&m, "::ffff:203.0.113.7", 9899);
	pcap_read_sa(&u, "2001:db8:1::fe", 40001);
	t0 = pcap_read_now_us();
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_open(path, &p, &err), 0);
	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&a, NULL, IPPROTO_ICMP, ctar4,
	    sizeof ctar4), 0);
	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&b, (struct sockaddr *)&u,
	    IPPROTO_SCTP, ctc4, sizeof ctc4), 0);
	CU_ASSERT_EQUAL(ctp_pcap_write(p, (struct sockaddr *)&m, (struct sockaddr *)&a,
	    IPPROTO_TCP, ctc4, sizeof ctc4), 0);
	CU_ASSERT_EQUAL(ctp_pcap_write(p, NULL, (struct sockaddr *)&u, IPPROTO_UDP, ctar4,
	    sizeof ctar4), 0);
	ctp_pcap_close(p);
	t1 = pcap_read_now_us();
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = ctp_test_read_file(path, &flen)));

	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_begin(&r, f, flen, &err), 0);
	/* 1: MN -> AR over ICMP: a source, no destination, no ports */
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_next(&r, &rec, &err), 1);
	CU_ASSERT_EQUAL(rec.index, 1);
	CU_ASSERT_EQUAL(rec.off, 24);
	CU_ASSERT(rec.ts_us + 1000000 >= t0 && rec.ts_us <= t1 + 1000000);
	CU_ASSERT_STRING_EQUAL(rec.name, "cxtp");
	CU_ASSERT_EQUAL(rec.proto, 0);
	pcap_read_addr_is(&rec.src, "192.0.2.10");
	CU_ASSERT_EQUAL(rec.dst.family, 0);
	CU_ASSERT_EQUAL(rec.sport, 0);
	CU_ASSERT_EQUAL(rec.dport, 0);
	CU_ASSERT_EQUAL_FATAL(rec.len, sizeof ctar4);
	CU_ASSERT(memcmp(rec.pdu, ctar4, sizeof ctar4) == 0);
	/* 2: SCTP over IPv6 with ports */
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_next(&r, &rec, &err), 1);
	CU_ASSERT_EQUAL(rec.index, 2);
	CU_ASSERT_EQUAL(rec.proto, IPPROTO_SCTP);
	pcap_read_addr_is(&rec.src, "2001:db8::1");
	pcap_read_addr_is(&rec.dst, "2001:db8:1::fe");
	CU_ASSERT_EQUAL(rec.sport, 5091);
	CU_ASSERT_EQUAL(rec.dport, 40001);
	CU_ASSERT_EQUAL_FATAL(rec.len, sizeof ctc4);
	CU_ASSERT(memcmp(rec.pdu, ctc4, sizeof ctc4) == 0);
	/* 3: a v4-mapped source comes back as IPv4 (as written); TCP */
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_next(&r, &rec, &err), 1);
	CU_ASSERT_EQUAL(rec.proto, IPPROTO_TCP);
	pcap_read_addr_is(&rec.src, "203.0.113.7");
	pcap_read_addr_is(&rec.dst, "192.0.2.10");
	CU_ASSERT_EQUAL(rec.sport, 9899);
	CU_ASSERT_EQUAL(rec.dport, 0);
	/* 4: UDP, no source address */
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_next(&r, &rec, &err), 1);
	CU_ASSERT_EQUAL(rec.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(rec.src.family, 0);
	pcap_read_addr_is(&rec.dst, "2001:db8:1::fe");
	CU_ASSERT_EQUAL(rec.dport, 40001);
	CU_ASSERT_EQUAL(rec.len, sizeof ctar4);
	/* the end, and it stays the end */
	CU_ASSERT_EQUAL(ctp_pcap_read_next(&r, &rec, &err), 0);
	CU_ASSERT_EQUAL(ctp_pcap_read_next(&r, &rec, &err), 0);
	CU_ASSERT_EQUAL(err.code, 0);
	free(f);
}

/*
 * The other byte order and nanosecond stamps, spelled out from the format:
 * a big-endian file with a record that names its dissector through a
 * table (tags 14 and 32, which the reader skips), IPv6 addresses, UDP.
 */
static void
test_pcap_read_big_endian_nsec(void)
{
	size_t len;
	unsigned char *f = ctp_test_hex(
	    "a1b23c4d 0002 0004 00000000 00000000 00040000 000000fc"   /* file header */
	    "00000001 3b9ac9ff 00000050 00000050"                      /* 1 s + 999999999 ns */
	    "000e0008 73637470 2e707069"                               /* table "sctp.ppi" */
	    "00200004 43585450"                                        /* its value: "CXTP" */
	    "00160010 20010db8000000000000000000000001"                /* 2001:db8::1 */
	    "00170010 20010db8000100000000000000000002"                /* 2001:db8:1::2 */
	    "00180004 00000003"                                        /* UDP */
	    "00000000"
	    "26800008 c000020a", &len);
	struct ctp_pcap_reader r;
	struct ctp_pcap_rec rec;
	struct ctp_err err = { 0 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL_FATAL(len, 24 + 16 + 80);
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_begin(&r, f, len, &err), 0);
	CU_ASSERT_FALSE(r.little);
	CU_ASSERT_TRUE(r.nsec);
	CU_ASSERT_EQUAL_FATAL(ctp_pcap_read_next(&r, &rec, &err), 1);
	CU_ASSERT_EQUAL(rec.ts_us, 1000000 + 999999);
	CU_ASSERT_STRING_EQUAL(rec.name, "");
	CU_ASSERT_EQUAL(rec.proto, IPPROTO_UDP);
	pcap_read_addr_is(&rec.src, "2001:db8::1");
	pcap_read_addr_is(&rec.dst, "2001:db8:1::2");
	CU_ASSERT_EQUAL_FATAL(rec.len, sizeof ctc4);
	CU_ASSERT(memcmp(rec.pdu, ctc4, sizeof ctc4) == 0);
	CU_ASSERT_EQUAL(ctp_pcap_read_next(&r, &rec, &err), 0);
	free(f);
}

/*
 * A little-endian (microsecond) file of one record with these tags and
 * PDU; origlen_extra is added to the original length, usec is the
 * sub-second field.
 */
static unsigned char *
pcap_read_file(const char *tags_hex, const char *pdu_hex, uint32_t origlen_extra, uint32_t usec,
    size_t *len)
{
	size_t tlen = 0, plen = 0;
	unsigned char *tags = ctp_test_hex(tags_hex, &tlen);
	unsigned char *pdu = ctp_test_hex(pdu_hex, &plen);
	unsigned char *f = malloc(24 + 16 + tlen + plen + 1);
	uint32_t hdr[4] = { 7, usec, (uint32_t)(tlen + plen), (uint32_t)(tlen + plen) + origlen_extra };
	static const uint8_t fh[24] = {
		0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x04, 0x00, 0xfc, 0x00, 0x00, 0x00,
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(tags);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pdu);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memcpy(f, fh, 24);
	for (int i = 0; i < 4; i++)
		for (int k = 0; k < 4; k++)
			f[24 + 4 * i + k] = (uint8_t)(hdr[i] >> (8 * k));
	memcpy(f + 40, tags, tlen);
	memcpy(f + 40 + tlen, pdu, plen);
	*len = 40 + tlen + plen;
	free(tags);
	free(pdu);
	return f;
}

/* Read every record; the first error (or 0) with err filled. */
static int
pcap_read_all(const unsigned char *f, size_t len, struct ctp_err *err, size_t *nrec)
{
	struct ctp_pcap_reader r;
	struct ctp_pcap_rec rec;
	int rc;

	*nrec = 0;
	if ((rc = ctp_pcap_read_begin(&r, f, len, err)) < 0)
		return rc;
	while ((rc = ctp_pcap_read_next(&r, &rec, err)) == 1)
		(*nrec)++;
	return rc;
}

#define NAME "000c0004 63787470 "
#define END  "00000000"
#define PDU  "26800008c000020a"

static void
test_pcap_read_malformed_records(void)
{
	static const struct {
		const char *tags, *pdu;
		uint32_t    extra, usec;
		int         code;
		size_t      off;
		const char *what;
	} cases[] = {
		/* the good record the others break */
		{ NAME "00140004 c0000201 00180004 00000001 00190004 000013e3" END, PDU, 0, 5, 0, 0, "" },
		{ NAME END, PDU, 0, 1000000, CTP_E_VALUE, 28, "1000000 microseconds" },
		{ NAME END, PDU, 4, 0, CTP_E_SHORT, 32, "snap length" },
		{ NAME END, PDU, (uint32_t)-1, 0, CTP_E_LENGTH, 32, "captured of a packet" },
		{ NAME, "", 0, 0, CTP_E_SHORT, 48, "no end tag" },
		{ NAME "0014", "", 0, 0, CTP_E_SHORT, 48, "no end tag" },
		{ "000c0010 63787470", "", 0, 0, CTP_E_SHORT, 40, "runs past the record" },
		{ NAME "00000004 00000000", PDU, 0, 0, CTP_E_VALUE, 48, "end tag has a value" },
		{ NAME "00140005 c000020100" END, PDU, 0, 0, CTP_E_VALUE, 52, "IPv4 address tag 20 has 5" },
		{ NAME "00170004 c0000201" END, PDU, 0, 0, CTP_E_VALUE, 52, "IPv6 address tag 23 has 4" },
		{ NAME "00180002 0001" END, PDU, 0, 0, CTP_E_VALUE, 52, "tag 24 has 2 octets" },
		{ NAME "00180004 00000009" END, PDU, 0, 0, CTP_E_UNSUPPORTED, 52, "port type 9" },
		{ NAME "001a0004 00011170" END, PDU, 0, 0, CTP_E_VALUE, 52, "70000 is above 65535" },
		{ NAME "00140004 c0000201 00160010 20010db8000000000000000000000001" END, PDU, 0, 0,
		  CTP_E_DUP, 60, "repeats a source address" },
		{ NAME "00190004 00000001 00190004 00000002" END, PDU, 0, 0, CTP_E_DUP, 60,
		  "repeats a port" },
		{ NAME "000c0004 63787470" END, PDU, 0, 0, CTP_E_DUP, 52, "repeats a dissector name" },
		{ "000c0004 00000000" END, PDU, 0, 0, CTP_E_VALUE, 44, "name of 0 octets" },
		{ "000c0020 6161616161616161616161616161616161616161616161616161616161616161" END, PDU,
		  0, 0, CTP_E_VALUE, 44, "name of 32 octets" },
		{ "000c0004 63780174" END, PDU, 0, 0, CTP_E_VALUE, 46, "octet 0x01" },
		/* unknown tags are skipped, however long, and an empty PDU is a record */
		{ "00240006 414243444546 000c0004 63787470" END, "", 0, 0, 0, 0, "" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ctp_err err = { 0 };
		size_t len, n;
		unsigned char *f = pcap_read_file(cases[i].tags, cases[i].pdu, cases[i].extra,
		    cases[i].usec, &len);
		int rc = pcap_read_all(f, len, &err, &n);

		if (rc != cases[i].code || (rc < 0 && (err.off != cases[i].off ||
		    !strstr(err.what, cases[i].what) || !strstr(err.what, "record 1")))) {
			fprintf(stderr, "\n    case %zu: rc %d (%s) at %zu: %s; want %d at %zu: %s\n", i,
			    rc, ctp_errname(rc), err.off, err.what, cases[i].code, cases[i].off,
			    cases[i].what);
			CU_FAIL("malformed record case");
		}
		if (rc == 0)
			CU_ASSERT_EQUAL(n, 1);
		free(f);
	}
}

/* The file header, and a second record after a good one. */
static void
test_pcap_read_malformed_files(void)
{
	static const struct {
		const char *hex;
		int         code;
		size_t      off;
		const char *what;
	} cases[] = {
		{ "", CTP_E_SHORT, 0, "0 octets" },
		{ "d4c3b2a1 02000400 00000000 00000000 00000400 fc0000", CTP_E_SHORT, 0, "23 octets" },
		{ "0a0d0d0a 1c000000 4d3c2b1a 01000000 ffffffff ffffffff", CTP_E_VALUE, 0, "pcapng" },
		{ "d4c3b2a1 01000400 00000000 00000000 00000400 fc000000", CTP_E_VALUE, 4, "version 1" },
		{ "a1b2c3d4 00030004 00000000 00000000 00040000 000000fc", CTP_E_VALUE, 4, "version 3" },
		{ "d4c3b2a1 02000400 00000000 00000000 00000400 01000000", CTP_E_UNSUPPORTED, 20,
		  "link type 1" },
		{ "d4c3b2a1 02000400 00000000 00000000 00000400 fc000000 07000000 00000000 0c00",
		  CTP_E_SHORT, 24, "10 octets left" },
		{ "d4c3b2a1 02000400 00000000 00000000 00000400 fc000000"
		  "07000000 00000000 0c000000 0c000000 000c0004 63787470 00000000"
		  "08000000 00000000 10000000 10000000 000c0004 63787470 00000000",
		  CTP_E_SHORT, 60, "record 2: 16 octets announced, 12 left" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ctp_err err = { 0 };
		size_t len = 0, n;
		unsigned char *f = cases[i].hex[0] ? ctp_test_hex(cases[i].hex, &len) : calloc(1, 1);
		int rc;

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		rc = pcap_read_all(f, len, &err, &n);
		if (rc != cases[i].code || err.off != cases[i].off || !strstr(err.what, cases[i].what)) {
			fprintf(stderr, "\n    case %zu: rc %d (%s) at %zu: %s; want %d at %zu: %s\n", i,
			    rc, ctp_errname(rc), err.off, err.what, cases[i].code, cases[i].off,
			    cases[i].what);
			CU_FAIL("malformed file case");
		}
		free(f);
	}
	/* the reader refuses a missing buffer or reader, and says so */
	{
		struct ctp_pcap_reader r;
		struct ctp_err err = { 0 };

		CU_ASSERT_EQUAL(ctp_pcap_read_begin(NULL, NULL, 0, &err), CTP_E_INVAL);
		CU_ASSERT_EQUAL(ctp_pcap_read_begin(&r, NULL, 1, NULL), CTP_E_INVAL);
		CU_ASSERT_EQUAL(ctp_pcap_read_next(NULL, NULL, NULL), CTP_E_INVAL);
	}
}

/* Every truncation and every single-bit flip of the round-trip file. */
static void
pcap_read_mutant(const unsigned char *src, size_t len, size_t *accepted, size_t *refused)
{
	unsigned char *f = malloc(len ? len : 1);
	struct ctp_pcap_reader r;
	struct ctp_pcap_rec rec;
	struct ctp_err err = { 0 };
	size_t n = 0;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memcpy(f, src, len);
	if ((rc = ctp_pcap_read_begin(&r, f, len, &err)) == 0) {
		while ((rc = ctp_pcap_read_next(&r, &rec, &err)) == 1) {
			n++;
			/* the PDU lies inside the file, after its header */
			CU_ASSERT(rec.pdu >= f + 24 + 16 && rec.pdu + rec.len <= f + len);
			CU_ASSERT(rec.name[sizeof rec.name - 1] == 0);
			CU_ASSERT(n <= len / 16);
		}
	}
	if (rc < 0) {
		CU_ASSERT_EQUAL(rc, err.code);
		CU_ASSERT(err.off <= len);
		CU_ASSERT(err.what[0] != 0);
		(*refused)++;
	} else {
		CU_ASSERT_EQUAL(rc, 0);
		(*accepted)++;
	}
	free(f);
}

static void
test_pcap_read_mutants(void)
{
	unsigned char *f, *m;
	char path[128];
	size_t len, accepted = 0, refused = 0;

	snprintf(path, sizeof path, "%s/rt.pcap", pcap_read_dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = ctp_test_read_file(path, &len)));   /* from the round trip */
	CU_ASSERT_FATAL(len > 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL((m = malloc(len)));
	for (size_t cut = 0; cut < len; cut++)
		pcap_read_mutant(f, cut, &accepted, &refused);
	for (size_t bit = 0; bit < 8 * len; bit++) {
		memcpy(m, f, len);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		pcap_read_mutant(m, len, &accepted, &refused);
	}
	/* truncations at a record boundary are whole files; most cuts are not */
	CU_ASSERT(refused > len);
	CU_ASSERT(accepted > 0);
	free(m);
	free(f);
}

CTP_TEST_SUITE(pcap_read, pcap_read_init, pcap_read_clean,
    CTP_TEST(test_pcap_read_roundtrip),
    CTP_TEST(test_pcap_read_big_endian_nsec),
    CTP_TEST(test_pcap_read_malformed_records),
    CTP_TEST(test_pcap_read_malformed_files),
    CTP_TEST(test_pcap_read_mutants),
);
