/*
 * test_detect.c - tests of the detect module: OpenCV cascade files, the
 * Viola-Jones scan (Viola & Jones 2001; tilted features after Lienhart &
 * Maydt 2002) and the grouping of boxes.
 *
 * Every cascade Debian's opencv-data ships must load; broken files
 * (truncated, wrong root, missing parts, bad indices, garbage) must fail with
 * FER_ERR_FORMAT naming the file, and failing allocations must be reported
 * and leak nothing. Tiny hand-written cascades check the scan on synthetic
 * images, old and new file layouts against each other. When the shared data
 * is present, the boxes on the media photos must equal OpenCV 4.6's, as
 * recorded by scripts/detect_reference.py in tests/data/detect_reference.json.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/rng.h"
#include "detect/cascade.h"
#include "detect/cascade_internal.h"
#include "image/image.h"
#include "tmp_dir.h"

#define CASCADE_DIR "/usr/share/opencv4"
#define FRONTAL     CASCADE_DIR "/haarcascades/haarcascade_frontalface_default.xml"
#define PLATE       CASCADE_DIR "/haarcascades/haarcascade_licence_plate_rus_16stages.xml"

/* A 6x6 cascade of one stump: passes windows whose left half is at least as bright. */
static const char *tiny_new =
    "<?xml version=\"1.0\"?>\n<opencv_storage>\n"
    "<cascade type_id=\"opencv-cascade-classifier\"><stageType>BOOST</stageType>\n"
    "  <featureType>HAAR</featureType><height>6</height><width>6</width>\n"
    "  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>\n"
    "  <featureParams><maxCatCount>0</maxCatCount></featureParams>\n"
    "  <stageNum>1</stageNum>\n"
    "  <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.</stageThreshold>\n"
    "    <weakClassifiers><_><internalNodes>0 -1 0 0.</internalNodes>\n"
    "      <leafValues>-1. 1.</leafValues></_></weakClassifiers></_></stages>\n"
    "  <features><_><rects><_>0 0 6 6 -1.</_><_>0 0 3 6 2.</_></rects>\n"
    "    <tilted>0</tilted></_></features></cascade>\n</opencv_storage>\n";

/* The same cascade in the OpenCV 1.x layout, with a third rectangle of weight ~0 */
static const char *tiny_old =
    "<?xml version=\"1.0\"?>\n<opencv_storage>\n"
    "<tiny type_id=\"opencv-haar-classifier\">\n  <size>6 6</size>\n  <stages><_>\n"
    "    <trees><_><_>\n      <feature><rects><_>0 0 6 6 -1.</_><_>0 0 3 6 2.</_>\n"
    "        <_>1 1 1 1 1e-9</_></rects><tilted>0</tilted></feature>\n"
    "      <threshold>0.</threshold><left_val>-1.</left_val><right_val>1.</right_val>\n"
    "    </_></_></trees>\n    <stage_threshold>0.</stage_threshold>\n"
    "    <parent>-1</parent><next>-1</next></_></stages></tiny>\n</opencv_storage>\n";

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        fprintf(stderr, "  cannot write fixture %s\n", path);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? malloc(1 << 20) : NULL;
    *len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    if (buf)
        buf[*len] = '\0';
    if (f)
        fclose(f);
    return buf;
}

/* Replaces the first occurrence of from with to in s (a fresh malloc'ed copy). */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at)
        return NULL;
    size_t a = (size_t)(at - s), n = strlen(s) + strlen(to) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s%s%s", (int)a, s, to, at + strlen(from));
    return out;
}

/* Horizontal ramp: bright on the left when falling, else bright on the right. */
static void ramp(fer_image *img, int w, int h, int falling)
{
    char err[FER_ERR_LEN];
    if (fer_image_new(w, h, 1, img, err) != FER_OK)
        return;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int v = 10 * x + (y % 3); /* steep enough to pass the variance test */
            img->data[y * w + x] = (uint8_t)(falling ? 250 - v : v + 5);
        }
}

