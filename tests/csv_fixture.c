/* csv_fixture.c - tiny FER2013 CSV fixtures for the data tests (csv_fixture.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream */
#endif
#include "csv_fixture.h"

#include <string.h>
#include <zlib.h>

const struct fer_read_options fixture_read_all = {0, -1, 0};

void fixture_write_file(const char *name, const char *data, size_t len, int gz)
{
    char path[256];
    test_tmp_path(path, sizeof(path), name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || (len && gzwrite(f, data, (unsigned)len) != (int)len) || gzclose(f) != Z_OK)
            fprintf(stderr, "  cannot write fixture %s\n", path);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
            fprintf(stderr, "  cannot write fixture %s\n", path);
    }
}

void fixture_write_str(const char *name, const char *s)
{
    fixture_write_file(name, s, strlen(s), 0);
}

uint8_t fixture_pat(int r, int k)
{
    return (uint8_t)((k * 7 + r * 13) % 256);
}

void fixture_text_open(struct fixture_text *t)
{
    t->s = NULL;
    t->n = 0;
    t->f = open_memstream(&t->s, &t->n);
}

void fixture_text_close(struct fixture_text *t)
{
    fclose(t->f);
}

void fixture_add_row(struct fixture_text *t, const char *label, int r, int npx, const char *sep,
                     const char *usage, int quote, const char *eol)
{
    fprintf(t->f, "%s,%s", label, quote ? "\"" : "");
    for (int k = 0; k < npx; k++)
        fprintf(t->f, "%s%d", k ? sep : "", fixture_pat(r, k));
    fprintf(t->f, "%s,%s%s", quote ? "\"" : "", usage, eol);
}

int fixture_row_matches(const fer_dataset *ds, size_t i, int r)
{
    for (int k = 0; k < FER_FACE_PIXELS; k++)
        if (ds->pixels[i * FER_FACE_PIXELS + k] != fixture_pat(r, k))
            return 0;
    return 1;
}
