/* tmp_dir.c - one temporary folder per test program (tmp_dir.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include "tmp_dir.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_tmp_dir[64];

int test_tmp_create(const char *name_template)
{
    if (strlen(name_template) >= sizeof(g_tmp_dir)) {
        fprintf(stderr, "test_tmp_create: template too long: %s\n", name_template);
        return -1;
    }
    strcpy(g_tmp_dir, name_template);
    if (!mkdtemp(g_tmp_dir)) {
        perror("mkdtemp");
        g_tmp_dir[0] = 0;
        return -1;
    }
    return 0;
}

static int g_remove_failed;

/* Called children first (FTW_DEPTH); goes on past a failure to remove what it can. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0)
        g_remove_failed = 1;
    return 0;
}

void test_tmp_remove(void)
{
    if (!g_tmp_dir[0])
        return;
    g_remove_failed = 0;
    if (nftw(g_tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 || g_remove_failed)
        fprintf(stderr, "could not remove %s\n", g_tmp_dir);
    g_tmp_dir[0] = 0;
}

const char *test_tmp_dir(void)
{
    return g_tmp_dir;
}

void test_tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_tmp_dir, name);
}
