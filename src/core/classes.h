/*
 * classes.h - the face contract every module shares: a face is FER_FACE_SIDE x FER_FACE_SIDE
 * gray pixels (fer.h), and its emotion one of FER2013's seven classes in label order, or of the
 * 2016 system's six with disgust merged into angry. The one definition of their names, below
 * the data reader, the store, the drawing and the pipeline that all name them.
 */
#ifndef FER_CORE_CLASSES_H
#define FER_CORE_CLASSES_H

#include "fer.h"

#define FER_FACE_PIXELS (FER_FACE_SIDE * FER_FACE_SIDE)

/* The class names for 7 (angry 0, disgust 1, fear 2, happy 3, sad 4, surprise 5, neutral 6)
   or 6 classes (angry, fear, happy, sad, surprise, neutral), NULL-terminated; NULL otherwise. */
const char *const *fer_class_names(int n_classes);

/* The 6-class id of a 7-class FER2013 label (disgust joins angry), or -1. */
int fer_class_merged(int label7);

#endif
