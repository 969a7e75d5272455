/*
 * ctp_conf.h: ctpd's configuration, one XML file validated against the XSD
 * shipped with the project (conf/ctpd.xsd, compiled into the daemon).
 *
 * ctp_conf_load() does all of it: parse (no network, no entities), validate,
 * then check what a schema cannot say (addresses parse, peers are unique,
 * files exist and are readable, PSK lengths, timer ranges).  Every error is
 * one line "file:line: what"; the first is returned in err->what and all
 * are passed to the report callback when one is given.
 */
#ifndef CTP_CONF_H
#define CTP_CONF_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_chan.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_val.h"

#define CTP_CONF_MAX_PEERS   256
#define CTP_CONF_MAX_PLUGINS 16
#define CTP_CONF_MAX_ADDRS   8

/* The control socket when the file names none (ctpd and ctpctl agree). */
#define CTP_CONF_CONTROL_DEFAULT "/run/ctpd.sock"

enum ctp_role { CTP_ROLE_AR = 0x01, CTP_ROLE_SG = 0x02 };
enum ctp_backend {
	CTP_BACKEND_AUTO = 0,
	CTP_BACKEND_KERNEL,
	CTP_BACKEND_USRSCTP,
	CTP_BACKEND_MEM,      /* in-process tests only: not in the schema */
};

struct ctp_conf_peer {
	char                   *name;
	unsigned                roles;        /* enum ctp_role */
	struct sockaddr_storage addr;         /* address and SCTP port (kernel) */
	uint16_t                udp_port;     /* the peer's RFC 6951 port (usrsctp) */
	enum ctp_sec            sec;
	char                   *identity;     /* certificate identity; NULL = name */
	struct ctp_secret      *psk;          /* external PSK (tls), or NULL */
	char                   *psk_identity;
	int                     allow_keys_plain;
	int                     line;         /* where it is defined, for messages */
};

/*
 * A plugin's configuration is the content of its <plugin> element, as a value
 * tree: the element is an object; each attribute a member (an integer when
 * it is all digits, else a string); each child element name a member holding
 * an ARRAY of such objects (also when it occurs once), so a plugin reads
 * repeated and single elements alike; an element's text, when it has some,
 * the member "text".  The <plugin> element's own attributes (name, path)
 * are the loader's and not part of it, nor are attributes in a namespace
 * (xml:, xsi:).  The schema validates the ipsec and mld parts.
 */
struct ctp_conf_plugin {
	char           *name;     /* "ipsec" */
	char           *path;     /* the .so; NULL = <plugin dir>/<name>.so */
	struct ctp_val *config;   /* never NULL (an empty object at least) */
	int             line;
};

struct ctp_conf_timers {
	unsigned request_rate;      /* CT_REQUEST_RATE, per second */
	unsigned max_transfer_ms;   /* CT_MAX_TRANSFER_TIME */
	unsigned request_retry_ms;  /* CT_REQUEST_RETRY */
	unsigned retry_max_ms;      /* CT_RETRY_MAX */
	unsigned max_handover_ms;   /* CT_MAX_HANDOVER_TIME */
	unsigned dup_window_ms;     /* duplicate (seq, MN) suppression */
	unsigned handshake_ms;      /* TLS handshake deadline */
	unsigned reconnect_ms;      /* first retry after an association fails */
};

struct ctp_conf_limits {
	unsigned peers;                 /* associations and pending UDP sources */
	unsigned transfers;             /* live transfers in all */
	unsigned transfers_per_peer;
	unsigned cached_pctd;           /* predictive contexts held at nAR */
	unsigned cdbs_per_message;
	unsigned control_clients;
	size_t   queue_bytes;           /* per association send queue */
};

struct ctp_conf {
	char                  *file;
	char                  *node_name;
	unsigned               roles;
	struct ctp_addr        addrs[CTP_CONF_MAX_ADDRS];   /* the node's own */
	size_t                 naddrs;

	/* transport */
	enum ctp_backend       backend;
	struct sockaddr_storage bind;       /* address to bind (port unused) */
	uint16_t               sctp_port;   /* 5091 */
	uint16_t               udp_port;    /* 9899 */
	int                    udp_encaps;  /* kernel: RFC 6951 towards peers */
	uint32_t               ppid_plain, ppid_tls;

	/* security */
	struct ctp_tls_cfg     tls;         /* strings owned by the conf */

	struct ctp_conf_peer   peers[CTP_CONF_MAX_PEERS];
	size_t                 npeers;

	/* the mobile-node side */
	int                    mn_icmp;     /* listen for ICMP/ICMPv6 type 41/150 */
	uint16_t               mn_udp_port; /* UDP encoding, 0 = off */

	struct ctp_conf_plugin plugins[CTP_CONF_MAX_PLUGINS];
	size_t                 nplugins;
	char                  *plugin_dir;  /* NULL = the default */

	struct ctp_conf_timers timers;
	struct ctp_conf_limits limits;

	char                  *control;     /* UNIX socket path */
	char                  *pcap;        /* exported-PDU capture, or NULL */
	int                    log_level;   /* CTP_LOG_* */
	int                    log_syslog;
	char                  *user;        /* drop privileges to this user, or NULL */
};

/*
 * Defaults for every field (those of PROFILE.md), with no peers or plugins.
 * It allocates nothing, so string fields stay NULL: ctp_conf_load sets
 * control to CTP_CONF_CONTROL_DEFAULT when the file names no socket.
 */
void ctp_conf_defaults(struct ctp_conf *c);

/*
 * Load and check path.  report, when not NULL, receives every error line
 * (the first also lands in err->what).  *out is freed with ctp_conf_free.
 */
int ctp_conf_load(const char *path, void (*report)(const char *line, void *arg), void *arg,
    struct ctp_conf **out, struct ctp_err *err);
void ctp_conf_free(struct ctp_conf *c);

/* The peer called name, or NULL. */
const struct ctp_conf_peer *ctp_conf_peer(const struct ctp_conf *c, const char *name);
/* 1 when two peer definitions would need a new association (reload). */
int ctp_conf_peer_changed(const struct ctp_conf_peer *a, const struct ctp_conf_peer *b);

/* The XSD, compiled in (for ctpd --check-config and `ctpd --print-schema`). */
extern const char ctp_conf_xsd[];
extern const size_t ctp_conf_xsd_len;

#endif
