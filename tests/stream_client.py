#!/usr/bin/python3
"""stream_client.py - GET /v1/stream driven by an independent WebSocket client, the
`websockets` library (Debian's python3-websockets), which checks the handshake's accept key
and the framing on its side. Used by tests/serve_options.sh over ws:// and wss://.

    stream_client.py URL PHOTO [CA_FILE]

Opens URL (ws://HOST:PORT/v1/stream?... or wss://), then: the hello names the model; five
frames of PHOTO come back in order with one tracked face whose id stays "1"; a ping gets its
pong; a frame sent in three fragments is answered; a text message gets an error and the
stream goes on; a close with 4000 is echoed. Prints what failed; exit status 0 when nothing
did.
"""
import asyncio
import json
import ssl
import sys

import websockets


async def main(url, photo, cafile):
    data = open(photo, "rb").read()
    context = None
    if url.startswith("wss:"):
        context = ssl.create_default_context(cafile=cafile)
    failures = []

    def expect(what, ok):
        if not ok:
            failures.append(what)

    async with websockets.connect(url, ssl=context, max_size=None, ping_interval=None) as ws:
        hello = json.loads(await ws.recv())
        expect("the hello names the model's classes", len(hello["model"]["classes"]) == 7)
        for i in range(1, 6):
            await ws.send(data)
            answer = json.loads(await ws.recv())
            expect(f"frame {i} is answered in order", answer.get("frame") == i)
            faces = answer.get("faces", [])
            expect(f"frame {i} has one face with id 1",
                   len(faces) == 1 and faces[0]["id"] == "1" and "emotion" in faces[0])
        pong = await ws.ping(b"fer")
        await asyncio.wait_for(pong, 10)
        third = len(data) // 3
        await ws.send([data[:third], data[third:2 * third], data[2 * third:]])
        answer = json.loads(await ws.recv())
        expect("a fragmented frame is answered", len(answer.get("faces", [])) == 1)
        await ws.send("not a picture")
        answer = json.loads(await ws.recv())
        expect("a text message gets an error", "binary message" in answer.get("error", ""))
        await ws.send(data)
        answer = json.loads(await ws.recv())
        expect("the stream goes on after it", answer.get("frame") == 7)
        await ws.close(code=4000, reason="done")
        expect("the close code is echoed", ws.close_code == 4000)
    for f in failures:
        print(f"stream_client.py: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)))
