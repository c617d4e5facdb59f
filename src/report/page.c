/*
 * page.c - index.html of a report: one self-contained page (its style inline, no scripts, no
 * outside resources) that shows the numbers and every figure in the folder.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"

/* Writes s with &, <, > and " escaped. */
static void put_escaped(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Writes raw (markup) as it is, then text escaped. */
static void put_text(FILE *f, const char *raw, const char *text)
{
    fputs(raw, f);
    put_escaped(f, text);
}

static const char *STYLE =
    "body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:0 auto;max-width:1100px;"
    "padding:24px;color:#1d2330;background:#fafbfc}"
    "h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 6px}"
    ".sub{color:#5a6270;margin:0 0 20px}"
    ".big{display:flex;gap:16px;flex-wrap:wrap;margin:16px 0}"
    ".big div{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 18px}"
    ".big b{display:block;font-size:1.8em}"
    "table{border-collapse:collapse;background:#fff}"
    "th,td{border:1px solid #dde1e6;padding:5px 12px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    "figure{margin:8px 0 0;background:#fff;border:1px solid #dde1e6;border-radius:8px;"
    "padding:12px}figure img{max-width:100%;height:auto}"
    "figcaption{color:#5a6270;margin-top:6px}";

static void write_numbers(FILE *f, const struct fer_report_summary *s)
{
    fprintf(f,
            "<div class=\"big\"><div>accuracy<b id=\"accuracy\">%.2f%%</b></div>"
            "<div>macro-F1<b id=\"macro_f1\">%.4f</b></div>"
            "<div>expected calibration error<b id=\"ece\">%.2f%%</b></div>"
            "<div>faces<b id=\"faces\">%zu</b></div></div>\n",
            100 * s->accuracy, s->macro_f1, 100 * s->ece, s->faces);
    fprintf(f, "<table id=\"per-class\"><tr><th>class</th><th>precision</th><th>recall</th>"
               "<th>F1</th><th>faces</th></tr>\n");
    for (int c = 0; c < s->k; c++) {
        put_text(f, "<tr><td>", s->names[c]);
        fprintf(f, "</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%zu</td></tr>\n",
                s->classes[c].precision, s->classes[c].recall, s->classes[c].f1,
                s->classes[c].support);
    }
    fputs("</table>\n", f);
}

enum fer_status fer_report_write_html(const char *path, const struct fer_report_summary *s,
                                      char *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_errorf(err, FER_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    put_text(f, "Report: ", s->name);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", STYLE);
    put_text(f, "<h1>Report: ", s->name);
    put_text(f, "</h1>\n<p class=\"sub\">model <code>", s->model);
    put_text(f, "</code> on <code>", s->data);
    put_text(f, "</code>, test-time augmentation ", s->tta);
    fputs("</p>\n", f);
    write_numbers(f, s);
    for (int i = 0; i < s->n_figures; i++) {
        const struct fer_report_figure *fig = &s->figures[i];
        put_text(f, "<h2>", fig->title);
        put_text(f, "</h2>\n<figure><img src=\"", fig->file);
        put_text(f, "\" alt=\"", fig->title);
        put_text(f, "\"><figcaption>", fig->caption);
        fputs("</figcaption></figure>\n", f);
    }
    fputs("<p class=\"sub\">Made by <code>fer report</code>.</p>\n</body>\n</html>\n", f);
    if (ferror(f) | (fclose(f) != 0))
        return fer_errorf(err, FER_ERR_IO, "writing %s failed", path);
    return FER_OK;
}
