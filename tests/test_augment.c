/*
 * test_augment.c - seeded augmentation and evaluation views (data/augment.h):
 * the identity is exact normalisation, flips mirror, crops and half-pixel
 * margins interpolate right, the same seed gives the same image, borders
 * replicate, and random draws stay finite and in range.
 */
#include <stdint.h>

#include "check.h"
#include "core/rng.h"
#include "data/augment.h"
#include "data/dataset.h"

static void make_image(uint8_t *img)
{
    for (int y = 0; y < FER_FACE_SIDE; y++)
        for (int x = 0; x < FER_FACE_SIDE; x++)
            img[y * FER_FACE_SIDE + x] = (uint8_t)((x * 3 + y * 2 + (x * y) % 17) % 256);
}

TEST(test_augment)
{
    enum { S = FER_FACE_SIDE, P = FER_FACE_PIXELS };
    uint8_t img[P];
    float a[P], b[P], c[P];
    const float mean = 0.5f, std = 0.25f;
    make_image(img);
    struct fer_augment none = fer_augment_none(), def = fer_augment_defaults();
    CHECK(def.shift == 4.0f && def.rotate == 10.0f && def.flip == 0.5f && def.erase == 0.0f);

    /* Identity: exactly (px/255 - mean)/std, with or without an rng. */
    fer_rng rng;
    fer_rng_seed(&rng, 1, 2, 3, 4);
    fer_augment_image(img, S, a, S, &none, NULL, mean, std, 0);
    fer_augment_image(img, S, b, S, &none, &rng, mean, std, 0);
    int exact = 1;
    for (int i = 0; i < P; i++)
        exact &= a[i] == ((float)img[i] / 255.0f - mean) / std && b[i] == a[i];
    CHECK(exact);

    /* force_flip mirrors; a centre crop is a crop. */
    fer_augment_image(img, S, b, S, &none, NULL, mean, std, 1);
    int mirror = 1;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            mirror &= b[y * S + x] == a[y * S + (S - 1 - x)];
    CHECK(mirror);
    fer_augment_image(img, S, c, 44, &none, NULL, mean, std, 0);
    int crop = 1;
    for (int y = 0; y < 44; y++)
        for (int x = 0; x < 44; x++)
            crop &= c[y * 44 + x] == a[(y + 2) * S + x + 2];
    CHECK(crop);
    /* An odd margin (45 of 48) goes through interpolation at half pixels. */
    fer_augment_image(img, S, c, 45, &none, NULL, mean, std, 0);
    float expect =
        (((float)img[S + 1] + (float)img[S + 2] + (float)img[2 * S + 1] + (float)img[2 * S + 2]) /
             4.0f / 255.0f -
         mean) /
        std;
    CHECK_NEAR(c[0], expect, 1e-5);

    /* Same seed, same output; another seed, another output. */
    fer_rng r1, r2;
    fer_rng_seed(&r1, 42, 7, 0, 0);
    fer_rng_seed(&r2, 42, 7, 0, 0);
    fer_augment_image(img, S, a, S, &def, &r1, mean, std, 0);
    fer_augment_image(img, S, b, S, &def, &r2, mean, std, 0);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(&r1, &r2, sizeof(r1)) == 0);
    fer_augment_image(img, S, b, S, &def, &r2, mean, std, 0);
    CHECK(memcmp(a, b, sizeof(a)) != 0);

    /* Pure shift of a constant image stays constant (border replicate). */
    uint8_t flat[P];
    memset(flat, 200, sizeof(flat));
    struct fer_augment shift = none;
    shift.shift = 4.0f;
    shift.rotate = 30.0f;
    shift.scale = 0.3f;
    fer_augment_image(flat, S, a, S, &shift, &r1, mean, std, 0);
    int flat_ok = 1;
    float want = (200.0f / 255.0f - mean) / std;
    for (int i = 0; i < P; i++)
        flat_ok &= fabsf(a[i] - want) < 1e-5f;
    CHECK(flat_ok);

    /* Many random draws: finite, inside the clamp range, mean near the source mean. */
    struct fer_augment heavy = def;
    heavy.erase = 0.5f;
    heavy.contrast = 3.0f;
    heavy.scale = 2.0f;
    double src_mean = 0.0, sum_means = 0.0;
    for (int i = 0; i < P; i++)
        src_mean += ((double)img[i] / 255.0 - 0.5) / 0.25;
    src_mean /= P;
    int finite = 1, erased = 0, trials = 200;
    for (int t = 0; t < trials; t++) {
        fer_rng_seed(&rng, 9, (uint64_t)t, 0, 0);
        fer_augment_image(img, S, a, 40, &heavy, &rng, mean, std, 0);
        fer_rng_seed(&rng, 9, (uint64_t)t, 0, 0);
        fer_augment_image(img, S, b, S, &def, &rng, mean, std, 0);
        double m = 0.0;
        int zeros = 0;
        for (int i = 0; i < 40 * 40; i++) {
            finite &= isfinite(a[i]) && a[i] >= -2.0001f && a[i] <= 2.0001f;
            zeros += a[i] == 0.0f;
        }
        for (int i = 0; i < P; i++)
            m += (double)b[i];
        sum_means += m / P;
        erased += zeros >= 10;
    }
    CHECK(finite);
    CHECK(erased > trials / 4 && erased < trials * 3 / 4);
    CHECK_NEAR(sum_means / trials, src_mean, 0.15);

    /* std <= 0 does not produce infinities. */
    fer_augment_image(img, S, a, S, &none, NULL, mean, 0.0f, 0);
    CHECK(isfinite(a[0]) && isfinite(a[P - 1]));
}

int main(void)
{
    RUN(test_augment);
    return check_report();
}
