/*
 * test_registry.c: the plugin loader's ABI gate (src/ctp/ctp_registry.c),
 * with the test plugins of tests/plugins/ (built into BUILD/tests/plugins/
 * by `make check`) and the real plugins of BUILD/plugins/.
 *
 * The plugins report init, fini and build through the host's log callback;
 * the test records those lines.  Whether a refused plugin was unloaded is
 * asked of the dynamic linker itself: dlopen(RTLD_NOLOAD) finds an object
 * only while it is still mapped.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "test.h"

/* An assertion that says what went wrong; cond is evaluated once. */
#define CHECK(cond, ...) do {                                                \
	int check_ok_ = !!(cond);                                            \
	if (!check_ok_) {                                                    \
		fprintf(stderr, "\n  %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
	}                                                                    \
	CU_assertImplementation(check_ok_, __LINE__, #cond, __FILE__, "",    \
	    CU_FALSE);                                                       \
} while (0)

/* ---- the fake host ---------------------------------------------------------- */

struct ctp_host {
	char   lines[64][200];
	size_t n;
	int    magic;
};

static struct ctp_host host = { .magic = 0x5eed };

static void
host_log(struct ctp_host *h, int level, const char *func, const char *msg)
{
	CU_ASSERT_PTR_EQUAL(h, &host);   /* plugins pass our host back unchanged */
	if (h->n < sizeof h->lines / sizeof h->lines[0])
		snprintf(h->lines[h->n++], sizeof h->lines[0], "%d %s %s", level, func, msg);
}

static uint64_t
host_now(struct ctp_host *h)
{
	(void)h;
	return 1000;
}

static const struct ctp_host_ops ops = { .size = sizeof ops, .log = host_log, .now_ms = host_now };

/* Index of the first log line containing s after from, or -1. */
static int
logged(const char *s, int from)
{
	for (size_t i = (size_t)(from + 1); i < host.n; i++)
		if (strstr(host.lines[i], s))
			return (int)i;
	return -1;
}

static void
log_reset(void)
{
	host.n = 0;
}

/* ---- paths ------------------------------------------------------------------ */

static const char *
test_plugin(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/plugins/%s.so", ctp_test_build_dir(), name);
	return buf;
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* 1 while the object at path is mapped into the process. */
static int
still_loaded(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (h)
		dlclose(h);
	return h != NULL;
}

static int
suite_init(void)
{
	char p[PATH_MAX];

	if (!exists(test_plugin("good", p, sizeof p))) {
		fprintf(stderr, "\n*** registry: %s is missing: build the test plugins first "
		    "(make check, or make %s)\n", p, p);
		return 1;   /* CUnit counts the suite as failed */
	}
	return 0;
}

/* ---- a good plugin ------------------------------------------------------------- */

static void
test_good_plugin(void)
{
	char path[PATH_MAX];
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	struct ctp_val *cfg = NULL;
	const struct ctp_plugin *p;
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	log_reset();
	test_plugin("good", path, sizeof path);
	CU_ASSERT_FALSE(still_loaded(path));
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_json_parse("{\"tag\":\"t42\"}", 13, &cfg, &err), 0);
	CHECK(ctp_registry_load(r, path, cfg, &err) == 0, "%s", err.what);
	ctp_val_free(cfg);   /* the plugin must not keep it */
	CU_ASSERT_EQUAL(ctp_registry_count(r), 1);
	CU_ASSERT(still_loaded(path));
	CHECK(logged("good: init tag=t42", -1) >= 0, "init with the configuration was not logged");

	p = ctp_registry_find(r, 0x7f01);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->feat->name, "good");
	CU_ASSERT_STRING_EQUAL(p->path, path);
	CU_ASSERT_PTR_NOT_NULL(p->handle);
	CU_ASSERT_PTR_NOT_NULL(p->state);
	CU_ASSERT_PTR_EQUAL(ctp_registry_find(r, 0x7f02), p);
	CU_ASSERT_PTR_NULL(ctp_registry_find(r, 0x7f03));
	CU_ASSERT_PTR_NULL(ctp_registry_find(r, CTP_FPT_CONTROL));
	CU_ASSERT_PTR_EQUAL(ctp_registry_by_name(r, "good"), p);
	CU_ASSERT_PTR_NULL(ctp_registry_by_name(r, "bad"));
	CU_ASSERT_PTR_EQUAL(ctp_registry_at(r, 0), p);
	CU_ASSERT_PTR_NULL(ctp_registry_at(r, 1));

	/* without a configuration the plugin gets an empty object */
	ctp_registry_free(r);
	CU_ASSERT(logged("good: fini", -1) >= 0);
	CU_ASSERT_FALSE(still_loaded(path));
	log_reset();
	r = ctp_registry_new(&ops, &host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CHECK(ctp_registry_load(r, path, NULL, &err) == 0, "%s", err.what);
	CU_ASSERT(logged("good: init tag=-", -1) >= 0);
	CU_ASSERT_EQUAL(logged("fini", -1), -1);
	ctp_registry_free(r);
	CU_ASSERT_EQUAL(logged("good: fini", -1), 1);   /* exactly once, after init */
	CU_ASSERT_EQUAL(logged("good: fini", 1), -1);
	CU_ASSERT_FALSE(still_loaded(path));
	ctp_registry_free(NULL);
}

