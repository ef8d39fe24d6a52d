#!/usr/bin/python3
"""Crafted HTTP/2 clients for keel's h2 tests (Debian's python3-h2 / hyperframe / hpack).

Usage: h2_probe.py PORT SCENARIO [ARG]. Each scenario talks h2c (prior knowledge) to
127.0.0.1:PORT and prints what the server did as one line, e.g. "GOAWAY 11" or "STATUS 431";
the C++ test (h2_test.cpp) asserts on that line. Every read has a timeout.
"""
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, HeadersFrame, PingFrame, RstStreamFrame,
                              SettingsFrame, WindowUpdateFrame)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
REQUEST = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/")]


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    return s


def read_frames(sock, deadline=10.0):
    """Yields frames the server sends until EOF or the deadline."""
    buf = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            yield "RESET"
            return
        if not chunk:
            yield "EOF"
            return
        buf += chunk
        while len(buf) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            yield frame


def raw_start(port, settings=None):
    """A raw client: preface and SETTINGS sent, the server's SETTINGS acknowledged."""
    sock = connect(port)
    sock.sendall(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())
    sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
    return sock


def first_goaway(sock):
    for f in read_frames(sock):
        if f in ("EOF", "RESET"):
            return f
        if f.type == 0x07:
            return "GOAWAY %d" % f.error_code
    return "TIMEOUT"


def headers_block(enc, headers):
    return enc.encode(headers)


def rapid_reset(port, count):
    """HEADERS then RST_STREAM(CANCEL) on stream after stream (CVE-2023-44487)."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    out = b""
    for i in range(count):
        sid = 1 + 2 * i
        out += HeadersFrame(sid, headers_block(enc, REQUEST), flags=["END_HEADERS", "END_STREAM"]).serialize()
        out += RstStreamFrame(sid, error_code=8).serialize()
    try:
        sock.sendall(out)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(first_goaway(sock))


def continuation_flood(port):
    """A header block that never ends: endless CONTINUATION frames (CVE-2024-27316)."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    sock.sendall(HeadersFrame(1, headers_block(enc, REQUEST)).serialize())
    try:
        for i in range(10000):
            sock.sendall(ContinuationFrame(1, headers_block(enc, [("x-filler-%d" % i, "v" * 10)])).serialize())
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(first_goaway(sock))


