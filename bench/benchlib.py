"""What the benchmarks share: a test PKI, one `sennen-edged --once` timed with its peak RSS, and
the delivered batches verified by central/sennen-verify-batches (the openssl CLI, not the daemon's
code)."""
import json
import os
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_pki(work):
    if not os.path.isdir(os.path.join(work, "pki")):
        subprocess.run([os.path.join(TOP, "tools/make-test-pki"), os.path.join(work, "pki")], check=True,
                       stdout=subprocess.DEVNULL)


def once(edged, config):
    """`sennen-edged --once`: (wall seconds, peak RSS in MiB from wait4, its log). Exits on failure."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        p = subprocess.Popen([edged, "--config", config, "--once"], stdout=log, stderr=log, text=True)
        _pid, status, usage = os.wait4(p.pid, 0)
        total = time.perf_counter() - t
        log.seek(0)
        text = log.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("daemon failed:\n" + text)
    return total, usage.ru_maxrss / 1024, text


def delivered_records(work):
    """The manifest records of every batch in work/export, each batch decrypted and verified."""
    r = subprocess.run([os.path.join(TOP, "central/sennen-verify-batches"), "--json", "--key",
                        os.path.join(work, "pki/central.key"), "--cert", os.path.join(work, "pki/central.crt"),
                        "--ca", os.path.join(work, "pki/ca.crt"), os.path.join(work, "export")],
                       capture_output=True, text=True)
    batches = json.loads(r.stdout)
    if r.returncode != 0 or not all(b["verified"] for b in batches):
        sys.exit("batches failed verification:\n" + r.stdout[:2000] + r.stderr[:2000])
    return [rec for b in batches for rec in b["manifest"]["records"]]


def iconv_seconds(path):
    """`iconv -f CP932 -t UTF-8 FILE >/dev/null`: the baseline of the claim and DPC benchmarks."""
    t = time.perf_counter()
    subprocess.run("iconv -f CP932 -t UTF-8 '%s' >/dev/null" % path, shell=True, check=True)
    return time.perf_counter() - t
