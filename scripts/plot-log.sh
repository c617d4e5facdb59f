#!/usr/bin/env bash
# plot-log.sh - training curves as an SVG picture from `fer train` JSONL logs.
#
#   scripts/plot-log.sh OUT.svg LOG.jsonl [LOG2.jsonl ...]
#
# Several logs are drawn one after the other on one epoch axis (the stages of
# a run: a warm restart continues where the first stage ended), with a dashed
# line where each stage begins. Plotted: training and validation accuracy
# (left axis, %) and the learning rate (right axis, relative to its peak).
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 OUT.svg LOG.jsonl [LOG2.jsonl ...]" >&2
    exit 2
fi
out=$1
shift
for f in "$@"; do
    [[ -s $f ]] || { echo "plot-log.sh: $f is missing or empty" >&2; exit 1; }
done
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
awk '
function num(key,   m) {
    if (match($0, "\"" key "\":[-0-9.eE+]+")) {
        m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); return m + 0
    }
    return -1
}
FNR == 1 { stage++; if (stage > 1) starts[stage] = n }
/"epoch"/ {
    n++; tr[n] = 100 * num("train_acc"); va[n] = 100 * num("val_acc"); lr[n] = num("lr")
    if (lr[n] > maxlr) maxlr = lr[n]
    if (va[n] > best) { best = va[n]; bestn = n }
}
END {
    if (n == 0) { print "no epochs in the logs" > "/dev/stderr"; exit 1 }
    W = 720; H = 400; L = 60; R = 60; T = 40; B = 50
    pw = W - L - R; ph = H - T - B; lo = 30; hi = 80
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"22\" font-size=\"15\">Training curves: %d epochs, best validation accuracy %.2f%% (epoch %d)</text>\n", L, n, best, bestn
    for (v = lo; v <= hi; v += 10) {
        y = T + ph - (v - lo) / (hi - lo) * ph
        printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, L + pw, y, y
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n", L - 6, y + 4, v
    }
    step = n > 20 ? 5 : 1
    for (e = step; e <= n; e += step) {
        x = L + (n > 1 ? (e - 1) / (n - 1) : 0) * pw
        printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, T + ph + 18, e
    }
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n", L + pw / 2, H - 8
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#888\">lr (peak %g)</text>\n", W - 4, T - 6, maxlr
    for (s in starts) {
        x = L + (starts[s] + 0.5 - 1) / (n - 1) * pw
        printf "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#888\" stroke-dasharray=\"4 4\"/>\n", x, x, T, T + ph
        printf "<text x=\"%.1f\" y=\"%d\" fill=\"#888\">stage %d</text>\n", x + 4, T + 12, s
    }
    draw(tr, "#1f77b4", lo, hi); draw(va, "#d62728", lo, hi)
    # the learning rate on its own scale: 0 at the bottom, the peak at the top
    printf "<polyline fill=\"none\" stroke=\"#aaa\" stroke-width=\"1.5\" points=\""
    for (e = 1; e <= n; e++)
        printf "%.1f,%.1f ", L + (n > 1 ? (e - 1) / (n - 1) : 0) * pw, T + ph - (maxlr > 0 ? lr[e] / maxlr : 0) * ph
    printf "\"/>\n"
    legend(0, "#1f77b4", "training accuracy (augmented)"); legend(1, "#d62728", "validation accuracy")
    legend(2, "#aaa", "learning rate")
    print "</svg>"
}
function draw(a, color, lo, hi,   e, v) {
    printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color
    for (e = 1; e <= n; e++) {
        v = a[e] < lo ? lo : a[e] > hi ? hi : a[e]
        printf "%.1f,%.1f ", L + (n > 1 ? (e - 1) / (n - 1) : 0) * pw, T + ph - (v - lo) / (hi - lo) * ph
    }
    printf "\"/>\n"
}
function legend(i, color, text,   x, y) {
    x = L + 12; y = T + ph - 50 + i * 16
    printf "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n", x, x + 20, y - 4, y - 4, color
    printf "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 26, y, text
}
' "$@" >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out" >&2
