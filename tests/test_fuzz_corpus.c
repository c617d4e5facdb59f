/*
 * test_fuzz_corpus.c - every file in tests/corpus/<parser>/ (the fuzzers' seeds and every input
 * that once crashed one, see tests/fuzz_parsers.c) through its parser again, in the ordinary
 * sanitizer build: a fixed crash stays fixed. The CSV corpus is tests/test_data.c's.
 */
#define FER_FUZZ
#include "fuzz_parsers.c"

#include <dirent.h>

#include "check.h"

static const char *const PARSERS[] = {FUZZ_PARSER_NAMES};

/* Runs each file of tests/corpus/<name>/ through parser `which`; the number of files. */
static int replay(int which, const char *name)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "tests/corpus/%s", name);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int files = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        uint8_t *buf = malloc(1 << 20);
        size_t n = f && buf ? fread(buf, 1, 1 << 20, f) : 0;
        if (f)
            fclose(f);
        CHECK(buf != NULL);
        if (buf) {
            /* models both ways: as stored, and with the checksum sealed again */
            fuzz_run_parser(which, buf, n);
            if (which == 3)
                fuzz_run_parser(FUZZ_MODEL_SEALED, buf, n);
        }
        free(buf);
        files++;
    }
    if (d)
        closedir(d);
    return files;
}

TEST(every_corpus_file_parses_or_fails_cleanly)
{
    for (int i = 0; i < (int)(sizeof(PARSERS) / sizeof(PARSERS[0])); i++) {
        int files = replay(i, PARSERS[i]);
        printf("  %-9s %3d files\n", PARSERS[i], files);
        CHECK(files > 0);
    }
}

int main(void)
{
    RUN(every_corpus_file_parses_or_fails_cleanly);
    return check_report();
}
