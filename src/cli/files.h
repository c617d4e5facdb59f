/*
 * files.h - expanding the IMAGE|DIR arguments of fer detect and fer predict
 * into a sorted list of image files (folders are walked recursively).
 */
#ifndef FER_CLI_FILES_H
#define FER_CLI_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

struct fer_file_list {
    char **paths;
    size_t n, cap;
};

/* Adds each argument: a file as given, a folder's .jpg/.jpeg/.png/.webp files sorted by path. */
enum fer_status fer_file_list_add(struct fer_file_list *l, const char *arg, char *err);
void fer_file_list_free(struct fer_file_list *l);

/* Makes every folder above path, as mkdir -p of its parent would; 0, or -1 with a message
   naming the folder that could not be made. */
int fer_make_parents(const char *path, char *err);

/* Reads all of standard input (the image argument "-") into *data (fer_malloc'd), at most max
   bytes; a terminal on stdin is refused rather than waited for. */
enum fer_status fer_read_stdin(uint8_t **data, size_t *len, size_t max, char *err);

#endif
