/*
 * ctp_feature.h: the feature plugin ABI, the only way a plugin sees the daemon.
 *
 * A plugin is a shared object exporting one symbol, CTP_FEATURE_SYMBOL, a
 * const struct ctp_feature.  The loader (src/ctp/ctp_registry.c) opens it
 * with RTLD_NOW | RTLD_LOCAL and, before touching anything else, checks
 * abi_version == CTP_FEATURE_ABI_VERSION and size == sizeof(struct
 * ctp_feature); then that every FPT it claims is free (0xFF00 belongs to the
 * core).  Any failure unloads it again.
 *
 * Plugins do not link against the daemon.  They link the codec library
 * (cursor, TLV tables, values) statically and reach the daemon only through
 * the host operations they are given at init, so a unit test can load a
 * plugin with a fake host.
 *
 * Threading: every operation runs on the daemon's single loop thread.
 * Memory: what an operation returns in a struct ctp_val belongs to the
 * caller; a plugin's state belongs to the plugin until fini.
 */
#ifndef CTP_FEATURE_H
#define CTP_FEATURE_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_val.h"

#define CTP_FEATURE_ABI_VERSION 1
#define CTP_FEATURE_SYMBOL      "ctp_feature"
#define CTP_FEATURE_MAX_FPTS    16

struct ctp_host;   /* opaque: the daemon, or a test's fake */

/* What the daemon offers a plugin.  size lets the table grow compatibly. */
struct ctp_host_ops {
	uint32_t size;
	/* Log a line (level as in ctp_log.h); func names the caller. */
	void (*log)(struct ctp_host *host, int level, const char *func, const char *msg);
	/* Milliseconds on the loop's monotonic clock. */
	uint64_t (*now_ms)(struct ctp_host *host);
};

struct ctp_feature {
	uint32_t        abi_version;   /* CTP_FEATURE_ABI_VERSION */
	uint32_t        size;          /* sizeof(struct ctp_feature) */
	const char     *name;          /* "ipsec": also the name in configuration */
	const char     *version;
	const uint16_t *fpts;          /* the FPTs this plugin serves */
	size_t          nfpts;         /* 1 .. CTP_FEATURE_MAX_FPTS */

	/*
	 * Lifecycle.  config is the plugin's part of the configuration (an
	 * object, possibly empty; never NULL).  init returns 0 and sets
	 * *state, or CTP_E_* with err filled.
	 */
	int  (*init)(const struct ctp_host_ops *ops, struct ctp_host *host,
	    const struct ctp_val *config, void **state, struct ctp_err *err);
	void (*fini)(void *state);

	/*
	 * Codec.  check validates a received CDB completely (structure and
	 * meaning); family is the message's address family (4 or 6).  On
	 * failure it returns CTP_E_* with err->off in message offsets and
	 * err->status the CXTP status to report for this CDB.
	 */
	int (*cdb_check)(void *state, const struct ctp_cdb *cdb, unsigned family,
	    struct ctp_err *err);
	/*
	 * describe adds the CDB's fields to obj (an object that already holds
	 * "fpt", "feature", "length", "p" and, when P, "pv").  The keys are
	 * the field names of proto/cxtp.def and RFC 4067 in snake_case.
	 */
	int (*cdb_describe)(void *state, const struct ctp_cdb *cdb, unsigned family,
	    struct ctp_val *obj, struct ctp_err *err);
	/*
	 * build is describe's reverse: writes one whole CDB (header included,
	 * with ctp_cdb_begin/ctp_cdb_end) from obj into w.  The "length" and
	 * "p"/"pv" keys of obj, when present, must be honoured so that
	 * describe then build reproduces the bytes.
	 */
	int (*cdb_build)(void *state, uint16_t fpt, const struct ctp_val *obj,
	    struct ctp_wbuf *w, struct ctp_err *err);
};

#endif