static int same_rects(const fer_rect *a, size_t na, const fer_rect *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

TEST(load_every_shipped_cascade)
{
    const char *dirs[] = {CASCADE_DIR "/haarcascades", CASCADE_DIR "/lbpcascades"};
    int loaded = 0;
    for (int d = 0; d < 2; d++) {
        DIR *dir = opendir(dirs[d]);
        CHECK(dir != NULL);
        if (!dir)
            continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (!strstr(e->d_name, ".xml"))
                continue;
            char path[512], err[FER_ERR_LEN];
            snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
            fer_cascade *c = NULL;
            enum fer_status st = fer_cascade_load_xml(path, &c, err);
            if (st != FER_OK)
                fprintf(stderr, "  %s\n", err);
            CHECK(st == FER_OK && c);
            loaded += st == FER_OK;
            fer_cascade_free(c);
        }
        closedir(dir);
    }
    CHECK(loaded >= 22);
}

static fer_cascade *load(const char *path)
{
    char err[FER_ERR_LEN];
    fer_cascade *c = NULL;
    if (fer_cascade_load_xml(path, &c, err) != FER_OK)
        fprintf(stderr, "  %s\n", err);
    return c;
}

TEST(cascade_contents)
{
    char err[FER_ERR_LEN];
    fer_cascade *a = NULL, *b = load(FRONTAL);
    CHECK(fer_cascade_load_builtin(&a, err) == FER_OK && b);
    if (a && b) {
        CHECK(a->win_w == 24 && a->win_h == 24 && a->nstages == 25 && a->max_nodes == 1);
        CHECK(a->nfeatures == b->nfeatures && a->ntrees == b->ntrees);
        CHECK(memcmp(a->leaves, b->leaves, sizeof(float) * (size_t)a->nleaves) == 0);
    }
    fer_cascade_free(a);
    fer_cascade_free(b);
    fer_cascade_free(NULL);
    a = load(PLATE); /* the old layout */
    CHECK(a && a->win_w == 64 && a->win_h == 16 && a->nstages == 16 && !a->has_tilted);
    fer_cascade_free(a);
    a = load(CASCADE_DIR "/haarcascades/haarcascade_eye_tree_eyeglasses.xml");
    CHECK(a && a->has_tilted && a->max_nodes == 3);
    fer_cascade_free(a);
    a = load(CASCADE_DIR "/lbpcascades/lbpcascade_frontalface_improved.xml");
    CHECK(a && a->feature_type == FER_FEATURE_LBP && a->win_w == 45 && a->subset_words == 8);
    fer_cascade_free(a);
}

/* Loads text as a file named name; expects FER_ERR_FORMAT with the name in the message. */
static void expect_format_error(const char *name, const char *text, size_t len)
{
    char path[256], err[FER_ERR_LEN] = "";
    test_tmp_path(path, sizeof(path), name);
    write_file(path, text, len);
    fer_cascade *c = (fer_cascade *)&c; /* must be reset to NULL */
    enum fer_status st = fer_cascade_load_xml(path, &c, err);
    if (st != FER_ERR_FORMAT || !strstr(err, path))
        fprintf(stderr, "  %s: status %d, message \"%s\"\n", name, st, err);
    CHECK(st == FER_ERR_FORMAT);
    CHECK(strstr(err, path) != NULL);
    CHECK(c == NULL);
}

