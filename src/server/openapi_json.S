/*
 * openapi_json.S - the OpenAPI 3 document (src/server/openapi.json), built into the binary;
 * openapi.c checks and serves these bytes.
 */
    .section .rodata
    .global fer_openapi_json_start
    .global fer_openapi_json_end
fer_openapi_json_start:
    .incbin "src/server/openapi.json"
fer_openapi_json_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
