/* pg_harness.c - a throwaway PostgreSQL server for tests (pg_harness.h). */
#include "pg_harness.h"

#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_pg_bin[256], g_pg_dir[160]; /* server binaries; data folder ("" when none) */
static int g_pg_running;

const char *pg_harness_dir(void)
{
    return g_pg_dir;
}

int pg_harness_run(int as_pg, const char *const *argv, const char *log)
{
    const char *full[16];
    int k = 0;
    if (as_pg && geteuid() == 0)
        for (const char *const *p = (const char *const[]){"runuser", "-u", "postgres", "--", NULL};
             *p; p++)
            full[k++] = *p;
    for (; *argv && k < 15; argv++)
        full[k++] = *argv;
    full[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = fopen(log, "a");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        execvp(full[0], (char *const *)full);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void pg_harness_stop(void)
{
    if (!g_pg_running)
        return;
    g_pg_running = 0;
    char data[256], log[256];
    snprintf(data, sizeof(data), "%s/data", g_pg_dir);
    snprintf(log, sizeof(log), "%s/stop.log", g_pg_dir);
    char ctl[300];
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl", g_pg_bin);
    pg_harness_run(1, (const char *const[]){ctl, "-D", data, "-m", "fast", "-w", "stop", NULL},
                   log);
}

int pg_harness_start(const char *dir, char *base_url, size_t cap)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        printf("skip: PostgreSQL not installed (apt-get install postgresql)\n");
        return 0;
    }
    snprintf(g_pg_bin, sizeof(g_pg_bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    *strrchr(g_pg_bin, '/') = '\0';
    struct passwd *pw = geteuid() == 0 ? getpwnam("postgres") : NULL;
    if (geteuid() == 0 && !pw) {
        printf("skip: running as root and there is no 'postgres' user to run PostgreSQL as\n");
        return 0;
    }
    snprintf(g_pg_dir, sizeof(g_pg_dir), "%s/pg", dir);
    if (mkdir(g_pg_dir, 0700) != 0 || (pw && chown(g_pg_dir, pw->pw_uid, pw->pw_gid) != 0))
        return -1;
    /* A free loopback port: bind to 0 and ask which one we got. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    int port = ntohs(a.sin_port);
    close(fd);
    char initdb[300], ctl[300], data[256], log[256], opts[512], server_log[256];
    snprintf(initdb, sizeof(initdb), "%s/initdb", g_pg_bin);
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl", g_pg_bin);
    snprintf(data, sizeof(data), "%s/data", g_pg_dir);
    snprintf(log, sizeof(log), "%s/setup.log", g_pg_dir);
    snprintf(server_log, sizeof(server_log), "%s/server.log", g_pg_dir);
    snprintf(opts, sizeof(opts), "-p %d -k %s -c listen_addresses=127.0.0.1", port, g_pg_dir);
    if (pg_harness_run(1,
                       (const char *const[]){initdb, "-D", data, "-A", "trust", "-U", "fer", "-E",
                                             "UTF8", "--no-sync", NULL},
                       log) != 0)
        goto fail;
    if (pg_harness_run(1,
                       (const char *const[]){ctl, "-D", data, "-l", server_log, "-w", "-t", "60",
                                             "-o", opts, "start", NULL},
                       log) != 0)
        goto fail;
    g_pg_running = 1;
    atexit(pg_harness_stop);
    snprintf(base_url, cap, "postgresql://fer@127.0.0.1:%d/", port);
    return 1;
fail:
    fprintf(stderr, "  cannot start PostgreSQL; see %s and %s\n", log, server_log);
    return -1;
}
