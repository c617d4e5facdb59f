/*
 * tile_scatter.h - the last step of the Winograd output transform (internal to nn/): each
 * tile's 2x2 outputs, held with 16 filters along a vector, moved to their places in the
 * filters' output planes.
 *
 * y holds four planes, one per [row parity][column parity] of a tile's outputs, `stride`
 * tiles apart; tile i of a tile row gives outputs 2i and 2i + 1 of that row pair, filter j at
 * y[16 * tile + j]. Both kernels move the same values to the same places; neither computes.
 */
#ifndef FER_NN_TILE_SCATTER_H
#define FER_NN_TILE_SCATTER_H

/* Output rows 2 ty0 .. 2 ty1 (within h) of nf filters' planes (h x w each, the first at out)
 * from y, a tile row `row_step` tiles after the one before: element by element. */
void fer_tile_scatter_rows(int h, int w, const float *y, int stride, int row_step, float *out,
                           int nf, int ty0, int ty1);

/* 1 when fer_tile_scatter_row_wide runs here (AVX-512) and pays for a tile row of `tiles`
 * tiles: 16 or more. A 48x48 map's output transform, 32 filters, one face: 63.4 -> 40.4 us;
 * on a 12x12 map (6 tiles a row, 16 read) 11.4 -> 15.0 us. */
int fer_tile_scatter_wide_fits(int tiles);

/* Output rows 2 ty and 2 ty + 1 (within h) from y holding that one tile row, in vectors: 16
 * tiles x 16 filters turned around in registers, each filter's even and odd columns
 * interleaved, masked stores at the row's end. stride is a multiple of 16: y is read past the
 * row's last tile to the next multiple. Only where fer_tile_scatter_wide_fits. */
void fer_tile_scatter_row_wide(int h, int w, const float *y, int stride, float *out, int nf,
                               int ty);

#endif
