/* file.c - whole-file reads with a size limit and messages that name the file. */
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"

enum fer_status fer_file_read(const char *path, const char *what, size_t max_bytes,
                              uint8_t **data, size_t *len, char *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fer_errorf(err, FER_ERR_IO, "cannot open %s %s: %s", what, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return fer_errorf(err, FER_ERR_IO, "%s %s is not a regular file", what, path);
    }
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
