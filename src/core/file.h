/*
 * file.h - reading a whole file into memory, with a size limit.
 */
#ifndef FER_CORE_FILE_H
#define FER_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/*
 * Reads all of path into *data (fer_malloc'd, freed by the caller with
 * fer_free) of *len bytes. Files larger than max_bytes fail with
 * FER_ERR_LIMIT; `what` names the file's role in messages ("model", ...).
 */
enum fer_status fer_file_read(const char *path, const char *what, size_t max_bytes,
                              uint8_t **data, size_t *len, char *err);

#endif