TEST(broken_files_name_the_file)
{
    size_t len = 0;
    char *plate = slurp(PLATE, &len);
    CHECK(plate != NULL);
    if (!plate)
        return;
    expect_format_error("truncated.xml", plate, len / 2);
    expect_format_error("empty.xml", "", 0);
    /* an empty element before any text once passed NULL to memcpy (UBSan) */
    const char *empty_first = "<opencv_storage><cascade/></opencv_storage>";
    expect_format_error("empty_first.xml", empty_first, strlen(empty_first));
    const char garbage[] = "\x01\x02 not xml at all \xff\xfe";
    expect_format_error("garbage.xml", garbage, sizeof(garbage) - 1);
    const char *wrong_root = "<?xml version=\"1.0\"?><foo><a>1</a></foo>";
    expect_format_error("wrong_root.xml", wrong_root, strlen(wrong_root));
    const char *not_cascade = "<opencv_storage><x><y>1</y></x></opencv_storage>";
    expect_format_error("not_cascade.xml", not_cascade, strlen(not_cascade));
    const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"xxxxxxxx\">"
                       "<!ENTITY y \"&x;&x;&x;&x;&x;&x;&x;&x;\">]><opencv_storage>&y;"
                       "</opencv_storage>";
    expect_format_error("entities.xml", bomb, strlen(bomb));
    char deep[1024] = "<opencv_storage>";
    for (int i = 0; i < 40; i++)
        strcat(deep, "<a>");
    strcat(deep, "<b/>"); /* an empty element past the depth limit */
    for (int i = 0; i < 40; i++)
        strcat(deep, "</a>");
    strcat(deep, "</opencv_storage>");
    expect_format_error("deep.xml", deep, strlen(deep));
    struct {
        const char *name, *from, *to;
    } edits[] = {
        {"no_stages.xml", "<stages>", "<stagez>"},
        {"feature_index.xml", "0 -1 0 0.", "0 -1 7 0."},
        {"negative_index.xml", "0 -1 0 0.", "0 -1 -3 0."},
        {"child_self.xml", "0 -1 0 0.", "1 -1 0 0."},
        {"child_range.xml", "0 -1 0 0.", "5 -1 0 0."},
        {"rect_outside.xml", "0 0 3 6 2.", "4 0 3 6 2."},
        {"rect_short.xml", "0 0 3 6 2.", "0 0 3 2."},
        {"leaf_count.xml", "-1. 1.", "-1. 1. 2."},
        {"not_a_number.xml", "<stageThreshold>0.", "<stageThreshold>zero"},
        {"nan.xml", "<stageThreshold>0.", "<stageThreshold>nan"},
        {"feature_type.xml", "HAAR", "HOG"},
        {"stage_type.xml", "BOOST", "GAB"},
        {"window.xml", "<width>6", "<width>0"},
        {"huge_window.xml", "<width>6", "<width>99999"},
        {"unclosed.xml", "</cascade>", "</cascadx>"},
        {"mixed_text.xml", "<stageNum>", "text<stageNum>"},
        {"four_rects.xml", "<_>0 0 3 6 2.</_>",
         "<_>0 0 3 6 2.</_><_>0 0 1 1 1.</_><_>0 0 1 1 1.</_>"},
        {"no_features.xml", "<features>", "<featurez>"},
        {"cat_count.xml", "<maxCatCount>0", "<maxCatCount>256"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char *t = replace(tiny_new, edits[i].from, edits[i].to);
        CHECK(t != NULL);
        if (t)
            expect_format_error(edits[i].name, t, strlen(t));
        free(t);
    }
    char *t = replace(tiny_old, "<left_val>-1.</left_val>", "");
    if (t)
        expect_format_error("old_no_leaf.xml", t, strlen(t));
    free(t);
    t = replace(tiny_old, "<size>6 6</size>", "<size>6</size>");
    if (t)
        expect_format_error("old_size.xml", t, strlen(t));
    free(t);
    /* every truncation of a real file fails cleanly */
    int clean = 1;
    for (size_t cut = 0; cut + 20 < len; cut += 389) {
        char err[FER_ERR_LEN];
        fer_cascade *c = NULL;
        enum fer_status st = fer_cascade_load_xml_memory(plate, cut, "cut.xml", &c, err);
        clean &= st == FER_ERR_FORMAT && c == NULL && strstr(err, "cut.xml") != NULL;
        fer_cascade_free(c);
    }
    CHECK(clean);
    char err[FER_ERR_LEN];
    fer_cascade *c = NULL;
    CHECK(fer_cascade_load_xml("/nonexistent/cascade.xml", &c, err) == FER_ERR_IO);
    CHECK(strstr(err, "/nonexistent/cascade.xml") != NULL);
    free(plate);
}

/*
 * Random byte changes to a cascade file: it must load or fail with a format
 * error that names the file, and a cascade that loads must detect without
 * crashing (ASan and UBSan watch the reads).
 */
TEST(mutated_cascades_load_or_fail_cleanly)
{
    size_t plate_len = 0;
    char *plate = slurp(PLATE, &plate_len);
    CHECK(plate != NULL);
    const char *texts[3] = {tiny_new, tiny_old, plate};
    static const char pick[] = "0123456789-.e< >/_\"";
    fer_image fall = {0};
    ramp(&fall, 24, 30, 1);
    struct fer_detect_params p = fer_detect_defaults();
    p.min_neighbors = 0;
    int loaded = 0, refused = 0;
    for (int k = 0; k < 3; k++) {
        if (!texts[k])
            continue;
        const size_t len = strlen(texts[k]);
        char *b = malloc(len); /* exactly len bytes: ASan catches a read past the end */
        CHECK(b != NULL);
        if (!b)
            break;
        const int rounds = k < 2 ? 400 : 60; /* the real file is 47 KB */
        for (int i = 0; i < rounds; i++) {
            fer_rng rng;
            fer_rng_seed(&rng, 77, (uint64_t)k, (uint64_t)i, 0);
            memcpy(b, texts[k], len);
            const int changes = 1 + (int)fer_rng_below(&rng, 4);
            for (int j = 0; j < changes; j++) {
                size_t at = (size_t)fer_rng_below(&rng, len);
                const int value = (int)fer_rng_below(&rng, 4) != 0; /* most change a number */
                while (value && at + 1 < len && !(b[at] >= '0' && b[at] <= '9'))
                    at++;
                if (value)
                    b[at] = "0123456789-"[fer_rng_below(&rng, 11)];
                else if (fer_rng_below(&rng, 4))
                    b[at] = pick[fer_rng_below(&rng, sizeof(pick) - 1)];
                else
                    b[at] = (char)fer_rng_below(&rng, 256);
            }
            char err[FER_ERR_LEN] = "";
            fer_cascade *c = NULL;
            enum fer_status st = fer_cascade_load_xml_memory(b, len, "mutant.xml", &c, err);
            if (st == FER_OK) {
                loaded++;
                fer_rect *r = NULL;
                size_t n = 0;
                CHECK(c != NULL);
                if (c)
                    CHECK(fer_cascade_detect(c, &fall, &p, &r, &n, err) == FER_OK);
                fer_free(r);
            } else {
                refused++;
                CHECK(st == FER_ERR_FORMAT && c == NULL && strstr(err, "mutant.xml") != NULL);
            }
            fer_cascade_free(c);
        }
        free(b);
    }
    printf("  %d mutated cascades: %d loaded, %d refused\n", loaded + refused, loaded, refused);
    fer_image_free(&fall);
    free(plate);
}

TEST(failing_allocations)
{
    char err[FER_ERR_LEN];
    int ok = 0, nomem = 0, other = 0;
    for (long k = 0; k < 5000 && !ok; k++) {
        fer_cascade *c = NULL;
        fer_alloc_fail_after(k);
        enum fer_status st = fer_cascade_load_xml(PLATE, &c, err);
        fer_alloc_fail_after(-1);
        ok = st == FER_OK;
        nomem += st == FER_ERR_NOMEM;
        other += st != FER_OK && st != FER_ERR_NOMEM;
        fer_cascade_free(c);
    }
    CHECK(ok && nomem > 0 && other == 0);

    fer_cascade *c = NULL;
    CHECK(fer_cascade_load_xml_memory(tiny_new, strlen(tiny_new), "tiny", &c, err) == FER_OK);
    fer_image img = {0};
    ramp(&img, 24, 30, 1);
    struct fer_detect_params p = fer_detect_defaults();
    ok = 0, nomem = 0, other = 0;
    for (long k = 0; k < 1000 && !ok && c && img.data; k++) {
        fer_rect *r = NULL;
        size_t n = 0;
        fer_alloc_fail_after(k);
        enum fer_status st = fer_cascade_detect(c, &img, &p, &r, &n, err);
        fer_alloc_fail_after(-1);
        ok = st == FER_OK && n > 0;
        nomem += st == FER_ERR_NOMEM;
        other += st != FER_OK && st != FER_ERR_NOMEM;
        fer_free(r);
    }
    CHECK(ok && nomem > 0 && other == 0);
    fer_image_free(&img);
    fer_cascade_free(c);
}

TEST(tiny_cascades_old_and_new)
{
    char err[FER_ERR_LEN];
    fer_cascade *a = NULL, *b = NULL;
    CHECK(fer_cascade_load_xml_memory(tiny_new, strlen(tiny_new), "new", &a, err) == FER_OK);
    CHECK(fer_cascade_load_xml_memory(tiny_old, strlen(tiny_old), "old", &b, err) == FER_OK);
    if (!a || !b)
        return;
    /* the old layout's near-zero third rectangle is dropped, as OpenCV's conversion does */
    CHECK(b->haar[0].nrects == 2 && b->haar[0].r[2].weight == 0.0f);
    CHECK(a->stages[0].threshold == 0.0f - 1e-5f);
    fer_image fall = {0}, rise = {0};
    ramp(&fall, 24, 30, 1);
    ramp(&rise, 24, 30, 0);
    struct fer_detect_params p = fer_detect_defaults();
    p.min_neighbors = 0;
    fer_rect *ra = NULL, *rb = NULL, *rr = NULL;
    size_t na = 0, nb = 0, nr = 0;
    CHECK(fer_cascade_detect(a, &fall, &p, &ra, &na, err) == FER_OK);
    CHECK(fer_cascade_detect(b, &fall, &p, &rb, &nb, err) == FER_OK);
    CHECK(fer_cascade_detect(a, &rise, &p, &rr, &nr, err) == FER_OK);
    /* OpenCV 4.6 returns 655 boxes here (checked with cv2): its rows come in stripes
     * of a rounded-down height, which leaves out the last row of the first scale */
    CHECK(na == 655 && same_rects(ra, na, rb, nb));
    CHECK(nr == 0);
    int last_row = 0;
    for (size_t i = 0; i < na; i++) {
        last_row += ra[i].w == 6 && ra[i].y == 24;
        CHECK(ra[i].x >= 0 && ra[i].y >= 0 && ra[i].x + ra[i].w <= 24 && ra[i].y + ra[i].h <= 30);
    }
    CHECK(last_row == 0);
    fer_free(ra);
    ra = NULL;
    p.min_neighbors = 2;
    CHECK(fer_cascade_detect(b, &fall, &p, &ra, &na, err) == FER_OK);
    CHECK(na == 41); /* OpenCV: 41 */
    fer_free(ra);
    fer_free(rb);
    fer_free(rr);
    fer_image_free(&fall);
    fer_image_free(&rise);
    fer_cascade_free(a);
    fer_cascade_free(b);
}

/* tiny_new with its one stage followed by `extra` stages: empty ones, or copies of the first. */
static char *many_stages(int extra, int empty, const char *stage_num)
{
    const char *stage_start = strstr(tiny_new, "<stages><_>") + strlen("<stages>");
    const char *stage_end = strstr(tiny_new, "</stages>");
    const char *one = empty ? "<_><maxWeakCount>0</maxWeakCount><stageThreshold>0.</stageThreshold>"
                              "<weakClassifiers></weakClassifiers></_>"
                            : NULL;
    size_t stage_len = (size_t)(stage_end - stage_start), one_len = one ? strlen(one) : stage_len;
    char *xml = malloc(strlen(tiny_new) + (size_t)extra * one_len + 64);
    char *p = xml;
    const char *num = strstr(tiny_new, "<stageNum>1</stageNum>");
    memcpy(p, tiny_new, (size_t)(num - tiny_new));
    p += num - tiny_new;
    p += sprintf(p, "<stageNum>%s</stageNum>", stage_num);
    const char *after_num = num + strlen("<stageNum>1</stageNum>");
    memcpy(p, after_num, (size_t)(stage_end - after_num));
    p += stage_end - after_num;
    for (int i = 0; i < extra; i++, p += one_len)
        memcpy(p, one ? one : stage_start, one_len);
    strcpy(p, stage_end);
    return xml;
}

/* Absurd counts are refused at load instead of making every detection crawl. */
TEST(absurd_cascades_are_refused)
{
    char err[FER_ERR_LEN];
    fer_cascade *c = NULL;
    /* 200,000 empty stages while stageNum still says 25 (as an adversarial run found) */
    char *xml = many_stages(200000, 1, "25");
    CHECK(fer_cascade_load_xml_memory(xml, strlen(xml), "empty.xml", &c, err) == FER_ERR_FORMAT);
    CHECK(c == NULL && strstr(err, "stageNum"));
    free(xml);
    /* the same with stageNum in agreement: too many stages, and each one empty */
    xml = many_stages(200000, 1, "200001");
    CHECK(fer_cascade_load_xml_memory(xml, strlen(xml), "empty.xml", &c, err) == FER_ERR_LIMIT);
    CHECK(c == NULL && strstr(err, "more than fer reads"));
    free(xml);
    xml = many_stages(3, 1, "4");
    CHECK(fer_cascade_load_xml_memory(xml, strlen(xml), "few.xml", &c, err) == FER_ERR_FORMAT);
    CHECK(c == NULL && strstr(err, "stage without weak classifiers"));
    free(xml);
    /* real stages up to the limit load */
    xml = many_stages(FER_CASCADE_MAX_STAGES - 1, 0, "1000");
    CHECK(fer_cascade_load_xml_memory(xml, strlen(xml), "big.xml", &c, err) == FER_OK);
    CHECK(c && c->nstages == FER_CASCADE_MAX_STAGES);
    fer_cascade_free(c);
    free(xml);
}

TEST(synthetic_images)
{
    char err[FER_ERR_LEN];
    fer_cascade *c = NULL;
    CHECK(fer_cascade_load_builtin(&c, err) == FER_OK);
    if (!c)
        return;
    struct fer_detect_params p = fer_detect_defaults();
    fer_image img = {0};
    fer_rect *r = NULL;
    size_t n = 7;
    CHECK(fer_image_new(320, 240, 1, &img, err) == FER_OK);
    memset(img.data, 128, 320 * 240);
    CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_OK);
    CHECK(n == 0); /* a flat image: every window fails the variance test */
    fer_free(r);
    uint32_t seed = 12345;
    for (int i = 0; i < 320 * 240; i++) {
        seed = seed * 1664525u + 1013904223u;
        img.data[i] = (uint8_t)(seed >> 24);
    }
    p.min_neighbors = 0;
    CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_OK);
    fer_free(r);
    fer_image_free(&img);
    /* smaller than the window: nothing to scan */
    CHECK(fer_image_new(20, 100, 1, &img, err) == FER_OK);
    CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_OK && n == 0);
    fer_free(r);
    /* bad arguments */
    p.scale_factor = 1.0;
    CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_ERR_ARG);
    p = fer_detect_defaults();
    p.min_w = -1;
    CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_ERR_ARG);
    fer_image_free(&img);
    CHECK(fer_image_new(30, 30, 3, &img, err) == FER_OK);
    p = fer_detect_defaults();
    CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_ERR_ARG);
    fer_image_free(&img);
    fer_cascade_free(c);
}

