/*
 * ctp_registry.h: loading feature plugins and finding the one that serves an FPT.
 *
 * ctp_registry_load() runs the ABI gate of ctp_feature.h: dlopen with
 * RTLD_NOW | RTLD_LOCAL, find CTP_FEATURE_SYMBOL, check abi_version and
 * size before reading anything else, check the descriptor (name, FPTs,
 * operations), refuse an FPT that is already served (or the core's 0xFF00),
 * call init.  Any failure dlcloses the object again and leaves the registry
 * as it was; err->what holds one precise line naming the file.
 */
#ifndef CTP_REGISTRY_H
#define CTP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_feature.h"
#include "ctp/ctp_val.h"

#define CTP_REGISTRY_MAX 32

struct ctp_plugin {
	const struct ctp_feature *feat;
	void                     *state;   /* from init */
	void                     *handle;  /* dlopen handle, NULL for built-ins */
	char                     *path;
};

struct ctp_registry;

struct ctp_registry *ctp_registry_new(const struct ctp_host_ops *ops, struct ctp_host *host);
/* Unloads every plugin (fini, then dlclose) in reverse load order. */
void ctp_registry_free(struct ctp_registry *r);

/* Load one .so; config may be NULL (an empty object is passed). */
int ctp_registry_load(struct ctp_registry *r, const char *path,
    const struct ctp_val *config, struct ctp_err *err);
/* Register a descriptor linked into the program (tests). */
int ctp_registry_add(struct ctp_registry *r, const struct ctp_feature *feat,
    const struct ctp_val *config, struct ctp_err *err);
/* Load every *.so in dir, in name order; stops at the first failure. */
int ctp_registry_load_dir(struct ctp_registry *r, const char *dir, struct ctp_err *err);

/* The plugin serving fpt, or NULL. */
const struct ctp_plugin *ctp_registry_find(const struct ctp_registry *r, uint16_t fpt);
const struct ctp_plugin *ctp_registry_by_name(const struct ctp_registry *r, const char *name);
size_t ctp_registry_count(const struct ctp_registry *r);
const struct ctp_plugin *ctp_registry_at(const struct ctp_registry *r, size_t i);

/*
 * Where plugins are looked for when none is named: $CTPD_PLUGIN_DIR, then
 * "plugins" next to the running program (the build tree), then the
 * compiled-in CTP_PLUGINDIR.  Returns the first that exists, or NULL.
 */
const char *ctp_registry_default_dir(char *buf, size_t len);

#endif
