/* metrics.c - confusion-matrix metrics and their text and JSON reports. */
#include "train/metrics.h"

#include <string.h>

void fer_metrics_init(struct fer_metrics *m, int n_classes)
{
    memset(m, 0, sizeof(*m));
    m->n_classes = n_classes;
}

void fer_metrics_add(struct fer_metrics *m, int truth, int predicted)
{
    m->confusion[truth * m->n_classes + predicted]++;
    m->total++;
}

void fer_metrics_finish(struct fer_metrics *m)
{
    const int n = m->n_classes;
    size_t correct = 0;
    double f1_sum = 0;
    for (int c = 0; c < n; c++) {
        size_t tp = m->confusion[c * n + c], row = 0, col = 0;
        for (int k = 0; k < n; k++) {
            row += m->confusion[c * n + k];
            col += m->confusion[k * n + c];
        }
        correct += tp;
        struct fer_class_metrics *cm = &m->per_class[c];
        cm->support = row;
        cm->precision = col ? (double)tp / (double)col : 0;
        cm->recall = row ? (double)tp / (double)row : 0;
        cm->f1 = cm->precision + cm->recall > 0
                     ? 2 * cm->precision * cm->recall / (cm->precision + cm->recall)
                     : 0;
        f1_sum += cm->f1;
    }
    m->accuracy = m->total ? (double)correct / (double)m->total : 0;
    m->macro_f1 = n ? f1_sum / n : 0;
}

void fer_metrics_print(const struct fer_metrics *m, const char *const *names, FILE *out)
{
    const int n = m->n_classes;
    fprintf(out, "accuracy  %.2f%%  (%zu faces)\nmacro-F1  %.4f\nloss      %.4f\n\n",
            100 * m->accuracy, m->total, m->macro_f1, m->loss);
    fprintf(out, "%-10s %9s %9s %9s %9s\n", "class", "precision", "recall", "F1", "support");
    for (int c = 0; c < n; c++)
        fprintf(out, "%-10s %9.4f %9.4f %9.4f %9zu\n", names[c], m->per_class[c].precision,
                m->per_class[c].recall, m->per_class[c].f1, m->per_class[c].support);
    fprintf(out, "\nconfusion matrix (rows: true class, columns: predicted)\n%-10s", "");
    for (int c = 0; c < n; c++)
        fprintf(out, " %8.8s", names[c]);
    fputc('\n', out);
    for (int t = 0; t < n; t++) {
        fprintf(out, "%-10s", names[t]);
        for (int p = 0; p < n; p++)
            fprintf(out, " %8zu", m->confusion[t * n + p]);
        fputc('\n', out);
    }
}

void fer_metrics_print_json(const struct fer_metrics *m, const char *const *names, FILE *out)
{
    const int n = m->n_classes;
    fprintf(out, "{\"accuracy\":%.6f,\"macro_f1\":%.6f,\"loss\":%.6f,\"total\":%zu,\"per_class\":{",
            m->accuracy, m->macro_f1, m->loss, m->total);
    for (int c = 0; c < n; c++)
        fprintf(out, "%s\"%s\":{\"precision\":%.6f,\"recall\":%.6f,\"f1\":%.6f,\"support\":%zu}",
                c ? "," : "", names[c], m->per_class[c].precision, m->per_class[c].recall,
                m->per_class[c].f1, m->per_class[c].support);
    fprintf(out, "},\"classes\":[");
    for (int c = 0; c < n; c++)
        fprintf(out, "%s\"%s\"", c ? "," : "", names[c]);
    fprintf(out, "],\"confusion\":[");
    for (int t = 0; t < n; t++) {
        fprintf(out, "%s[", t ? "," : "");
        for (int p = 0; p < n; p++)
            fprintf(out, "%s%zu", p ? "," : "", m->confusion[t * n + p]);
        fputc(']', out);
    }
    fprintf(out, "]}\n");
}
