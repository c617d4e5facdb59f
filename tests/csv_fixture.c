/* csv_fixture.c - tiny FER2013 CSV fixtures for the data tests (csv_fixture.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream, mkdtemp */
#endif
#include "csv_fixture.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char g_fixture_dir[64];

const struct fer_read_options fixture_read_all = {0, -1, 0};

int fixture_dir_create(const char *name_template)
{
    if (strlen(name_template) >= sizeof(g_fixture_dir)) {
        fprintf(stderr, "fixture_dir_create: template too long: %s\n", name_template);
        return -1;
    }
    strcpy(g_fixture_dir, name_template);
    if (!mkdtemp(g_fixture_dir)) {
        perror("mkdtemp");
        g_fixture_dir[0] = 0;
        return -1;
    }
    return 0;
}

void fixture_dir_remove(void)
{
    if (!g_fixture_dir[0])
        return;
    DIR *dir = opendir(g_fixture_dir);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", g_fixture_dir, e->d_name);
        unlink(path);
    }
    closedir(dir);
    rmdir(g_fixture_dir);
}

const char *fixture_dir(void)
{
    return g_fixture_dir;
}

void fixture_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_fixture_dir, name);
}

void fixture_write_file(const char *name, const char *data, size_t len, int gz)
{
    char path[256];
    fixture_path(path, sizeof(path), name);
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
