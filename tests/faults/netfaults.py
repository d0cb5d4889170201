"""The network between the daemon and the central receiver, made to fail: a TCP fault proxy and a
misbehaving HTTPS receiver, both on 127.0.0.1, both deciding at random from the part's seed.

    daemon ──TLS──► FaultProxy ──┬──► nginx (mutual TLS, WebDAV PUT): the real receiver
                                 └──► FaultyReceiver (Python, mutual TLS): HTTP-level faults

FaultProxy decides per connection (TLS passes through untouched, mutual TLS is end to end):
  pass          forward to nginx
  reset         forward the client's first N bytes, then TCP RST both ways (mid-upload for most N)
  stall         forward the client's first N bytes, then nothing either way for 30 s (the daemon
                gives up after its low_speed_time), then close
  drip          forward both ways at R bytes/s (some R below the daemon's low_speed_limit)
  refuse        RST at accept, before a byte of TLS
  tls-cut       forward until the receiver has sent N bytes of its handshake flight, then close
  http          hand the connection to FaultyReceiver

Why a Python receiver for the HTTP-level faults rather than nginx locations toggled per request:
nginx can answer a fixed status, but it cannot store a truncated body and answer 201, and
toggling its behaviour per request from a seed would mean a reload per request (racing the
requests in flight). FaultyReceiver decides per request, counts exactly what it did, and checks
the client certificate against the same CA as nginx (ssl CERT_REQUIRED); both store into the same
data folder, so the oracle reads one receiver. Its faults:
  5xx           the body is read, 500/502/503 answered, nothing stored
  4xx           the body is read, 403/409 answered, nothing stored (the daemon must keep the batch)
  lost          201 answered, nothing stored (a receiver that acknowledges what it lost)
  truncated     201 answered, the body stored cut short
  head-5xx      a HEAD answered 503
Requests it does not fault it serves as nginx's WebDAV PUT does (stored whole, 201/204; HEAD with
the stored size; 404 when absent).
"""
import asyncio
import http.server
import os
import socket
import socketserver
import ssl
import sys
import threading
import time

import common

sys.path.insert(0, os.path.join(common.HERE, "..", "support"))
from faulty_proxy import reset as rst  # noqa: E402  (TCP RST: SO_LINGER on, zero timeout)

TCP_KINDS = (("pass", 0.40), ("http", 0.25), ("reset", 0.09), ("stall", 0.05), ("drip", 0.07), ("refuse", 0.07),
             ("tls-cut", 0.07))
HTTP_KINDS = (("none", 0.50), ("5xx", 0.15), ("4xx", 0.10), ("lost", 0.12), ("truncated", 0.13))
CHUNK = 16 * 1024
# A connection quiet this long is closed, as a receiver's keep-alive timeout would: the daemon
# keeps its connection open between requests, and each new one is another draw of a fault.
IDLE_CLOSE = 0.8
STALL_HOLD = 30


def pick(rng, kinds):
    x = rng.random() * sum(w for _k, w in kinds)
    for k, w in kinds:
        x -= w
        if x <= 0:
            return k
    return kinds[0][0]