def control_flood(port, kind):
    """PING or SETTINGS frames as fast as the socket takes them."""
    sock = raw_start(port)
    frame = (PingFrame(0, opaque_data=b"12345678") if kind == "ping" else SettingsFrame(0, settings={})).serialize()
    try:
        sock.sendall(frame * 5000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(first_goaway(sock))


def response_of(sock, sid=1):
    """The :status of stream `sid`, or what happened instead (RST n, GOAWAY n, EOF)."""
    dec = hpack.Decoder()
    dec.max_allowed_table_size = 65536
    for f in read_frames(sock):
        if f in ("EOF", "RESET"):
            return f
        if f.type == 0x01:
            headers = dict(dec.decode(f.data))
            if f.stream_id == sid:
                return "STATUS %s" % headers[":status"]
        elif f.type == 0x03 and f.stream_id == sid:
            return "RST %d" % f.error_code
        elif f.type == 0x07:
            return "GOAWAY %d" % f.error_code
    return "TIMEOUT"


def hpack_bomb(port):
    """One 4 KB header in the dynamic table, then referenced 200 times: 800 KB decoded from
    about 4 KB on the wire. The server must refuse it as too large (431), not store it."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    block = headers_block(enc, REQUEST + [("x-big", "a" * 4000)] * 200)
    sock.sendall(HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize())
    print(response_of(sock), len(block))


def big_headers(port):
    """100 different 200-byte headers: 20 KB, beyond the 16 KB header list limit."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    block = headers_block(enc, REQUEST + [("x-h%d" % i, "b" * 200) for i in range(100)])
    frames = b""
    first = True
    while block:
        piece, block = block[:16000], block[16000:]
        flags = ([] if block else ["END_HEADERS"]) + (["END_STREAM"] if first else [])
        frames += (HeadersFrame(1, piece, flags=flags) if first else ContinuationFrame(1, piece, flags=flags)).serialize()
        first = False
    sock.sendall(frames)
    print(response_of(sock))


def big_body(port, size):
    """POST with DATA frames beyond the body limit (the client's window permitting)."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    sock = connect(port)
    conn.initiate_connection()
    post = [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/upload")]
    conn.send_headers(1, post)
    sock.sendall(conn.data_to_send())
    sent = 0
    status = None
    while status is None:
        window = min(conn.local_flow_control_window(1), 16384, size - sent)
        if window > 0:
            conn.send_data(1, b"x" * window, end_stream=sent + window == size)
            sent += window
        sock.sendall(conn.data_to_send())
        if sent < size and window > 0:
            continue
        data = sock.recv(65536)
        if not data:
            status = "EOF"
            break
        for ev in conn.receive_data(data):
            # The first outcome counts: an early answer is followed by RST_STREAM(NO_ERROR).
            if isinstance(ev, h2.events.ResponseReceived) and status is None:
                status = "STATUS " + dict(ev.headers)[b":status"].decode()
            elif isinstance(ev, h2.events.StreamReset) and status is None:
                status = "RST %d" % ev.error_code
        sock.sendall(conn.data_to_send())
    print(status)


def many_streams(port, count):
    """`count` streams opened at once on a handler that waits: the ones beyond the limit are
    refused (RST_STREAM REFUSED_STREAM), the rest answered."""
    sock = raw_start(port)
    # wait for the server's SETTINGS to be in force (its ACK of ours comes after it)
    enc = hpack.Encoder()
    out = b""
    for i in range(count):
        path = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/wait")]
        out += HeadersFrame(1 + 2 * i, headers_block(enc, path), flags=["END_HEADERS", "END_STREAM"]).serialize()
    sock.sendall(out)
    dec = hpack.Decoder()
    answered, refused, goaway = set(), set(), ""
    for f in read_frames(sock, deadline=15):
        if f in ("EOF", "RESET"):
            break
        if f.type == 0x01:
            dec.decode(f.data)
            answered.add(f.stream_id)
        elif f.type == 0x03 and f.error_code == 7:
            refused.add(f.stream_id)
        elif f.type == 0x07:
            goaway = " GOAWAY %d last=%d" % (f.error_code, f.last_stream_id)
        if len(answered) + len(refused) == count:
            break
    print("ANSWERED %d REFUSED %d%s" % (len(answered), len(refused), goaway))


def zero_window(port):
    """A client that advertises a zero window and never opens it: the server gives up after
    its write timeout instead of keeping the stream (and its buffers) forever."""
    sock = raw_start(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    enc = hpack.Encoder()
    req = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/big")]
    sock.sendall(HeadersFrame(1, headers_block(enc, req), flags=["END_HEADERS", "END_STREAM"]).serialize())
    start = time.monotonic()
    got = None
    for f in read_frames(sock, deadline=20):
        if f in ("EOF", "RESET"):
            got = f
            break
        if f.type == 0x00 and f.data:
            got = "DATA"
            break
    print("%s after %.1f s" % (got or "TIMEOUT", time.monotonic() - start))


def early_answer(port, kind):
    """A request that never ends (kind "body": HEADERS of a POST without END_STREAM; kind
    "headers": a header block without END_HEADERS), then silence: what the server sends, in
    order, and that it closes the connection once it idled out."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    req = [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/echo")]
    flags = ["END_HEADERS"] if kind == "body" else []
    sock.sendall(HeadersFrame(1, headers_block(enc, req), flags=flags).serialize())
    dec = hpack.Decoder()
    events = []
    start = time.monotonic()
    for f in read_frames(sock, deadline=30):
        if f in ("EOF", "RESET"):
            events.append(f)
            break
        if f.type == 0x01 and f.stream_id == 1:
            events.append("STATUS " + dict(dec.decode(f.data))[":status"])
        elif f.type == 0x03:
            events.append("RST %d" % f.error_code)
        elif f.type == 0x07:
            events.append("GOAWAY %d" % f.error_code)
    print(" | ".join(events), "after %d s" % int(time.monotonic() - start))


