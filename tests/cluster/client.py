"""client.py - the users of tests/cluster.sh: threads that send predictions and feedback
through nginx to several fer serve on one PostgreSQL, as the web app does, while one server
is killed in the middle; then the export, checked against what was acknowledged.

Each worker posts the photo to /v1/predict and, for each face, a feedback with a fresh
Idempotency-Key. A request that gets no answer, or 502/503/504 from nginx, is sent again
with the same key (up to 30 tries, 0.2 s apart), as a client of a service behind a proxy
should. Every 201 is an acknowledgement: (feedback id, face id, emotion, key).

    client.py URL PHOTO TOKEN FEEDBACK WORKERS KILL_PID KILL_AFTER OUT.json

KILL_PID is sent SIGKILL once KILL_AFTER feedback rows have been acknowledged (0: never).
OUT.json receives the counts and the check's findings; the exit status is 0 either way
(tests/cluster.sh judges), 2 when the arguments are wrong.
"""
import csv
import http.client
import io
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import uuid

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "not_a_face"]
RETRY_STATUSES = {502, 503, 504}
TRIES = 30


class Cluster:
    def __init__(self, url, photo, feedback, kill_pid, kill_after):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.photo = photo
        self.want = feedback
        self.kill_pid, self.kill_after = kill_pid, kill_after
        self.lock = threading.Lock()
        self.acks = []  # (id, face_id, emotion, key)
        self.retries = 0
        self.failures = []  # requests that never got a good answer
        self.statuses = {}
        self.killed_at = None
        self.started = 0

    def request(self, method, path, body, headers):
        """One request on a new connection: (status, parsed JSON or None); status 0 when the
        connection failed."""
        try:
            c = http.client.HTTPConnection(self.host, self.port, timeout=60)
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            c.close()
        except (OSError, http.client.HTTPException):
            return 0, None
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, None

    def until_answered(self, method, path, body, headers, good):
        """Sends until the status is good or not worth another try; (status, json)."""
        for attempt in range(TRIES):
            status, doc = self.request(method, path, body, headers)
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if attempt:
                    self.retries += 1
            if status == good or (status and status not in RETRY_STATUSES):
                return status, doc
            time.sleep(0.2)
        return status, doc

    def take_turn(self, n):
        """n: this turn's number. 1 while more feedback is wanted."""
        with self.lock:
            if self.started >= self.want:
                return 0
        status, doc = self.until_answered("POST", "/v1/predict", self.photo,
                                          {"Content-Type": "image/jpeg"}, 200)
        if status != 200 or not doc or not doc.get("faces"):
            with self.lock:
                self.failures.append(f"predict: {status}")
            return 1
        for i, face in enumerate(doc["faces"]):
            with self.lock:
                if self.started >= self.want:
                    return 0
                self.started += 1
            key = str(uuid.uuid4())
            emotion = LABELS[(n + i) % len(LABELS)]
            body = json.dumps({"face_id": face["id"], "emotion": emotion}).encode()
            status, doc = self.until_answered(
                "POST", "/v1/feedback", body,
                {"Content-Type": "application/json", "Idempotency-Key": key}, 201)
            if status != 201 or not doc:
                with self.lock:
                    self.failures.append(f"feedback {key}: {status}")
                continue
            with self.lock:
                self.acks.append((doc["id"], face["id"], emotion, key))
                if (self.kill_pid and self.killed_at is None
                        and len(self.acks) >= self.kill_after):
                    os.kill(self.kill_pid, signal.SIGKILL)
                    self.killed_at = len(self.acks)
                    print(f"  killed server pid {self.kill_pid} after {self.killed_at} "
                          "acknowledged feedback rows", flush=True)
        return 1

    def worker(self, w, workers):
        n = w
        while self.take_turn(n):
            n += workers


def export_rows(cluster, token):
    c = http.client.HTTPConnection(cluster.host, cluster.port, timeout=120)
    c.request("GET", "/v1/feedback/export?format=all",
              headers={"Authorization": f"Bearer {token}"})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    if r.status != 200:
        raise SystemExit(f"client.py: the export answered {r.status}: {text[:200]}")
    rows = list(csv.reader(io.StringIO(text)))
    if rows[0] != ["id", "created", "face_id", "model_version", "emotion", "pixels"]:
        raise SystemExit(f"client.py: the export's header is {rows[0]}")
    return rows[1:]


def main():
    if len(sys.argv) != 9:
        print(__doc__, file=sys.stderr)
        return 2
    url, photo, token, feedback, workers, kill_pid, kill_after, out = sys.argv[1:]
    with open(photo, "rb") as f:
        data = f.read()
    cluster = Cluster(url, data, int(feedback), int(kill_pid), int(kill_after))
    t0 = time.time()
    threads = [threading.Thread(target=cluster.worker, args=(w, int(workers)))
               for w in range(int(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.time() - t0
    rows = export_rows(cluster, token)
    by_id = {}
    duplicates = 0
    for row in rows:
        rid = int(row[0])
        duplicates += rid in by_id
        by_id[rid] = row
    acked = {a[0]: a for a in cluster.acks}
    missing = [a for a in cluster.acks if a[0] not in by_id]
    wrong = [a for a in cluster.acks
             if a[0] in by_id and (by_id[a[0]][2], by_id[a[0]][4]) != (a[1], a[2])]
    unacknowledged = [rid for rid in by_id if rid not in acked]
    keys_twice = len(cluster.acks) - len({a[3] for a in cluster.acks})
    result = {
        "acknowledged": len(cluster.acks),
        "distinct_ids_acknowledged": len(acked),
        "export_rows": len(rows),
        "duplicate_ids_in_export": duplicates,
        "missing": len(missing),
        "wrong": len(wrong),
        "unacknowledged_rows": len(unacknowledged),
        "keys_acknowledged_twice": keys_twice,
        "retries": cluster.retries,
        "failures": cluster.failures,
        "statuses": {str(k): v for k, v in sorted(cluster.statuses.items())},
        "killed_at": cluster.killed_at,
        "seconds": round(seconds, 1),
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print("  " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
