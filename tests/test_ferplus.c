/*
 * test_ferplus.c - FER+ relabelling in the data module: majority and soft
 * labels from the FER+ votes, aligned with FER2013 by usage and rank, the
 * fer2013+ferplus blend of one-hot and vote targets, and dropping the faces
 * FER+ finds unusable (the CSV reader itself: test_data.c).
 *
 * Fixtures are a five-face FER2013 CSV and a matching fer2013new.csv written
 * by hand (csv_fixture.h) into a fresh directory under /tmp. Malformed FER+
 * files and failing allocations must give a clean error, never a crash or a
 * leak, and leave the dataset unchanged. When the shared data is present,
 * the real FER+ file is applied to the real FER2013 files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "csv_fixture.h"
#include "data/dataset.h"
#include "tmp_dir.h"

/*
 * The FER+ fixture. Dataset rows (file order): T0 T1 P0 T2 P1. The FER+ file
 * lists Training first, so only alignment by usage and rank matches them up.
 */
static const char ferplus_text[] =
    "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    "Training,fer0000000.png,4,0,0,1,3,2,0,0,0,0\n"   /* T0: neutral (6) */
    "Training,fer0000001.png,0,3,0,0,3,0,0,4,0,0\n"   /* T1: tie happy/angry -> angry (0) */
    "Training,,6,0,0,0,0,0,0,0,0,4\n"                 /* T2: excluded (empty name) */
    "PublicTest,fer0000003.png,0,0,0,0,0,0,4,0,5,1\n" /* P0: unknown+NF 6 > fear 4 */
    "PublicTest,fer0000004.png,0,0,5,0,0,0,0,0,3,2\n" /* P1: surprise (5), junk = max */
    "PrivateTest,fer0000005.png,0,0,0,0,0,0,0,0,0,0\n";

static fer_dataset *make_ferplus_fixture(void)
{
    struct fixture_text t;
    fixture_text_open(&t);
    fprintf(t.f, "emotion,pixels,Usage\n");
    fixture_add_row(&t, "1", 0, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_add_row(&t, "2", 1, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_add_row(&t, "3", 2, FER_FACE_PIXELS, " ", "PublicTest", 0, "\n");
    fixture_add_row(&t, "4", 3, FER_FACE_PIXELS, " ", "Training", 0, "\n");
    fixture_add_row(&t, "6", 4, FER_FACE_PIXELS, " ", "PublicTest", 0, "\n");
    fixture_text_close(&t);
    fixture_write_file("fp_ds.csv", t.s, t.n, 0);
    free(t.s);
    fixture_write_str("fp.csv", ferplus_text);
    return fixture_read_ok("fp_ds.csv", NULL);
}

TEST(test_ferplus)
{
    char fp[256], err[FER_ERR_LEN] = "";
    size_t dropped = 99;
    test_tmp_path(fp, sizeof(fp), "fp.csv");

    fer_dataset *ds = make_ferplus_fixture();
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_MAJORITY, 0, &dropped, err) ==
          FER_OK);
    CHECK(dropped == 0 && ds->n == 5 && ds->soft == NULL);
    /* T0 neutral, T1 angry (tie), P0 unusable keeps 3, T2 unusable keeps 4, P1 surprise. */
    static const uint8_t majority[] = {6, 0, 3, 4, 5};
    CHECK(memcmp(ds->labels, majority, 5) == 0);
    fer_dataset_free(ds);

    ds = make_ferplus_fixture();
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_SOFT, 0, &dropped, err) == FER_OK);
    CHECK(ds->soft != NULL && memcmp(ds->labels, majority, 5) == 0);
    if (ds->soft) {
        /* T0 votes: neutral 4, sadness 1, anger 3, disgust 2 of 10. */
        const float *s = ds->soft;
        CHECK_NEAR(s[6], 0.4, 1e-6);
        CHECK_NEAR(s[4], 0.1, 1e-6);
        CHECK_NEAR(s[0], 0.3, 1e-6);
        CHECK_NEAR(s[1], 0.2, 1e-6);
        CHECK(s[3] == 0.0f && s[2] == 0.0f && s[5] == 0.0f);
        CHECK_NEAR(s[7 + 0], 0.5, 1e-6); /* T1: contempt dropped, 3 + 3 */
        CHECK_NEAR(s[7 + 3], 0.5, 1e-6);
        for (int c = 0; c < 7; c++) {
            CHECK(s[2 * 7 + c] == (c == 3 ? 1.0f : 0.0f)); /* P0 unusable: one-hot FER2013 */
            CHECK(s[3 * 7 + c] == (c == 4 ? 1.0f : 0.0f));
            CHECK(s[4 * 7 + c] == (c == 5 ? 1.0f : 0.0f));
        }
    }
    CHECK(fer_dataset_merge_disgust(ds, err) == FER_OK);
    CHECK_NEAR(ds->soft[0], 0.5, 1e-6); /* T0 angry + disgust */
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_SOFT, 0, NULL, err) ==
          FER_ERR_STATE);
    fer_dataset_free(ds);

    ds = make_ferplus_fixture();
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_SOFT, 1, &dropped, err) == FER_OK);
    CHECK(dropped == 2 && ds->n == 3);
    if (ds->n == 3) {
        CHECK(ds->labels[0] == 6 && ds->labels[1] == 0 && ds->labels[2] == 5);
        CHECK(fixture_row_matches(ds, 2, 4) && ds->usage_rank[2] == 1);
        CHECK(ds->soft[2 * 7 + 5] == 1.0f);
    }
    fer_dataset_free(ds);

    /* FER2013 labels, only the unusable rows dropped. */
    ds = make_ferplus_fixture();
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FER2013, 1, &dropped, err) == FER_OK);
    CHECK(dropped == 2 && ds->n == 3 && ds->labels[0] == 1 && ds->labels[2] == 6);
    fer_dataset_free(ds);

    /* A PublicTest-only dataset aligns with the PublicTest rows of FER+. */
    char path[256];
    test_tmp_path(path, sizeof(path), "fp_ds.csv");
    struct fer_read_options pub = {0, FER_USAGE_PUBLIC_TEST, 0};
    ds = NULL;
    CHECK(fer_dataset_read_csv(path, &pub, &ds, NULL, err) == FER_OK);
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_MAJORITY, 0, NULL, err) == FER_OK);
    CHECK(ds->n == 2 && ds->labels[0] == 3 && ds->labels[1] == 5);
    fer_dataset_free(ds);
}