def buffered_budget(port, count):
    """A client with a zero window asks for `count` 64 KiB answers at once: how many the server
    answered (HEADERS) while nothing could be sent, then — once the window opens — how many
    arrive whole."""
    sock = raw_start(port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0})
    enc = hpack.Encoder()
    req = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/k64")]
    out = b""
    for i in range(count):
        out += HeadersFrame(1 + 2 * i, headers_block(enc, req), flags=["END_HEADERS", "END_STREAM"]).serialize()
    dec = hpack.Decoder()
    headers, data, ended = 0, {}, 0

    def note(f):
        nonlocal headers, ended
        if f.type == 0x01:
            dec.decode(f.data)
            headers += 1
        elif f.type == 0x00:
            data[f.stream_id] = data.get(f.stream_id, 0) + len(f.data)
            if "END_STREAM" in f.flags and data[f.stream_id] == 65536:
                ended += 1

    frames = read_frames(sock, deadline=30)
    # Two PING round trips: everything the server answered to the requests is in before the second ACK.
    for ping in (b"ping-one", b"ping-two"):
        sock.sendall(out + PingFrame(0, opaque_data=ping).serialize())
        out = b""
        for f in frames:
            if f in ("EOF", "RESET"):
                print(f)
                return
            if f.type == 0x06 and "ACK" in f.flags and f.opaque_data == ping:
                break
            note(f)
    waiting_headers = headers
    sock.sendall(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 2**31 - 1}).serialize() +
                 WindowUpdateFrame(0, window_increment=2**30).serialize())
    for f in frames:
        if f in ("EOF", "RESET"):
            break
        note(f)
        if ended == count:
            break
    print("HEADERS %d COMPLETE %d" % (waiting_headers, ended))


ODD_REQUESTS = {
    "fragment": [(":path", "/echo#frag")],
    "non_ascii": [(":path", "/\u00e9cho")],
    "host_differs": [(":path", "/echo"), ("host", "evil.example")],
    "host_same": [(":path", "/echo"), ("host", "127.0.0.1")],
}


def odd_request(port, which):
    """A GET with an unusual :path or Host; prints the :status it got."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    req = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1")] + ODD_REQUESTS[which]
    sock.sendall(HeadersFrame(1, headers_block(enc, req), flags=["END_HEADERS", "END_STREAM"]).serialize())
    print(response_of(sock))


def slow_then_goaway(port):
    """Starts a slow request, says so, then reports the GOAWAY and the response that follow
    (the test shuts the server down in between)."""
    sock = raw_start(port)
    enc = hpack.Encoder()
    req = [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/slow")]
    sock.sendall(HeadersFrame(1, headers_block(enc, req), flags=["END_HEADERS", "END_STREAM"]).serialize())
    print("STARTED", flush=True)
    dec = hpack.Decoder()
    events = []
    for f in read_frames(sock, deadline=15):
        if f in ("EOF", "RESET"):
            events.append(f)
            break
        if f.type == 0x07:
            events.append("GOAWAY last=%d code=%d" % (f.last_stream_id, f.error_code))
        elif f.type == 0x01 and f.stream_id == 1:
            events.append("STATUS " + dict(dec.decode(f.data))[":status"])
        elif f.type == 0x00 and f.stream_id == 1 and "END_STREAM" in f.flags:
            events.append("END " + f.data.decode())
    print(" | ".join(events))


def main():
    port = int(sys.argv[1])
    scenario = sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    if scenario == "rapid_reset":
        rapid_reset(port, int(arg))
    elif scenario == "continuation_flood":
        continuation_flood(port)
    elif scenario in ("ping_flood", "settings_flood"):
        control_flood(port, scenario.split("_")[0])
    elif scenario == "hpack_bomb":
        hpack_bomb(port)
    elif scenario == "big_headers":
        big_headers(port)
    elif scenario == "big_body":
        big_body(port, int(arg))
    elif scenario == "many_streams":
        many_streams(port, int(arg))
    elif scenario == "zero_window":
        zero_window(port)
    elif scenario == "odd_request":
        odd_request(port, arg)
    elif scenario == "early_answer":
        early_answer(port, arg)
    elif scenario == "buffered_budget":
        buffered_budget(port, int(arg))
    elif scenario == "slow_then_goaway":
        slow_then_goaway(port)
    else:
        sys.exit("unknown scenario " + scenario)


if __name__ == "__main__":
    main()
