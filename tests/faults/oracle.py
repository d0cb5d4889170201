"""What the receiver must hold after a campaign, and the check of what it does hold.

Ground truth: the synthetic hospital's expected.json as it is at the end (every version of every
record, with its bytes' hash), the history of its mutation rounds (when a new visit made a patient
notified), and the stop list's history (stoplist.StopList: from when to when each patient was
stopped). A batch left the box when its commit marker was written (the marker's mtime at the
receiver); an abandoned batch (its .cms there, no marker: voided after a crash) at its .cms's mtime;
either at the latest when the daemon run that sent it ended (bytes in flight, see timed_by_runs).
For the stop list, what counts is the daemon's last look at it before the batch left
(timed_by_runs): a patient added while the daemon ran, after that look, may be in the batch.

Checked, over every batch the receiver holds:
- corrupt: a batch that does not decrypt, verify or match its manifest and marker; a record whose
  bytes are not those of any version of its key in the tree (the tree is the truth, byte-exact);
- duplicated: the same (source, key, sha256) in two committed batches (docs/batch-format.md's
  identity of a record);
- leaked: a record of a patient (as the tree says, and as the manifest labels it) who was on the stop list (since their ID appeared in the file,
  until an operator released them) or not yet notified (no visit on or after notice_start at least
  wait_days before that day in Asia/Tokyo, or before the mutation round that recorded the visit)
  at the moment it left;
- wrong: a record labelled with another patient than the tree's;
- lost or wrong: replaying the committed batches in order (upsert/delete per key), every key of a
  patient who may be sent at the end holds its current version's bytes, a key whose versions were
  all cancelled holds nothing, or a delete once it had been sent;
- withdrawals: exactly one per stop episode (an ID added while the patient was not stopped);
- nothing of the quarantined files (misplaced, junk) ever left.
"""
import datetime as dt
import json
import os
import subprocess

import common
import harness

JST = dt.timezone(dt.timedelta(hours=9))
SCRATCH = "/dev/shm"


def jst_day(t_ns):
    return dt.datetime.fromtimestamp(t_ns / 1e9, JST).date()


def batch_seq(batch_id):
    return int(batch_id.rsplit("-", 1)[1])


class Delivered:
    """Every batch under the receiver's folder, decrypted and checked by sennen-verify-batches."""

    def __init__(self, export, pki, keep=None):
        cmd = [harness.VERIFY, "--json", "--key", os.path.join(pki, "central.key"), "--cert",
               os.path.join(pki, "central.crt"), "--ca", os.path.join(pki, "ca.crt")]
        if keep:
            cmd += ["--keep", keep]
        self.committed, self.abandoned, self.corrupt = [], [], []
        if not any(n.endswith(".cms") for _r, _d, fs in os.walk(export) for n in fs):
            return
        # Its scratch (every batch taken apart) in RAM when there is a tmpfs: tens of thousands of
        # small files otherwise cost more to delete than the whole check.
        env = dict(os.environ, TMPDIR=SCRATCH) if os.path.isdir(SCRATCH) else None
        r = subprocess.run(cmd + [export], capture_output=True, text=True, env=env)
        if not r.stdout.strip():
            raise common.CampaignError("sennen-verify-batches printed nothing: " + r.stderr[-2000:])
        for b in json.loads(r.stdout):
            marker = b["file"][:-4] + ".json"
            only_unmarked = b["problems"] == ["commit marker (.json) missing: the batch may be incomplete"]
            if b["verified"]:
                b["left_at"] = os.stat(marker).st_mtime_ns
                self.committed.append(b)
            elif only_unmarked and "manifest" in b:
                b["left_at"] = os.stat(b["file"]).st_mtime_ns
                self.abandoned.append(b)
            else:
                self.corrupt.append(b)
        self.committed.sort(key=lambda b: batch_seq(b["manifest"]["batch_id"]))

    def timed_by_runs(self, runs, observed, edits):
        """When each batch left, from the daemon runs (`runs`: log path -> [started, ended or None],
        ns; `observed`: log path -> Daemon.observed; `edits`: log path -> [(Daemon.mark() at the
        edit, ns, key)] of stop-list edits made while that run was frozen). The run that sent a
        batch is the last one started before its receiver mtime that logged sending it (`stage
        marker` for a committed batch, `stage deliver` for an abandoned one); an earlier run ended
        before it began.
        - left_at: no later than the end of that run. The receiver's mtime can be later: bytes
          already sent can still be in the network (the network part's proxy drips what it
          buffered after the daemon was killed), and a stop-list edit made after that run must not
          count them as leaked.
        - checked_at, for the stop list: the daemon's last look at the list before it sent the
          batch cannot have come earlier. That is the run's start, or the time of an edit made
          while the run was frozen before the look's log line (Site.stop_during_run): the look
          came after it. A patient added after the look may be in the batch (its bytes were
          cleared to go); edits made while no daemon ran came before every look of the next run."""
        for stage, batches in (("marker", self.committed), ("deliver", self.abandoned)):
            for b in batches:
                bid = b["manifest"]["batch_id"]
                b["checked_at"] = b["left_at"]
                sent = [(runs[p][0], p) for p, seen in observed.items()
                        if (stage, bid) in seen and runs[p][0] <= b["left_at"]]
                if not sent:
                    continue
                started, path = max(sent)
                if runs[path][1] is not None:
                    b["left_at"] = min(b["left_at"], runs[path][1])
                seen = observed[path]
                last = max(i for i, e in enumerate(seen) if e == (stage, bid))
                deliver = max(i for i in range(last + 1) if seen[i][0] == "deliver")
                look = max((i for i in range(deliver) if seen[i][0] == "look"), default=None)
                if look is None:
                    raise common.CampaignError(
                        "%s sent batch %s with no 'looking at the stop list before the next batch leaves' line "
                        "before it: which stop-list edits it had to see cannot be told (was that line changed?)"
                        % (path, bid))
                b["checked_at"] = max([started] + [made + 1 for mark, made, _key in edits.get(path, [])
                                                   if mark <= look])


