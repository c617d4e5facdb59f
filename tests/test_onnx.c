/*
 * test_onnx.c - nn/onnx.c's export read back with protobuf-c: the graph's input and output,
 * the operators each layer becomes, batch norm folded into the convolution's weights, the
 * metadata, a detector's heads; and the failures: a layer type without an ONNX form, a
 * detector without heads, an unwritable path, every allocation failing in turn. Whether
 * ONNX Runtime computes what fer computes is tests/onnx.sh's part.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "onnx/onnx.pb-c.h"

#include "check.h"
#include "core/alloc.h"
#include "core/file.h"
#include "nn/layer.h"
#include "nn/model_file.h"
#include "nn/onnx.h"
#include "tmp_dir.h"

static const char *SPEC = "[net]\nwidth=8\nheight=8\nchannels=1\n"
                          "[convolutional]\nfilters=4\nsize=3\nbatch_normalize=1\nactivation=relu\n"
                          "[maxpool]\nsize=2\n"
                          "[convolutional]\nfilters=4\nsize=1\n"
                          "[shortcut]\nfrom=-2\nactivation=relu\n"
                          "[route]\nlayers=-1,-2\n"
                          "[dropout]\nprobability=0.5\n"
                          "[global_avgpool]\n"
                          "[dense]\noutput=classes\n"
                          "[softmax]\nmerge=0,1\n";

/* A net of SPEC (7 logits merged into 6 classes) with weights and statistics that are not
 * the trivial ones, and its metadata. */
static fer_net *make_net(struct fer_meta *meta)
{
    char err[FER_ERR_LEN];
    fer_spec *spec = NULL;
    fer_net *net = NULL;
    if (fer_spec_parse(SPEC, "test.cfg", &spec, err) != FER_OK ||
        fer_net_new(spec, 6, 1, &net, err) != FER_OK) {
        fprintf(stderr, "  %s\n", err);
        fer_spec_free(spec);
        return NULL;
    }
    fer_spec_free(spec);
    fer_net_init_weights(net, 3);
    size_t n;
    float *buf = fer_net_buffers(net, &n);
    for (size_t i = 0; i < n; i++)
        buf[i] = 0.5f + 0.25f * (float)(i % 3); /* means and variances */
    fer_net_set_temperature(net, 1.5f);
    fer_meta_set(meta, "name", "test-net");
    fer_meta_set(meta, "classes", "angry,fear,happy,sad,surprise,neutral");
    fer_meta_set(meta, "input_mean", "0.5");
    fer_meta_set(meta, "input_std", "0.25");
    fer_meta_set(meta, "temperature", "1.5");
    return net;
}

static Onnx__ModelProto *read_back(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char err[FER_ERR_LEN];
    if (fer_file_read(path, "onnx", 1 << 26, &data, &len, err) != FER_OK)
        return NULL;
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
    fer_free(data);
    return m;
}

static const char *meta_prop(const Onnx__ModelProto *m, const char *key)
{
    for (size_t i = 0; i < m->n_metadata_props; i++)
        if (strcmp(m->metadata_props[i]->key, key) == 0)
            return m->metadata_props[i]->value;
    return NULL;
}

static const Onnx__TensorProto *initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (strcmp(g->initializer[i]->name, name) == 0)
            return g->initializer[i];
    return NULL;
}

static int count_ops(const Onnx__GraphProto *g, const char *op)
{
    int n = 0;
    for (size_t i = 0; i < g->n_node; i++)
        n += strcmp(g->node[i]->op_type, op) == 0;
    return n;
}

