/*
 * pg_harness.h - a throwaway PostgreSQL server for tests: initdb and pg_ctl
 * (as the `postgres` user when run as root) in a folder of the caller's, on a
 * free loopback port, stopped at exit. Used by test_storage and test_server.
 */
#ifndef FER_TESTS_PG_HARNESS_H
#define FER_TESTS_PG_HARNESS_H

#include <stddef.h>

/*
 * Starts a server with its files in dir/pg (dir must exist and be readable by
 * the postgres user). On success base_url receives
 * "postgresql://fer@127.0.0.1:PORT/" (append a database name). Returns 1
 * started, 0 skipped (PostgreSQL not installed; a line says so), -1 failed
 * (the logs' paths are printed).
 */
int pg_harness_start(const char *dir, char *base_url, size_t cap);
/* Stops the server, if one runs (also called at exit). */
void pg_harness_stop(void);
/* The server's folder ("" when none was made), kept for its logs when a test fails. */
const char *pg_harness_dir(void);
/* Runs argv (as_pg: as the postgres user when root), output appended to log; its exit status. */
int pg_harness_run(int as_pg, const char *const *argv, const char *log);

#endif
