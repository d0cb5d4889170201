"""A real S3 on 127.0.0.1: Ceph's radosgw (Debian 12: ceph-mon, ceph-osd, radosgw, ceph-common)
with one monitor and one in-memory OSD, no manager, `auth none`, following the recipe of
../shared/docs/harness.md R2, with its trap handled: radosgw's built-in defaults ask the monitor
for `secure` mode and cephx, and with `auth none` it loops on "get_initial_auth_request returned
-13" and gives up after 300 s; the two [client.rgw.a] lines `ms mon client mode = crc` and `auth
client required = none` fix it. radosgw serves HTTPS (beast ssl_endpoint) with the test PKI's
server certificate, and logs every request (debug rgw = 1: beast's access lines), which is how
the test counts what was sent. Fixed ports (monitor 13300, OSD 6800-6807): run it in a private
network namespace (common.private_network)."""
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import common

ACCESS_KEY = "EDGEACCESSKEY0000001"
SECRET = "edgeSecretKey0000000000000000000000000001"
REGION = "us-east-1"
PORT = 17443
TOOLS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph-authtool", "ceph")
ACCESS = re.compile(r'beast: \S+ \S+ - \S+ \[[^\]]*\] "(\w+) (\S+) HTTP/[\d.]+" (\d+) ')


def missing():
    return [t for t in TOOLS if not shutil.which(t)]


class Rgw:
    def __init__(self, root, pki):
        self.dir, self.pki = root, pki
        for d in ("run", "log", "mon.a", "osd.0", "rgw.a"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        self.conf = os.path.join(root, "ceph.conf")
        self.env = dict(os.environ, CEPH_CONF=self.conf)
        fsid = self.fsid = str(uuid.uuid4())
        d = root
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:13300
public network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
pid file = {d}/run/$name.pid
keyring = {d}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = 1073741824
[mon.a]
mon data = {d}/mon.a
[osd.0]
osd data = {d}/osd.0
[client.rgw.a]
ms mon client mode = crc
auth client required = none
rgw frontends = beast ssl_endpoint=127.0.0.1:{PORT} ssl_certificate={pki}/server.crt ssl_private_key={pki}/server.key
rgw data = {d}/rgw.a
debug rgw = 1
""")
        self.endpoint = "https://127.0.0.1:%d" % PORT
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()  # whatever came up of it: nothing is left running after a failed start
            raise
        self.up_seconds = time.monotonic() - started

    def _start(self):
        d = self.dir
        self._run("ceph-authtool", "--create-keyring", d + "/keyring", "--gen-key", "-n", "mon.", "--cap", "mon", "allow *")
        self._run("monmaptool", "--create", "--addv", "a", "[v2:127.0.0.1:13300]", "--fsid", self.fsid, d + "/monmap")
        self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", d + "/monmap")
        self._run("ceph-mon", "-i", "a")
        self._run("ceph", "osd", "create")
        self._run("ceph-osd", "-i", "0", "--mkfs")
        self._run("ceph-osd", "-i", "0")
        self._run("radosgw", "-n", "client.rgw.a")
        deadline = time.monotonic() + 90
        while self.curl("GET", "/", check=False, signed=False)[0] != 200:  # anonymous: no user yet
            if time.monotonic() > deadline:
                raise common.CampaignError("radosgw did not answer within 90 s; its log:\n" + self.log()[-3000:])
            time.sleep(0.5)
        self._run("radosgw-admin", "user", "create", "--uid=edge", "--display-name=edge", "--access-key=" + ACCESS_KEY,
                  "--secret-key=" + SECRET)

    def _run(self, *cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=120)
        if r.returncode != 0:
            raise common.CampaignError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, (r.stdout + r.stderr)[-2000:]))
        return r.stdout

    def curl(self, method, path, out=None, check=True, signed=True):
        """A SigV4-signed request (radosgw wants x-amz-content-sha256 on every request)."""
        cmd = ["curl", "-s", "-m", "30", "--cacert", os.path.join(self.pki, "ca.crt"), "-X", method,
               "-o", out or "/dev/null", "-w", "%{http_code}", self.endpoint + path]
        if signed:
            cmd += ["--aws-sigv4", "aws:amz:%s:s3" % REGION, "--user", ACCESS_KEY + ":" + SECRET,
                    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        code = int(r.stdout or 0)
        if check and not 200 <= code < 300:
            raise common.CampaignError("%s %s: HTTP %d %s" % (method, path, code, r.stderr))
        return code, out

    def list_keys(self, bucket):
        out = os.path.join(self.dir, "list.xml")
        self.curl("GET", "/%s/?list-type=2&max-keys=1000" % bucket, out=out)
        with open(out, encoding="utf-8") as f:
            return re.findall(r"<Key>([^<]+)</Key>", f.read())

    def download(self, bucket, key, dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        self.curl("GET", "/%s/%s" % (bucket, key), out=dest)

    def requests(self):
        """(method, path with query, status) of every request radosgw answered, oldest first."""
        return [(m, p, int(s)) for m, p, s in ACCESS.findall(self.log())]

    def flush_log(self):
        """radosgw writes its log asynchronously: what it did so far, on disk now."""
        self._run("ceph", "--admin-daemon", os.path.join(self.dir, "run", "client.rgw.a.asok"), "log", "flush")

    def log(self):
        try:
            with open(os.path.join(self.dir, "log", "client.rgw.a.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        for name in ("client.rgw.a", "osd.0", "mon.a"):
            try:
                with open(os.path.join(self.dir, "run", name + ".pid"), encoding="utf-8") as f:
                    pid = int(f.read())
            except (FileNotFoundError, ValueError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
