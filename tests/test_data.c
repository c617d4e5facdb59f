/*
 * test_data.c - tests of the data module: the FER2013 CSV reader and writer
 * and dataset helpers (FER+ relabelling: test_ferplus.c; augmentation:
 * test_augment.c).
 *
 * Fixtures are tiny CSV files written by hand (csv_fixture.h) into a fresh
 * directory under /tmp (plain and gzip). Malformed rows, truncated gzip
 * streams, failing allocations and the fuzz corpus in tests/corpus/csv/ must
 * all give a clean error, never a crash or a leak. When the shared data is
 * present, the real files are checked against the counts in their README.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/alloc.h"
#include "core/rng.h"
#include "csv_fixture.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "tmp_dir.h"

/* Reads a whole file into a malloc'ed buffer; *len its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            char *p = realloc(buf, cap);
            if (!p)
                break;
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* The three-row fixture: labels 0, 3, 6; usages Training, PublicTest, Training. */
static void make_basic(const char *name, int gz, int quote, const char *eol)
{
    struct fixture_text t;
    fixture_text_open(&t);
    fprintf(t.f, "emotion,pixels,Usage%s", eol);
    fixture_add_row(&t, "0", 0, FER_FACE_PIXELS, " ", "Training", quote, eol);
    fixture_add_row(&t, "3", 1, FER_FACE_PIXELS, " ", "PublicTest", quote, eol);
    fixture_add_row(&t, "6", 2, FER_FACE_PIXELS, " ", "Training", quote, eol);
    fixture_text_close(&t);
    fixture_write_file(name, t.s, t.n, gz);
    free(t.s);
}

static void check_basic(const fer_dataset *ds)
{
    CHECK(ds != NULL);
    if (!ds)
        return;
    CHECK(ds->n == 3);
    CHECK(ds->n_classes == 7);
    CHECK(ds->soft == NULL);
    if (ds->n != 3)
        return;
    CHECK(ds->labels[0] == 0 && ds->labels[1] == 3 && ds->labels[2] == 6);
    CHECK(ds->usage[0] == FER_USAGE_TRAINING && ds->usage[1] == FER_USAGE_PUBLIC_TEST &&
          ds->usage[2] == FER_USAGE_TRAINING);
    CHECK(ds->usage_rank[0] == 0 && ds->usage_rank[1] == 0 && ds->usage_rank[2] == 1);
    for (int r = 0; r < 3; r++)
        CHECK(fixture_row_matches(ds, (size_t)r, r));
}

TEST(test_names)
{
    const char *const *n7 = fer_class_names(7), *const *n6 = fer_class_names(6);
    CHECK(n7 && n6 && fer_class_names(5) == NULL);
    CHECK_STR(n7[0], "angry");
    CHECK_STR(n7[1], "disgust");
    CHECK_STR(n7[6], "neutral");
    CHECK_STR(n6[1], "fear");
    CHECK_STR(n6[5], "neutral");
    CHECK_STR(fer_usage_name(FER_USAGE_PRIVATE_TEST), "PrivateTest");
    CHECK(fer_label_source_parse("ferplus-soft") == FER_LABELS_FERPLUS_SOFT);
    CHECK(fer_label_source_parse("fer2013") == FER_LABELS_FER2013);
    CHECK(fer_label_source_parse("ferplus-majority") == FER_LABELS_FERPLUS_MAJORITY);
    CHECK(fer_label_source_parse("ferplus") == -1);
}

TEST(test_read_plain_and_gz)
{
    make_basic("basic.csv", 0, 0, "\n");
    make_basic("basic.csv.gz", 1, 0, "\n");
    fer_dataset *a = fixture_read_ok("basic.csv", NULL), *b = fixture_read_ok("basic.csv.gz", NULL);
    check_basic(a);
    check_basic(b);
    fer_dataset_free(a);
    fer_dataset_free(b);
}