TEST(a_classifier_is_written_as_its_layers)
{
    struct fer_meta meta = {0};
    fer_net *net = make_net(&meta);
    CHECK(net != NULL);
    if (!net)
        return;
    char path[512], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof path, "net.onnx");
    CHECK(fer_onnx_export(net, &meta, "test.fer", path, err) == FER_OK);
    Onnx__ModelProto *m = read_back(path);
    CHECK(m != NULL);
    if (m) {
        const Onnx__GraphProto *g = m->graph;
        CHECK(m->ir_version == 7);
        CHECK(m->n_opset_import == 1 && m->opset_import[0]->version == FER_ONNX_OPSET);
        CHECK_STR(m->producer_name, "fer");
        CHECK(g->n_input == 1 && g->n_output == 1);
        CHECK_STR(g->input[0]->name, "face");
        const Onnx__TensorShapeProto *in = g->input[0]->type->tensor_type->shape;
        CHECK(in->n_dim == 4 && in->dim[1]->dim_value == 1 && in->dim[2]->dim_value == 8 &&
              in->dim[3]->dim_value == 8);
        CHECK_STR(in->dim[0]->dim_param, "N");
        CHECK_STR(g->output[0]->name, "probabilities");
        CHECK(g->output[0]->type->tensor_type->shape->dim[1]->dim_value == 6);
        /* normalisation, the layers (no BatchNormalization, no Dropout), the temperature */
        CHECK(count_ops(g, "Sub") == 1 && count_ops(g, "Div") == 2);
        CHECK(count_ops(g, "Conv") == 2 && count_ops(g, "BatchNormalization") == 0);
        CHECK(count_ops(g, "Relu") == 2 && count_ops(g, "MaxPool") == 1);
        CHECK(count_ops(g, "Add") == 1 && count_ops(g, "Concat") == 1);
        CHECK(count_ops(g, "Dropout") == 0 && count_ops(g, "GlobalAveragePool") == 1);
        CHECK(count_ops(g, "Gemm") == 1 && count_ops(g, "Softmax") == 2);
        CHECK(count_ops(g, "MatMul") == 1 && count_ops(g, "Log") == 1);
        /* the last node writes the output */
        CHECK_STR(g->node[g->n_node - 1]->output[0], "probabilities");
        /* batch norm folded: w' = w gamma / sqrt(var + eps) */
        int n_layers;
        const struct fer_layer *layers = fer_net_layers(net, &n_layers);
        const struct fer_layer *c0 = &layers[0];
        const Onnx__TensorProto *w = initializer(g, "layer0.weight");
        const Onnx__TensorProto *b = initializer(g, "layer0.bias");
        CHECK(w && w->n_dims == 4 && w->dims[0] == 4 && w->raw_data.len == 36 * sizeof(float));
        CHECK(b && b->raw_data.len == 4 * sizeof(float));
        if (w && b && w->raw_data.len == 36 * sizeof(float)) {
            float wf[36], bf[4];
            memcpy(wf, w->raw_data.data, sizeof wf);
            memcpy(bf, b->raw_data.data, sizeof bf);
            float s = c0->gamma[1] / sqrtf(c0->run_var[1] + FER_BN_EPS);
            CHECK_NEAR(wf[9 + 4], c0->w[9 + 4] * s, 1e-6);
            CHECK_NEAR(bf[1], c0->b[1] - c0->run_mean[1] * s, 1e-6);
        }
        /* the merge matrix: 7 logits to 6 classes, the first two added */
        const Onnx__TensorProto *mm = initializer(g, "layer8.merge");
        CHECK(mm && mm->n_dims == 2 && mm->dims[0] == 7 && mm->dims[1] == 6);
        if (mm && mm->raw_data.len == 42 * sizeof(float)) {
            float v[42];
            memcpy(v, mm->raw_data.data, sizeof v);
            CHECK(v[0 * 6 + 0] == 1 && v[1 * 6 + 0] == 1 && v[2 * 6 + 1] == 1 && v[6 * 6 + 5] == 1);
            float sum = 0;
            for (int i = 0; i < 42; i++)
                sum += v[i];
            CHECK(sum == 7);
        }
        CHECK_STR(meta_prop(m, "classes"), "angry,fear,happy,sad,surprise,neutral");
        CHECK_STR(meta_prop(m, "temperature"), "1.5");
        CHECK_STR(meta_prop(m, "source"), "test.fer");
        CHECK_STR(meta_prop(m, "input_mean"), "0.5");
        onnx__model_proto__free_unpacked(m, NULL);
    }
    fer_net_free(net);
    fer_meta_clear(&meta);
}

TEST(an_uncalibrated_model_says_temperature_1)
{
    struct fer_meta meta = {0};
    fer_net *net = make_net(&meta);
    if (!net)
        return;
    fer_model_uncalibrate(net, &meta);
    char path[512], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof path, "plain.onnx");
    CHECK(fer_onnx_export(net, &meta, "built-in", path, err) == FER_OK);
    Onnx__ModelProto *m = read_back(path);
    CHECK(m != NULL);
    if (m) {
        CHECK_STR(meta_prop(m, "temperature"), "1");
        CHECK(count_ops(m->graph, "Log") == 0 && count_ops(m->graph, "Softmax") == 1);
        onnx__model_proto__free_unpacked(m, NULL);
    }
    fer_net_free(net);
    fer_meta_clear(&meta);
}

