/*
 * ipsec_conf.h: the IPsec plugin's configuration, the content of its
 * <plugin name="ipsec"> element as ctp_conf.h turns it into a value tree
 * (each child element name an ARRAY of objects, attributes members,
 * all-digit values integers).  conf/ctpd.xsd checks the shape; this file
 * checks everything again (a value tree may also come from JSON, in tests)
 * and what a schema cannot say, and refuses what it does not know.
 *
 *   <sad backend="mem|xfrm" .../>            the SA database; the whole
 *                                            object goes to the backend's
 *                                            open (its own settings)
 *   <policy spi-conflict="deny|renegotiate|reassign"   (reassign)
 *           seq-margin="N"                    (16384, PROFILE 5.1)
 *           offer-upgrade="true|false"        (true)
 *           sg-identity="direct|indirect"     (direct, IPsec CT draft 6.2)
 *           pmtu="N"                          (none: no cap)
 *           forbid="ENCR_3DES ..."/>          IANA names this node refuses
 *                                             to take over (status 0x89)
 *   <path plane="data|control|management">   this node's forwarding path
 *     <hop address="A" sg="true|false"/>...   of that plane: this node
 *   </path>                                   first, the remote node last
 *   <sg-replace local="A" remote="A" peer="NAME"/>
 *                                            the SG at remote on a previous
 *                                            path is replaced by the SG at
 *                                            local on ours, reached as the
 *                                            configured peer NAME (absent:
 *                                            the peer at local's address);
 *                                            several for one remote are
 *                                            candidates in order
 *   <profile>                                the default user profile
 *     <encr id="ID|NAME" key-bits="N"/>...    ENCR_PREF, most preferred first
 *     <integ id="ID|NAME"/>...                INTEG_PREF, likewise
 *   </profile>
 *
 * Errors: CTP_E_CONFIG (CTP_E_NOMEM) with one line in err->what naming the
 * element, its position and the attribute: `ipsec: <path> 2, <hop> 3:
 * "address" "10.0.0.300" is not an IP address`.
 */
#ifndef IPSEC_CONF_H
#define IPSEC_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_profile.h"
#include "features/ipsec/ipsec_sad.h"

#define IPSEC_CONF_MAX_REPLACE 64
#define IPSEC_CONF_MAX_FORBID  16
#define IPSEC_CONF_PEER_MAX    64

enum ipsec_spi_policy {
	IPSEC_SPI_DENY = 1,      /* 0x80: the SA stays where it was */
	IPSEC_SPI_RENEGOTIATE,   /* 0x82: the MN negotiates a new SA */
	IPSEC_SPI_REASSIGN,      /* 0x81: a new SPI, the MN learns it by CTN */
};

enum ipsec_sg_identity {
	IPSEC_SG_DIRECT = 1,     /* the MN addresses its SG: tell it the new one */
	IPSEC_SG_INDIRECT,       /* the network redirects a virtual address */
};

/* One <sg-replace>: the SG at remote is replaced by the SG at local. */
struct ipsec_conf_replace {
	struct ctp_addr local, remote;
	char            peer[IPSEC_CONF_PEER_MAX];   /* "" = by local's address */
};

struct ipsec_conf_alg {
	uint8_t  type;           /* IPSEC_ALG_ENCR, IPSEC_ALG_INTEG */
	uint16_t id;
};

struct ipsec_conf {
	const struct ipsec_sad_ops *backend;          /* &ipsec_sad_mem by default */
	struct ctp_val             *sad;              /* owned: the <sad> object, or NULL */

	unsigned                    spi_conflict;     /* enum ipsec_spi_policy */
	uint32_t                    seq_margin;
	bool                        offer_upgrade;
	unsigned                    sg_identity;      /* enum ipsec_sg_identity */
	uint16_t                    pmtu;             /* 0: no cap */
	size_t                      nforbid;
	struct ipsec_conf_alg       forbid[IPSEC_CONF_MAX_FORBID];

	/* this node's paths, as the profile's PATH TLV carries them (index =
	 * plane - 1), and which hops are SGs to fetch from */
	bool                        has_paths;
	struct ipsec_path           path[IPSEC_PROFILE_PLANES];
	bool                        sg[IPSEC_PROFILE_PLANES][IPSEC_PROFILE_MAX_NODES];

	size_t                      nreplace;
	struct ipsec_conf_replace   replace[IPSEC_CONF_MAX_REPLACE];

	/* the default user profile: ENCR_PREF and INTEG_PREF only */
	struct ipsec_profile        profile;
};

/*
 * Parse config (an object; NULL = empty) into *c.  own[0..nown) are this
 * node's addresses: a path must start with one of them (when nown > 0).
 * On failure *c is cleared.  ipsec_conf_clear() frees what *c owns.
 */
int ipsec_conf_parse(const struct ctp_val *config, const struct ctp_addr *own, size_t nown,
    struct ipsec_conf *c, struct ctp_err *err);
void ipsec_conf_clear(struct ipsec_conf *c);

/* 1 when the policy refuses to take over an SA using (type, id). */
bool ipsec_conf_forbidden(const struct ipsec_conf *c, unsigned type, unsigned id);

/* "deny", "reassign", ... for logs. */
const char *ipsec_conf_spi_name(unsigned policy);

#endif
