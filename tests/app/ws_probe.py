#!/usr/bin/python3
"""WebSocket client for app_websocket_test: python3-websockets for the protocol as a client
library speaks it, a raw socket for the frames no library would send.

    ws_probe.py echo URL            # text, binary, 100 KB (compressed), fragmented, ping
    ws_probe.py chat URL N          # N clients in the room; one speaks, all must hear it
    ws_probe.py violation URL CASE  # a crafted bad frame; prints the server's close code
    ws_probe.py origin URL ORIGIN   # the handshake's HTTP status for that Origin
    ws_probe.py wait-close URL      # connects, prints "open", then the close code it gets
    ws_probe.py backpressure URL N SIZE  # sends N binary messages without reading the echoes
    ws_probe.py slow-members URL N COUNT SIZE  # N room members never read while one speaks
    ws_probe.py inflate-bomb URL COUNT   # COUNT compressed messages of 10^6 zeros each
    ws_probe.py dup-key URL              # a handshake with two Sec-WebSocket-Key fields
"""
import asyncio
import base64
import os
import selectors
import time
import socket
import struct
import sys
import zlib
from urllib.parse import urlparse

import websockets


async def echo(url):
    async with websockets.connect(url, max_size=2**21) as ws:
        await ws.send("héllo")
        print("text", await ws.recv())
        await ws.send(b"\x00\x01\xff")
        print("binary", (await ws.recv()).hex())
        big = "x" * 100_000
        await ws.send(big)
        print("big", len(await ws.recv()) == len(big))
        await ws.send(["frag", "men", "ted"])
        print("fragmented", await ws.recv())
        await (await ws.ping(b"are you there"))
        print("pong")
        print("extensions", ",".join(type(e).__name__ for e in ws.extensions))
    print("closed", ws.close_code)


async def chat(url, n):
    clients = [await websockets.connect(url) for _ in range(n)]
    # A client is in the room once the server ran its handler, just after the 101: speak until
    # everyone heard (no sleep as a barrier), at most 10 s.
    heard = set()

    async def listen(i, c):
        while True:
            if await c.recv() == "hi all":
                heard.add(i)
                return

    listeners = [asyncio.create_task(listen(i, c)) for i, c in enumerate(clients)]
    for _ in range(100):
        await clients[0].send("hi all")
        await asyncio.wait(listeners, timeout=0.1)
        if len(heard) == n:
            break
    print("heard", len(heard))
    for c in clients:
        await c.close()


