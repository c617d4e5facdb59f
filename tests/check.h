/*
 * check.h - the tiny test harness every tests/test_<module>.c uses.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-5); }
 *   int main(void) { RUN(name); return check_report(); }
 *
 * A failed CHECK prints file, line and expression and marks the current test
 * failed; CHECK_SKIP("why") in a test that cannot run here (it needs
 * ../shared, say) counts it as skipped. The program ends with
 * "N passed, N failed, N skipped" and exits non-zero when any test failed.
 */
#ifndef FER_TESTS_CHECK_H
#define FER_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed, check_skipped, check_current_failed, check_current_skipped;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check_a_ = (double)(a), check_b_ = (double)(b);                                     \
        if (!(fabs(check_a_ - check_b_) <= (double)(tol))) {                                       \
            fprintf(stderr, "  %s:%d: %s = %g, expected %s = %g (tol %g)\n", __FILE__, __LINE__,   \
                    #a, check_a_, #b, check_b_, (double)(tol));                                    \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                           \
            fprintf(stderr, "  %s:%d: %s = \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,     \
                    check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");               \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

/* Marks the current test skipped (it still fails if a CHECK failed before); return after it. */
#define CHECK_SKIP(...)                                                                            \
    do {                                                                                           \
        printf("skip %s: ", __func__);                                                             \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        check_current_skipped = 1;                                                                 \
    } while (0)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        check_current_failed = 0;                                                                  \
        check_current_skipped = 0;                                                                 \
        name();                                                                                    \
        if (check_current_skipped && !check_current_failed) {                                      \
            check_skipped++;                                                                       \
        } else if (check_current_failed) {                                                         \
            check_failed++;                                                                        \
            fprintf(stderr, "FAIL %s\n", #name);                                                   \
        } else {                                                                                   \
            check_passed++;                                                                        \
            printf("ok   %s\n", #name);                                                            \
        }                                                                                          \
    } while (0)

static inline int check_report(void)
{
    (void)check_current_skipped; /* only the macros use it */
    printf("%d passed, %d failed, %d skipped\n", check_passed, check_failed, check_skipped);
    return check_failed ? 1 : 0;
}

/* Directory of the shared data, or NULL (tests that need it print why they skip). */
static inline const char *check_shared_data(void)
{
    static const char *candidates[] = {"../shared/data", "../../shared/data", NULL};
    const char *env = getenv("FER_SHARED_DATA");
    if (env)
        return env;
    for (int i = 0; candidates[i]; i++) {
        char probe[512];
        snprintf(probe, sizeof(probe), "%s/fer2013/README.md", candidates[i]);
        FILE *f = fopen(probe, "r");
        if (f) {
            fclose(f);
            return candidates[i];
        }
    }
    return NULL;
}

#endif
