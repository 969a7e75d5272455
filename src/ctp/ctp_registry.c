/*
 * ctp_registry.c: the feature plugin loader (the ABI gate of ctp_feature.h).
 *
 * Order matters and follows nginx's module signature check: nothing of a
 * descriptor is read beyond abi_version and size until both match, because a
 * plugin built against another ABI may lay the rest out differently.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctp/ctp_proto.h"
#include "ctp/ctp_registry.h"

#ifndef CTP_PLUGINDIR
#define CTP_PLUGINDIR "/usr/local/lib/ctpd"
#endif

struct ctp_registry {
	const struct ctp_host_ops *ops;
	struct ctp_host           *host;
	size_t                     n;
	struct ctp_plugin          p[CTP_REGISTRY_MAX];
};

struct ctp_registry *
ctp_registry_new(const struct ctp_host_ops *ops, struct ctp_host *host)
{
	struct ctp_registry *r = calloc(1, sizeof *r);

	if (r) {
		r->ops = ops;
		r->host = host;
	}
	return r;
}

void
ctp_registry_free(struct ctp_registry *r)
{
	if (!r)
		return;
	while (r->n > 0) {
		struct ctp_plugin *p = &r->p[--r->n];

		if (p->feat->fini)
			p->feat->fini(p->state);
		if (p->handle)
			dlclose(p->handle);
		free(p->path);
	}
	free(r);
}

const struct ctp_plugin *
ctp_registry_find(const struct ctp_registry *r, uint16_t fpt)
{
	for (size_t i = 0; r && i < r->n; i++)
		for (size_t k = 0; k < r->p[i].feat->nfpts; k++)
			if (r->p[i].feat->fpts[k] == fpt)
				return &r->p[i];
	return NULL;
}

const struct ctp_plugin *
ctp_registry_by_name(const struct ctp_registry *r, const char *name)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (strcmp(r->p[i].feat->name, name) == 0)
			return &r->p[i];
	return NULL;
}

size_t
ctp_registry_count(const struct ctp_registry *r)
{
	return r ? r->n : 0;
}

const struct ctp_plugin *
ctp_registry_at(const struct ctp_registry *r, size_t i)
{
	return r && i < r->n ? &r->p[i] : NULL;
}

/* Everything after the ABI gate: the descriptor must make sense and its FPTs
 * must be free.  where names the plugin in messages. */
static int
check_descriptor(const struct ctp_registry *r, const struct ctp_feature *f, const char *where,
    struct ctp_err *err)
{
	if (!f->name || !*f->name || strlen(f->name) > 32)
		return ctp_err_set(err, CTP_E_PLUGIN, 0, 0, "%s: descriptor has no usable name", where);
	if (!f->fpts || f->nfpts == 0 || f->nfpts > CTP_FEATURE_MAX_FPTS)
		return ctp_err_set(err, CTP_E_PLUGIN, 0, 0, "%s (%s): serves %zu FPTs (1..%d allowed)",
		    where, f->name, f->nfpts, CTP_FEATURE_MAX_FPTS);
	if (!f->init || !f->fini || !f->cdb_check || !f->cdb_describe || !f->cdb_build)
		return ctp_err_set(err, CTP_E_PLUGIN, 0, 0, "%s (%s): an operation is missing",
		    where, f->name);
	if (ctp_registry_by_name(r, f->name))
		return ctp_err_set(err, CTP_E_EXIST, 0, 0, "%s: a plugin named \"%s\" is already loaded",
		    where, f->name);
	for (size_t i = 0; i < f->nfpts; i++) {
		const struct ctp_plugin *other;

		if (f->fpts[i] == CTP_FPT_CONTROL || f->fpts[i] == 0)
			return ctp_err_set(err, CTP_E_EXIST, 0, 0,
			    "%s (%s): FPT 0x%04x is reserved for the core", where, f->name, f->fpts[i]);
		for (size_t k = 0; k < i; k++)
			if (f->fpts[k] == f->fpts[i])
				return ctp_err_set(err, CTP_E_EXIST, 0, 0,
				    "%s (%s): FPT 0x%04x listed twice", where, f->name, f->fpts[i]);
		if ((other = ctp_registry_find(r, f->fpts[i])) != NULL)
			return ctp_err_set(err, CTP_E_EXIST, 0, 0,
			    "%s (%s): FPT 0x%04x is already served by plugin %s (%s)", where,
			    f->name, f->fpts[i], other->feat->name,
			    other->path ? other->path : "built in");
	}
	return 0;
}