/* fer2013+ferplus: FER2013 labels stay, targets mix their one-hot with the FER+ votes. */
TEST(test_ferplus_blend)
{
    char fp[256], err[FER_ERR_LEN] = "";
    test_tmp_path(fp, sizeof(fp), "fp.csv");
    static const uint8_t original[] = {1, 2, 3, 4, 6};

    fer_dataset *ds = make_ferplus_fixture();
    CHECK(fer_dataset_blend_ferplus(ds, fp, 0.5f, 0, NULL, err) == FER_OK);
    CHECK(ds->soft != NULL && memcmp(ds->labels, original, 5) == 0);
    if (ds->soft) {
        /* T0, labelled disgust; votes neutral .4, sadness .1, anger .3, disgust .2 */
        const float *s = ds->soft;
        CHECK_NEAR(s[1], 0.5 + 0.5 * 0.2, 1e-6);
        CHECK_NEAR(s[6], 0.5 * 0.4, 1e-6);
        CHECK_NEAR(s[4], 0.5 * 0.1, 1e-6);
        CHECK_NEAR(s[0], 0.5 * 0.3, 1e-6);
        /* T1, labelled fear (2), which no annotator chose: half fear, half angry/happy */
        CHECK_NEAR(s[7 + 2], 0.5, 1e-6);
        CHECK_NEAR(s[7 + 0], 0.25, 1e-6);
        CHECK_NEAR(s[7 + 3], 0.25, 1e-6);
        for (size_t i = 0; i < 5; i++) {
            double sum = 0;
            for (int c = 0; c < 7; c++)
                sum += (double)s[i * 7 + c];
            CHECK_NEAR(sum, 1.0, 1e-6);
        }
        for (int c = 0; c < 7; c++) /* P0 is unusable: its own one-hot */
            CHECK(s[2 * 7 + c] == (c == 3 ? 1.0f : 0.0f));
    }
    fer_dataset_free(ds);

    ds = make_ferplus_fixture(); /* weight 0: plain one-hot targets */
    CHECK(fer_dataset_blend_ferplus(ds, fp, 0.0f, 0, NULL, err) == FER_OK);
    for (size_t i = 0; ds->soft && i < 5; i++)
        for (int c = 0; c < 7; c++)
            CHECK(ds->soft[i * 7 + c] == (c == original[i] ? 1.0f : 0.0f));
    fer_dataset_free(ds);

    ds = make_ferplus_fixture(); /* dropping the unusable rows keeps the survivors' labels */
    size_t dropped = 0;
    CHECK(fer_dataset_blend_ferplus(ds, fp, 0.25f, 1, &dropped, err) == FER_OK);
    CHECK(dropped == 2 && ds->n == 3 && ds->labels[2] == 6);
    if (ds->n == 3 && ds->soft)
        CHECK_NEAR(ds->soft[2 * 7 + 5], 0.25, 1e-6); /* P1: surprise by FER+, neutral here */
    fer_dataset_free(ds);

    ds = make_ferplus_fixture();
    CHECK(fer_dataset_blend_ferplus(ds, fp, 1.5f, 0, NULL, err) == FER_ERR_ARG);
    CHECK(strstr(err, "1.5") != NULL && ds->soft == NULL);
    CHECK(fer_dataset_blend_ferplus(ds, fp, 0.0f / 0.0f, 0, NULL, err) == FER_ERR_ARG);
    fer_dataset_free(ds);
    CHECK(fer_label_source_parse("fer2013+ferplus") == FER_LABELS_BLEND);
    CHECK(strcmp(fer_label_source_name(FER_LABELS_BLEND), "fer2013+ferplus") == 0);
}

