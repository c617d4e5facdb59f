/* files.c - walking folders for image files. */
#include "cli/files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

static enum fer_status push(struct fer_file_list *l, const char *path, char *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **p = fer_realloc(l->paths, cap * sizeof(char *));
        if (!p)
            return fer_errorf(err, FER_ERR_NOMEM, "out of memory listing files");
        l->paths = p;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = fer_strdup(path)))
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory listing files");
    l->n++;
    return FER_OK;
}

static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                   !strcasecmp(dot, ".png") || !strcasecmp(dot, ".webp"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

#define MAX_DEPTH 32

/* The folders from the top of the walk down to the current one, to notice symlink loops. */
struct ancestors {
    dev_t dev[MAX_DEPTH + 1];
    ino_t ino[MAX_DEPTH + 1];
    int n;
};

static int is_ancestor(const struct ancestors *a, const struct stat *sb)
{
    for (int i = 0; i < a->n; i++)
        if (a->dev[i] == sb->st_dev && a->ino[i] == sb->st_ino)
            return 1;
    return 0;
}

static enum fer_status walk(struct fer_file_list *l, const char *dir, struct ancestors *up,
                            char *err)
{
    if (up->n > MAX_DEPTH)
        return fer_errorf(err, FER_ERR_LIMIT, "%s: folders nested too deeply (more than %d)", dir,
                          MAX_DEPTH);
    DIR *d = opendir(dir);
    if (!d)
        return fer_errorf(err, FER_ERR_IO, "cannot read folder %s: %s", dir, strerror(errno));
    size_t first = l->n;
    enum fer_status st = FER_OK;
    struct dirent *ent;
    while (st == FER_OK && (ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name) >= sizeof(path))
            continue;
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode) && is_ancestor(up, &sb)) {
            fprintf(stderr,
                    "fer: %s leads back to a folder above it (a symbolic link loop): "
                    "not followed\n",
                    path);
        } else if (S_ISDIR(sb.st_mode)) {
            up->dev[up->n] = sb.st_dev;
            up->ino[up->n++] = sb.st_ino;
            st = walk(l, path, up, err);
            up->n--;
        } else if (S_ISREG(sb.st_mode) && is_image_name(ent->d_name))
            st = push(l, path, err);
    }
    closedir(d);
    if (st == FER_OK)
        qsort(l->paths + first, l->n - first, sizeof(char *), cmp_str);
    return st;
}

enum fer_status fer_file_list_add(struct fer_file_list *l, const char *arg, char *err)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", arg);
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/')
            dir[--len] = 0;
        struct ancestors up = {.dev = {sb.st_dev}, .ino = {sb.st_ino}, .n = 1};
        return walk(l, dir, &up, err);
    }
    /* files go in as given; a missing one fails later with its own message */
    return push(l, arg, err);
}

int fer_make_parents(const char *path, char *err)
{
    char dir[4096];
    if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
        return 0; /* whoever opens the file will report the name */
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fer_errorf(err, FER_ERR_IO, "cannot create the folder %.300s: %s", dir,
                       strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

enum fer_status fer_read_stdin(uint8_t **data, size_t *len, size_t max, char *err)
{
    *data = NULL;
    *len = 0;
    if (isatty(0))
        return fer_errorf(err, FER_ERR_ARG,
                          "'-' reads an image from standard input, which is a terminal: pipe "
                          "or redirect one (fer predict - < photo.jpg)");
    size_t cap = 0;
    uint8_t *buf = NULL;
    for (;;) {
        if (*len == cap) {
            if (cap >= max) {
                fer_free(buf);
                return fer_errorf(err, FER_ERR_LIMIT,
                                  "standard input holds more than %zu bytes: too large for an "
                                  "image",
                                  max);
            }
            cap = cap ? (2 * cap < max ? 2 * cap : max) : 1 << 16;
            uint8_t *b = fer_realloc(buf, cap);
            if (!b) {
                fer_free(buf);
                return fer_errorf(err, FER_ERR_NOMEM, "out of memory reading standard input");
            }
            buf = b;
        }
        ssize_t got = read(0, buf + *len, cap - *len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fer_free(buf);
            return fer_errorf(err, FER_ERR_IO, "cannot read standard input: %s", strerror(errno));
        }
        if (got == 0)
            break;
        *len += (size_t)got;
    }
    *data = buf;
    return FER_OK;
}

void fer_file_list_free(struct fer_file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        fer_free(l->paths[i]);
    fer_free(l->paths);
    memset(l, 0, sizeof(*l));
}
