"""One run of sennen-edged under the campaign: started with `--log-level debug`, its log read as it
is written, killed with SIGKILL, and where the kill landed told from the log.

How a kill is classified: the worker logs "stage <name>" as each step of a cycle begins
(daemon/util/log.hpp, log::stage), so the last such line before the kill names the step the worker
was in: start (no line yet: loading the config, opening the spool), start-up (recovery), stop-list,
walk (a source's poll between commits, named per source), ingest-commit, qr-find, qr-retrieve,
release, seal, sign, seal-commit, deliver, marker, record-delivery, heartbeat or idle. Independently,
a DICOM association is open when the SCP logged "association of ... open" without its "closed".
The daemon flushes each line with one write(2) before going on, so a line written before the kill
is in the pipe; the kill can only come later than the line says, never earlier."""
import os
import re
import signal
import subprocess
import threading
import time

import common

STAGE = re.compile(r"^(?:<\d>)?debug: stage ([a-z-]+)(?:: (.*))?$")
ASSOC = re.compile(r"^(?:<\d>)?debug: DICOM SCP .*: association of .* (open|closed)$")
# Logged just before the worker's last look at the stop list ahead of each batch that leaves.
DRAIN_MARK = "\x00campaign-drain "  # never in the daemon's log (no NUL in its text)
LOOK = re.compile(r"^(?:<\d>)?debug: looking at the stop list before the next batch leaves$")


class Daemon:
    def __init__(self, config, log_path, once=False, crash_at=None, crash_signal="KILL", extra_env=None, on_end=None):
        self.log_path = log_path
        self.on_end = on_end  # called once with the wall-clock time (ns) the process was seen ended
        self.note = log_path + ".crash-note"
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        env["TCP_NODELAY"] = "1"  # DICOM: Debian's DCMTK leaves Nagle on (harness notes, section 3)
        if crash_at:
            env["LD_PRELOAD"] = common.CRASHPOINT
            env["SENNEN_CRASH_AT"] = crash_at
            env["SENNEN_CRASH_NOTE"] = self.note
            env["SENNEN_CRASH_SIGNAL"] = crash_signal
        env.update(extra_env or {})
        cmd = [common.EDGED, "--config", config, "--log-level", "debug"] + (["--once"] if once else [])
        self.lock = threading.Condition()
        self.stage, self.detail = "start", ""
        self.stage_counts = {}
        self.assoc_open = 0
        self.lines = []
        # In log order: ("look", "") for each look at the stop list before a batch leaves, ("deliver",
        # batch id) and ("marker", batch id) as logged. An index at or past mark() taken while the
        # process is frozen (freeze) was written after it went on (resume).
        self.observed = []
        self.drains = self.drained = 0
        self.log = open(log_path, "a", encoding="utf-8", errors="replace")
        self.started = time.monotonic()
        # The daemon's stderr is a pipe whose write end this side keeps too, until the process has
        # ended: _drain writes a marker line into it behind whatever the stopped daemon wrote.
        read_end, self.write_end = os.pipe()
        self.err = os.fdopen(read_end, "rb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.write_end, env=env)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.err:
            self._line(raw.decode("utf-8", errors="replace").rstrip("\n"))
        self.log.flush()

    def _line(self, line):
        if line.startswith(DRAIN_MARK):
            with self.lock:
                self.drained = int(line[len(DRAIN_MARK):])
                self.lock.notify_all()
            return
        self.log.write(line + "\n")
        m = STAGE.match(line)
        a = ASSOC.match(line) if not m else None
        with self.lock:
            self.lines.append(line)
            if m:
                self.stage, self.detail = m.group(1), m.group(2) or ""
                self.stage_counts[self.stage] = self.stage_counts.get(self.stage, 0) + 1
                if self.stage in ("deliver", "marker"):
                    self.observed.append((self.stage, self.detail))
            elif LOOK.match(line):
                self.observed.append(("look", ""))
            elif a:
                self.assoc_open += 1 if a.group(1) == "open" else -1
            self.lock.notify_all()

    def wait_stage(self, name, timeout, nth=1):
        """True once `stage <name>` was logged nth times by this run (False: timeout or exit)."""
        end = time.monotonic() + timeout
        with self.lock:
            while self.stage_counts.get(name, 0) < nth:
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.lock.wait(min(left, 0.05))
            return True

    def wait_text(self, text, timeout):
        """True once a line holding `text` was logged by this run (False: timeout or exit)."""
        end = time.monotonic() + timeout
        seen = 0
        with self.lock:
            while True:
                if any(text in line for line in self.lines[seen:]):
                    return True
                seen = len(self.lines)
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.lock.wait(min(left, 0.05))

    def where(self):
        """(worker stage, detail, whether a DICOM association is open) as of now."""
        with self.lock:
            return self.stage, self.detail, self.assoc_open > 0

    def stopped(self):
        """True while the process is stopped (SIGSTOP: by us, or by a crash point)."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
        except OSError:
            return False

    def freeze(self):
        """SIGSTOP, and wait until the process is stopped: from then on it changes nothing. Returns
        where it was, or None when it had already ended."""
        if self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGSTOP)
        while not self.stopped():
            if self.proc.poll() is not None:
                return None
            time.sleep(0.0005)
        self._drain()
        return self.where()

    def kill(self):
        """SIGKILL now; returns where it landed, or None when the process had already ended. Read
        once the log is read to its end: a line written just before the kill may still have been in
        the pipe, and the stage it names is where the kill landed."""
        if self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._ended()
        self.reader.join()
        return self.where()

    def resume(self):
        """SIGCONT after freeze()."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def mark(self):
        with self.lock:
            return len(self.observed)

    def _drain(self, timeout=10.0):
        """Waits (the process stopped) until the reader has handled every line it wrote: a marker
        line written into the same pipe behind them has come out of the reader."""
        self.drains += 1
        os.write(self.write_end, ("%s%d\n" % (DRAIN_MARK, self.drains)).encode())
        end = time.monotonic() + timeout
        with self.lock:
            while self.drained < self.drains:
                left = end - time.monotonic()
                if left <= 0:
                    raise common.CampaignError("the log of a stopped daemon was still being read after %.0f s"
                                               % timeout)
                self.lock.wait(min(left, 0.05))

    def _ended(self):
        if self.write_end is not None:
            os.close(self.write_end)  # the reader gets to the end of the log now
            self.write_end = None
        if self.on_end:
            self.on_end(time.time_ns())
            self.on_end = None

    def wait(self, timeout=None):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._ended()
        self.reader.join()
        return rc

    def crash_note(self):
        try:
            with open(self.note, encoding="utf-8") as f:
                return f.read().strip()
        except FileNotFoundError:
            return None

    def stop(self, timeout=120):
        """SIGTERM, as systemd stops the service; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.proc.kill()
            rc = self.wait()
        self.close()
        return rc

    def close(self):
        if self.write_end is not None:  # a run not seen to end (a timeout): let the reader finish
            os.close(self.write_end)
            self.write_end = None
        self.log.close()
        self.err.close()

    def text(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def landed_name(landed):
    stage, detail, _assoc = landed
    if stage == "walk" and detail:
        return "walk (%s)" % detail.split(",")[0]
    return stage
