#!/usr/bin/env python3
"""A TCP proxy that misbehaves on purpose, between the daemon and the receiver (nginx), for the
delivery fault tests. TLS passes through untouched (mutual TLS is end to end); faults act on the
bytes the client sends, which is where an upload's body is.

faulty_proxy.py --upstream PORT --port-file F --control FILE --status FILE

Listens on 127.0.0.1 (a free port, written to --port-file once listening) and forwards to
127.0.0.1:--upstream. The mode is read from --control at every new connection, so a test switches
it at run time by rewriting that file (one line):
  pass           forward everything
  reset N        forward the client's first N bytes, then reset both connections (TCP RST)
  stall N        forward the client's first N bytes, then stop reading from it (the connection
                 stays open; the client's send buffer fills and its transfer stalls)
  throttle R     forward the client's bytes at R bytes per second
--status is rewritten (atomically) as the bytes flow: "connections C\\nforwarded B\\n", B being
the client bytes forwarded upstream over all connections, so a test can wait until an upload is
in flight.
"""
import argparse
import asyncio
import os
import socket
import struct
import time

# Small receive buffers on the client side (the kernel's, and asyncio's through `limit`): a stall
# or a throttle is felt by the sender right away instead of after megabytes were absorbed.
CLIENT_RCVBUF = 64 * 1024
CHUNK = 16 * 1024


class Stats:
    def __init__(self, path):
        self.path = path
        self.connections = 0
        self.forwarded = 0
        self.written_at = 0.0

    def add(self, n, force=False):
        self.forwarded += n
        now = time.monotonic()
        if force or now - self.written_at > 0.05:
            self.written_at = now
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(f"connections {self.connections}\nforwarded {self.forwarded}\n")
            os.replace(tmp, self.path)


def read_mode(path):
    try:
        with open(path, encoding="utf-8") as f:
            words = f.read().split()
    except FileNotFoundError:
        words = []
    if not words or words[0] == "pass":
        return "pass", 0
    if words[0] in ("reset", "stall", "throttle") and len(words) == 2:
        return words[0], int(words[1])
    raise SystemExit(f"faulty_proxy: cannot read mode {' '.join(words)!r} in {path}")


def reset(writer):
    """Close with an RST instead of a FIN: SO_LINGER on, zero timeout."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def client_to_upstream(reader, writer, upstream_writer, mode, arg, stats):
    sent = 0
    started = time.monotonic()
    while True:
        want = CHUNK
        if mode in ("reset", "stall"):
            want = min(CHUNK, arg - sent)
            if want <= 0:
                if mode == "reset":
                    reset(writer)
                    reset(upstream_writer)
                    return
                # stall: read nothing more; the connection is held until the other direction ends
                # (the receiver times the request out, or the client goes away).
                await asyncio.Event().wait()
        elif mode == "throttle":
            want = max(1, min(CHUNK, arg // 20))
        data = await reader.read(want)
        if not data:
            upstream_writer.close()
            return
        upstream_writer.write(data)
        await upstream_writer.drain()
        sent += len(data)
        stats.add(len(data))
        if mode == "throttle":
            ahead = sent / arg - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)


async def upstream_to_client(upstream_reader, writer):
    while True:
        data = await upstream_reader.read(CHUNK)
        if not data:
            writer.close()
            return
        writer.write(data)
        await writer.drain()


async def handle(reader, writer, args, stats):
    mode, arg = read_mode(args.control)
    stats.connections += 1
    stats.add(0, force=True)
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", args.upstream)
    except OSError:
        reset(writer)
        return
    tasks = [asyncio.ensure_future(client_to_upstream(reader, writer, upstream_writer, mode, arg, stats)),
             asyncio.ensure_future(upstream_to_client(upstream_reader, writer))]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for w in (writer, upstream_writer):
            if not w.is_closing():
                w.close()
        stats.add(0, force=True)


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--status", required=True)
    args = p.parse_args()
    stats = Stats(args.status)
    stats.add(0, force=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)  # inherited by accepted sockets
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(lambda r, w: handle(r, w, args, stats), sock=sock, limit=CHUNK)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(sock.getsockname()[1]))
    os.replace(tmp, args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
