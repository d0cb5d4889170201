"""The stop list as the campaign edits it (the CP932 CSV the synthetic hospital wrote, lines added
and removed in the messy spellings staff type), and the history the oracle needs: when each patient
was stopped and released."""
import math
import os
import time

import common

SPELLINGS = (
    lambda pid: pid,
    lambda pid: str(int(pid)) if pid.isdigit() else pid,                    # Excel dropped the zeros
    lambda pid: pid.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}),  # full-width digits
    lambda pid: "  %s " % pid,                                             # spaces around
    lambda pid: '="%s"' % pid,                                             # Excel's text formula
)


def canonical_cell(cell):
    """The gate's canonical patient key for a stop-list cell (docs/batch-format.md), or None."""
    s = cell.strip().strip("\u3000").strip()
    if s.startswith('="') and s.endswith('"'):
        s = s[2:-1]
    s = s.strip('"').strip()
    s = "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in s)
    if not s or not s.isascii() or not s.isalnum():
        return None
    return (s.lstrip("0") or "0") if s.isdigit() else s.upper()


def now_ns():
    return time.time_ns()


class StopList:
    """Edits optout.csv by replacing it (as an editor saving a file does), and remembers, per
    canonical key, the times from which the patient counts as stopped and when released."""

    def __init__(self, path, names):
        self.path = path
        self.names = names  # pid -> name shown in the CSV (never read by the daemon's gate)
        with open(path, "rb") as f:
            text = f.read().decode("cp932")
        self.lines = []  # (text, key or None), CRLF-less
        for line in text.split("\r\n"):
            self.lines.append((line, canonical_cell(line.split(",")[0]) if line and not line.startswith("#") else None))
        while self.lines and self.lines[-1][0] == "":
            self.lines.pop()
        # key -> [[stopped_from_ns, released_at_ns or inf], ...]; the initial list counts from 0.
        self.episodes = {}
        for k in self.ids():
            self.episodes[k] = [[0, math.inf]]
        self.half_written = None  # when the file was left half-written (ns), None when whole
        # The earliest half-write since the last observe(): a run may read the file half-written and
        # then see it saved whole (an edit while it works) before observe() looks at what it applied.
        self.half_written_unobserved = None

    def ids(self):
        return {k for _t, k in self.lines if k}

    def stopped_at(self, key, t_ns):
        return any(a <= t_ns < b for a, b in self.episodes.get(key, []))

    def ever_stopped(self, key):
        return key in self.episodes

    def stopped_now(self, key):
        return any(b == math.inf for _a, b in self.episodes.get(key, []))

    def episodes_of(self, key):
        return len(self.episodes.get(key, []))

    def _bytes(self):
        return ("\r\n".join(t for t, _k in self.lines) + "\r\n").encode("cp932")

    def save(self):
        tmp = self.path + ".new"
        with open(tmp, "wb") as f:
            f.write(self._bytes())
        os.replace(tmp, self.path)
        self.half_written = None

    def save_half(self, rng):
        """An editor caught half way through writing the file in place: a prefix of it."""
        data = self._bytes()
        cut = rng.randrange(1, len(data))
        with open(self.path, "r+b") as f:
            f.truncate(0)
            f.write(data[:cut])
        self.half_written = now_ns()
        if self.half_written_unobserved is None:
            self.half_written_unobserved = self.half_written
        return cut

    def observe(self, applied):
        """After a run: the keys the daemon has applied (gate_stops). A key it stopped that the
        campaign never wrote can only come from a half-written file (a line cut short may read as
        another ID: "0000012345" cut to "00000123"). Stopping it is right (it was in the file), and
        it counts from the moment the file was half-written. Anything else is a defect."""
        for key in sorted(applied):
            if self.stopped_now(key):
                continue
            if self.half_written_unobserved is None:
                raise common.CampaignError("the daemon stopped %s, which the stop-list file never held" % key)
            self.episodes.setdefault(key, []).append([self.half_written_unobserved, math.inf])
        self.half_written_unobserved = self.half_written

    def add(self, pid, rng):
        key = canonical_cell(pid)
        cell = rng.choice(SPELLINGS)(pid)
        self.lines.append(("%s,%s,2026/1/1" % (cell, self.names.get(pid, "")), key))
        self.save()
        if not self.stopped_now(key):
            self.episodes.setdefault(key, []).append([now_ns(), math.inf])
        return key

    def remove(self, key):
        self.lines = [(t, k) for t, k in self.lines if k != key]
        self.save()

    def released(self, key):
        """An operator released the key (sennen-edgectl optout release succeeded)."""
        for ep in self.episodes.get(key, []):
            if ep[1] == math.inf:
                ep[1] = now_ns()


def applied_stops(state_dir):
    """(every key in gate_stops, the ones that left the file and are retained)."""
    db = os.path.join(state_dir, "spool.db")
    if not os.path.exists(db):
        return set(), set()
    rows = common.spool_query(db, "SELECT patient_key, missing_since IS NOT NULL FROM gate_stops")
    return {k for k, _m in rows}, {k for k, m in rows if m}


def release(config, keys):
    r = common.run([common.EDGECTL, "optout", "release", *keys, "--config", config, "--reason",
                    "fault campaign: the patient withdrew the request"])
    return r.returncode == 0, r.stdout + r.stderr