TEST(grouping)
{
    char err[FER_ERR_LEN];
    fer_rect r[] = {{10, 10, 20, 20}, {11, 10, 20, 20},   {12, 11, 21, 21}, {100, 100, 20, 20},
                    {11, 12, 20, 20}, {101, 100, 20, 20}, {14, 14, 8, 8}};
    size_t n = sizeof(r) / sizeof(r[0]);
    CHECK(fer_group_rects(r, &n, 2, 0.2, err) == FER_OK);
    /* the first cluster has 4 boxes: average (44/4, 43/4, 81/4, 81/4) rounded half to even */
    CHECK(n == 1 && r[0].x == 11 && r[0].y == 11 && r[0].w == 20 && r[0].h == 20);
    fer_rect s[] = {{10, 10, 20, 20}, {100, 100, 20, 20}, {101, 100, 20, 20}};
    n = 3;
    CHECK(fer_group_rects(s, &n, 0, 0.2, err) == FER_OK && n == 3); /* no grouping */
    n = 3;
    CHECK(fer_group_rects(s, &n, 1, 0.2, err) == FER_OK);
    CHECK(n == 1 && s[0].x == 100 && s[0].w == 20); /* 100.5 rounds to 100 */
    /* a small well-supported box inside a bigger, better supported one goes */
    fer_rect t[12];
    for (int i = 0; i < 8; i++)
        t[i] = (fer_rect){0, 0, 100, 100};
    for (int i = 8; i < 12; i++)
        t[i] = (fer_rect){30, 30, 30, 30};
    n = 12;
    CHECK(fer_group_rects(t, &n, 1, 0.2, err) == FER_OK && n == 1 && t[0].w == 100);
}

