/*
 * csv_fixture.h - tiny FER2013 CSV fixtures for the data tests (test_data,
 * test_ferplus): files written by hand (plain or gzip) into the folder of
 * tmp_dir.h, rows of a known pixel pattern, and reading them back.
 */
#ifndef FER_TESTS_CSV_FIXTURE_H
#define FER_TESTS_CSV_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "data/dataset.h"
#include "tmp_dir.h"

/* Writes bytes to test_tmp_dir()/name, gzip-compressed when gz is set. */
void fixture_write_file(const char *name, const char *data, size_t len, int gz);
void fixture_write_str(const char *name, const char *s);

/* The test pattern: pixel k of fixture row r. */
uint8_t fixture_pat(int r, int k);

/* A string being built with open_memstream. */
struct fixture_text {
    FILE *f;
    char *s;
    size_t n;
};

void fixture_text_open(struct fixture_text *t);
void fixture_text_close(struct fixture_text *t);

/*
 * Appends a row with label text, npx pattern pixels of row r joined by sep,
 * the usage, and eol. quote wraps the pixel field in double quotes.
 */
void fixture_add_row(struct fixture_text *t, const char *label, int r, int npx, const char *sep,
                     const char *usage, int quote, const char *eol);

/* Every row, every usage, no skipping. */
extern const struct fer_read_options fixture_read_all;

/* Whether row i of ds holds the pattern of fixture row r. */
int fixture_row_matches(const fer_dataset *ds, size_t i, int r);

/*
 * Reads test_tmp_dir()/name (opt NULL: fixture_read_all); a failed read fails the
 * current test. Inline here because check.h keeps its state per program file.
 */
static inline fer_dataset *fixture_read_ok(const char *name, const struct fer_read_options *opt)
{
    char path[256], err[FER_ERR_LEN] = "";
    fer_dataset *ds = NULL;
    test_tmp_path(path, sizeof(path), name);
    enum fer_status st = fer_dataset_read_csv(path, opt ? opt : &fixture_read_all, &ds, NULL, err);
    if (st != FER_OK)
        fprintf(stderr, "  read %s: %s\n", name, err);
    CHECK(st == FER_OK);
    return ds;
}

#endif