TEST(a_detector_outputs_its_heads)
{
    char err[FER_ERR_LEN];
    fer_net *net = NULL;
    struct fer_meta meta = {0};
    CHECK(fer_model_load_as("models/yunet.fer", FER_MODEL_DETECTOR, 1, &net, &meta, NULL, err) ==
          FER_OK);
    if (!net)
        return;
    char path[512];
    test_tmp_path(path, sizeof path, "yunet.onnx");
    CHECK(fer_onnx_export(net, &meta, "models/yunet.fer", path, err) == FER_OK);
    Onnx__ModelProto *m = read_back(path);
    CHECK(m != NULL);
    if (m) {
        const Onnx__GraphProto *g = m->graph;
        CHECK_STR(g->input[0]->name, "image");
        CHECK(g->input[0]->type->tensor_type->shape->dim[1]->dim_value == 3);
        CHECK_STR(g->input[0]->type->tensor_type->shape->dim[2]->dim_param, "H");
        CHECK(g->n_output == 12);
        CHECK(count_ops(g, "Sub") == 0 && count_ops(g, "Softmax") == 0);
        CHECK(count_ops(g, "Resize") == 2 && count_ops(g, "Concat") == 0);
        int grouped = 0;
        for (size_t i = 0; i < g->n_node; i++)
            for (size_t a = 0; a < g->node[i]->n_attribute; a++)
                grouped += strcmp(g->node[i]->attribute[a]->name, "group") == 0;
        CHECK(grouped > 10); /* the depthwise convolutions */
        for (size_t i = 0; i < g->n_output; i++)
            CHECK(strncmp(g->output[i]->name, "layer", 5) == 0);
        onnx__model_proto__free_unpacked(m, NULL);
    }
    /* without its heads, a detector cannot say what to output */
    fer_meta_unset(&meta, "heads");
    test_tmp_path(path, sizeof path, "headless.onnx");
    CHECK(fer_onnx_export(net, &meta, "x", path, err) == FER_ERR_FORMAT);
    CHECK(strstr(err, "heads") != NULL);
    CHECK(access(path, F_OK) != 0);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

TEST(an_unwritable_path_fails_and_leaves_nothing)
{
    struct fer_meta meta = {0};
    fer_net *net = make_net(&meta);
    if (!net)
        return;
    char err[FER_ERR_LEN];
    CHECK(fer_onnx_export(net, &meta, "x", "/nonexistent-dir/net.onnx", err) == FER_ERR_IO);
    CHECK(strstr(err, "/nonexistent-dir/net.onnx") != NULL);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

TEST(every_allocation_failure_is_reported_and_cleaned_up)
{
    struct fer_meta meta = {0};
    fer_net *net = make_net(&meta);
    if (!net)
        return;
    char path[512], err[FER_ERR_LEN];
    test_tmp_path(path, sizeof path, "oom.onnx");
    int failures = 0, successes = 0;
    for (long n = 0; n < 2000 && successes == 0; n++) {
        fer_alloc_fail_after(n);
        enum fer_status st = fer_onnx_export(net, &meta, "x", path, err);
        fer_alloc_fail_after(-1);
        if (st == FER_OK)
            successes++;
        else if (st == FER_ERR_NOMEM && access(path, F_OK) != 0)
            failures++;
        else
            CHECK(!"a failed allocation gives FER_ERR_NOMEM and no file");
    }
    CHECK(successes == 1 && failures > 100);
    fer_net_free(net);
    fer_meta_clear(&meta);
}

int main(void)
{
    if (test_tmp_create("/tmp/fer_test_onnx_XXXXXX") != 0)
        return 1;
    RUN(a_classifier_is_written_as_its_layers);
    RUN(an_uncalibrated_model_says_temperature_1);
    RUN(a_detector_outputs_its_heads);
    RUN(an_unwritable_path_fails_and_leaves_nothing);
    RUN(every_allocation_failure_is_reported_and_cleaned_up);
    test_tmp_remove();
    return check_report();
}