TEST(test_read_quoted_crlf_spaces)
{
    make_basic("quoted.csv", 0, 1, "\n");
    make_basic("crlf.csv.gz", 1, 0, "\r\n");
    make_basic("both.csv", 0, 1, "\r\n");
    fer_dataset *ds = fixture_read_ok("quoted.csv", NULL);
    check_basic(ds);
    fer_dataset_free(ds);
    ds = fixture_read_ok("crlf.csv.gz", NULL);
    check_basic(ds);
    fer_dataset_free(ds);
    ds = fixture_read_ok("both.csv", NULL);
    check_basic(ds);
    fer_dataset_free(ds);

    /* Multiple spaces, leading and trailing ones, quoted header and usage, a blank line, no
       final newline. */
    struct fixture_text t;
    fixture_text_open(&t);
    fprintf(t.f, "\"emotion\",\"pixels\",\"Usage\"\n");
    fixture_add_row(&t, "0", 0, FER_FACE_PIXELS, "   ", "\"Training\"", 0, "\n");
    fprintf(t.f, "\n 3 ,  ");
    for (int k = 0; k < FER_FACE_PIXELS; k++)
        fprintf(t.f, "%d  ", fixture_pat(1, k));
    fprintf(t.f, ",PublicTest\n6,\"");
    for (int k = 0; k < FER_FACE_PIXELS; k++)
        fprintf(t.f, "%d ", fixture_pat(2, k));
    fprintf(t.f, "\",\"Training\"");
    fixture_text_close(&t);
    fixture_write_file("spaces.csv", t.s, t.n, 0);
    free(t.s);
    ds = fixture_read_ok("spaces.csv", NULL);
    check_basic(ds);
    fer_dataset_free(ds);

    /* "Train""ing" unescapes to Train"ing, which is not a usage. */
    fixture_text_open(&t);
    fprintf(t.f, "emotion,pixels,Usage\n");
    fixture_add_row(&t, "0", 0, FER_FACE_PIXELS, " ", "\"Train\"\"ing\"", 0, "\n");
    fixture_text_close(&t);
    fixture_write_file("escape.csv", t.s, t.n, 0);
    free(t.s);
    char path[256], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "escape.csv");
    ds = NULL;
    CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "escape.csv:2:") && strstr(err, "Train\"ing"));
    CHECK(ds == NULL);
}

/* A file with its header and no rows is an error that says so, not "0 faces". */
TEST(test_header_only)
{
    fixture_write_str("header.csv", "emotion,pixels,Usage\n\n");
    char path[256], err[FER_ERR_LEN] = "";
    fer_dataset *ds = NULL;
    test_tmp_path(path, sizeof(path), "header.csv");
    CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "header.csv holds only its header") != NULL);
    CHECK(ds == NULL);
}

struct bad_case {
    const char *name;
    const char *label;
    int npx;
    const char *px_override; /* replaces pixel 5 with this text */
    const char *usage;
    const char *raw; /* whole bad line instead */
    const char *expect;
};

/* Writes header, one good row, then the bad row (line 3), then a good row. */
static void make_bad(const struct bad_case *c)
{
    struct fixture_text t;
    fixture_text_open(&t);
    fprintf(t.f, "emotion,pixels,Usage\n");
    fixture_add_row(&t, "0", 0, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    if (c->raw) {
        fprintf(t.f, "%s\n", c->raw);
    } else {
        fprintf(t.f, "%s,", c->label);
        for (int k = 0; k < c->npx; k++) {
            if (k == 5 && c->px_override)
                fprintf(t.f, " %s", c->px_override);
            else
                fprintf(t.f, "%s%d", k ? " " : "", fixture_pat(1, k));
        }
        fprintf(t.f, ",%s\n", c->usage);
    }
    fixture_add_row(&t, "2", 2, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_text_close(&t);
    fixture_write_file(c->name, t.s, t.n, 0);
    free(t.s);
}

static const struct bad_case bad_cases[] = {
    {"short.csv", "1", 2303, NULL, "Training", NULL, "expected 2304 pixels, found 2303"},
    {"long.csv", "1", 2305, NULL, "Training", NULL, "expected 2304 pixels, found 2305"},
    {"v256.csv", "1", 2304, "256", "Training", NULL, "256 out of range"},
    {"neg.csv", "1", 2304, "-3", "Training", NULL, "not an integer"},
    {"alpha.csv", "1", 2304, "12a", "Training", NULL, "\"12a\""},
    {"big.csv", "1", 2304, "99999999999999999999", "Training", NULL, "out of range"},
    {"label7.csv", "7", 2304, NULL, "Training", NULL, "label 7 out of range"},
    {"labelx.csv", "x", 2304, NULL, "Training", NULL, "\"x\""},
    {"labelempty.csv", "", 2304, NULL, "Training", NULL, "empty"},
    {"usage.csv", "1", 2304, NULL, "Validation", NULL, "unknown usage \"Validation\""},
    {"unterm.csv", NULL, 0, NULL, NULL, "1,\"1 2 3,Training", "unterminated quote"},
    {"after.csv", NULL, 0, NULL, NULL, "1,\"1 2 3\"x,Training", "after closing quote"},
    {"stray.csv", NULL, 0, NULL, NULL, "1,1 2\" 3,Training", "stray quote"},
    {"fields2.csv", NULL, 0, NULL, NULL, "1,1 2 3", "found 2"},
    {"fields4.csv", NULL, 0, NULL, NULL, "1,2,3,Training", "more than 3 fields"},
};

TEST(test_malformed_rows)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        make_bad(c);
        char path[256], err[FER_ERR_LEN] = "", want[300];
        fer_dataset *ds = NULL;
        test_tmp_path(path, sizeof(path), c->name);
        enum fer_status st = fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err);
        snprintf(want, sizeof(want), "%s:3:", c->name);
        if (st != FER_ERR_FORMAT || !strstr(err, want) || !strstr(err, c->expect))
            fprintf(stderr, "  case %s: status %d, message \"%s\"\n", c->name, st, err);
        CHECK(st == FER_ERR_FORMAT);
        CHECK(strstr(err, want) != NULL);
        CHECK(strstr(err, c->expect) != NULL);
        CHECK(ds == NULL);

        /* The same file with skip_bad_rows: two good rows, one skipped. */
        struct fer_read_options skip = {1, -1, 0};
        size_t skipped = 99;
        st = fer_dataset_read_csv(path, &skip, &ds, &skipped, err);
        CHECK(st == FER_OK);
        CHECK(skipped == 1);
        CHECK(ds && ds->n == 2);
        if (ds && ds->n == 2) {
            CHECK(fixture_row_matches(ds, 0, 0) && fixture_row_matches(ds, 1, 2));
            CHECK(ds->labels[1] == 2);
        }
        fer_dataset_free(ds);
    }
}