TEST(resize_shortcuts)
{
    uint8_t src[16], dst[16];
    int32_t scratch[64];
    for (int i = 0; i < 16; i++)
        src[i] = (uint8_t)(i * 16 + 1);
    fer_resize_linear_u8(src, 4, 4, 4, dst, 2, 2, 2, scratch); /* exact halving */
    CHECK(dst[0] == (1 + 17 + 65 + 81 + 2) / 4 && dst[3] == (161 + 177 + 225 + 241 + 2) / 4);
    fer_resize_linear_u8(src, 4, 4, 4, dst, 4, 4, 4, scratch); /* same size */
    CHECK(memcmp(src, dst, 16) == 0);
    uint8_t flat[35];
    memset(flat, 77, sizeof(flat));
    fer_resize_linear_u8(flat, 7, 5, 7, dst, 3, 2, 3, scratch);
    int all = 1;
    for (int i = 0; i < 6; i++)
        all &= dst[i] == 77;
    CHECK(all);
}

TEST(pool_gives_same_boxes)
{
    char err[FER_ERR_LEN];
    fer_cascade *c = NULL;
    fer_pool *pool = NULL;
    CHECK(fer_cascade_load_builtin(&c, err) == FER_OK);
    CHECK(fer_pool_new(3, &pool, err) == FER_OK);
    fer_image img = {0};
    CHECK(fer_image_new(160, 120, 1, &img, err) == FER_OK);
    uint32_t seed = 99;
    for (int i = 0; i < 160 * 120; i++) {
        seed = seed * 1664525u + 1013904223u;
        img.data[i] = (uint8_t)((seed >> 25) + ((i % 160) / 20) * 8);
    }
    struct fer_detect_params p = fer_detect_defaults();
    p.min_neighbors = 0;
    fer_rect *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (c && pool) {
        CHECK(fer_cascade_detect(c, &img, &p, &a, &na, err) == FER_OK);
        CHECK(fer_cascade_detect_pool(c, &img, &p, pool, &b, &nb, err) == FER_OK);
        CHECK(same_rects(a, na, b, nb));
    }
    fer_free(a);
    fer_free(b);
    fer_image_free(&img);
    fer_pool_free(pool);
    fer_cascade_free(c);
}

