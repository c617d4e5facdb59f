#!/usr/bin/python3
"""stream_peer.py - what the server's two live paths sustain without a browser: frames of a
clip (JPEG files) sent as fast as they are answered over GET /v1/stream (the websockets
library, 1 and 2 frames in flight) and as POST /v1/predict requests one after the other on
one kept-alive connection (http.client). One JSON line per mode.

    stream_peer.py HOST PORT SECONDS FRAME.jpg...
"""
import asyncio
import http.client
import json
import sys
import time

import websockets


async def stream(host, port, seconds, frames, in_flight):
    async with websockets.connect(f"ws://{host}:{port}/v1/stream", max_size=None,
                                  ping_interval=None) as ws:
        await ws.recv()  # hello
        sent = done = 0
        t0 = time.perf_counter()
        while sent < in_flight:
            await ws.send(frames[sent % len(frames)])
            sent += 1
        while time.perf_counter() - t0 < seconds:
            await ws.recv()
            done += 1
            await ws.send(frames[sent % len(frames)])
            sent += 1
        elapsed = time.perf_counter() - t0
        for _ in range(sent - done):
            await ws.recv()
    return {"mode": f"stream, {in_flight} in flight", "frames": done, "seconds": elapsed,
            "fps": done / elapsed}


def post(host, port, seconds, frames):
    c = http.client.HTTPConnection(host, port)
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        c.request("POST", "/v1/predict", body=frames[done % len(frames)],
                  headers={"Content-Type": "image/jpeg"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"POST /v1/predict: {r.status}")
        done += 1
    elapsed = time.perf_counter() - t0
    return {"mode": "POST, one after the other", "frames": done, "seconds": elapsed,
            "fps": done / elapsed}


def main():
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    frames = [open(f, "rb").read() for f in sys.argv[4:]]
    for in_flight in (1, 2):
        print(json.dumps(asyncio.run(stream(host, port, seconds, frames, in_flight))), flush=True)
    print(json.dumps(post(host, port, seconds, frames)), flush=True)


if __name__ == "__main__":
    main()