class FaultProxy:
    """Runs its own event loop on a thread; `faults` False forwards everything to nginx."""

    def __init__(self, rng, nginx_port, http_port, tally):
        self.rng, self.nginx_port, self.http_port, self.tally = rng, nginx_port, http_port, tally
        self.faults = True
        self.fixed = None  # (kind, arg) for every new connection instead of the random choice
        self.open = set()  # the client side of every connection in flight
        self.forwarded = 0  # bytes from clients passed on, over all connections
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Small buffers: a stall or a drip is felt by the sender at once, not after megabytes.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)

        async def serve():
            self.server = await asyncio.start_server(self._handle, sock=self.sock, limit=CHUNK)
            ready.set()
        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    def stop(self):
        async def shut():
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def cut_all(self):
        """TCP RST on every connection in flight, now (a network that drops mid-transfer)."""
        def cut():
            for w in list(self.open):
                rst(w)
        self.loop.call_soon_threadsafe(cut)

    def decide(self):
        with self.lock:
            if self.fixed:
                return self.fixed
            if not self.faults:
                return "pass", 0
            kind = pick(self.rng, TCP_KINDS)
            arg = {"reset": lambda: self.rng.randrange(0, 160000), "stall": lambda: self.rng.randrange(0, 120000),
                   "drip": lambda: self.rng.choice((400, 4000, 16000, 64000)),
                   "tls-cut": lambda: self.rng.randrange(1, 1500)}.get(kind, lambda: 0)()
            self.tally.add("proxy: " + kind + (" (below the low-speed limit)" if kind == "drip" and arg < 1024 else ""))
            return kind, arg

    async def _handle(self, reader, writer):
        kind, arg = self.decide()
        if kind == "refuse":
            rst(writer)
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.http_port if kind == "http" else self.nginx_port)
        except OSError:
            rst(writer)
            return
        self.open.add(writer)
        state = {"up": 0, "down": 0, "last": time.monotonic()}
        tasks = [asyncio.ensure_future(self._pump(reader, up_w, kind, arg, state, "up", writer)),
                 asyncio.ensure_future(self._pump(up_r, writer, kind, arg, state, "down", up_w))]
        if kind in ("pass", "http"):
            tasks.append(asyncio.ensure_future(self._idle(state)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # stop(): the proxy goes away with its connections
        finally:
            self.open.discard(writer)
            for t in tasks:
                t.cancel()
            for w in (writer, up_w):
                if not w.is_closing():
                    w.close()

    @staticmethod
    async def _idle(state):
        while time.monotonic() - state["last"] < IDLE_CLOSE:
            await asyncio.sleep(0.05)

    async def _pump(self, src, dst, kind, arg, state, way, other):
        started = time.monotonic()
        while True:
            want = CHUNK
            if kind in ("reset", "stall") and way == "up":
                want = min(CHUNK, arg - state["up"])
                if want <= 0:
                    if kind == "reset":
                        rst(dst)
                        rst(other)
                        return
                    state["stalled"] = True
            if kind == "stall" and state.get("stalled"):
                # Nothing either way, well past the daemon's low_speed_time; then the connection
                # is dropped, so a stalled one does not hold a receiver connection for good.
                await asyncio.sleep(STALL_HOLD)
                return
            if kind == "tls-cut" and way == "down":
                want = min(CHUNK, arg - state["down"])
                if want <= 0:
                    return  # FIN both ways (the caller closes): the handshake cut short
            if kind == "drip":
                want = max(1, min(CHUNK, arg // 20))
            data = await src.read(want)
            if not data:
                return
            state["last"] = time.monotonic()
            dst.write(data)
            await dst.drain()
            state[way] += len(data)
            state["last"] = time.monotonic()
            if way == "up":
                self.forwarded += len(data)
            if kind == "drip":
                ahead = state[way] / arg - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)


class FaultyReceiver:
    """The HTTP-level faults: an HTTPS server that checks client certificates like nginx does
    (ssl_verify_client on, same CA) and stores PUTs under `data_root` the way nginx's `root data`
    does (URL path /sennen/x -> data_root/sennen/x), through a temp file outside data_root."""

    def __init__(self, rng, data_root, tmp, pki, tally):
        self.rng, self.data_root, self.tmp, self.tally = rng, data_root, tmp, tally
        self.faults = True
        self.lock = threading.Lock()
        os.makedirs(tmp, exist_ok=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(os.path.join(pki, "server.crt"), os.path.join(pki, "server.key"))
        ctx.load_verify_locations(os.path.join(pki, "ca.crt"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                self.request.settimeout(30)
                self.request.do_handshake()  # here, on this connection's thread, not in accept
                super().setup()

            def log_message(self, *_a):
                pass

            def target(self):
                rel = self.path.split("?", 1)[0].lstrip("/")
                if ".." in rel.split("/"):
                    return None
                return os.path.join(owner.data_root, rel)

            def body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def answer(self, status, length=0):
                self.send_response(status)
                self.send_header("Content-Length", str(length))
                self.end_headers()

            def do_PUT(self):
                data = self.body()
                fault = owner.decide(HTTP_KINDS)
                path = self.target()
                if fault == "5xx":
                    return self.answer(owner.rng_choice((500, 502, 503)))
                if fault == "4xx" or path is None:
                    return self.answer(owner.rng_choice((403, 409)))
                if fault == "lost":
                    return self.answer(201)
                if fault == "truncated":
                    data = data[:owner.rng_range(len(data))] if data else data
                existed = os.path.exists(path)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = os.path.join(owner.tmp, "put-%d" % threading.get_ident())
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
                self.answer(204 if existed else 201)

            def do_HEAD(self):
                if owner.decide((("none", 0.9), ("head-5xx", 0.1))) == "head-5xx":
                    return self.answer(503)
                path = self.target()
                if path is None or not os.path.isfile(path):
                    return self.answer(404)
                self.answer(200, os.path.getsize(path))

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                conn, addr = self.socket.accept()
                return ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                pass  # the faults break connections on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def decide(self, kinds):
        with self.lock:
            if not self.faults:
                return "none"
            k = pick(self.rng, kinds)
            if k != "none":
                self.tally.add("receiver: " + k)
            return k

    def rng_choice(self, seq):
        with self.lock:
            return self.rng.choice(seq)

    def rng_range(self, n):
        with self.lock:
            return self.rng.randrange(n)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def stray_files(data):
    """Anything in the receiver's folder that is not a batch, a marker or the heartbeat."""
    return sorted(os.path.join(r, n) for r, _d, fs in os.walk(data) for n in fs
                  if not (n.endswith(".cms") or n.endswith(".json")))