/* The registry hands CDBs of the plugin's FPTs to it: check, describe, build. */
static void
test_good_plugin_serves(void)
{
	char path[PATH_MAX];
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	static struct ctp_msg m;
	struct ctp_val *v = NULL;
	struct ctp_err err;
	uint8_t *b, out[128];
	size_t n, nout = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	log_reset();
	ctp_err_clear(&err);
	CHECK(ctp_registry_load(r, test_plugin("good", path, sizeof path), NULL, &err) == 0,
	    "%s", err.what);
	/* CTD IPv4 with a CDB of FPT 0x7F01 (P, pv) and one of 0x7F02 */
	b = ctp_test_hex("23 c0 00 24 00 00 00 05 c0 00 02 0a"
	    "7f 01 02 80 12 34 56 78 01 02 03 00 00 00 00 00"
	    "7f 02 01 00 aa bb cc dd", &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, r, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_describe(&m, r, &v, &err), 0);
	{
		const struct ctp_val *cdbs = ctp_val_get(v, "cdbs");
		const char *s = "";

		CU_ASSERT_FATAL(cdbs && cdbs->kind == CTP_V_ARR && cdbs->n == 2);
		CU_ASSERT_EQUAL(ctp_val_get_str(cdbs->items[0], "feature", &s, NULL), 0);
		CU_ASSERT_STRING_EQUAL(s, "good");
		CU_ASSERT_EQUAL(ctp_val_get_str(cdbs->items[0], "payload", &s, NULL), 0);
		CU_ASSERT_STRING_EQUAL(s, "0102030000000000");
	}
	CU_ASSERT_EQUAL(ctp_msg_build(v, r, out, sizeof out, &nout, &err), 0);
	CU_ASSERT(nout == n && memcmp(out, b, n) == 0);
	CU_ASSERT(logged("good: build", -1) >= 0);   /* the plugin built its CDBs */
	ctp_val_free(v);
	/* the plugin's verdict reaches the caller: data starting with 0xEE */
	b[20] = 0xee;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(&m, b, n, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, r, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.status, 0x80);
	CU_ASSERT_EQUAL(err.off, 20);
	/* without the registry, the same CDB is opaque and accepted */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(&m, NULL, &err), 0);
	free(b);
	ctp_registry_free(r);
}

