/* file.c - safe opens and whole-file reads, with messages that name the file. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m))
        return "a folder";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    if (S_ISSOCK(m))
        return "a socket";
    return "a special file";
}

enum fer_status fer_file_open_regular(const char *path, const char *what, int *fd, struct stat *sb,
                                      char *err)
{
    /* O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever */
    *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0)
        return fer_errorf(err, FER_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
    struct stat st;
    enum fer_status status = FER_OK;
    int flags;
    if (fstat(*fd, &st) != 0)
        status = fer_errorf(err, FER_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        status = fer_errorf(err, FER_ERR_IO, "%s %s is %s, not a regular file", what, path,
                            kind_of(st.st_mode));
    else if ((flags = fcntl(*fd, F_GETFL)) < 0 || fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        status = fer_errorf(err, FER_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
    if (status != FER_OK) {
        close(*fd);
        *fd = -1;
        return status;
    }
    if (sb)
        *sb = st;
    return FER_OK;
}

enum fer_status fer_file_fopen_regular(const char *path, const char *what, FILE **f,
                                       struct stat *sb, char *err)
{
    int fd;
    *f = NULL;
    enum fer_status status = fer_file_open_regular(path, what, &fd, sb, err);
    if (status != FER_OK)
        return status;
    *f = fdopen(fd, "rb");
    if (!*f) {
        close(fd);
        return fer_errorf(err, FER_ERR_IO, "cannot read %s %s: %s", what, path, strerror(errno));
    }
    return FER_OK;
}

enum fer_status fer_file_read(const char *path, const char *what, size_t max_bytes, uint8_t **data,
                              size_t *len, char *err)
{
    *data = NULL;
    *len = 0;
    struct stat sb;
    FILE *f;
    enum fer_status status = fer_file_fopen_regular(path, what, &f, &sb, err);
    if (status != FER_OK)
        return status;
    if ((uintmax_t)sb.st_size > max_bytes) {
        fclose(f);
        return fer_errorf(err, FER_ERR_LIMIT, "%s %s is larger than %zu bytes", what, path,
                          max_bytes);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *buf = fer_malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != size) {
        fer_free(buf);
        return fer_errorf(err, FER_ERR_IO, "short read on %s", path);
    }
    *data = buf;
    *len = size;
    return FER_OK;
}

enum fer_status fer_file_write_atomic(const char *path, const void *data, size_t size, char *err)
{
    size_t n = strlen(path);
    char *tmp = fer_malloc(n + 5);
    if (!tmp)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory writing %s", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    enum fer_status st = FER_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    } else {
        int failed = fwrite(data, 1, size, f) != size;
        failed |= fflush(f) != 0 || fsync(fileno(f)) != 0;
        failed |= fclose(f) != 0;
        if (failed)
            st = fer_errorf(err, FER_ERR_IO, "error writing %s: %s", tmp, strerror(errno));
        else if (rename(tmp, path) != 0)
            st = fer_errorf(err, FER_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
                            strerror(errno));
        if (st != FER_OK)
            remove(tmp);
    }
    fer_free(tmp);
    return st;
}
