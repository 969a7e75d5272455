/*
 * replay.c: a main() for the libFuzzer harnesses of tests/fuzz/, so that
 * `make check-fuzz` runs every committed input through its harness with the
 * ordinary compiler (and the build's sanitizers, when it has them), no
 * libFuzzer needed.
 *
 *   build/fuzz-replay/fuzz_msg FILE|DIR...
 *
 * Each file is read into a buffer of exactly its size (so that a read past
 * the end is a read past a heap block, which AddressSanitizer reports) and
 * given to LLVMFuzzerTestOneInput; a directory means every regular file in
 * it, in name order.  A harness reports a finding by aborting, so the exit
 * status is 0 only when every input went through.  LLVMFuzzerInitialize
 * runs first when the harness has one (a weak reference).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t replay_count;

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	/* malloc(0) may return NULL; an empty input still gets a real pointer */
	if ((buf = malloc(n ? (size_t)n : 1)) == NULL ||
	    (n && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (getenv("REPLAY_VERBOSE"))
		fprintf(stderr, "replay: %s (%ld octets)\n", path, n);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	replay_count++;
	return 0;
}

static int
replay_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
replay_dir(const char *path)
{
	struct dirent *d;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	DIR *dir = opendir(path);

	if (!dir) {
		fprintf(stderr, "replay: %s: cannot open\n", path);
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);

			if (!nn)
				abort();
			names = nn;
		}
		if ((names[n] = malloc(strlen(path) + strlen(d->d_name) + 2)) == NULL)
			abort();
		sprintf(names[n++], "%s/%s", path, d->d_name);
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof *names, replay_name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && replay_file(names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
			rc = 1;
		} else if (S_ISDIR(st.st_mode) ? replay_dir(argv[i]) < 0 : replay_file(argv[i]) < 0) {
			rc = 1;
		}
	}
	printf("%s: %zu inputs replayed\n", argv[0], replay_count);
	return rc;
}