/* Two plugins: both served; fini in reverse load order. */
static void
test_two_plugins(void)
{
	char p1[PATH_MAX], p2[PATH_MAX];
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	struct ctp_err err;
	int f1, f2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	log_reset();
	ctp_err_clear(&err);
	CHECK(ctp_registry_load(r, test_plugin("good", p1, sizeof p1), NULL, &err) == 0, "%s",
	    err.what);
	CHECK(ctp_registry_load(r, test_plugin("second", p2, sizeof p2), NULL, &err) == 0, "%s",
	    err.what);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 2);
	CU_ASSERT_STRING_EQUAL(ctp_registry_find(r, 0x7f03)->feat->name, "second");
	CU_ASSERT_STRING_EQUAL(ctp_registry_find(r, 0x7f01)->feat->name, "good");
	CU_ASSERT_STRING_EQUAL(ctp_registry_at(r, 1)->feat->name, "second");
	ctp_registry_free(r);
	f1 = logged("good: fini", -1);
	f2 = logged("second: fini", -1);
	CU_ASSERT(f1 >= 0 && f2 >= 0 && f2 < f1);
	CU_ASSERT_FALSE(still_loaded(p1));
	CU_ASSERT_FALSE(still_loaded(p2));
}

/* ---- refused plugins ----------------------------------------------------------- */

/*
 * Load name into r (which may already hold good.so): expect code, a message
 * naming the file, the registry as it was, and the object unloaded.
 */
static void
refused(struct ctp_registry *r, const char *name, int code, const char *says)
{
	char path[PATH_MAX];
	size_t before = ctp_registry_count(r);
	struct ctp_err err;
	int rc;

	test_plugin(name, path, sizeof path);
	CHECK(exists(path), "%s is missing", path);
	for (int round = 0; round < 2; round++) {   /* twice: nothing is left behind */
		ctp_err_clear(&err);
		rc = ctp_registry_load(r, path, NULL, &err);
		CHECK(rc == code && err.code == code, "%s: %s, want %s (%s)", name,
		    ctp_errname(rc), ctp_errname(code), err.what);
		CHECK(strstr(err.what, path) != NULL, "%s: \"%s\" does not name the file", name,
		    err.what);
		CHECK(strstr(err.what, says) != NULL, "%s: \"%s\" does not say \"%s\"", name,
		    err.what, says);
		CU_ASSERT_EQUAL(ctp_registry_count(r), before);
		CHECK(!still_loaded(path), "%s still loaded after it was refused", name);
	}
}

static void
test_refused_plugins(void)
{
	struct ctp_registry *r = ctp_registry_new(&ops, &host);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	log_reset();
	{
		char says[64];

		snprintf(says, sizeof says, "ABI version %d", CTP_FEATURE_ABI_VERSION + 1);
		refused(r, "badabi", CTP_E_ABI, says);
	}
	refused(r, "badsize", CTP_E_ABI, "descriptor is");
	refused(r, "noop", CTP_E_PLUGIN, "operation is missing");
	refused(r, "nosym", CTP_E_PLUGIN, "ctp_feature");
	refused(r, "corefpt", CTP_E_EXIST, "0xff00");
	refused(r, "initfail", CTP_E_CONFIG, "refusing to start");
	CU_ASSERT(logged("initfail: init refused", -1) >= 0);   /* init did run */
	CU_ASSERT_EQUAL(logged("fini", -1), -1);                /* and no fini after it */
	/* nothing was registered by any of them */
	CU_ASSERT_EQUAL(ctp_registry_count(r), 0);
	for (unsigned fpt = 0x7f00; fpt <= 0x7f0f; fpt++)
		CU_ASSERT_PTR_NULL(ctp_registry_find(r, (uint16_t)fpt));
	ctp_registry_free(r);
}

/* A second plugin claiming a served FPT (or name) is refused; the first stays. */
static void
test_duplicates(void)
{
	char path[PATH_MAX];
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	const struct ctp_plugin *p;
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	ctp_err_clear(&err);
	CHECK(ctp_registry_load(r, test_plugin("good", path, sizeof path), NULL, &err) == 0,
	    "%s", err.what);
	p = ctp_registry_find(r, 0x7f02);
	refused(r, "dupfpt", CTP_E_EXIST, "0x7f02 is already served by plugin good");
	refused(r, "dupname", CTP_E_EXIST, "\"good\"");
	/* the same file twice: its name is taken */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_registry_load(r, path, NULL, &err), CTP_E_EXIST);
	CU_ASSERT(strstr(err.what, path) != NULL);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 1);
	CU_ASSERT_PTR_EQUAL(ctp_registry_find(r, 0x7f02), p);
	CU_ASSERT_PTR_EQUAL(ctp_registry_find(r, 0x7f01), p);
	CU_ASSERT_PTR_NULL(ctp_registry_find(r, 0x7f09));   /* dupfpt's other FPT */
	CU_ASSERT(still_loaded(path));   /* the refusal did not unload the first */
	ctp_registry_free(r);
	CU_ASSERT_FALSE(still_loaded(path));
}