TEST(test_ferplus_errors)
{
    char fp[256], err[FER_ERR_LEN] = "";
    test_tmp_path(fp, sizeof(fp), "fp_bad.csv");
    fer_dataset *ds = make_ferplus_fixture();

    /* Too few PublicTest rows in FER+. */
    fixture_write_str(
        "fp_bad.csv",
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
        "unknown,NF\n"
        "Training,a,1,0,0,0,0,0,0,0,0,0\nTraining,b,1,0,0,0,0,0,0,0,0,0\n"
        "Training,c,1,0,0,0,0,0,0,0,0,0\nPublicTest,d,1,0,0,0,0,0,0,0,0,0\n");
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_MAJORITY, 1, NULL, err) ==
          FER_ERR_FORMAT);
    CHECK(strstr(err, "fp_bad.csv") && strstr(err, "PublicTest"));
    CHECK(ds->n == 5 && ds->labels[0] == 1); /* unchanged on error */

    static const char *const bad[] = {
        "Usage,Image name,neutral\nTraining,a,1\n",
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,"
        "NF\nTraining,a,1,0,0,0,0,0,0,0,0\n",
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,"
        "NF\nTraining,a,1,0,x,0,0,0,0,0,0,0\n",
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,"
        "NF\nValid,a,1,0,0,0,0,0,0,0,0,0\n",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fixture_write_str("fp_bad.csv", bad[i]);
        err[0] = 0;
        CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_SOFT, 0, NULL, err) ==
              FER_ERR_FORMAT);
        CHECK(strstr(err, "fp_bad.csv") != NULL);
        CHECK(ds->soft == NULL);
    }
    CHECK(strstr(err, "empty") != NULL);
    test_tmp_path(fp, sizeof(fp), "missing.csv");
    CHECK(fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_SOFT, 0, NULL, err) == FER_ERR_IO);
    CHECK(fer_dataset_apply_ferplus(ds, fp, (enum fer_label_source)9, 0, NULL, err) == FER_ERR_ARG);
    fer_dataset_free(ds);
}

/* Every allocation of a FER+ apply may fail: NOMEM, never a leak, the dataset unchanged. */
TEST(test_ferplus_alloc_faults)
{
    fer_dataset_free(make_ferplus_fixture());
    char path[256], fp[256], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof(path), "fp_ds.csv");
    test_tmp_path(fp, sizeof(fp), "fp.csv");
    int reached_ok = 0;
    for (long k = 0; k < 100 && !reached_ok; k++) {
        fer_dataset *ds = NULL;
        CHECK(fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err) == FER_OK);
        size_t dropped = 0;
        fer_alloc_fail_after(k);
        enum fer_status st =
            fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_SOFT, 1, &dropped, err);
        fer_alloc_fail_after(-1);
        CHECK(st == FER_OK || st == FER_ERR_NOMEM);
        if (st == FER_OK)
            CHECK(ds->n == 3 && ds->soft && dropped == 2);
        else
            CHECK(ds->n == 5 && !ds->soft && ds->labels[0] == 1);
        reached_ok = st == FER_OK;
        fer_dataset_free(ds);
    }
    CHECK(reached_ok);
}

