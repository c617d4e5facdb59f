/*
 * fuzz_csv.c - a libFuzzer target for the FER2013 CSV reader.
 *
 * Not built by default (it needs -DFER_FUZZ and clang's -fsanitize=fuzzer):
 *
 *   make build/fuzz_csv          (or `make fuzz`, which also builds fuzz_parsers.c)
 *   build/fuzz_csv tests/corpus/csv
 *
 * Each input is written to a temporary file (the reader takes a path) and read
 * twice, strictly and with skip_bad_rows. The reader must return FER_OK or an
 * error with a message, and never crash or leak. tests/test_data.c replays
 * the corpus in tests/corpus/csv/ as ordinary tests.
 */
#ifdef FER_FUZZ

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/fer_fuzz_csv_%ld.csv", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    size_t wrote = fwrite(data, 1, size, f);
    if (fclose(f) != 0 || wrote != size)
        return 0;
    for (int skip = 0; skip < 2; skip++) {
        struct fer_read_options opt = {skip, -1, 0};
        fer_dataset *ds = NULL;
        size_t skipped = 0;
        char err[FER_ERR_LEN] = "";
        enum fer_status st = fer_dataset_read_csv(path, &opt, &ds, &skipped, err);
        if ((st == FER_OK) != (ds != NULL) || (st != FER_OK && err[0] == 0))
            abort(); /* a contract violation is what the fuzzer is looking for */
        if (ds) {
            for (size_t i = 0; i < ds->n; i++)
                if (ds->labels[i] >= 7 || ds->usage[i] >= FER_USAGE_COUNT)
                    abort();
        }
        fer_dataset_free(ds);
    }
    return 0;
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fer_fuzz_csv_disabled;
#endif