TEST(test_bad_header_and_empty)
{
    char path[256], err[FER_ERR_LEN];
    fer_dataset *ds = NULL;
    static const char *const headers[] = {"pixels,emotion,Usage\n", "emotion,pixels\n",
                                          "emotion,pixels,Usage,extra\n", "0,1 2 3,Training\n",
                                          "\"emotion,pixels,Usage\n"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        fixture_write_str("hdr.csv", headers[i]);
        test_tmp_path(path, sizeof(path), "hdr.csv");
        err[0] = 0;
        CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_FORMAT);
        CHECK(strstr(err, "hdr.csv:1:") && strstr(err, "header"));
        CHECK(ds == NULL);
    }
    /* A byte-order mark and CRLF in the header are fine. */
    struct fixture_text t;
    fixture_text_open(&t);
    fprintf(t.f, "\xef\xbb\xbf"
                 "emotion,pixels,Usage\r\n");
    fixture_add_row(&t, "3", 0, FER_FACE_PIXELS, " ", "Training", 0, "\r\n");
    fixture_text_close(&t);
    fixture_write_str("bom.csv", t.s);
    free(t.s);
    ds = fixture_read_ok("bom.csv", NULL);
    CHECK(ds && ds->n == 1 && fixture_row_matches(ds, 0, 0));
    fer_dataset_free(ds);
    ds = NULL;

    fixture_write_file("empty.csv", "", 0, 0);
    fixture_write_file("empty.csv.gz", "", 0, 1);
    const char *empties[] = {"empty.csv", "empty.csv.gz"};
    for (int i = 0; i < 2; i++) {
        test_tmp_path(path, sizeof(path), empties[i]);
        err[0] = 0;
        CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_FORMAT);
        CHECK(strstr(err, empties[i]) && strstr(err, "empty file"));
    }
    test_tmp_path(path, sizeof(path), "does-not-exist.csv");
    CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_IO);
    CHECK(strstr(err, "does-not-exist.csv") != NULL);
    struct fer_read_options bad_usage = {0, 7, 0};
    CHECK(fer_dataset_read_csv(path, &bad_usage, &ds, NULL, err) == FER_ERR_ARG);
}

TEST(test_long_line)
{
    /* A 1.5 MB line is refused with a clear error instead of growing without bound. */
    size_t n = 1500000;
    char *s = malloc(n + 64);
    CHECK(s != NULL);
    if (!s)
        return;
    strcpy(s, "emotion,pixels,Usage\n0,");
    size_t h = strlen(s);
    for (size_t i = h; i < n; i++)
        s[i] = (i % 2) ? ' ' : '7';
    memcpy(s + n, ",Training\n", 10);
    fixture_write_file("longline.csv", s, n + 10, 0);
    free(s);
    char path[256], err[FER_ERR_LEN] = "";
    fer_dataset *ds = NULL;
    test_tmp_path(path, sizeof(path), "longline.csv");
    CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "longline.csv:2:") && strstr(err, "longer than"));
}

