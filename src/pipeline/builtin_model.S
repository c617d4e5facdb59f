/*
 * builtin_model.S - the shipped emotion model (models/fer-resnet.fer), built
 * into the binary so that fer works without downloads. The bytes are the
 * .fer file itself; fer_engine_open parses and checks them like any file.
 */
    .section .rodata
    .balign 64
    .global fer_builtin_model_start
    .global fer_builtin_model_end
fer_builtin_model_start:
    .incbin "models/fer-resnet.fer"
fer_builtin_model_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
