/*
 * emotions.c - the smallest useful program on fer's C library: prints the
 * emotion of every face in the photos given on the command line.
 *
 *   cc emotions.c $(pkg-config --cflags --libs fer) -o emotions
 *   ./emotions photo.jpg
 */
#include <fer.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PHOTO...\n", argv[0]);
        return 2;
    }
    char err[FER_ERR_LEN];
    fer_engine *engine;
    if (fer_engine_open(NULL, &engine, err) != FER_OK) { /* built-in model and cascade */
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        fer_analysis result;
        if (fer_engine_analyze_file(engine, argv[i], 0, &result, NULL, err) != FER_OK) {
            fprintf(stderr, "%s\n", err);
            status = 1;
            continue;
        }
        printf("%s: %zu face(s)\n", argv[i], result.n_faces);
        for (size_t f = 0; f < result.n_faces; f++) {
            const fer_face *face = &result.faces[f];
            printf("  at (%d,%d) %dx%d: %s (%.0f%%)\n", face->box.x, face->box.y, face->box.w,
                   face->box.h, fer_engine_class_name(engine, face->emotion),
                   100.0 * (double)face->probabilities[face->emotion]);
        }
        fer_analysis_free(&result);
    }
    fer_engine_close(engine);
    return status;
}
