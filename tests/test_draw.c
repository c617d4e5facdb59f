/*
 * test_draw.c - annotated pictures (src/image/draw.c): the box, the tag and
 * the probability bars land where they should, in the emotion's colour, the
 * rest of the picture is untouched, placement adapts at the picture's edges,
 * and bad input is refused.
 */
#include "check.h"
#include "image/draw.h"
#include "image/image.h"

#define W    400
#define H    300
#define GRAY 128

static const uint8_t *px(const fer_image *img, int x, int y)
{
    return img->data + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
}

static int is_gray(const fer_image *img, int x, int y)
{
    const uint8_t *p = px(img, x, y);
    return p[0] == GRAY && p[1] == GRAY && p[2] == GRAY;
}

/* Whether the pixel is within tol of colour rgb blended over the gray with alpha. */
static int near_color(const fer_image *img, int x, int y, unsigned rgb, double alpha, int tol)
{
    const uint8_t *p = px(img, x, y);
    for (int c = 0; c < 3; c++) {
        double want = alpha * (double)((rgb >> (16 - 8 * c)) & 255) + (1 - alpha) * GRAY;
        if (p[c] < want - tol || p[c] > want + tol)
            return 0;
    }
    return 1;
}

static void gray_picture(fer_image *img)
{
    char err[FER_ERR_LEN];
    CHECK(fer_image_new(W, H, 3, img, err) == FER_OK);
    if (img->data)
        memset(img->data, GRAY, (size_t)W * H * 3);
}

/* How many pixels of the rectangle differ from the gray background. */
static int changed(const fer_image *img, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            n += !is_gray(img, x, y);
    return n;
}