static void
test_missing_file(void)
{
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	static const char *paths[] = {
		"/nonexistent/ctpd/plugin.so", "build/no-such-plugin.so", "",
	};
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_registry_load(r, paths[i], NULL, &err), CTP_E_PLUGIN);
		CU_ASSERT_EQUAL(err.code, CTP_E_PLUGIN);
		CHECK(strstr(err.what, paths[i]) != NULL, "\"%s\" does not name %s", err.what,
		    paths[i]);
	}
	/* not a shared object at all */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_registry_load(r, "tests/unit/test.h", NULL, &err), CTP_E_PLUGIN);
	CU_ASSERT(strstr(err.what, "tests/unit/test.h") != NULL);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_registry_load_dir(r, "/nonexistent/ctpd", &err), CTP_E_IO);
	CU_ASSERT(strstr(err.what, "/nonexistent/ctpd") != NULL);
	ctp_registry_free(r);
}

/* The absolute path of a test plugin (for symbolic links). */
static const char *
abs_plugin(const char *name, char *buf, size_t len)
{
	char cwd[PATH_MAX], rel[PATH_MAX];

	test_plugin(name, rel, sizeof rel);
	if (rel[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		snprintf(buf, len, "%s", rel);
	else
		snprintf(buf, len, "%s/%s", cwd, rel);
	return buf;
}

/* load_dir: every *.so in name order; other files are ignored. */
static void
test_load_dir(void)
{
	char dir[] = "/tmp/ctp-registry-XXXXXX", path[2 * PATH_MAX + 2], link[PATH_MAX];
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	struct ctp_err err;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	/* b-second.so, a-good.so, and a text file */
	abs_plugin("second", path, sizeof path);
	snprintf(link, sizeof link, "%s/b-second.so", dir);
	CU_ASSERT_EQUAL(symlink(path, link), 0);
	abs_plugin("good", path, sizeof path);
	snprintf(link, sizeof link, "%s/a-good.so", dir);
	CU_ASSERT_EQUAL(symlink(path, link), 0);
	snprintf(link, sizeof link, "%s/README", dir);
	{
		FILE *f = fopen(link, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs("not a plugin\n", f);
		fclose(f);
	}
	log_reset();
	ctp_err_clear(&err);
	CHECK(ctp_registry_load_dir(r, dir, &err) == 0, "%s", err.what);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 2);
	if (ctp_registry_count(r) == 2) {
		CU_ASSERT_STRING_EQUAL(ctp_registry_at(r, 0)->feat->name, "good");
		CU_ASSERT_STRING_EQUAL(ctp_registry_at(r, 1)->feat->name, "second");
	}
	ctp_registry_free(r);
	/* a bad plugin stops the walk with its error */
	abs_plugin("badabi", path, sizeof path);
	snprintf(link, sizeof link, "%s/0-badabi.so", dir);
	CU_ASSERT_EQUAL(symlink(path, link), 0);
	r = ctp_registry_new(&ops, &host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_registry_load_dir(r, dir, &err), CTP_E_ABI);
	CU_ASSERT(strstr(err.what, "0-badabi.so") != NULL);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 0);
	ctp_registry_free(r);
	unlink(link);
	snprintf(link, sizeof link, "%s/a-good.so", dir);
	unlink(link);
	snprintf(link, sizeof link, "%s/b-second.so", dir);
	unlink(link);
	snprintf(link, sizeof link, "%s/README", dir);
	unlink(link);
	CU_ASSERT_EQUAL(rmdir(dir), 0);
}

/* ---- built-in descriptors: the checks after the ABI gate ------------------------ */

static int
bi_init(const struct ctp_host_ops *o, struct ctp_host *h, const struct ctp_val *config,
    void **state, struct ctp_err *err)
{
	static int token;

	*state = &token;
	return 0;
}

static void
bi_fini(void *state)
{
	(void)state;
}

static int
bi_check(void *s, const struct ctp_cdb *c, unsigned f, struct ctp_err *e)
{
	return 0;
}

static int
bi_describe(void *s, const struct ctp_cdb *c, unsigned f, struct ctp_val *o, struct ctp_err *e)
{
	return 0;
}

static int
bi_build(void *s, uint16_t fpt, const struct ctp_val *o, struct ctp_wbuf *w, struct ctp_err *e)
{
	return 0;
}

static struct ctp_feature
builtin(const char *name, const uint16_t *fpts, size_t nfpts)
{
	struct ctp_feature f = {
		.abi_version = CTP_FEATURE_ABI_VERSION, .size = sizeof f, .name = name,
		.version = "0", .fpts = fpts, .nfpts = nfpts, .init = bi_init, .fini = bi_fini,
		.cdb_check = bi_check, .cdb_describe = bi_describe, .cdb_build = bi_build,
	};

	return f;
}

static void
test_builtin_descriptors(void)
{
	static const uint16_t one[] = { 0x7e01 }, zero[] = { 0 }, twice[] = { 0x7e02, 0x7e02 };
	static uint16_t many[CTP_FEATURE_MAX_FPTS + 1];
	static struct ctp_feature f[CTP_REGISTRY_MAX + 1];
	static char names[CTP_REGISTRY_MAX + 1][16];
	static uint16_t fpts[CTP_REGISTRY_MAX + 1];
	struct ctp_registry *r = ctp_registry_new(&ops, &host);
	struct ctp_feature bad;
	struct ctp_err err;
	static const struct {
		const char *name;
		const uint16_t *fpts;
		size_t nfpts;
		int code;
	} cases[] = {
		{ NULL, one, 1, CTP_E_PLUGIN },
		{ "", one, 1, CTP_E_PLUGIN },
		{ "a-name-that-is-longer-than-32-octets", one, 1, CTP_E_PLUGIN },
		{ "nofpts", one, 0, CTP_E_PLUGIN },
		{ "nullfpts", NULL, 1, CTP_E_PLUGIN },
		{ "toomany", many, CTP_FEATURE_MAX_FPTS + 1, CTP_E_PLUGIN },
		{ "fpt0", zero, 1, CTP_E_EXIST },
		{ "twice", twice, 2, CTP_E_EXIST },
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (size_t i = 0; i < CTP_FEATURE_MAX_FPTS + 1; i++)
		many[i] = (uint16_t)(0x7d00 + i);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bad = builtin(cases[i].name, cases[i].fpts, cases[i].nfpts);
		ctp_err_clear(&err);
		CHECK(ctp_registry_add(r, &bad, NULL, &err) == cases[i].code, "case %zu: %s", i,
		    err.what);
	}
	/* exactly CTP_FEATURE_MAX_FPTS is fine */
	bad = builtin("sixteen", many, CTP_FEATURE_MAX_FPTS);
	CU_ASSERT_EQUAL(ctp_registry_add(r, &bad, NULL, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(ctp_registry_find(r, 0x7d0f));
	CU_ASSERT_PTR_NULL(ctp_registry_find(r, 0x7d10));
	CU_ASSERT_PTR_NULL(ctp_registry_at(r, 0)->handle);
	CU_ASSERT_PTR_NULL(ctp_registry_at(r, 0)->path);
	/* each operation missing in turn */
	for (int op = 0; op < 5; op++) {
		bad = builtin("missing-op", one, 1);
		switch (op) {
		case 0: bad.init = NULL; break;
		case 1: bad.fini = NULL; break;
		case 2: bad.cdb_check = NULL; break;
		case 3: bad.cdb_describe = NULL; break;
		default: bad.cdb_build = NULL; break;
		}
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_registry_add(r, &bad, NULL, &err), CTP_E_PLUGIN);
	}
	/* the ABI gate applies to built-ins too */
	bad = builtin("abi", one, 1);
	bad.abi_version = 0;
	CU_ASSERT_EQUAL(ctp_registry_add(r, &bad, NULL, &err), CTP_E_ABI);
	bad = builtin("size", one, 1);
	bad.size = 8;
	CU_ASSERT_EQUAL(ctp_registry_add(r, &bad, NULL, &err), CTP_E_ABI);
	CU_ASSERT_EQUAL(ctp_registry_count(r), 1);
	ctp_registry_free(r);

	/* at most CTP_REGISTRY_MAX plugins */
	r = ctp_registry_new(&ops, &host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (size_t i = 0; i <= CTP_REGISTRY_MAX; i++) {
		snprintf(names[i], sizeof names[i], "p%zu", i);
		fpts[i] = (uint16_t)(0x7c00 + i);
		f[i] = builtin(names[i], &fpts[i], 1);
		ctp_err_clear(&err);
		CU_ASSERT_EQUAL(ctp_registry_add(r, &f[i], NULL, &err),
		    i < CTP_REGISTRY_MAX ? 0 : CTP_E_LIMIT);
	}
	CU_ASSERT_EQUAL(ctp_registry_count(r), CTP_REGISTRY_MAX);
	ctp_registry_free(r);
}

static void
test_default_dir(void)
{
	char buf[PATH_MAX];
	const char *old = getenv("CTPD_PLUGIN_DIR");
	char *saved = old ? strdup(old) : NULL;

	CU_ASSERT_EQUAL(setenv("CTPD_PLUGIN_DIR", "/some/where", 1), 0);
	CU_ASSERT_STRING_EQUAL(ctp_registry_default_dir(buf, sizeof buf), "/some/where");
	unsetenv("CTPD_PLUGIN_DIR");
	if (saved) {
		setenv("CTPD_PLUGIN_DIR", saved, 1);
		free(saved);
	}
}

/* ---- the real plugins ---------------------------------------------------------- */

static void
real_plugin(const char *name, const uint16_t *fpts, size_t nfpts)
{
	char path[PATH_MAX];
	struct ctp_registry *r;
	struct ctp_err err;
	const struct ctp_plugin *p;

	snprintf(path, sizeof path, "%s/plugins/%s.so", ctp_test_build_dir(), name);
	if (!exists(path)) {
		fprintf(stderr, "\n*** SKIPPED: %s is absent, the real %s plugin was not loaded "
		    "(build it with make all) ***\n", path, name);
		CU_PASS("real plugin absent: skipped");
		return;
	}
	r = ctp_registry_new(&ops, &host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	ctp_err_clear(&err);
	CHECK(ctp_registry_load(r, path, NULL, &err) == 0, "%s: %s", path, err.what);
	for (size_t i = 0; i < nfpts; i++) {
		p = ctp_registry_find(r, fpts[i]);
		CHECK(p != NULL, "%s does not serve FPT 0x%04x", path, fpts[i]);
		if (p)
			CU_ASSERT_STRING_EQUAL(p->feat->name, name);
	}
	CU_ASSERT_PTR_NULL(ctp_registry_find(r, CTP_FPT_CONTROL));
	ctp_registry_free(r);
	CU_ASSERT_FALSE(still_loaded(path));
}

static void
test_real_plugins(void)
{
	static const uint16_t mld[] = { CTP_FPT_MLD };
	static const uint16_t ipsec[] = { CTP_FPT_IPSEC_SA, CTP_FPT_IPSEC_PROFILE };

	real_plugin("mld", mld, 1);
	real_plugin("ipsec", ipsec, 2);
}

CTP_TEST_SUITE(registry, suite_init, NULL,
    CTP_TEST(test_good_plugin),
    CTP_TEST(test_good_plugin_serves),
    CTP_TEST(test_two_plugins),
    CTP_TEST(test_refused_plugins),
    CTP_TEST(test_duplicates),
    CTP_TEST(test_missing_file),
    CTP_TEST(test_load_dir),
    CTP_TEST(test_builtin_descriptors),
    CTP_TEST(test_default_dir),
    CTP_TEST(test_real_plugins),
)