/* ---- OpenCV's boxes on the shared photos ------------------------------------ */

#define MAX_BOXES 256

struct ref_entry {
    char file[256], cascade[256];
    double scale_factor;
    int min_neighbors, min_size;
    fer_rect boxes[MAX_BOXES];
    int nboxes;
};

/* Where the value of "key" starts in a line of JSON, or "" (which no sscanf below accepts). */
static const char *json_at(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *s = strstr(line, pat);
    return s ? s + strlen(pat) : "";
}

/* One line of detect_reference.json (one object per line, by construction). */
static int parse_entry(const char *line, struct ref_entry *e)
{
    if (sscanf(json_at(line, "file"), "\"%255[^\"]", e->file) != 1 ||
        sscanf(json_at(line, "cascade"), "\"%255[^\"]", e->cascade) != 1 ||
        sscanf(json_at(line, "scale_factor"), "%lf", &e->scale_factor) != 1 ||
        sscanf(json_at(line, "min_neighbors"), "%d", &e->min_neighbors) != 1 ||
        sscanf(json_at(line, "min_size"), "%d", &e->min_size) != 1)
        return 0;
    const char *s = strstr(line, "\"boxes\": [");
    if (!s)
        return 0;
    s += strlen("\"boxes\": [");
    e->nboxes = 0;
    fer_rect r;
    int used;
    while (e->nboxes < MAX_BOXES &&
           sscanf(s, " [%d, %d, %d, %d]%n", &r.x, &r.y, &r.w, &r.h, &used) == 4) {
        e->boxes[e->nboxes++] = r;
        s += used;
        if (*s == ',')
            s++;
    }
    return 1;
}

