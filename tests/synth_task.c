/* synth_task.c - the synthetic training task of the tests (see synth_task.h). */
#include "synth_task.h"

#include <stdio.h>

#include "core/rng.h"
#include "data/dataset.h"
#include "tmp_dir.h"
#include "train/trainer.h"

static void synth_face(uint8_t *px, int label, fer_rng *rng)
{
    static const int cx[3] = {12, 36, 24}, cy[3] = {12, 12, 36};
    int ox = (int)fer_rng_below(rng, 7) - 3, oy = (int)fer_rng_below(rng, 7) - 3;
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) {
            int dx = x - cx[label] - ox, dy = y - cy[label] - oy;
            float v = 60 + 40 * fer_rng_uniform(rng) + (dx * dx + dy * dy < 64 ? 120.0f : 0.0f);
            px[y * 48 + x] = (uint8_t)v;
        }
}

void synth_task_write_csv(const char *path, size_t n, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fer_rng rng;
    fer_rng_seed(&rng, seed, 0, 0, 0);
    uint8_t px[FER_FACE_PIXELS];
    fputs("emotion,pixels,Usage\n", f);
    for (size_t i = 0; i < n; i++) {
        int label = (int)(i % 3);
        synth_face(px, label, &rng);
        fprintf(f, "%d,", label * 3);
        for (int p = 0; p < FER_FACE_PIXELS; p++)
            fprintf(f, p ? " %d" : "%d", px[p]);
        fputs(",Training\n", f);
    }
    fclose(f);
}

void synth_task_write_arch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs("[net]\nwidth=44\nheight=44\nchannels=1\n"
          "[convolutional]\nfilters=6\nsize=4\nstride=4\npad=0\nbatch_normalize=1\n"
          "activation=relu\n"
          "[maxpool]\nsize=2\n"
          "[dropout]\nprobability=0.1\n"
          "[dense]\noutput=classes\n[softmax]\n",
          f);
    fclose(f);
}

void synth_task_config(struct fer_train_config *c, const char *train_csv, const char *val_csv,
                       const char *arch, const char *out)
{
    fer_train_config_defaults(c);
    c->train_path = train_csv;
    c->val_path = val_csv;
    c->arch_path = arch;
    c->out_path = out;
    c->epochs = 3;
    c->batch = 16;
    c->seed = 5;
    c->threads = 1;
    c->progress = 0;
    c->optim = fer_optim_defaults(FER_OPTIM_ADAMW);
    c->schedule.base_lr = 3e-3f;
    c->augment.rotate = 5;
    c->augment.flip = 0;
}

void synth_task_make_files(char *train_csv, char *val_csv, char *arch, size_t n)
{
    test_tmp_path(train_csv, n, "train.csv");
    test_tmp_path(val_csv, n, "val.csv");
    test_tmp_path(arch, n, "tiny.cfg");
    synth_task_write_csv(train_csv, 96, 1);
    synth_task_write_csv(val_csv, 48, 2);
    synth_task_write_arch(arch);
}
