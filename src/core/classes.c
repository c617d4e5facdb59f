/* classes.c - FER2013's class names and the 7 -> 6 merge (see classes.h). */
#include "core/classes.h"

#include <stdint.h>

static const char *const class_names_7[] = {"angry", "disgust",  "fear",    "happy",
                                            "sad",   "surprise", "neutral", NULL};
static const char *const class_names_6[] = {"angry",    "fear",    "happy", "sad",
                                            "surprise", "neutral", NULL};

const char *const *fer_class_names(int n_classes)
{
    if (n_classes == 7)
        return class_names_7;
    if (n_classes == 6)
        return class_names_6;
    return NULL;
}

/* New id of each FER2013 class after the merge: disgust (1) joins angry (0). */
static const uint8_t merge_map[7] = {0, 0, 1, 2, 3, 4, 5};

int fer_class_merged(int label7)
{
    return label7 >= 0 && label7 < 7 ? merge_map[label7] : -1;
}
