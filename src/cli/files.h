/*
 * files.h - expanding the IMAGE|DIR arguments of fer detect and fer predict
 * into a sorted list of image files (folders are walked recursively).
 */
#ifndef FER_CLI_FILES_H
#define FER_CLI_FILES_H

#include <stddef.h>

#include "core/status.h"

struct fer_file_list {
    char **paths;
    size_t n, cap;
};

/* Adds each argument: a file as given, a folder's .jpg/.jpeg/.png files sorted by path. */
enum fer_status fer_file_list_add(struct fer_file_list *l, const char *arg, char *err);
void fer_file_list_free(struct fer_file_list *l);

#endif
