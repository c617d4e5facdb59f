/*
 * builtin_cascade.S - links OpenCV's frontal face cascade into the binary.
 *
 * haarcascade_frontalface_default.xml (Viola & Jones 2001; Lienhart &
 * Maydt 2002) comes from Debian's opencv-data package, which
 * scripts/install-deps.sh installs, so the 930 kB file is not committed.
 * cascade.c parses the bytes between the two symbols like any cascade file.
 */
    .section .rodata
    .balign 16
    .globl fer_builtin_cascade_xml
    .hidden fer_builtin_cascade_xml
    .type fer_builtin_cascade_xml, @object
fer_builtin_cascade_xml:
    .incbin "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
    .globl fer_builtin_cascade_xml_end
    .hidden fer_builtin_cascade_xml_end
    .type fer_builtin_cascade_xml_end, @object
fer_builtin_cascade_xml_end:
    .byte 0
    .size fer_builtin_cascade_xml, . - fer_builtin_cascade_xml
    .size fer_builtin_cascade_xml_end, 1

    .section .note.GNU-stack,"",@progbits
