/*
 * yunet_arch.S - the YuNet detector's architecture (models/yunet.cfg), built into the binary
 * for `fer import yunet` (yunet_import.c), which fills it with libfacedetection's weights.
 */
    .section .rodata
    .global fer_yunet_arch_start
    .global fer_yunet_arch_end
fer_yunet_arch_start:
    .incbin "models/yunet.cfg"
fer_yunet_arch_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