TEST(emotion_colours_and_emoji)
{
    CHECK(fer_emotion_color("angry") == 0xE53935);
    CHECK(fer_emotion_color("happy") == 0xFDD835);
    CHECK(fer_emotion_color("no such emotion") == 0x26A69A);
    CHECK_STR(fer_emotion_emoji("happy"), "\xF0\x9F\x98\x84");
    CHECK_STR(fer_emotion_emoji("?"), "\xF0\x9F\x99\x82");
    const char *names[] = {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"};
    for (int i = 0; i < 7; i++) /* every emotion has its own colour */
        for (int j = i + 1; j < 7; j++)
            CHECK(fer_emotion_color(names[i]) != fer_emotion_color(names[j]));
}

TEST(box_tag_and_bars_land_in_place)
{
    fer_image img = {0};
    gray_picture(&img);
    if (!img.data)
        return;
    static const char *const names[] = {"angry", "happy", "neutral"};
    static const float values[] = {0.1f, 0.8f, 0.1f};
    struct fer_annotation a = {
        {100, 100, 120, 120}, "angry", 0.87f, NULL, 0xE53935, 3, names, values};
    char err[FER_ERR_LEN] = "";
    CHECK(fer_image_annotate(&img, &a, 1, err) == FER_OK);

    /* the box outline: the middle of each side, in the colour */
    CHECK(near_color(&img, 100, 160, 0xE53935, 1.0, 8));
    CHECK(near_color(&img, 219, 160, 0xE53935, 1.0, 8));
    CHECK(near_color(&img, 160, 100, 0xE53935, 1.0, 8));
    CHECK(near_color(&img, 160, 219, 0xE53935, 1.0, 8));
    /* inside the box the face stays visible */
    CHECK(changed(&img, 110, 110, 210, 210) == 0);
    /* the tag sits above the box: its background in the colour, with text on it */
    CHECK(near_color(&img, 101, 88, 0xE53935, 0.9, 8));
    CHECK(changed(&img, 104, 80, 160, 97) > 50);
    /* the bars sit to the right, on a dark panel */
    const uint8_t *panel = px(&img, 227, 101);
    CHECK(panel[0] < GRAY && panel[0] == panel[1] && panel[1] == panel[2]);
    CHECK(changed(&img, 225, 100, W, 160) > 500);
    /* and nothing is drawn elsewhere */
    CHECK(changed(&img, 0, 0, 90, H) == 0);
    CHECK(changed(&img, 0, 230, W, H) == 0);
    fer_image_free(&img);
}

TEST(placement_adapts_at_the_edges)
{
    fer_image img = {0};
    gray_picture(&img);
    if (!img.data)
        return;
    static const char *const names[] = {"sad", "happy"};
    static const float values[] = {0.9f, 0.1f};
    /* a box at the top right: the tag goes inside it and the bars to its left */
    struct fer_annotation a = {{300, 0, 100, 100}, "sad", 0.9f, NULL, 0x1E88E5, 2, names, values};
    char err[FER_ERR_LEN] = "";
    CHECK(fer_image_annotate(&img, &a, 1, err) == FER_OK);
    CHECK(changed(&img, 302, 3, 340, 14) > 20);  /* the tag, inside the box */
    CHECK(changed(&img, 150, 0, 298, 40) > 300); /* the bars, left of the box */
    CHECK(changed(&img, 0, 150, W, H) == 0);
    fer_image_free(&img);

    /* boxes partly or wholly outside the picture, tiny and huge ones: drawn clipped */
    gray_picture(&img);
    if (!img.data)
        return;
    struct fer_annotation odd[] = {
        {{-50, -50, 100, 100}, "happy", 1.0f, "\xF0\x9F\x98\x84", 0xFDD835, 2, names, values},
        {{390, 290, 40, 40}, "fear", 0.0f, NULL, 0x8E24AA, 0, NULL, NULL},
        {{1000, 1000, 10, 10}, NULL, 0.5f, NULL, 0x26A69A, 0, NULL, NULL},
        {{0, 0, 100000, 100000}, "neutral", 0.5f, NULL, 0x90A4AE, 2, names, values},
        {{10, 10, 1, 1}, "sad", 0.5f, NULL, 0x1E88E5, 0, NULL, NULL},
    };
    CHECK(fer_image_annotate(&img, odd, sizeof(odd) / sizeof(odd[0]), err) == FER_OK);
    CHECK(changed(&img, 0, 0, 60, 60) > 0);
    fer_image_free(&img);
}

/*
 * A group: three faces side by side, 20 px apart, in a 400x300 picture. A panel to the right of
 * the first would cover the second; the layout puts each panel below its face instead, or, when
 * nothing fits, leaves it out (auto), draws it where it covers least (bars), or draws none
 * (label). Each face's middle stays visible in auto and label.
 */
TEST(panels_do_not_cover_faces)
{
    static const char *const names[] = {"angry", "happy", "sad", "neutral"};
    static const float values[] = {0.1f, 0.6f, 0.2f, 0.1f};
    struct fer_annotation group[3];
    for (int i = 0; i < 3; i++)
        group[i] = (struct fer_annotation){
            {20 + i * 120, 60, 100, 100}, "happy", 0.6f, NULL, 0xFDD835, 4, names, values};
    const enum fer_annotate_style styles[] = {FER_ANNOTATE_AUTO, FER_ANNOTATE_BARS,
                                              FER_ANNOTATE_LABEL};
    int below[3];
    for (int k = 0; k < 3; k++) {
        fer_image img = {0};
        gray_picture(&img);
        if (!img.data)
            return;
        char err[FER_ERR_LEN] = "";
        CHECK(fer_image_annotate_style(&img, group, 3, styles[k], err) == FER_OK);
        int covered = 0;
        for (int i = 0; i < 3; i++)
            covered += changed(&img, 40 + i * 120, 90, 100 + i * 120, 150) > 0;
        below[k] = changed(&img, 0, 170, W, H); /* where panels can go without covering */
        if (styles[k] != FER_ANNOTATE_BARS)
            CHECK(covered == 0);
        fer_image_free(&img);
    }
    CHECK(below[0] > 1000); /* auto: panels below the faces */
    CHECK(below[1] > 1000); /* bars too */
    CHECK(below[2] == 0);   /* label: no panels at all */

    /* no room anywhere (faces fill the picture): auto draws no panel, bars draws them */
    struct fer_annotation full[2] = {
        {{0, 0, 200, 300}, "sad", 0.7f, NULL, 0x1E88E5, 4, names, values},
        {{200, 0, 200, 300}, "happy", 0.7f, NULL, 0xFDD835, 4, names, values},
    };
    for (int k = 0; k < 2; k++) {
        fer_image img = {0};
        gray_picture(&img);
        if (!img.data)
            return;
        char err[FER_ERR_LEN] = "";
        CHECK(fer_image_annotate_style(&img, full, 2, styles[k], err) == FER_OK);
        int middle = changed(&img, 40, 120, 160, 280) + changed(&img, 240, 120, 360, 280);
        CHECK(k == 0 ? middle == 0 : middle > 1000);
        fer_image_free(&img);
    }
}

/* Text grows with the picture: the tag of a small face in a large picture is taller. */
TEST(text_scales_with_the_picture)
{
    struct fer_annotation a = {{100, 100, 60, 60}, "sad", 0.5f, NULL, 0x1E88E5, 0, NULL, NULL};
    int heights[2];
    const int sides[2] = {400, 2400};
    for (int k = 0; k < 2; k++) {
        fer_image img = {0};
        char err[FER_ERR_LEN];
        CHECK(fer_image_new(sides[k], sides[k], 3, &img, err) == FER_OK);
        if (!img.data)
            return;
        memset(img.data, GRAY, (size_t)sides[k] * (size_t)sides[k] * 3);
        CHECK(fer_image_annotate(&img, &a, 1, err) == FER_OK);
        int top = 100;
        while (top > 0 && !is_gray(&img, 118, top - 1))
            top--;
        heights[k] = 100 - top; /* the tag's height above the box */
        fer_image_free(&img);
    }
    printf("  tag height: %d px in a 400 px picture, %d px in a 2400 px one\n", heights[0],
           heights[1]);
    CHECK(heights[0] >= 16 && heights[1] >= 2 * heights[0]);
}

TEST(bad_input_is_refused)
{
    fer_image gray = {0};
    char err[FER_ERR_LEN] = "";
    CHECK(fer_image_new(40, 30, 1, &gray, err) == FER_OK);
    struct fer_annotation a = {{5, 5, 20, 20}, "happy", 0.5f, NULL, 0xFDD835, 0, NULL, NULL};
    CHECK(fer_image_annotate(&gray, &a, 1, err) == FER_ERR_ARG);
    CHECK(strstr(err, "RGB") != NULL);
    fer_image_free(&gray);

    fer_image rgb = {0};
    CHECK(fer_image_new(40, 30, 3, &rgb, err) == FER_OK);
    if (rgb.data)
        memset(rgb.data, GRAY, 40 * 30 * 3);
    CHECK(fer_image_annotate(&rgb, NULL, 0, err) == FER_OK); /* nothing to draw */
    CHECK(rgb.data && is_gray(&rgb, 20, 15));
    fer_image_free(&rgb);
}

int main(void)
{
    RUN(emotion_colours_and_emoji);
    RUN(box_tag_and_bars_land_in_place);
    RUN(placement_adapts_at_the_edges);
    RUN(panels_do_not_cover_faces);
    RUN(text_scales_with_the_picture);
    RUN(bad_input_is_refused);
    return check_report();
}