TEST(test_skip_counts_and_ranks)
{
    /* Rows: T0 good, T1 bad pixels, P0 good, T2 good, bad usage, P1 bad label, T3 good. */
    struct fixture_text t;
    fixture_text_open(&t);
    fprintf(t.f, "emotion,pixels,Usage\n");
    fixture_add_row(&t, "0", 0, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_add_row(&t, "1", 1, 10, " ", "Training", 0, "\n");
    fixture_add_row(&t, "2", 2, FER_FACE_PIXELS, " ", "PublicTest", 0, "\n");
    fixture_add_row(&t, "3", 3, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_add_row(&t, "4", 4, FER_FACE_PIXELS, " ", "Nope", 0, "\n");
    fixture_add_row(&t, "9", 5, FER_FACE_PIXELS, " ", "PublicTest", 0, "\n");
    fixture_add_row(&t, "5", 6, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_text_close(&t);
    fixture_write_file("skip.csv.gz", t.s, t.n, 1);
    free(t.s);

    char path[256], err[FER_ERR_LEN] = "";
    fer_dataset *ds = NULL;
    size_t skipped = 0;
    test_tmp_path(path, sizeof(path), "skip.csv.gz");
    struct fer_read_options opt = {1, -1, 0};
    CHECK(fer_dataset_read_csv(path, &opt, &ds, &skipped, err) == FER_OK);
    CHECK(skipped == 3);
    CHECK(strstr(err, "skip.csv.gz:3:") != NULL); /* the first skipped row */
    CHECK(ds && ds->n == 4);
    if (ds && ds->n == 4) {
        static const uint8_t labels[] = {0, 2, 3, 5}, ranks[] = {0, 0, 2, 3};
        static const int rows[] = {0, 2, 3, 6};
        for (int i = 0; i < 4; i++) {
            CHECK(ds->labels[i] == labels[i]);
            CHECK(ds->usage_rank[i] == ranks[i]);
            CHECK(fixture_row_matches(ds, (size_t)i, rows[i]));
        }
    }
    fer_dataset_free(ds);

    /* Usage filter keeps the ranks of the whole file; max_rows stops early. */
    opt.usage = FER_USAGE_TRAINING;
    opt.max_rows = 2;
    CHECK(fer_dataset_read_csv(path, &opt, &ds, &skipped, err) == FER_OK);
    CHECK(ds && ds->n == 2 && skipped == 1);
    if (ds && ds->n == 2)
        CHECK(ds->usage_rank[0] == 0 && ds->usage_rank[1] == 2 && ds->labels[1] == 3);
    fer_dataset_free(ds);
    opt.usage = FER_USAGE_PUBLIC_TEST;
    opt.max_rows = 0;
    CHECK(fer_dataset_read_csv(path, &opt, &ds, &skipped, err) == FER_OK);
    CHECK(ds && ds->n == 1 && skipped == 3);
    if (ds && ds->n == 1)
        CHECK(ds->usage[0] == FER_USAGE_PUBLIC_TEST && ds->usage_rank[0] == 0 &&
              fixture_row_matches(ds, 0, 2));
    fer_dataset_free(ds);

    /* Without skipping, the first bad row fails even when its usage is filtered out. */
    opt.skip_bad_rows = 0;
    CHECK(fer_dataset_read_csv(path, &opt, &ds, NULL, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "skip.csv.gz:3: expected 2304 pixels, found 10") != NULL);
}

/* Writes `rows` noisy rows as gzip into name; returns the gzip size. */
static size_t make_big_gz(const char *name, int rows)
{
    struct fixture_text t;
    fer_rng rng;
    fer_rng_seed(&rng, 7, 0, 0, 0);
    fixture_text_open(&t);
    fprintf(t.f, "emotion,pixels,Usage\n");
    for (int r = 0; r < rows; r++) {
        fprintf(t.f, "%d,", r % 7);
        for (int k = 0; k < FER_FACE_PIXELS; k++)
            fprintf(t.f, "%s%d", k ? " " : "", (int)fer_rng_below(&rng, 256));
        fprintf(t.f, ",Training\n");
    }
    fixture_text_close(&t);
    fixture_write_file(name, t.s, t.n, 1);
    free(t.s);
    char path[256];
    struct stat sb;
    test_tmp_path(path, sizeof(path), name);
    return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

TEST(test_truncated_and_corrupt_gz)
{
    size_t gz_size = make_big_gz("whole.csv.gz", 40);
    CHECK(gz_size > 1000);
    char path[256], err[FER_ERR_LEN] = "";
    size_t len = 0;
    test_tmp_path(path, sizeof(path), "whole.csv.gz");
    char *bytes = slurp(path, &len);
    CHECK(bytes && len == gz_size);
    if (!bytes)
        return;
    fer_dataset *ds = fixture_read_ok("whole.csv.gz", NULL);
    CHECK(ds && ds->n == 40);
    fer_dataset_free(ds);
    ds = NULL;

    /* Cut in half, and cut just before the 8-byte trailer: both are truncated. */
    size_t cuts[] = {len / 2, len - 4, len - 8, 20};
    struct fer_read_options skip = {1, -1, 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        fixture_write_file("cut.csv.gz", bytes, cuts[i], 0);
        test_tmp_path(path, sizeof(path), "cut.csv.gz");
        err[0] = 0;
        CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_ERR_FORMAT);
        CHECK(strstr(err, "cut.csv.gz") && strstr(err, "truncated or corrupt gzip stream"));
        if (i == 0) /* the error names the line the stream broke off in, not line 1 */
            CHECK(strstr(err, "cut.csv.gz:1:") == NULL);
        err[0] = 0;
        CHECK(fer_dataset_read_csv(path, &skip, &ds, NULL, err) == FER_ERR_FORMAT);
        CHECK(strstr(err, "truncated or corrupt gzip stream") != NULL);
        CHECK(ds == NULL);
    }
    /* A flipped byte in the middle: an inflate or CRC error, never silent data. */
    bytes[len / 2] ^= 0x55;
    fixture_write_file("flip.csv.gz", bytes, len, 0);
    test_tmp_path(path, sizeof(path), "flip.csv.gz");
    err[0] = 0;
    enum fer_status st = fer_dataset_read_csv(path, &skip, &ds, NULL, err);
    CHECK(st == FER_ERR_FORMAT);
    CHECK(strstr(err, "flip.csv.gz") != NULL);
    free(bytes);
}

static int same_dataset(const fer_dataset *a, const fer_dataset *b)
{
    if (!a || !b || a->n != b->n)
        return 0;
    return memcmp(a->pixels, b->pixels, a->n * FER_FACE_PIXELS) == 0 &&
           memcmp(a->labels, b->labels, a->n) == 0 && memcmp(a->usage, b->usage, a->n) == 0;
}

TEST(test_write_round_trip)
{
    make_basic("rt_in.csv", 0, 0, "\n");
    fer_dataset *ds = fixture_read_ok("rt_in.csv", NULL);
    char in_path[256], out_path[256], gz_path[256], err[FER_ERR_LEN] = "";
    test_tmp_path(in_path, sizeof(in_path), "rt_in.csv");
    test_tmp_path(out_path, sizeof(out_path), "rt_out.csv");
    test_tmp_path(gz_path, sizeof(gz_path), "rt_out.csv.gz");
    CHECK(fer_dataset_write_csv(ds, out_path, -1, err) == FER_OK);
    CHECK(fer_dataset_write_csv(ds, gz_path, -1, err) == FER_OK);

    /* The plain output is byte-identical to the canonical input. */
    size_t n1 = 0, n2 = 0;
    char *a = slurp(in_path, &n1), *b = slurp(out_path, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
    /* The gzip output really is gzip, and reads back the same. */
    b = slurp(gz_path, &n2);
    CHECK(b && n2 > 2 && (unsigned char)b[0] == 0x1f && (unsigned char)b[1] == 0x8b);
    free(b);
    fer_dataset *p = fixture_read_ok("rt_out.csv", NULL),
                *g = fixture_read_ok("rt_out.csv.gz", NULL);
    CHECK(same_dataset(ds, p));
    CHECK(same_dataset(ds, g));
    fer_dataset_free(p);
    fer_dataset_free(g);

    /* No temporary file is left behind. */
    char tmpname[300];
    snprintf(tmpname, sizeof(tmpname), "%s.tmp", gz_path);
    CHECK(access(tmpname, F_OK) != 0);

    /* Writing one usage. */
    CHECK(fer_dataset_write_csv(ds, out_path, FER_USAGE_TRAINING, err) == FER_OK);
    p = fixture_read_ok("rt_out.csv", NULL);
    CHECK(p && p->n == 2 && p->labels[1] == 6 && fixture_row_matches(p, 1, 2));
    fer_dataset_free(p);

    /* Unwritable destination: an IO error naming the file, nothing left behind. */
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/x.csv", test_tmp_dir());
    CHECK(fer_dataset_write_csv(ds, bad, -1, err) == FER_ERR_IO);
    CHECK(strstr(err, "x.csv") != NULL);
    CHECK(fer_dataset_write_csv(ds, out_path, 5, err) == FER_ERR_ARG);
    fer_dataset_free(ds);
}

/* A dataset built in memory: n rows, labels given, all Training, ranks 0..n-1. */
static fer_dataset *make_ds(size_t n, const uint8_t *labels)
{
    fer_dataset *ds = fer_calloc(1, sizeof(*ds));
    ds->n = n;
    ds->n_classes = 7;
    ds->pixels = fer_calloc(n, FER_FACE_PIXELS);
    ds->labels = fer_malloc(n);
    ds->usage = fer_calloc(n, 1);
    ds->usage_rank = fer_malloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) {
        ds->labels[i] = labels[i];
        ds->usage_rank[i] = (uint32_t)i;
        memset(ds->pixels + i * FER_FACE_PIXELS, (int)(i * 10), FER_FACE_PIXELS);
    }
    return ds;
}

TEST(test_merge_filter_counts_stats)
{
    static const uint8_t labels[] = {0, 1, 2, 3, 4, 5, 6, 1};
    fer_dataset *ds = make_ds(8, labels);
    char err[FER_ERR_LEN];
    size_t counts[7];
    fer_dataset_class_counts(ds, counts);
    CHECK(counts[0] == 1 && counts[1] == 2 && counts[6] == 1);

    /* Pixel values 0, 10, ..., 70: mean 35/255, std sqrt(525)/255. */
    float mean, std;
    fer_dataset_pixel_stats(ds, &mean, &std);
    CHECK_NEAR(mean, 35.0 / 255.0, 1e-6);
    CHECK_NEAR(std, sqrt(525.0) / 255.0, 1e-6);

    ds->soft = fer_calloc(8 * 7, sizeof(float));
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 7; c++)
            ds->soft[i * 7 + c] = (float)(c + 1) / 28.0f;
    CHECK(fer_dataset_merge_disgust(ds, err) == FER_OK);
    CHECK(ds->n_classes == 6);
    static const uint8_t merged[] = {0, 0, 1, 2, 3, 4, 5, 0};
    CHECK(memcmp(ds->labels, merged, 8) == 0);
    for (int i = 0; i < 8; i++) {
        CHECK_NEAR(ds->soft[i * 6 + 0], 3.0 / 28.0, 1e-7);
        for (int c = 1; c < 6; c++)
            CHECK_NEAR(ds->soft[i * 6 + c], (c + 2) / 28.0, 1e-7);
    }
    fer_dataset_class_counts(ds, counts);
    CHECK(counts[0] == 3 && counts[1] == 1 && counts[5] == 1);
    CHECK(fer_dataset_merge_disgust(ds, err) == FER_ERR_STATE);

    /* Filter keeps rows 1, 4, 7 with their pixels, labels, ranks and soft targets. */
    uint8_t keep[8] = {0, 1, 0, 0, 1, 0, 0, 1};
    ds->soft[7 * 6 + 2] = 0.5f;
    CHECK(fer_dataset_filter(ds, keep, err) == FER_OK);
    CHECK(ds->n == 3);
    CHECK(ds->labels[0] == 0 && ds->labels[1] == 3 && ds->labels[2] == 0);
    CHECK(ds->usage_rank[0] == 1 && ds->usage_rank[1] == 4 && ds->usage_rank[2] == 7);
    CHECK(ds->pixels[FER_FACE_PIXELS] == 40 && ds->pixels[2 * FER_FACE_PIXELS + 5] == 70);
    CHECK(ds->soft[2 * 6 + 2] == 0.5f);
    uint8_t none[3] = {0, 0, 0};
    CHECK(fer_dataset_filter(ds, none, err) == FER_OK);
    CHECK(ds->n == 0);
    fer_dataset_pixel_stats(ds, &mean, &std);
    CHECK(mean == 0.0f && std == 1.0f);
    fer_dataset_free(ds);
    fer_dataset_free(NULL);
}

/* The original fer2013.csv mixes usages: each role reads its own rows, and says so. */
TEST(test_pick_usage)
{
    CHECK(fer_usage_parse("Training") == FER_USAGE_TRAINING);
    CHECK(fer_usage_parse("publictest") == FER_USAGE_PUBLIC_TEST);
    CHECK(fer_usage_parse("PRIVATETEST") == FER_USAGE_PRIVATE_TEST);
    CHECK(fer_usage_parse("all") == FER_USAGE_ALL);
    CHECK(fer_usage_parse("test") == FER_USAGE_UNSET && fer_usage_parse("") == FER_USAGE_UNSET);
    CHECK(fer_usage_parse(NULL) == FER_USAGE_UNSET);

    static const uint8_t labels[] = {0, 1, 2, 3, 4, 5, 6, 1};
    static const uint8_t usage[] = {0, 0, 0, 0, 1, 1, 2, 1}; /* 4 Training, 3 Public, 1 Private */
    char err[FER_ERR_LEN];
    struct fer_usage_pick pick;
    fer_dataset *ds = make_ds(8, labels);
    memcpy(ds->usage, usage, 8);
    /* unset: a mixed file gives the fallback's rows, in order, with their ranks */
    CHECK(fer_dataset_pick_usage(ds, "all.csv", FER_USAGE_UNSET, FER_USAGE_PUBLIC_TEST, &pick,
                                 err) == FER_OK);
    CHECK(ds->n == 3 && ds->labels[0] == 4 && ds->labels[1] == 5 && ds->labels[2] == 1);
    CHECK(ds->usage_rank[2] == 7 && ds->pixels[2 * FER_FACE_PIXELS] == 70);
    CHECK_STR(pick.kept, "PublicTest");
    CHECK_STR(pick.note, "all.csv mixes Training (4), PublicTest (3) and PrivateTest (1) rows: "
                         "using the 3 PublicTest rows");
    /* now of one usage: kept whole, nothing to say; another usage is an error */
    CHECK(fer_dataset_pick_usage(ds, "pub.csv", FER_USAGE_UNSET, FER_USAGE_TRAINING, &pick, err) ==
          FER_OK);
    CHECK(ds->n == 3 && !pick.kept && pick.note[0] == '\0');
    CHECK(fer_dataset_pick_usage(ds, "pub.csv", FER_USAGE_PUBLIC_TEST, FER_USAGE_TRAINING, &pick,
                                 err) == FER_OK);
    CHECK(ds->n == 3 && !pick.kept && pick.note[0] == '\0');
    CHECK(fer_dataset_pick_usage(ds, "pub.csv", FER_USAGE_PRIVATE_TEST, FER_USAGE_TRAINING, &pick,
                                 err) == FER_ERR_FORMAT);
    CHECK_STR(err, "pub.csv has no PrivateTest rows (it holds PublicTest (3) rows)");
    CHECK(ds->n == 3);
    fer_dataset_free(ds);

    /* explicit choices on a mixed file; "all" keeps everything */
    ds = make_ds(8, labels);
    memcpy(ds->usage, usage, 8);
    CHECK(fer_dataset_pick_usage(ds, "x", FER_USAGE_ALL, FER_USAGE_TRAINING, &pick, err) == FER_OK);
    CHECK(ds->n == 8 && !pick.kept && pick.note[0] == '\0');
    CHECK(fer_dataset_pick_usage(ds, "x", FER_USAGE_PRIVATE_TEST, FER_USAGE_TRAINING, &pick, err) ==
          FER_OK);
    CHECK(ds->n == 1 && ds->labels[0] == 6 && strstr(pick.note, "the 1 PrivateTest rows"));
    CHECK_STR(pick.kept, "PrivateTest");
    CHECK(fer_dataset_pick_usage(ds, "x", 7, FER_USAGE_TRAINING, &pick, err) == FER_ERR_ARG);
    fer_dataset_free(ds);

    /* two usages: "A and B" */
    ds = make_ds(4, labels);
    ds->usage[3] = FER_USAGE_PRIVATE_TEST;
    CHECK(fer_dataset_pick_usage(ds, "y", FER_USAGE_UNSET, FER_USAGE_TRAINING, &pick, err) ==
          FER_OK);
    CHECK_STR(pick.note,
              "y mixes Training (3) and PrivateTest (1) rows: using the 3 Training rows");
    fer_dataset_free(ds);
}

/* Every allocation of a read and a write may fail: NOMEM, never a leak (FER+: test_ferplus.c). */
TEST(test_alloc_faults)
{
    make_basic("fault.csv.gz", 1, 0, "\n");
    char path[256], out[256], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "fault.csv.gz");
    test_tmp_path(out, sizeof(out), "fault_out.csv");
    int reached_ok = 0;
    for (long k = 0; k < 100 && !reached_ok; k++) {
        fer_dataset *ds = NULL;
        fer_alloc_fail_after(k);
        enum fer_status st = fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err);
        fer_alloc_fail_after(-1);
        CHECK(st == FER_OK || st == FER_ERR_NOMEM);
        CHECK((st == FER_OK) == (ds != NULL));
        if (st == FER_OK) {
            check_basic(ds);
            reached_ok = k > 0;
        }
        fer_dataset_free(ds);
    }
    CHECK(reached_ok);

    fer_dataset *ds = fixture_read_ok("fault.csv.gz", NULL);
    reached_ok = 0;
    for (long k = 0; k < 100 && !reached_ok; k++) {
        fer_alloc_fail_after(k);
        enum fer_status st = fer_dataset_write_csv(ds, out, -1, err);
        fer_alloc_fail_after(-1);
        CHECK(st == FER_OK || st == FER_ERR_NOMEM);
        reached_ok = st == FER_OK;
    }
    CHECK(reached_ok);
    fer_dataset_free(ds);
}

