/*
 * builtin_model_data.S - the shipped emotion models, built into the binary so that fer works
 * without downloads: the fast model (models/fer-resnet.fer) and the accurate one
 * (models/fer-accurate.fer). The bytes are the .fer files themselves; fer_engine_open parses and
 * checks them like any file. builtin_model.c names them.
 */
    .section .rodata
    .balign 64
    .global fer_builtin_fast_start
    .global fer_builtin_fast_end
fer_builtin_fast_start:
    .incbin "models/fer-resnet.fer"
fer_builtin_fast_end:
    .byte 0
    .balign 64
    .global fer_builtin_accurate_start
    .global fer_builtin_accurate_end
fer_builtin_accurate_start:
    .incbin "models/fer-accurate.fer"
fer_builtin_accurate_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