static int
attach(struct ctp_registry *r, const struct ctp_feature *f, void *handle, const char *path,
    const struct ctp_val *config, struct ctp_err *err)
{
	const char *where = path ? path : f->name;
	struct ctp_val *empty = NULL;
	struct ctp_plugin *p;
	void *state = NULL;
	int rc, had;

	if (r->n == CTP_REGISTRY_MAX)
		return ctp_err_set(err, CTP_E_LIMIT, 0, 0, "%s: more than %d plugins", where,
		    CTP_REGISTRY_MAX);
	if ((rc = check_descriptor(r, f, where, err)) < 0)
		return rc;
	if (!config && (config = empty = ctp_val_obj()) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	had = err && err->code;
	rc = f->init(r->ops, r->host, config, &state, err);
	ctp_val_free(empty);
	if (rc < 0) {
		/* the plugin's own line (first error wins) would not name the
		 * file: wrap it in one that does */
		char why[sizeof err->what];

		snprintf(why, sizeof why, "%s", err && err->code && !had ? err->what :
		    ctp_strerror(rc));
		if (!had)
			ctp_err_clear(err);
		return ctp_err_set(err, rc, 0, 0, "%s (%s): init failed: %s", where, f->name, why);
	}
	p = &r->p[r->n];
	memset(p, 0, sizeof *p);
	p->feat = f;
	p->state = state;
	p->handle = handle;
	if (path && (p->path = strdup(path)) == NULL) {
		f->fini(state);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	r->n++;
	return 0;
}

int
ctp_registry_add(struct ctp_registry *r, const struct ctp_feature *f,
    const struct ctp_val *config, struct ctp_err *err)
{
	if (f->abi_version != CTP_FEATURE_ABI_VERSION || f->size != sizeof *f)
		return ctp_err_set(err, CTP_E_ABI, 0, 0, "built-in plugin: ABI %u/size %u, expected %u/%zu",
		    f->abi_version, f->size, CTP_FEATURE_ABI_VERSION, sizeof *f);
	return attach(r, f, NULL, NULL, config, err);
}

int
ctp_registry_load(struct ctp_registry *r, const char *path, const struct ctp_val *config,
    struct ctp_err *err)
{
	const struct ctp_feature *f;
	void *h;
	int rc;

	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return ctp_err_set(err, CTP_E_PLUGIN, 0, 0, "%s: cannot load: %s", path, dlerror());
	if ((f = dlsym(h, CTP_FEATURE_SYMBOL)) == NULL) {
		dlclose(h);
		return ctp_err_set(err, CTP_E_PLUGIN, 0, 0, "%s: no symbol %s: not a ctpd plugin",
		    path, CTP_FEATURE_SYMBOL);
	}
	if (f->abi_version != CTP_FEATURE_ABI_VERSION) {
		rc = ctp_err_set(err, CTP_E_ABI, 0, 0, "%s: plugin ABI version %u, ctpd speaks %u",
		    path, f->abi_version, CTP_FEATURE_ABI_VERSION);
		dlclose(h);
		return rc;
	}
	if (f->size != sizeof *f) {
		rc = ctp_err_set(err, CTP_E_ABI, 0, 0,
		    "%s: descriptor is %u octets, ctpd expects %zu (built against other headers)",
		    path, f->size, sizeof *f);
		dlclose(h);
		return rc;
	}
	if ((rc = attach(r, f, h, path, config, err)) < 0)
		dlclose(h);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ctp_registry_load_dir(struct ctp_registry *r, const char *dir, struct ctp_err *err)
{
	char *names[CTP_REGISTRY_MAX];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: cannot open plugin folder", dir);
	while ((de = readdir(d)) != NULL && rc == 0) {
		size_t l = strlen(de->d_name);

		if (l < 4 || strcmp(de->d_name + l - 3, ".so") != 0)
			continue;
		if (n == CTP_REGISTRY_MAX)
			rc = ctp_err_set(err, CTP_E_LIMIT, 0, 0, "%s: more than %d plugins", dir,
			    CTP_REGISTRY_MAX);
		else if ((names[n] = strdup(de->d_name)) == NULL)
			rc = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
		else
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (rc == 0) {
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			rc = ctp_registry_load(r, path, NULL, err);
		}
		free(names[i]);
	}
	return rc;
}

const char *
ctp_registry_default_dir(char *buf, size_t len)
{
	const char *env = getenv("CTPD_PLUGIN_DIR");
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return buf;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) > 0) {
		char *slash;

		exe[n] = 0;
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = 0;
			snprintf(buf, len, "%s/plugins", exe);
			if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
				return buf;
		}
	}
	snprintf(buf, len, "%s", CTP_PLUGINDIR);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return buf;
	return NULL;
}