def raw_connect(url, origin=None, extra="", rcvbuf=None):
    u = urlparse(url)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: the window
    s.settimeout(10)
    s.connect((u.hostname, u.port))
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if origin:
        req += f"Origin: {origin}\r\n"
    req += extra
    s.sendall((req + "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1])
    return s, status, head.split(b"\r\n\r\n", 1)[1]


def frame(opcode, payload, fin=True, masked=True, rsv=0):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    head = bytes([b0])
    mbit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_close_code(s, rest):
    """Reads frames until a close frame; returns its code (or 'eof')."""
    buf = rest
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n = struct.unpack("!H", buf[2:4])[0]
                at = 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n = struct.unpack("!Q", buf[2:10])[0]
                at = 10
            if len(buf) < at + n:
                break
            opcode, payload = buf[0] & 0x0F, buf[at:at + n]
            buf = buf[at + n:]
            if opcode == 8:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        chunk = s.recv(65536)
        if not chunk:
            return "eof"
        buf += chunk


VIOLATIONS = {
    "unmasked": lambda: frame(1, b"hi", masked=False),
    "reserved-opcode": lambda: frame(3, b""),
    "rsv2": lambda: frame(1, b"x", rsv=0x20),
    "invalid-utf8": lambda: frame(1, b"\xc3\x28"),
    "invalid-utf8-fragmented": lambda: frame(1, b"ok \xe2\x82", fin=False) + frame(0, b"\x28"),
    "oversize-control": lambda: frame(9, b"p" * 126),
    "fragmented-control": lambda: frame(9, b"p", fin=False),
    "continuation-first": lambda: frame(0, b"x"),
    "new-message-mid-fragment": lambda: frame(1, b"a", fin=False) + frame(1, b"b"),
    "too-big": lambda: frame(2, b"z" * (1024 * 1024 + 1)),
    "bad-close-code": lambda: frame(8, struct.pack("!H", 1005)),
    "close-normal": lambda: frame(8, struct.pack("!H", 1000) + b"bye"),
}


def violation(url, case):
    s, status, rest = raw_connect(url)
    assert status == 101, status
    s.sendall(VIOLATIONS[case]())
    print(read_close_code(s, rest))
    # After its close frame the server closes the TCP connection.
    s.settimeout(10)
    try:
        while s.recv(65536):
            pass
        print("eof")
    except OSError as e:
        print("error", e)


def origin(url, value):
    s, status, _ = raw_connect(url, origin=value)
    print(status)
    s.close()


def read_frames(buf):
    """Splits whole server frames (unmasked) off buf: ([(opcode, payload)], rest)."""
    out = []
    while len(buf) >= 2:
        n, at = buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, at = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, at = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < at + n:
            break
        out.append((buf[0] & 0x0F, buf[at:at + n]))
        buf = buf[at + n:]
    return out, buf


def backpressure(url, count, size):
    """Sends `count` echo messages of `size` bytes without reading the replies: a server with
    back-pressure stops reading once its output to us is full, so our sending stalls before the
    end. Then reads every echo (sending the rest as the server drains) and counts them."""
    s, status, rest = raw_connect(url)
    assert status == 101, status
    one = frame(2, b"b" * size, masked=True)
    data = one * count
    s.setblocking(False)
    sent, stalled_since = 0, None
    while sent < len(data):
        try:
            sent += s.send(data[sent:sent + 65536])
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 1.0:
                break  # nothing accepted for a second: the server is not reading
            time.sleep(0.01)  # a poll interval while the socket stays full, not a barrier
    print("stalled", sent < len(data), flush=True)
    # Now read the echoes, sending what is left as the server reads it again.
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    buf, echoed = rest, 0
    deadline = time.monotonic() + 60
    while echoed < count and time.monotonic() < deadline:
        for _, events in sel.select(1):
            if events & selectors.EVENT_WRITE and sent < len(data):
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
            if sent >= len(data):
                sel.modify(s, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                chunk = s.recv(1 << 20)
                if not chunk:
                    deadline = 0
                    break
                frames, buf = read_frames(buf + chunk)
                echoed += len(frames)
    print("echoed", echoed)


def slow_members(url, n, count, size):
    """n members join the room with a tiny receive window and never read; one member sends
    `count` messages of `size` bytes, each once it heard the last. The speaker must hear all
    of its messages (a slow member must not slow it), and each slow member must be dropped by
    the server (its connection ends) rather than have the room's messages pile up for it."""
    slow = []
    for _ in range(n):
        s, status, _ = raw_connect(url, rcvbuf=4096)
        assert status == 101, status
        slow.append(s)
    speaker, status, rest = raw_connect(url)
    assert status == 101, status
    speaker.setblocking(False)
    message = frame(2, b"m" * size)
    buf, heard, sent = rest, 0, 0
    deadline = time.monotonic() + 120
    sel = selectors.DefaultSelector()
    sel.register(speaker, selectors.EVENT_READ)
    out = b""
    while heard < count and time.monotonic() < deadline:
        if not out and sent < count and heard == sent:  # a chat client: one message at a time
            out, sent = message, sent + 1
        sel.modify(speaker, selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0))
        for _, events in sel.select(1):
            if events & selectors.EVENT_WRITE:
                try:
                    out = out[speaker.send(out):]
                except BlockingIOError:
                    pass
            if events & selectors.EVENT_READ:
                chunk = speaker.recv(1 << 20)
                if not chunk:
                    deadline = 0
                    break
                frames, buf = read_frames(buf + chunk)
                heard += sum(1 for op, _ in frames if op in (1, 2))
    print("heard", heard, flush=True)
    dropped = 0
    for s in slow:
        s.settimeout(30)
        try:
            while s.recv(1 << 20):
                pass
            dropped += 1  # the server ended it (after what the kernel had already taken)
        except ConnectionResetError:
            dropped += 1
        except socket.timeout:
            pass
    print("dropped", dropped)


def inflate_bomb(url, count):
    """Compressed messages of 10^6 zero bytes (about 1 KB each on the wire): the server must
    stop inflating them long before `count`, closing with its code."""
    s, status, rest = raw_connect(url, extra="Sec-WebSocket-Extensions: permessage-deflate\r\n")
    assert status == 101, status
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = z.compress(b"\0" * 1_000_000) + z.flush(zlib.Z_SYNC_FLUSH)
    assert payload.endswith(b"\x00\x00\xff\xff")
    one = frame(2, payload[:-4], rsv=0x40)
    s.settimeout(30)
    try:
        for _ in range(count):
            s.sendall(one)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed before all were sent
    try:
        print(read_close_code(s, rest))
    except ConnectionResetError:
        print("reset")


def dup_key(url):
    s, status, _ = raw_connect(url, extra="Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode() + "\r\n")
    print(status)
    s.close()


async def wait_close(url):
    async with websockets.connect(url) as ws:
        print("open", flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            pass
    print("closed", ws.close_code, ws.close_reason)


if __name__ == "__main__":
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "echo":
        asyncio.run(echo(url))
    elif mode == "chat":
        asyncio.run(chat(url, int(sys.argv[3])))
    elif mode == "violation":
        violation(url, sys.argv[3])
    elif mode == "origin":
        origin(url, sys.argv[3])
    elif mode == "wait-close":
        asyncio.run(wait_close(url))
    elif mode == "backpressure":
        backpressure(url, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "slow-members":
        slow_members(url, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "inflate-bomb":
        inflate_bomb(url, int(sys.argv[3]))
    elif mode == "dup-key":
        dup_key(url)
