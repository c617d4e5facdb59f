"""faces.py N OUT.csv [SEED [USAGE]] - N random FER2013-style faces (smooth shapes and noise, random
labels; all of one usage, PublicTest by default) as a FER2013 CSV, for tests that need faces
without ../shared."""
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
usage = sys.argv[4] if len(sys.argv) > 4 else "PublicTest"
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
with open(out, "w") as f:
    f.write("emotion,pixels,Usage\n")
    for i in range(n):
        cx, cy, r = rng.uniform(10, 38), rng.uniform(10, 38), rng.uniform(6, 20)
        base, amp = rng.uniform(40, 200), rng.uniform(-80, 80)
        px = []
        for y in range(48):
            for x in range(48):
                inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r
                v = base + (amp if inside else 0) + rng.gauss(0, 12) + 0.8 * (x - 24)
                px.append(str(min(255, max(0, int(v)))))
        f.write(f"{rng.randrange(7)},{' '.join(px)},{usage}\n")
