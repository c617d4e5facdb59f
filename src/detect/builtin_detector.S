/*
 * builtin_detector.S - the YuNet face detector (models/yunet.fer, 3-clause BSD licence:
 * models/yunet.LICENSE), built into the binary; yunet.c opens these bytes like any file.
 */
    .section .rodata
    .balign 64
    .global fer_builtin_detector_start
    .global fer_builtin_detector_end
fer_builtin_detector_start:
    .incbin "models/yunet.fer"
fer_builtin_detector_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