/* The real files, when the shared data is there. */
TEST(test_ferplus_shared_data)
{
    const char *root = check_shared_data();
    if (!root) {
        CHECK_SKIP("FER+ not found in ../shared/data or FER_SHARED_DATA");
        return;
    }
    char path[512], fp[512], err[FER_ERR_LEN] = "";
    snprintf(path, sizeof(path), "%s/fer2013/publictest.csv.gz", root);
    snprintf(fp, sizeof(fp), "%s/ferplus/fer2013new.csv", root);
    fer_dataset *ds = NULL;
    enum fer_status st = fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err);
    if (st != FER_OK)
        fprintf(stderr, "  %s\n", err);
    CHECK(st == FER_OK);
    if (st != FER_OK)
        return;

    /* FER+ majority vs FER2013 labels on the usable rows: about 63% agree. */
    uint8_t *orig = malloc(ds->n);
    memcpy(orig, ds->labels, ds->n);
    size_t dropped = 0;
    st = fer_dataset_apply_ferplus(ds, fp, FER_LABELS_FERPLUS_MAJORITY, 1, &dropped, err);
    if (st != FER_OK)
        fprintf(stderr, "  %s\n", err);
    CHECK(st == FER_OK);
    size_t agree = 0;
    for (size_t i = 0; i < ds->n; i++)
        agree += ds->labels[i] == orig[ds->usage_rank[i]];
    double frac = ds->n ? (double)agree / (double)ds->n : 0.0;
    printf("     publictest: FER+ dropped %zu rows, majority agrees with FER2013 on %.1f%%\n",
           dropped, 100.0 * frac);
    CHECK(dropped >= 10 && dropped < 200);
    CHECK(frac > 0.60 && frac < 0.66);
    free(orig);
    fer_dataset_free(ds);

    /* The training file blended half and half: labels stay, every target is a distribution
       whose largest entry is the FER2013 label (which holds at least half of it). */
    snprintf(path, sizeof(path), "%s/fer2013/train.csv.gz", root);
    ds = NULL;
    st = fer_dataset_read_csv(path, &fixture_read_all, &ds, NULL, err);
    if (st != FER_OK)
        fprintf(stderr, "  %s\n", err);
    CHECK(st == FER_OK);
    if (st != FER_OK)
        return;
    size_t n = ds->n;
    orig = malloc(n);
    memcpy(orig, ds->labels, n);
    st = fer_dataset_blend_ferplus(ds, fp, 0.5f, 0, NULL, err);
    if (st != FER_OK)
        fprintf(stderr, "  %s\n", err);
    CHECK(st == FER_OK);
    CHECK(n > 20000 && ds->n == n && ds->n_classes == 7 && ds->soft != NULL);
    CHECK(memcmp(ds->labels, orig, n) == 0);
    size_t bad_sum = 0, bad_argmax = 0, one_hot = 0;
    for (size_t i = 0; ds->soft && ds->n == n && i < n; i++) {
        const float *s = ds->soft + i * 7;
        double sum = 0;
        int argmax_ok = 1;
        for (int c = 0; c < 7; c++) {
            sum += (double)s[c];
            if (s[c] > s[orig[i]])
                argmax_ok = 0;
        }
        bad_sum += fabs(sum - 1.0) > 1e-5;
        bad_argmax += !argmax_ok;
        one_hot += s[orig[i]] == 1.0f;
    }
    printf("     train: %zu rows blended at weight 0.5, %zu with one-hot targets\n", n, one_hot);
    CHECK(bad_sum == 0);
    CHECK(bad_argmax == 0);
    free(orig);
    fer_dataset_free(ds);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_ferplus_XXXXXX") != 0)
        return 1;
    RUN(test_ferplus);
    RUN(test_ferplus_blend);
    RUN(test_ferplus_errors);
    RUN(test_ferplus_alloc_faults);
    RUN(test_ferplus_shared_data);
    test_tmp_remove();
    return check_report();
}