/* Replays the fuzz corpus: every file reads to FER_OK or a clean error. */
TEST(test_corpus)
{
    const char *dir_name = "tests/corpus/csv";
    DIR *dir = opendir(dir_name);
    if (!dir) {
        CHECK_SKIP("%s not found (run from the repository root)", dir_name);
        return;
    }
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[512], err[FER_ERR_LEN];
        snprintf(path, sizeof(path), "%s/%s", dir_name, e->d_name);
        for (int skip = 0; skip < 2; skip++) {
            struct fer_read_options opt = {skip, -1, 0};
            fer_dataset *ds = NULL;
            err[0] = 0;
            enum fer_status st = fer_dataset_read_csv(path, &opt, &ds, NULL, err);
            CHECK(st == FER_OK || st == FER_ERR_FORMAT || st == FER_ERR_LIMIT);
            CHECK((st == FER_OK) == (ds != NULL));
            if (st != FER_OK)
                CHECK(strstr(err, e->d_name) != NULL);
            if (strncmp(e->d_name, "valid_", 6) == 0)
                CHECK(st == FER_OK && ds->n == 2);
            fer_dataset_free(ds);
        }
        files++;
    }
    closedir(dir);
    CHECK(files >= 5);
}

/* The real files, when the shared data is there. */
TEST(test_shared_data)
{
    const char *root = check_shared_data();
    if (!root) {
        CHECK_SKIP("FER2013 not found in ../shared/data or FER_SHARED_DATA");
        return;
    }
    char path[512], err[FER_ERR_LEN] = "";
    snprintf(path, sizeof(path), "%s/fer2013/publictest.csv.gz", root);
    fer_dataset *ds = NULL;
    enum fer_status st = fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err);
    if (st != FER_OK)
        fprintf(stderr, "  %s\n", err);
    CHECK(st == FER_OK);
    if (st != FER_OK)
        return;
    CHECK(ds->n == 3589);
    size_t counts[7], want[7] = {467, 56, 496, 895, 653, 415, 607};
    fer_dataset_class_counts(ds, counts);
    CHECK(memcmp(counts, want, sizeof(want)) == 0);
    CHECK(ds->usage[0] == FER_USAGE_PUBLIC_TEST && ds->usage_rank[3588] == 3588);
    float mean, std;
    fer_dataset_pixel_stats(ds, &mean, &std);
    CHECK(mean > 0.45f && mean < 0.56f && std > 0.2f && std < 0.3f);
    fer_dataset_free(ds);

    /* The first rows of the training file, as quoted in the README. */
    snprintf(path, sizeof(path), "%s/fer2013/train.csv.gz", root);
    struct fer_read_options two = {0, -1, 2};
    ds = NULL;
    CHECK(fer_dataset_read_csv(path, &two, &ds, NULL, err) == FER_OK);
    CHECK(ds && ds->n == 2);
    if (ds && ds->n == 2) {
        static const uint8_t row0[] = {70, 80, 82, 72, 58, 58,  60, 63,
                                       54, 58, 60, 48, 89, 115, 121};
        static const uint8_t row1[] = {151, 150, 147, 155, 148, 133, 111, 140, 170, 174, 182};
        CHECK(memcmp(ds->pixels, row0, sizeof(row0)) == 0);
        CHECK(memcmp(ds->pixels + FER_FACE_PIXELS, row1, sizeof(row1)) == 0);
        CHECK(ds->labels[0] == 0 && ds->usage[0] == FER_USAGE_TRAINING);
    }
    fer_dataset_free(ds);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_data_XXXXXX") != 0)
        return 1;
    RUN(test_names);
    RUN(test_read_plain_and_gz);
    RUN(test_read_quoted_crlf_spaces);
    RUN(test_header_only);
    RUN(test_malformed_rows);
    RUN(test_bad_header_and_empty);
    RUN(test_long_line);
    RUN(test_skip_counts_and_ranks);
    RUN(test_truncated_and_corrupt_gz);
    RUN(test_write_round_trip);
    RUN(test_merge_filter_counts_stats);
    RUN(test_pick_usage);
    RUN(test_alloc_faults);
    RUN(test_corpus);
    RUN(test_shared_data);
    test_tmp_remove();
    return check_report();
}