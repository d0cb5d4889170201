"""The hospital a campaign works on: a synthetic hospital (tools/sennen-synth-hospital) with a
config tuned for many short cycles, its stop list under the campaign's control, EMR-writer rounds
(mutate) run in the background while the daemon works, and the end of a campaign: let the daemon
finish everything, then check the receiver (oracle.py), the state_dir and the spool."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import common
import daemon
import harness
import oracle
import stoplist


class Site:
    def __init__(self, workdir, seed, patients, rng, batch_bytes="1MiB", poll="1s"):
        self.rng = rng
        tempfile.tempdir = workdir  # Hospital makes its folder with mkdtemp
        try:
            self.h = harness.Hospital(patients=patients, seed="fault-%s" % seed)
        finally:
            tempfile.tempdir = None
        self.config = self.h.config
        self.state = self.h.path("state")
        # Many short cycles: every poll re-stats the whole tree (walking is a stage worth killing),
        # files are read 1 s after they settle, small batches, a heartbeat every 2 s.
        self.h.set_config("poll_interval: 60s", "poll_interval: " + poll)
        self.h.set_config("stable_after: 30s", "stable_after: 1s\n    full_scan_interval: 1s")
        self.h.set_config("max_bytes: 64MiB", "max_bytes: %s\n  zstd_level: 3" % batch_bytes)
        with open(self.config, "a", encoding="utf-8") as f:
            f.write("heartbeat:\n  interval: 2s\n")
        with open(self.h.path("expected.json"), encoding="utf-8") as f:
            exp = json.load(f)
        names = {pid: "%s\u3000%s" % (p["family"], p["given"]) for pid, p in exp["patients"].items()}
        self.patients = exp["patients"]
        self.pid_of = {harness.canonical(pid): pid for pid in self.patients}
        self.stops = stoplist.StopList(self.h.path("optout.csv"), names)
        self.mutation_starts = []  # time (ns) each mutate round began, round 1 first
        self.runs = {}  # log path of each daemon run -> [started, seen ended (None: not seen)], ns
        self.observed = {}  # log path -> that run's Daemon.observed
        self.mid_run_edits = {}  # log path -> [(Daemon.mark() at the edit, time it was made (ns), key)]
        self.mutator = None
        self.logs = 0

    # ------------------------------------------------------------------ the world changing

    def set_zstd_level(self, level):
        with open(self.config, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"zstd_level: \d+", "zstd_level: %d" % level, text)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)

    def mutate_in_background(self, updates):
        """One EMR-writer round while whatever runs runs; at most one at a time."""
        if self.mutator and self.mutator.is_alive():
            return False
        self.wait_mutation()  # a round that failed is said now, not overwritten by the next one's outcome
        self.mutation_starts.append(time.time_ns())
        cmd = [harness.SYNTH, "mutate", self.h.dir, "--updates", str(updates), "--seed",
               "fault-round-%d-%d" % (len(self.mutation_starts), self.rng.randrange(1 << 30))]
        self.mutation_error = None

        def work():
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                self.mutation_error = r.stderr
        self.mutator = threading.Thread(target=work)
        self.mutator.start()
        return True

    def wait_mutation(self):
        if self.mutator:
            self.mutator.join()
            if self.mutation_error:
                raise common.CampaignError("sennen-synth-hospital mutate failed: " + self.mutation_error)

    def edit_stop_list(self, tally):
        """One edit while the daemon is down: add a patient, remove an applied one, release one an
        operator confirmed, re-add one, or leave the file half-written (the next edit completes it)."""
        applied, retained = stoplist.applied_stops(self.state)
        if self.stops.half_written:
            self.stops.save()
            tally.add("stop list completed after being half-written")
            return
        in_file = self.stops.ids()
        choice = self.rng.random()
        if choice < 0.35:
            candidates = sorted(pid for pid in self.patients if harness.canonical(pid) not in in_file)
            for pid in self.rng.sample(candidates, min(len(candidates), self.rng.choice((1, 1, 3, 6)))):
                self.stops.add(pid, self.rng)
                tally.add("stop list: patient added")
        elif choice < 0.55 and in_file & applied:
            self.stops.remove(self.rng.choice(sorted(in_file & applied)))
            tally.add("stop list: patient removed (stays withheld)")
        elif choice < 0.75 and retained - in_file:
            # An operator confirms every pending removal at once: their held records flow again.
            keys = sorted(retained - in_file)
            ok, out = stoplist.release(self.config, keys)
            if not ok:
                raise common.CampaignError("sennen-edgectl optout release %s failed: %s" % (keys, out))
            for key in keys:
                self.stops.released(key)
                tally.add("stop list: patient released by an operator")
        elif choice < 0.85 and self.patient_keys() & retained - in_file:
            key = self.rng.choice(sorted(self.patient_keys() & retained - in_file))
            self.stops.add(self.pid_of[key], self.rng)
            tally.add("stop list: removed patient added again")
        elif applied and in_file <= applied:
            self.stops.save_half(self.rng)
            tally.add("stop list: half-written by an editor")
        else:
            # Not before the daemon has applied a list once. The product's defence against a list
            # cut short is that an ID it has seen stays withheld until an operator confirms its
            # removal; the very first list it reads has no earlier one to be held against, and no
            # program can tell a first list cut short from a short list (README, "Known limits").
            # Nor while an ID added to the file is not applied yet: the run that read the file
            # may have been killed before it looked, and a cut that takes the ID off again would
            # leave a patient the daemon never could see counted as stopped (the model has no way
            # to tell; the property test models exactly what the daemon could have seen).
            self.stops.save()
            tally.add("stop list: saved again unchanged (no half-write before every ID in it is applied)")

    def stop_during_run(self, d, rng, tally):
        """Staff add a patient to the stop list while the daemon works, most often one with records
        in a batch that is sealed and waiting to leave. The daemon is frozen (SIGSTOP) for the
        edit, so its log tells exactly which of its looks at the list came after it (oracle).
        Returns how often each stage was logged before the edit (None: the run had ended)."""
        try:
            if d.freeze() is None:
                return None
            mark = d.mark()
            with d.lock:
                stages = dict(d.stage_counts)
            in_file = self.stops.ids()
            db = os.path.join(self.state, "spool.db")
            waiting = set()
            if os.path.exists(db):
                waiting = {k for (k,) in common.spool_query(
                    db, "SELECT DISTINCT r.patient_key FROM spool_records r JOIN spool_batches b "
                        "ON b.batch_id = r.batch_id WHERE b.state IN ('sealing', 'sealed')")}
            keys = sorted(k for k in waiting if k in self.pid_of and k not in in_file)
            what = "of a batch waiting to leave"
            if not keys:
                keys = sorted(k for k in self.pid_of if k not in in_file)
                what = "none waiting to leave"
            if not keys:
                return stages
            key = rng.choice(keys)
            self.stops.add(self.pid_of[key], rng)
            self.mid_run_edits.setdefault(d.log_path, []).append((mark, time.time_ns(), key))
            tally.add("stop list: patient added while the daemon works (%s)" % what)
            return stages
        finally:
            d.resume()

    def patient_keys(self):
        return set(self.pid_of)

    def after_run(self):
        """What the daemon applied of the stop list, for the model (StopList.observe)."""
        applied, _retained = stoplist.applied_stops(self.state)
        self.stops.observe(applied)

    # ------------------------------------------------------------------ running the daemon

    def log_path(self, what):
        self.logs += 1
        d = os.path.join(self.h.dir, "logs")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, "%05d-%s.log" % (self.logs, what))

    def start(self, what, **kw):
        path = self.log_path(what)
        self.runs[path] = [time.time_ns(), None]
        d = daemon.Daemon(self.config, path, on_end=lambda t: self.runs[path].__setitem__(1, t), **kw)
        self.observed[path] = d.observed
        return d

    def settle(self):
        """The end of a campaign: no more changes; the stop list whole again; IDs that left it either
        released by an operator or put back; then `--once` until a cycle has nothing left to do."""
        self.wait_mutation()
        if self.stops.half_written:
            self.stops.save()
        # Every applied ID that the whole file lacks, not only those the daemon has already seen
        # leave: its last read may have been of a half-written list whose cut-short ID it applied,
        # and the final run would then find that ID missing and ask for an operator every time.
        applied, _retained = stoplist.applied_stops(self.state)
        for key in sorted(applied - self.stops.ids()):
            pid = self.pid_of.get(key)
            if pid is None or self.rng.random() < 0.5:  # not a patient: a line an editor cut short
                ok, out = stoplist.release(self.config, [key])
                if not ok:
                    raise common.CampaignError("sennen-edgectl optout release %s failed: %s" % (key, out))
                self.stops.released(key)
            else:
                self.stops.add(pid, self.rng)
        for attempt in range(4):
            time.sleep(1.1)  # stable_after: the last round's files settle
            d = self.start("final", once=True)
            rc = d.wait(600)
            d.close()
            self.after_run()
            if rc is None:
                raise common.CampaignError("the final --once did not end within 10 minutes: " + d.log_path)
            outbox = os.listdir(os.path.join(self.state, "outbox"))
            if rc == 0 and not outbox and attempt >= 1:
                return
        raise common.CampaignError("the daemon did not settle: the last --once ended with %s and the outbox holds %s; "
                                   "see %s; it said:\n%s" % (rc, sorted(outbox)[:5], d.log_path, common.said(d.log_path)))

    def check(self, tally, dicom=None):
        """Everything a campaign promises, at its end. Raises CampaignError naming what failed."""
        problems = []
        left = common.leftover_temp_files(self.state, self.h.export)
        if left:
            problems.append("temp files left: %s" % left[:10])
        ok, rows = common.integrity_check(os.path.join(self.state, "spool.db"))
        if not ok:
            problems.append("PRAGMA integrity_check: %s" % rows[:10])
        open_batches = common.spool_query(os.path.join(self.state, "spool.db"),
                                          "SELECT batch_id, state FROM spool_batches WHERE state IN ('sealing','sealed')")
        if open_batches:
            problems.append("batches never delivered: %s" % open_batches[:5])
        keep = tempfile.mkdtemp(prefix="sennen-faults-received-", dir=oracle.SCRATCH) if dicom else None
        try:
            self._check(tally, dicom, keep, problems)
        finally:
            if keep:
                shutil.rmtree(keep, ignore_errors=True)
        if problems:
            raise common.CampaignError("\n".join(problems) + "\n(site kept in %s)" % self.h.dir)

    def _check(self, tally, dicom, keep, problems):
        """The receiver against the oracle (and the DICOM load's own expectations)."""
        delivered = oracle.Delivered(self.h.export, self.h.path("pki"), keep=keep)
        delivered.timed_by_runs(self.runs, self.observed, self.mid_run_edits)
        o = oracle.Oracle(self.h, self.stops, self.mutation_starts)
        extra = dicom.record_keys(delivered) if dicom else None
        pr = o.check(delivered, time.time_ns(), extra)
        if dicom:
            dicom.check(delivered, o, pr, keep)
            for k, v in dicom.tally.counts.items():
                tally.add(k, v)
        for k, v in o.counts(delivered).items():
            tally.add("receiver: " + k, v)
        for kind in oracle.Problems.KINDS:
            tally.add("found: " + kind, pr.count(kind))
        if pr.total():
            problems.append(pr.summary())
