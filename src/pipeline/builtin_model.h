/*
 * builtin_model.h - the model file built into the binary (builtin_model.S
 * includes models/fer-resnet.fer): its bytes, for fer_model_load_memory.
 */
#ifndef FER_PIPELINE_BUILTIN_MODEL_H
#define FER_PIPELINE_BUILTIN_MODEL_H

#include <stdint.h>

extern const uint8_t fer_builtin_model_start[], fer_builtin_model_end[];

#endif
