#!/usr/bin/env bash
# detect.sh - fer's face detection (Viola & Jones 2001; Lienhart & Maydt 2002)
# against OpenCV 4.6's detectMultiScale: same photos, cascade
# (haarcascade_frontalface_default) and parameters (scale 1.1, min neighbours
# 3, min size 30), one thread each, in one run. The two alternate REPEATS times
# so that machine noise hits both alike; each keeps its best median. Prints ms
# per image for both, the ratio and whether the boxes are the same, then
# recall and precision on dlib's annotated faces. Times are thread CPU time,
# which other jobs on a shared machine disturb less than wall time. Raw JSON
# lines go to bench/out/detect.jsonl.
#
#   make build/bench_detect && bash bench/detect.sh      (needs python3-opencv)
#   REPEATS=3 ROUNDS=5 THREADS=1 BENCH_DETECT=build/bench_detect bash bench/detect.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FER_SHARED_DATA:-../shared/data}
repeats=${REPEATS:-3}
rounds=${ROUNDS:-5}
threads=${THREADS:-1}
bin=${BENCH_DETECT:-build/bench_detect}
[[ -x "$bin" ]] || { echo "detect.sh: build $bin first (make build/bench_detect)" >&2; exit 1; }
[[ -d "$data/media" ]] || { echo "detect.sh: no $data/media (set FER_SHARED_DATA)" >&2; exit 1; }

# Photos at exactly 640x480 and 1280x720 (centre crop to the aspect, INTER_AREA), as PNG
# so that both decoders read the same pixels.
imgs=/tmp/fer_bench_detect
mkdir -p "$imgs" bench/out
/usr/bin/python3 - "$data/media" "$imgs" <<'PY'
import os, sys, cv2
src, dst = sys.argv[1], sys.argv[2]
for name in ("two_people.jpg", "obama_and_biden.jpg", "lin-manuel-miranda.png", "obama-720p.jpg"):
    img = cv2.imread(os.path.join(src, name), cv2.IMREAD_COLOR)
    for w, h in ((320, 240), (640, 480), (1280, 720)):
        ih, iw = img.shape[:2]
        if iw * h > ih * w:
            cw, ch = ih * w // h, ih
        else:
            cw, ch = iw, iw * h // w
        x, y = (iw - cw) // 2, (ih - ch) // 2
        out = cv2.resize(img[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_AREA)
        cv2.imwrite(os.path.join(dst, "%s_%dx%d.png" % (os.path.splitext(name)[0], w, h)), out)
PY
out=bench/out/detect.jsonl
: >"$out"
for r in $(seq "$repeats"); do
    "$bin" --rounds "$rounds" --threads "$threads" "$imgs"/*.png >>"$out"
    "$bin" --detector yunet --min-size 0 --rounds "$rounds" --threads "$threads" "$imgs"/*.png >>"$out"
    /usr/bin/python3 bench/opencv_detect.py --rounds "$rounds" "$imgs"/*.png >>"$out"
done
"$bin" --accuracy "$data/media/dlib_faces" --min-neighbors 3 >>"$out"
/usr/bin/python3 bench/opencv_detect.py --accuracy "$data/media/dlib_faces" --min-neighbors 3 >>"$out"
"$bin" --accuracy "$data/media/dlib_faces" --min-neighbors 5 >>"$out"
"$bin" --detector yunet --accuracy "$data/media/dlib_faces" >>"$out"
/usr/bin/python3 bench/opencv_detect.py --accuracy "$data/media/dlib_faces" --min-neighbors 5 >>"$out"

/usr/bin/python3 - "$out" "$threads" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best, boxes = {}, {}
for r in rows:
    if "ms" in r:
        k = (r["peer"], r["image"])
        best[k] = min(best.get(k, 1e30), r["ms"])
        boxes[k] = r["boxes"]
print("face detection: fer's Haar scan against OpenCV 4.6's (haarcascade_frontalface_default,")
print("scale 1.1, min neighbours 3, min size 30), and fer's YuNet on the same photos (colour)")
print(f"fer threads: {sys.argv[2]}, OpenCV 4.6 threads: 1")
print(f"{'image (CPU ms per detection)':<34}{'fer haar':>9}{'opencv':>9}{'ratio':>7}  same"
      f"{'yunet':>8}{'haar/yunet':>11}")
by_size = {}
for (peer, img) in sorted(best):
    if peer != "fer":
        continue
    f, o, y = best[("fer", img)], best[("opencv", img)], best[("fer-yunet", img)]
    same = boxes[("fer", img)] == boxes[("opencv", img)]
    size = img.rsplit("_", 1)[1].split(".")[0]
    by_size.setdefault(size, []).append((f, o, y))
    print(f"{os.path.basename(img):<34}{f:>9.1f}{o:>9.1f}{o / f:>6.2f}x  {'yes' if same else 'NO ':<4}"
          f"{y:>8.1f}{f / y:>10.2f}x")
for size, v in sorted(by_size.items(), key=lambda kv: int(kv[0].split("x")[0])):
    f, o, y = (sum(t[i] for t in v) / len(v) for i in range(3))
    print(f"{'mean ' + size:<34}{f:>9.1f}{o:>9.1f}{o / f:>6.2f}x      {y:>8.1f}{f / y:>10.2f}x")
print("(ratio = OpenCV ms / fer ms; haar/yunet = fer's Haar ms / YuNet ms; > 1: the second is faster)")
print()
print("dlib_faces (18 annotated faces), IoU >= 0.5:")
for r in rows:
    if "recall" in r:
        what = (f"score >= {r['score']}" if r["peer"] == "fer-yunet"
                else f"min neighbours {r['min_neighbors']}")
        print(f"  {r['peer']:<9} {what}: recall {r['recall']:.3f} "
              f"({r['matched']}/{r['faces']}), precision {r['precision']:.3f} "
              f"({r['matched']}/{r['detections']})")
PY
