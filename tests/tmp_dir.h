/*
 * tmp_dir.h - one temporary folder per test program: made under /tmp from a
 * mkdtemp template, paths built in it, and removed with everything in it at
 * the end. No CHECK here: check.h keeps its counters per program file.
 */
#ifndef FER_TESTS_TMP_DIR_H
#define FER_TESTS_TMP_DIR_H

#include <stddef.h>

/*
 * Makes the folder from a mkdtemp template such as "/tmp/fer_test_data_XXXXXX".
 * Returns 0, or -1 (stderr says why).
 */
int test_tmp_create(const char *name_template);
/* Removes the folder and everything in it, like rm -rf; nothing before test_tmp_create. */
void test_tmp_remove(void);
/* The folder ("" before test_tmp_create). */
const char *test_tmp_dir(void);
/* out receives the path of name in the folder. */
void test_tmp_path(char *out, size_t n, const char *name);

#endif