/* Reference runs and boxes per cascade, for the summary line. */
struct tally {
    char cascade[256];
    int runs, runs_equal, boxes, boxes_equal;
};

/* Every reference run: photos under tests/data everywhere, those of ../shared where it is. */
TEST(boxes_equal_opencv)
{
    const char *data = check_shared_data();
    FILE *f = fopen("tests/data/detect_reference.json", "r");
    CHECK(f != NULL);
    static struct ref_entry e;
    static struct tally t[16];
    char line[16384], err[FER_ERR_LEN], last_file[256] = "", last_cascade[256] = "";
    int nt = 0, entries = 0, equal = 0, skipped_shared = 0;
    fer_image img = {0};
    fer_cascade *c = NULL;
    while (f && fgets(line, sizeof(line), f)) {
        if (!strstr(line, "\"file\""))
            continue;
        CHECK(parse_entry(line, &e));
        int in_repo = strncmp(e.file, "tests/", 6) == 0;
        if (!in_repo && !data) {
            skipped_shared++;
            continue;
        }
        entries++;
        char path[512];
        if (strcmp(e.file, last_file) != 0) {
            if (in_repo)
                snprintf(path, sizeof(path), "%s", e.file);
            else
                snprintf(path, sizeof(path), "%s/%s", data, e.file);
            fer_image_free(&img);
            if (fer_image_load(path, 1, 0, &img, err) != FER_OK)
                fprintf(stderr, "  %s\n", err);
            snprintf(last_file, sizeof(last_file), "%s", e.file);
        }
        int k = 0;
        while (k < nt && strcmp(t[k].cascade, e.cascade) != 0)
            k++;
        if (k == nt && nt < 16)
            snprintf(t[nt++].cascade, sizeof(t->cascade), "%s", e.cascade);
        if (strcmp(e.cascade, last_cascade) != 0) {
            snprintf(path, sizeof(path), "%s/%s", CASCADE_DIR, e.cascade);
            fer_cascade_free(c);
            c = load(path);
            snprintf(last_cascade, sizeof(last_cascade), "%s", e.cascade);
        }
        CHECK(c && img.data && k < 16);
        if (!c || !img.data || k == 16)
            continue;
        struct fer_detect_params p = {.scale_factor = e.scale_factor,
                                      .min_neighbors = e.min_neighbors,
                                      .min_w = e.min_size,
                                      .min_h = e.min_size};
        fer_rect *r = NULL;
        size_t n = 0;
        CHECK(fer_cascade_detect(c, &img, &p, &r, &n, err) == FER_OK);
        int same = same_rects(r, n, e.boxes, (size_t)e.nboxes);
        equal += same;
        t[k].runs++;
        t[k].runs_equal += same;
        t[k].boxes += e.nboxes;
        for (int i = 0; i < e.nboxes; i++)
            for (size_t j = 0; j < n; j++)
                if (!memcmp(&r[j], &e.boxes[i], sizeof(fer_rect))) {
                    t[k].boxes_equal++;
                    break;
                }
        if (!same)
            fprintf(stderr, "  %s %s mn=%d: %zu boxes, OpenCV %d\n", e.file, e.cascade,
                    e.min_neighbors, n, e.nboxes);
        fer_free(r);
    }
    if (f)
        fclose(f);
    for (int k = 0; k < nt; k++)
        printf("  %-52s %2d/%2d runs, %3d/%3d boxes equal OpenCV's\n", t[k].cascade,
               t[k].runs_equal, t[k].runs, t[k].boxes_equal, t[k].boxes);
    if (skipped_shared)
        printf("  %d runs on ../shared photos not checked (no shared data)\n", skipped_shared);
    CHECK(entries > 0 && equal == entries);
    fer_image_free(&img);
    fer_cascade_free(c);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_detect_XXXXXX") != 0)
        return 1;
    RUN(load_every_shipped_cascade);
    RUN(cascade_contents);
    RUN(broken_files_name_the_file);
    RUN(mutated_cascades_load_or_fail_cleanly);
    RUN(failing_allocations);
    RUN(tiny_cascades_old_and_new);
    RUN(absurd_cascades_are_refused);
    RUN(synthetic_images);
    RUN(grouping);
    RUN(resize_shortcuts);
    RUN(pool_gives_same_boxes);
    RUN(boxes_equal_opencv);
    test_tmp_remove();
    return check_report();
}
