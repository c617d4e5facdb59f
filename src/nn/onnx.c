/*
 * onnx.c - the ONNX graph builder the layers' to_onnx hooks use, and the export around it:
 * the input and its normalisation, the layers in order, the temperature, the outputs and the
 * metadata, serialised with protobuf-c (onnx.h).
 *
 * Every message, array and string of the model is allocated here and owned by the builder,
 * which frees them all at the end; an allocation that fails is remembered (g->status) and
 * every later call does nothing, so that hooks need not check each step.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx.pb-c.h"

#include "core/alloc.h"
#include "core/file.h"
#include "nn/layer.h"
#include "nn/onnx.h"

#define MAX_ATTRS 8

struct fer_onnx_node {
    Onnx__NodeProto proto;
    Onnx__AttributeProto *attrs[MAX_ATTRS];
    struct fer_onnx *g;
};

struct ptr_list {
    void **at;
    size_t n, cap;
};

struct fer_onnx {
    enum fer_status status;
    char *err;
    struct ptr_list owned; /* everything allocated, freed at the end */
    struct ptr_list nodes; /* Onnx__NodeProto * */
    struct ptr_list inits; /* Onnx__TensorProto * */
    const struct fer_layer *layers;
    const char **values; /* per layer, the value it wrote */
    const char *normalised;
};

void fer_onnx_fail(struct fer_onnx *g, enum fer_status st, const char *fmt, ...)
{
    if (g->status != FER_OK)
        return;
    g->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->err, FER_ERR_LEN, fmt, ap);
    va_end(ap);
}

static int list_push(struct ptr_list *l, void *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        void **at = fer_realloc(l->at, cap * sizeof *at);
        if (!at)
            return 0;
        l->at = at;
        l->cap = cap;
    }
    l->at[l->n++] = p;
    return 1;
}

/* size zeroed bytes owned by g, or NULL (and g failed). */
static void *take(struct fer_onnx *g, size_t count, size_t size)
{
    if (g->status != FER_OK)
        return NULL;
    void *p = fer_calloc(count ? count : 1, size);
    if (p && list_push(&g->owned, p))
        return p;
    fer_free(p);
    fer_onnx_fail(g, FER_ERR_NOMEM, "out of memory writing the ONNX model");
    return NULL;
}

static char *take_str(struct fer_onnx *g, const char *s)
{
    char *c = take(g, strlen(s) + 1, 1);
    return c ? memcpy(c, s, strlen(s) + 1) : NULL;
}

static char *take_printf(struct fer_onnx *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *take_printf(struct fer_onnx *g, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return take_str(g, buf);
}

/* ---- the builder ----------------------------------------------------------------------- */

const char *fer_onnx_input(struct fer_onnx *g, const struct fer_layer *l)
{
    return l->index == 0 ? g->normalised : g->values[l->index - 1];
}

const char *fer_onnx_output_of(struct fer_onnx *g, int i)
{
    return g->values[i];
}

void fer_onnx_set_output(struct fer_onnx *g, const struct fer_layer *l, const char *value)
{
    g->values[l->index] = value;
}

/* 1 when some node already writes a value called name. */
static int value_taken(const struct fer_onnx *g, const char *name)
{
    for (size_t i = 0; i < g->nodes.n; i++) {
        const Onnx__NodeProto *n = g->nodes.at[i];
        if (strcmp(n->output[0], name) == 0)
            return 1;
    }
    return 0;
}

/* "layer5.Conv", "layer5.Conv2", ...: prefix and op, unique in the graph. */
static char *value_name(struct fer_onnx *g, const char *prefix, const char *op)
{
    char base[96], name[112];
    snprintf(base, sizeof base, "%s.%s", prefix, op);
    snprintf(name, sizeof name, "%s", base);
    for (int k = 2; value_taken(g, name); k++)
        snprintf(name, sizeof name, "%s%d", base, k);
    return take_str(g, name);
}

/* A node whose output is named prefix.op; prefix "layerN", or "input" and "output" for the
 * nodes around the layers. */
static struct fer_onnx_node *new_node(struct fer_onnx *g, const char *prefix, const char *op, int n,
                                      const char *const *inputs)
{
    for (int i = 0; i < n; i++)
        if (!inputs[i])
            return NULL; /* what should have made it failed, and said so */
    struct fer_onnx_node *node = take(g, 1, sizeof *node);
    char **in = take(g, (size_t)n, sizeof *in);
    char **out = take(g, 1, sizeof *out);
    char *name = value_name(g, prefix, op);
    char *op_copy = take_str(g, op);
    if (!node || !in || !out || !name || !op_copy)
        return NULL;
    for (int i = 0; i < n; i++)
        if (!(in[i] = take_str(g, inputs[i])))
            return NULL;
    onnx__node_proto__init(&node->proto);
    node->g = g;
    node->proto.n_input = (size_t)n;
    node->proto.input = in;
    node->proto.n_output = 1;
    node->proto.output = out;
    out[0] = name;
    node->proto.name = name;
    node->proto.op_type = op_copy;
    node->proto.attribute = node->attrs;
    if (!list_push(&g->nodes, &node->proto)) {
        fer_onnx_fail(g, FER_ERR_NOMEM, "out of memory writing the ONNX model");
        return NULL;
    }
    return node;
}

struct fer_onnx_node *fer_onnx_node(struct fer_onnx *g, const struct fer_layer *l, const char *op,
                                    int n, const char *const *inputs)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "layer%d", l->index);
    return new_node(g, prefix, op, n, inputs);
}

