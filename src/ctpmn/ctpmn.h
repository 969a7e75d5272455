/*
 * ctpmn.h: what the parts of ctpmn share.  ctpmn.c reads the command line
 * and prepares the mobile nodes (addresses, keys, tokens); ctpmn_run.c
 * runs their handovers over one ctp_mnio and reports.
 */
#ifndef CTPMN_H
#define CTPMN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_proto.h"

#define CTPMN_MAX_FPTS   64      /* request CDBs in one CTAR: 256 octets */
#define CTPMN_MAX_COUNT  65536   /* simulated MNs in one run */
#define CTPMN_CTN_MAX    8       /* distinct CTNs reported per MN */
#define CTPMN_MAX_SA     16      /* --sa files */

struct ctp_val;

/* One run: everything the command line says about the handovers. */
struct ctpmn_opts {
	const char             *cmd;         /* "handover" or "many", for messages */
	int                     predictive;
	int                     ack;         /* A flag: 1 unless --no-ack */
	int                     json;
	int                     verbose;
	uint16_t                udp_port;    /* the ARs' UDP port; 0 = ICMP */
	uint16_t                par_udp_port; /* pAR's, when not udp_port; 0 = the same */
	struct sockaddr_storage src;         /* --src, or AF_UNSPEC */
	const char             *ifname;
	const char             *plugins;     /* --plugins DIR, or NULL */
	struct ctp_addr         nar, par;
	uint16_t                fpts[CTPMN_MAX_FPTS];
	size_t                  nfpts;
	uint64_t                wait_ms;     /* predictive: the "handover" */
	uint64_t                retry_ms;    /* CT_REQUEST_RETRY */
	uint64_t                timeout_ms;  /* CT_RETRY_MAX */
	uint64_t                ctn_ms;      /* linger for a CTN after the last CTAA */
	double                  rate;        /* MNs started per second; 0 = at once */
	char                   *sa[CTPMN_MAX_SA];   /* --sa: the MN's SA files a CTN updates */
	size_t                  nsa;
	int                     many;        /* report as `ctpmn many` does */
};

/* One mobile node as the run needs it: no long-term key, only what the
 * key gave (the token, K_n), computed before the run starts. */
struct ctpmn_node {
	struct ctp_addr prev;
	uint32_t        seq;
	uint32_t        token;
	uint8_t         kn[CTP_NOTIFY_KEY_LEN];   /* wiped by ctpmn_run */
};

/*
 * Run the handovers of n nodes (base is nodes[0].prev: the nodes' addresses
 * are base + i, which is how replies are told apart).  Prints the report;
 * returns the exit status: 0 all ok, 1 failures, timeouts or a local
 * error.  Wipes every K_n before it returns.
 */
int ctpmn_run(const struct ctpmn_opts *o, struct ctpmn_node *nodes, size_t n);

/* The request CDBs of the run's CTARs exactly as sent: the token's input
 * (RFC 4067 2.7).  prev gives the family. */
int ctpmn_run_cdbs(const struct ctpmn_opts *o, const struct ctp_addr *prev, uint8_t *cdbs,
    size_t cap, size_t *cdblen);

/*
 * ctpmn_sa.c: apply a verified CTN's IPsec SA CDBs to the MN's SA files
 * (new SPI, new gateway address, PMTU); one object per file changed goes
 * into report.  Returns how many SAs were updated.
 */
struct ctp_msg;
int ctpmn_sa_apply(char *const *files, size_t nfiles, const struct ctp_msg *ctn,
    struct ctp_val *report);

/* ctpmn_esp.c: `ctpmn esp`, the MN's ESP traffic. */
int ctpmn_esp_main(int argc, char **argv);

/* base + i, in the family of base; 0, or -1 when it leaves the space. */
int ctpmn_addr_add(const struct ctp_addr *base, uint64_t i, struct ctp_addr *out);

#endif