class Problems:
    KINDS = ("corrupt", "duplicated", "leaked", "lost", "wrong", "withdrawals")

    def __init__(self):
        self.items = {k: [] for k in self.KINDS}

    def add(self, kind, what):
        self.items[kind].append(what)

    def count(self, kind):
        return len(self.items[kind])

    def total(self):
        return sum(len(v) for v in self.items.values())

    def summary(self, limit=5):
        out = []
        for k, v in self.items.items():
            if v:
                out.append("%s: %d, e.g. %s" % (k, len(v), "; ".join(str(x) for x in v[:limit])))
        return "\n".join(out)


class Oracle:
    def __init__(self, hospital, stop_list, mutation_starts):
        self.h = hospital
        # Read as it is (Hospital.expected() refuses a file from another day; a long campaign may
        # cross midnight in Asia/Tokyo, and the wait periods are judged per delivery day here).
        with open(hospital.path("expected.json"), encoding="utf-8") as f:
            self.exp = json.load(f)
        self.stops = stop_list
        self.wait_days = self.exp["wait_days"]
        # patient -> time from which a mutation round's new visit may have made them notified
        self.visit_recorded = {}
        for rnd in self.exp.get("mutation_history", []):
            started = mutation_starts[rnd["round"] - 1]
            for m in rnd["mutations"]:
                if m["type"] == "new_visit":
                    self.visit_recorded[m["patient_id"]] = started
        self.versions = {}  # (source, key) -> [entries of expected.json], every version
        for f in self.exp["files"]:
            if "key" in f:
                self.versions.setdefault((f["source"], f["key"]), []).append(f)
        self.special = set(self.exp.get("special", {}).values())
        self.key_of_pid = {pid: harness.canonical(pid) for pid in self.exp["patients"]}
        self.pid_of_key = {k: pid for pid, k in self.key_of_pid.items()}

    def notified_at(self, pid, t_ns):
        p = self.exp["patients"].get(pid)
        if not p or not p.get("first_notified_visit"):
            return False
        if pid in self.visit_recorded and t_ns < self.visit_recorded[pid]:
            return False
        first = dt.date.fromisoformat(p["first_notified_visit"])
        return (jst_day(t_ns) - first).days >= self.wait_days

    def may_leave(self, patient_key, t_ns, checked_ns=None):
        """Whether a record of the patient could leave at t_ns: not on the stop list when the daemon
        last looked at it (checked_ns, default t_ns) and notified."""
        pid = self.pid_of_key.get(patient_key)
        stop_t = t_ns if checked_ns is None else checked_ns
        return pid is not None and not self.stops.stopped_at(patient_key, stop_t) and self.notified_at(pid, t_ns)

    def check(self, delivered, end_ns, extra_keys=None):
        """Problems found; `extra_keys` {(source, key)} are records checked elsewhere (DICOM)."""
        pr = Problems()
        for b in delivered.corrupt:
            pr.add("corrupt", "%s: %s" % (os.path.basename(b["file"]), "; ".join(b["problems"])[:300]))
        seen = {}
        for b in delivered.committed + delivered.abandoned:
            committed = b in delivered.committed
            for r in b["manifest"]["records"]:
                where = "%s in %s" % (r["path"], b["manifest"]["batch_id"])
                # Judged by the patient the tree says the record is of, not only by the label the
                # daemon gave it: a record sent under another patient's key must count as that.
                owners = {self.key_of_pid.get(v["patient_id"]) for v in self.versions.get((r["source"], r["key"]), [])}
                if owners and r["patient_key"] not in owners:
                    pr.add("wrong", "%s: sent as patient %s, but it is a record of patient %s" %
                           (where, r["patient_key"], "/".join(sorted(map(str, owners)))))
                for key in sorted(owners | {r["patient_key"]}, key=str):
                    if not self.may_leave(key, b["left_at"], b.get("checked_at")):
                        pr.add("leaked", "%s of patient %s (stopped or not notified then)" % (where, key))
                if r["path"] in self.special:
                    pr.add("leaked", "%s: a quarantined file" % where)
                if r["event"] != "upsert":
                    continue
                ident = (r["source"], r["key"], r["sha256"])
                if committed:
                    if ident in seen:
                        pr.add("duplicated", "%s (also in %s)" % (where, seen[ident]))
                    seen[ident] = b["manifest"]["batch_id"]
                if extra_keys is not None and (r["source"], r["key"]) in extra_keys:
                    continue
                if not any(harness.same_bytes(r, v) for v in self.versions.get((r["source"], r["key"]), [])):
                    pr.add("corrupt", "%s: bytes of no version of %s in the tree" % (where, r["key"]))
        self._central_state(delivered, end_ns, pr, extra_keys or set())
        self._withdrawals(delivered, pr)
        return pr

    def _central_state(self, delivered, end_ns, pr, extra_keys):
        """The central side's view after applying every committed batch in order."""
        state = {}  # (source, key) -> last record
        for b in delivered.committed:
            for r in b["manifest"]["records"]:
                state[(r["source"], r["key"])] = r
        for sk, versions in self.versions.items():
            current = [v for v in versions if v["status"] == "current"]
            pid = versions[0]["patient_id"]
            key = self.key_of_pid.get(pid)
            if not key or self.stops.stopped_now(key) or not self.notified_at(pid, end_ns):
                continue  # nothing owed (what left before a stop is checked as a leak, not here)
            got = state.get(sk)
            if current:
                if got is None:
                    pr.add("lost", "%s:%s (current %s)" % (sk[0], sk[1], current[0]["path"]))
                elif got["event"] != "upsert" or not harness.same_bytes(got, current[0]):
                    pr.add("wrong", "%s:%s holds %s %s, not the current version %s" %
                           (sk[0], sk[1], got["event"], got.get("path"), current[0]["path"]))
            elif got is not None and got["event"] == "upsert":
                pr.add("wrong", "%s:%s was cancelled in the tree but the receiver still holds %s" %
                       (sk[0], sk[1], got["path"]))
        for sk, got in state.items():
            if sk not in self.versions and sk not in extra_keys:
                pr.add("wrong", "%s:%s is not a record of the tree" % sk)

    def _withdrawals(self, delivered, pr):
        got = {}
        for b in delivered.committed:
            for w in b["manifest"]["withdrawals"]:
                got[w["patient_key"]] = got.get(w["patient_key"], 0) + 1
        for key in set(got) | set(self.stops.episodes):
            want = self.stops.episodes_of(key)
            if got.get(key, 0) != want:
                pr.add("withdrawals", "patient %s: %d withdrawal(s) sent, %d stop episode(s)" %
                       (key, got.get(key, 0), want))

    def counts(self, delivered):
        recs = [r for b in delivered.committed for r in b["manifest"]["records"]]
        return {"batches": len(delivered.committed), "abandoned batches": len(delivered.abandoned),
                "records": sum(r["event"] == "upsert" for r in recs),
                "deletes": sum(r["event"] == "delete" for r in recs),
                "withdrawals": sum(len(b["manifest"]["withdrawals"]) for b in delivered.committed)}
