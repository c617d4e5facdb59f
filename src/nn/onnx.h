/*
 * onnx.h - a fer network written as an ONNX model (https://onnx.ai), for ONNX Runtime and
 * every other tool that reads ONNX.
 *
 * The protobuf is written with protobuf-c, from the onnx.proto that Debian's libonnx-dev
 * ships (the Makefile runs protoc-c on it). The graph is made layer by layer: each layer type
 * says how it is written in its struct fer_layer_ops's to_onnx hook, with the builder
 * functions below, so that this file and onnx.c know no layer by name.
 *
 * A classifier's graph takes the face as fer crops it: "face", N x C x H x W floats, the
 * pixels scaled to [0, 1] (pixel / 255), H x W the network's input. It normalises them as
 * training did, runs the layers (batch norm folded into the convolutions before it, dropout
 * left out) and answers "probabilities", N x classes, the model's temperature applied as
 * fer_temper does. A detector's graph (task=detect) takes the image as the detector feeds it
 * (its own scaling, any height and width) and answers the output of every layer that no
 * other layer reads, named "layerN".
 */
#ifndef FER_NN_ONNX_H
#define FER_NN_ONNX_H

#include <stdint.h>

#include "core/status.h"
#include "nn/model_file.h"
#include "nn/net.h"

#define FER_ONNX_OPSET 13 /* Softmax over one axis, Resize with scales: ONNX Runtime since 1.6 */

/*
 * Writes net (with meta's classes, normalisation and temperature; every meta key is copied
 * into the model's metadata_props) to path as ONNX, atomically. source names the model the
 * file came from (its path, or "built-in"), for the metadata. A layer type without an ONNX
 * form is refused with a message naming it.
 */
enum fer_status fer_onnx_export(const fer_net *net, const struct fer_meta *meta, const char *source,
                                const char *path, char *err);

/* ---- for the layers' to_onnx hooks ----------------------------------------------------- */

struct fer_onnx;      /* the graph being written */
struct fer_onnx_node; /* one node of it */
struct fer_layer;

/* The value layer l reads: the previous layer's output, or the normalised input. */
const char *fer_onnx_input(struct fer_onnx *g, const struct fer_layer *l);
/* The value layer i wrote (i before the layer being written). */
const char *fer_onnx_output_of(struct fer_onnx *g, int i);
/* Records value as l's output; a hook calls it last (a layer that changes nothing at
 * inference, dropout, records its input). */
void fer_onnx_set_output(struct fer_onnx *g, const struct fer_layer *l, const char *value);

/*
 * A new node of type op (an ONNX operator of FER_ONNX_OPSET) for layer l, reading the n
 * values in inputs; it writes one new value, named after the layer and op
 * ("layer5.Conv"), which fer_onnx_node_output gives.
 */
struct fer_onnx_node *fer_onnx_node(struct fer_onnx *g, const struct fer_layer *l, const char *op,
                                    int n, const char *const *inputs);
const char *fer_onnx_node_output(const struct fer_onnx_node *node);
void fer_onnx_attr_int(struct fer_onnx_node *node, const char *name, int64_t v);
void fer_onnx_attr_float(struct fer_onnx_node *node, const char *name, float v);
void fer_onnx_attr_ints(struct fer_onnx_node *node, const char *name, int n, const int64_t *v);

/*
 * A float32 constant (an initializer) of shape dims[0] x ... with the values in data (copied),
 * named after the layer ("layer5.weight"); returns its name.
 */
const char *fer_onnx_tensor(struct fer_onnx *g, const struct fer_layer *l, const char *what,
                            int n_dims, const int64_t *dims, const float *data);

/* l's activation (ReLU or none) applied to value: the value to record as l's output. */
const char *fer_onnx_activation(struct fer_onnx *g, const struct fer_layer *l, const char *value);

/*
 * A convolution of l's input with out_c x (in_c / group) x k x k weights w and bias b (out_c),
 * l's stride and padding, then its activation: the value to record. Shared by [convolutional]
 * (batch norm folded into w and b) and [depthwise] (group = channels).
 */
const char *fer_onnx_conv(struct fer_onnx *g, const struct fer_layer *l, int group, const float *w,
                          const float *b);

/* Records a failure (a layer that cannot be written); the export returns it. */
void fer_onnx_fail(struct fer_onnx *g, enum fer_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
