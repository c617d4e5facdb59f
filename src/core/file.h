/*
 * file.h - opening files for reading without hanging on FIFOs or devices, reading a whole
 * file into memory with a size limit, and writing one atomically.
 */
#ifndef FER_CORE_FILE_H
#define FER_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/status.h"

/*
 * Opens path for reading into *fd only if it is a regular file: a FIFO, a device or a folder
 * fails at once (FER_ERR_IO) instead of blocking on open or read. *sb receives its status when
 * sb is not NULL. `what` names the file's role in messages ("image", "model", ...).
 */
enum fer_status fer_file_open_regular(const char *path, const char *what, int *fd, struct stat *sb,
                                      char *err);

/* The same as a stdio stream (binary, read-only). */
enum fer_status fer_file_fopen_regular(const char *path, const char *what, FILE **f,
                                       struct stat *sb, char *err);

/*
 * Reads all of path into *data (fer_malloc'd, freed by the caller with
 * fer_free) of *len bytes. Files larger than max_bytes fail with
 * FER_ERR_LIMIT; `what` names the file's role in messages ("model", ...).
 */
enum fer_status fer_file_read(const char *path, const char *what, size_t max_bytes, uint8_t **data,
                              size_t *len, char *err);

/*
 * Writes size bytes to path atomically: to "<path>.tmp", flushed to disk, then renamed over
 * path, so that a reader never sees half a file and a failure leaves the old one.
 */
enum fer_status fer_file_write_atomic(const char *path, const void *data, size_t size, char *err);

#endif