const char *fer_onnx_node_output(const struct fer_onnx_node *node)
{
    return node ? node->proto.output[0] : NULL;
}

static Onnx__AttributeProto *new_attr(struct fer_onnx_node *node, const char *name,
                                      Onnx__AttributeProto__AttributeType type)
{
    if (!node)
        return NULL;
    if (node->proto.n_attribute == MAX_ATTRS) {
        fer_onnx_fail(node->g, FER_ERR_LIMIT, "an ONNX node with more than %d attributes",
                      MAX_ATTRS);
        return NULL;
    }
    Onnx__AttributeProto *a = take(node->g, 1, sizeof *a);
    char *copy = take_str(node->g, name);
    if (!a || !copy)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = copy;
    a->has_type = 1;
    a->type = type;
    node->attrs[node->proto.n_attribute++] = a;
    return a;
}

void fer_onnx_attr_int(struct fer_onnx_node *node, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = new_attr(node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

void fer_onnx_attr_float(struct fer_onnx_node *node, const char *name, float v)
{
    Onnx__AttributeProto *a = new_attr(node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

void fer_onnx_attr_ints(struct fer_onnx_node *node, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = new_attr(node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = a ? take(node->g, (size_t)n, sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, v, (size_t)n * sizeof *copy);
        a->n_ints = (size_t)n;
        a->ints = copy;
    }
}

const char *fer_onnx_tensor(struct fer_onnx *g, const struct fer_layer *l, const char *what,
                            int n_dims, const int64_t *dims, const float *data)
{
    size_t count = 1;
    for (int i = 0; i < n_dims; i++)
        count *= (size_t)dims[i];
    Onnx__TensorProto *t = take(g, 1, sizeof *t);
    int64_t *d = take(g, (size_t)n_dims, sizeof *d);
    uint8_t *raw = take(g, count, sizeof(float));
    char *name = l ? take_printf(g, "layer%d.%s", l->index, what) : take_str(g, what);
    if (!t || !d || !raw || !name)
        return NULL;
    onnx__tensor_proto__init(t);
    if (n_dims)
        memcpy(d, dims, (size_t)n_dims * sizeof *d);
    t->n_dims = (size_t)n_dims;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->name = name;
    /* raw_data is little-endian IEEE 754, as fer's floats are on every machine it builds for */
    memcpy(raw, data, count * sizeof(float));
    t->has_raw_data = 1;
    t->raw_data.len = count * sizeof(float);
    t->raw_data.data = raw;
    if (!list_push(&g->inits, t)) {
        fer_onnx_fail(g, FER_ERR_NOMEM, "out of memory writing the ONNX model");
        return NULL;
    }
    return name;
}

/* A scalar constant. */
static const char *scalar(struct fer_onnx *g, const char *name, float v)
{
    return fer_onnx_tensor(g, NULL, name, 0, NULL, &v);
}

const char *fer_onnx_activation(struct fer_onnx *g, const struct fer_layer *l, const char *value)
{
    if (l->act == FER_ACT_LINEAR)
        return value;
    return fer_onnx_node_output(fer_onnx_node(g, l, "Relu", 1, &value));
}

const char *fer_onnx_conv(struct fer_onnx *g, const struct fer_layer *l, int group, const float *w,
                          const float *b)
{
    const int64_t wdims[4] = {l->out_c, l->in_c / group, l->size, l->size};
    const int64_t bdims[1] = {l->out_c};
    const char *in[3] = {fer_onnx_input(g, l), fer_onnx_tensor(g, l, "weight", 4, wdims, w),
                         fer_onnx_tensor(g, l, "bias", 1, bdims, b)};
    if (!in[1] || !in[2])
        return NULL;
    struct fer_onnx_node *conv = fer_onnx_node(g, l, "Conv", 3, in);
    fer_onnx_attr_ints(conv, "kernel_shape", 2, (const int64_t[]){l->size, l->size});
    fer_onnx_attr_ints(conv, "strides", 2, (const int64_t[]){l->stride, l->stride});
    fer_onnx_attr_ints(conv, "pads", 4, (const int64_t[]){l->pad, l->pad, l->pad, l->pad});
    if (group > 1)
        fer_onnx_attr_int(conv, "group", group);
    return fer_onnx_activation(g, l, fer_onnx_node_output(conv));
}

/* ---- the model around the layers ------------------------------------------------------- */

static Onnx__ValueInfoProto *value_info(struct fer_onnx *g, const char *name, int n_dims,
                                        const int64_t *dims, const char *const *params)
{
    Onnx__ValueInfoProto *v = take(g, 1, sizeof *v);
    Onnx__TypeProto *type = take(g, 1, sizeof *type);
    Onnx__TypeProto__Tensor *tensor = take(g, 1, sizeof *tensor);
    Onnx__TensorShapeProto *shape = take(g, 1, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dim = take(g, (size_t)n_dims, sizeof *dim);
    char *copy = take_str(g, name);
    if (!v || !type || !tensor || !shape || !dim || !copy)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(type);
    onnx__type_proto__tensor__init(tensor);
    onnx__tensor_shape_proto__init(shape);
    for (int i = 0; i < n_dims; i++) {
        if (!(dim[i] = take(g, 1, sizeof **dim)))
            return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (params[i]) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            if (!(dim[i]->dim_param = take_str(g, params[i])))
                return NULL;
        } else if (dims[i] > 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    shape->n_dim = (size_t)n_dims;
    shape->dim = dim;
    tensor->has_elem_type = 1;
    tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tensor->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    v->name = copy;
    v->type = type;
    return v;
}

/* Every node reading or writing value `from` uses `to` instead. */
static void rename_value(struct fer_onnx *g, const char *from, const char *to)
{
    char *copy = take_str(g, to);
    if (!copy)
        return;
    char saved[128]; /* compared by content: from may be one of the strings replaced */
    snprintf(saved, sizeof saved, "%s", from);
    for (size_t i = 0; i < g->nodes.n; i++) {
        Onnx__NodeProto *n = g->nodes.at[i];
        for (size_t k = 0; k < n->n_input; k++)
            if (strcmp(n->input[k], saved) == 0)
                n->input[k] = copy;
        if (strcmp(n->output[0], saved) == 0)
            n->output[0] = copy;
    }
}

/* The normalised input: (x - mean) / std for a classifier; the input itself for a detector. */
static void write_input(struct fer_onnx *g, const struct fer_meta *meta, int detector)
{
    g->normalised = detector ? "image" : "face";
    if (detector)
        return;
    float mean, std;
    fer_meta_norm(meta, &mean, &std);
    const char *sub[2] = {g->normalised, scalar(g, "input_mean", mean)};
    const char *centred = fer_onnx_node_output(new_node(g, "input", "Sub", 2, sub));
    const char *div[2] = {centred, scalar(g, "input_std", std)};
    g->normalised = fer_onnx_node_output(new_node(g, "input", "Div", 2, div));
}

/* fer_temper on the probabilities p: softmax(log(p) / T). The value of the output. */
static const char *write_temperature(struct fer_onnx *g, const char *p, float t)
{
    if (t == 1.0f)
        return p;
    const char *log = fer_onnx_node_output(new_node(g, "output", "Log", 1, &p));
    const char *div[2] = {log, scalar(g, "temperature", t)};
    const char *scaled = fer_onnx_node_output(new_node(g, "output", "Div", 2, div));
    struct fer_onnx_node *soft = new_node(g, "output", "Softmax", 1, &scaled);
    fer_onnx_attr_int(soft, "axis", 1);
    return fer_onnx_node_output(soft);
}

static enum fer_status write_layers(struct fer_onnx *g, const struct fer_layer *layers, int n)
{
    for (int i = 0; i < n && g->status == FER_OK; i++) {
        const struct fer_layer *l = &layers[i];
        if (!l->ops->to_onnx) {
            fer_onnx_fail(g, FER_ERR_ARG, "layer %d (%s) has no ONNX form", i, l->ops->name);
            break;
        }
        g->values[i] = NULL;
        l->ops->to_onnx(l, g);
        if (g->status == FER_OK && !g->values[i])
            fer_onnx_fail(g, FER_ERR_NOMEM, "out of memory writing the ONNX model");
    }
    return g->status;
}

/* A detector's outputs: the layers its metadata lists as "heads", each named "layerN". */
static size_t detector_outputs(struct fer_onnx *g, const fer_net *net, const struct fer_meta *meta,
                               Onnx__ValueInfoProto ***out)
{
    int heads[64], n = 0;
    const char *s = fer_meta_get(meta, "heads");
    for (char *end; s && *s && n < 64; s = *end == ',' ? end + 1 : end) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v >= fer_net_layer_count(net))
            break;
        heads[n++] = (int)v;
    }
    if (n == 0) {
        fer_onnx_fail(g, FER_ERR_FORMAT, "the detector's metadata names no 'heads' to output");
        return 0;
    }
    Onnx__ValueInfoProto **v = take(g, (size_t)n, sizeof *v);
    for (int i = 0; v && i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%d", heads[i]);
        rename_value(g, g->values[heads[i]], name);
        int c, h, w;
        fer_net_layer_output(net, heads[i], &c, &h, &w);
        v[i] = value_info(g, name, 4, (const int64_t[]){0, c, 0, 0},
                          (const char *const[]){"N", NULL, NULL, NULL});
    }
    *out = v;
    return g->status == FER_OK ? (size_t)n : 0;
}

static Onnx__StringStringEntryProto *entry(struct fer_onnx *g, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = take(g, 1, sizeof *e);
    char *k = take_str(g, key), *v = value ? take_str(g, value) : NULL;
    if (!e || !k || !v)
        return NULL;
    onnx__string_string_entry_proto__init(e);
    e->key = k;
    e->value = v;
    return e;
}

/* meta's keys, then "source" and, when the model has none, "temperature". */
static void write_metadata(struct fer_onnx *g, Onnx__ModelProto *model, const fer_net *net,
                           const struct fer_meta *meta, const char *source)
{
    Onnx__StringStringEntryProto **props = take(g, (size_t)meta->n + 2, sizeof *props);
    if (!props)
        return;
    size_t n = 0;
    for (int i = 0; i < meta->n; i++)
        props[n++] = entry(g, meta->key[i], meta->value[i]);
    props[n++] = entry(g, "source", source);
    if (!fer_meta_is_detector(meta) && !fer_meta_get(meta, "temperature"))
        props[n++] =
            entry(g, "temperature", take_printf(g, "%.9g", (double)fer_net_temperature(net)));
    model->n_metadata_props = n;
    model->metadata_props = props;
}

static enum fer_status write_file(const Onnx__ModelProto *model, const char *path, char *err)
{
    size_t size = onnx__model_proto__get_packed_size(model);
    uint8_t *buf = fer_malloc(size ? size : 1);
    if (!buf)
        return fer_errorf(err, FER_ERR_NOMEM, "out of memory packing the ONNX model (%zu bytes)",
                          size);
    onnx__model_proto__pack(model, buf);
    enum fer_status st = fer_file_write_atomic(path, buf, size, err);
    fer_free(buf);
    return st;
}

static void build_model(struct fer_onnx *g, const fer_net *net, const struct fer_meta *meta,
                        const char *source, Onnx__ModelProto *model, Onnx__GraphProto *graph)
{
    const int detector = fer_net_classes(net) == 0;
    int n_layers;
    g->layers = fer_net_layers(net, &n_layers);
    g->values = take(g, (size_t)n_layers, sizeof *g->values);
    if (!g->values)
        return;
    write_input(g, meta, detector);
    if (write_layers(g, g->layers, n_layers) != FER_OK)
        return;
    const char *params[4] = {"N", NULL, detector ? "H" : NULL, detector ? "W" : NULL};
    const int64_t in_dims[4] = {0, fer_net_input_channels(net), fer_net_input_height(net),
                                fer_net_input_width(net)};
    Onnx__ValueInfoProto **in = take(g, 1, sizeof *in), **out = NULL;
    if (!in || !(in[0] = value_info(g, detector ? "image" : "face", 4, in_dims, params)))
        return;
    size_t n_out = 1;
    if (detector) {
        n_out = detector_outputs(g, net, meta, &out);
    } else {
        const char *p = write_temperature(g, g->values[n_layers - 1], fer_net_temperature(net));
        rename_value(g, p, "probabilities");
        out = take(g, 1, sizeof *out);
        if (out)
            out[0] = value_info(g, "probabilities", 2, (const int64_t[]){0, fer_net_classes(net)},
                                (const char *const[]){"N", NULL});
    }
    if (g->status != FER_OK)
        return;
    graph->name = take_str(g, detector ? "fer_detector" : "fer_classifier");
    model->producer_name = take_str(g, "fer");
    model->producer_version =
        take_printf(g, "%d.%d.%d", FER_VERSION_MAJOR, FER_VERSION_MINOR, FER_VERSION_PATCH);
    model->doc_string = take_str(g, detector ? "fer face detector: image (N x 3 x H x W, B, G, R "
                                               "planes of 0-255 values) to its heads"
                                             : "fer emotion classifier: face (N x C x H x W, "
                                               "pixel / 255) to probabilities");
    graph->n_node = g->nodes.n;
    graph->node = (Onnx__NodeProto **)g->nodes.at;
    graph->n_initializer = g->inits.n;
    graph->initializer = (Onnx__TensorProto **)g->inits.at;
    graph->n_input = 1;
    graph->input = in;
    graph->n_output = n_out;
    graph->output = out;
    write_metadata(g, model, net, meta, source);
}

enum fer_status fer_onnx_export(const fer_net *net, const struct fer_meta *meta, const char *source,
                                const char *path, char *err)
{
    struct fer_onnx g = {.status = FER_OK, .err = err};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    opset.domain = (char *)"";
    opset.has_version = 1;
    opset.version = FER_ONNX_OPSET;
    model.has_ir_version = 1;
    model.ir_version = 7; /* the IR of opset 13 */
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.graph = &graph;
    build_model(&g, net, meta, source, &model, &graph);
    enum fer_status st = g.status == FER_OK ? write_file(&model, path, err) : g.status;
    for (size_t i = 0; i < g.owned.n; i++)
        fer_free(g.owned.at[i]);
    fer_free(g.owned.at);
    fer_free(g.nodes.at);
    fer_free(g.inits.at);
    return st;
}
