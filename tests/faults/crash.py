"""Crashes: the service killed with SIGKILL at random moments, restarted, killed again, while the
tree (EMR-writer rounds) and the stop list keep changing (between runs, and in a quarter of the
runs also while the daemon works: workload.Site.stop_during_run); at the end the receiver must hold exactly
what the oracle says, nothing may be left half-written, and the spool must pass integrity_check.

How kill moments are chosen (all from the part's seeded random source):
- most kills come from outside at a moment tied to the log: the campaign picks a stage (the ones
  hit least so far are likelier), waits until the daemon logs that it entered it, then kills at
  once or after a random delay within the stage's usual length. Where the kill really landed is
  read from the log afterwards (daemon.py) and that is what is counted; the aim only makes every
  stage likely, since most take milliseconds in a cycle of a second;
- some kills come at a random delay after the start, aimed at nothing;
- some are named crash points (crashpoint.c, LD_PRELOAD) for windows of microseconds that a
  kill from outside hits only by chance, e.g. after the commit marker is at the destination and
  before the spool records the delivery. The daemon kills itself there.
"""
import os
import time

import common
import daemon
import workload

# stage -> how long after its log line a kill may come and still be likely inside it (seconds)
AIMS = {"start-up": 0.002, "stop-list": 0.003, "walk": 0.25, "ingest-commit": 0.002, "qr-find": 0.005,
        "qr-retrieve": 0.3, "release": 0.01,
        "seal": 0.03, "sign": 0.001, "seal-commit": 0.001, "deliver": 0.002, "marker": 0.0005,
        "record-delivery": 0.001, "heartbeat": 0.001, "idle": 0.5}

# name -> SENNEN_CRASH_AT without the count (see crashpoint.c)
CRASH_POINTS = {
    "after the batch file is at the destination, before its marker": "rename:after:*/export/*/*.cms",
    "after the marker is at the destination, before the spool records the delivery": "rename:after:*/export/*/*.json",
    "after the spool recorded the delivery, before the outbox copy is removed": "remove:before:*/outbox/*.cms",
    "after the sealed file is in the outbox, before the spool records it sealed": "rename:after:*/outbox/*.cms",
    "with a heartbeat temp file written, before its rename": "fsync:before:*/heartbeat.json.tmp-*",
    "in the middle of a spool commit (before its WAL sync)": "fsync:before:*/spool.db-wal",
}


class CrashCampaign:
    part = "crash"
    what = "kills"

    def __init__(self, seed, kills, workdir, patients=300, dicom=None):
        self.rng = common.part_rng(seed, self.part)
        self.kills = kills
        self.site = workload.Site(workdir, seed, patients, self.rng)
        self.prepare()
        self.dicom = dicom
        self.landed = common.Tally()
        self.points = common.Tally()
        self.events = common.Tally()
        self.missed = common.Tally()  # aims whose stage did not come within two cycles

    def aim(self):
        """The stage to aim the next kill at: the ones hit least so far are likelier, and the ones
        that often did not come (nothing to seal, say) less likely."""
        weights = {}
        for s in AIMS:
            hits = sum(n for k, n in self.landed.counts.items() if k == s or k.startswith(s + " ("))
            weights[s] = 1.0 / (1 + hits) / (1 + self.missed.get(s))
        x = self.rng.random() * sum(weights.values())
        for s, w in weights.items():
            x -= w
            if x <= 0:
                return s
        return "walk"

    def change_world(self):
        rng = self.rng
        if rng.random() < 0.35:
            self.site.edit_stop_list(self.events)
        if rng.random() < 0.5 and self.site.mutate_in_background(updates=rng.choice((20, 60, 150))):
            self.events.add("EMR-writer rounds (mutate), run while the daemon works")
        if rng.random() < 0.2:
            self.site.set_zstd_level(rng.choice((1, 3, 9, 15)))
        if self.dicom:
            self.dicom.change_world(rng, self.events)

    def start(self, what, **kw):
        d = self.site.start(what, **kw)
        if self.dicom:
            self.dicom.during(d, self.rng)
        return d

    # How a run ends: here a kill (the power-cut campaign shuts the file system down as well).
    crash_signal = "KILL"

    def end(self, d):
        """Ends the run; returns where it landed, None when the process had already ended."""
        return d.kill()

    def after_crash_point(self, d):
        """The daemon reached its crash point and killed itself."""
        d.wait()

    def one_kill(self):
        rng = self.rng
        self.change_world()
        mode = rng.random()
        if mode < 0.12:
            self.crash_point()
            return
        d = self.start("kill")
        seen = {}  # stages logged before a mid-run edit: the aim below is the next one after it
        if rng.random() < 0.25:
            seen = self.stop_patient_during(d) or {}
        if mode < 0.3:
            time.sleep(rng.uniform(0, 1.5))
            aim = "nothing (a random delay)"
        else:
            aim = self.aim()
            # Two cycles at most (poll_interval 1 s): a stage with nothing to do may not come.
            if not d.wait_stage(aim, timeout=2.5, nth=seen.get(aim, 0) + 1):
                self.missed.add(aim)
            elif rng.random() < 0.6:
                time.sleep(rng.uniform(0, AIMS[aim]))
        landed = self.end(d)
        if landed is None:
            raise common.CampaignError("the service ended on its own (exit status %s) instead of running; see %s"
                                       % (d.wait(), d.log_path))
        self.record(landed, aim)
        d.close()

    def stop_patient_during(self, d):
        """Staff add a patient to the stop list while this run works: at a moment a batch is sealed,
        delivered or the tree walked, or after a random delay. Returns the stage counts at the edit."""
        aim = self.rng.choice(("seal", "deliver", "deliver", "walk", None))
        if aim is None:
            time.sleep(self.rng.uniform(0, 1.5))
        elif not d.wait_stage(aim, timeout=2.5):
            return None
        return self.site.stop_during_run(d, self.rng, self.events)

    def crash_point(self):
        name = self.rng.choice(sorted(CRASH_POINTS))
        spec = "%s:%d" % (CRASH_POINTS[name], self.rng.choice((1, 1, 2, 3)))
        d = self.start("crashpoint", crash_at=spec, crash_signal=self.crash_signal)
        # The point is reached in this run's first two cycles, or not at all (nothing to deliver).
        deadline = time.monotonic() + 30
        while (d.proc.poll() is None and not d.stopped() and d.stage_counts.get("idle", 0) < 2
               and time.monotonic() < deadline):
            time.sleep(0.005)
        if d.crash_note():
            self.after_crash_point(d)
            self.points.add(name)
            self.landed.add("crash point: " + name)
        elif d.proc.poll() is None:
            self.record(self.end(d), "a crash point not reached")
        else:
            raise common.CampaignError("the service ended on its own with %s before its crash point; see %s"
                                       % (d.wait(), d.log_path))
        d.close()

    def prepare(self):
        """Anything the campaign needs around the site before the first run."""

    def cleanup(self):
        """Undoes what prepare() set up (the work folder itself is the caller's)."""

    def record(self, landed, aim):
        self.landed.add(daemon.landed_name(landed))
        if landed[2]:
            self.landed.add("DICOM SCP association open")
        self.events.add("%s aimed at %s" % (self.what, aim if aim in AIMS else aim.split(" (")[0]))

    def run(self):
        common.log("%s: %d %s on %s" % (self.part, self.kills, self.what, self.site.h.dir))
        started = time.monotonic()
        for i in range(self.kills):
            self.one_kill()
            self.site.after_run()
            if self.dicom:
                self.dicom.after_run()
            if (i + 1) % 50 == 0:
                common.log("%s: %d %s so far" % (self.part, i + 1, self.what))
        common.log("%s: %d %s in %.0f s; letting the daemon finish" % (self.part, self.kills, self.what,
                                                                      time.monotonic() - started))
        if self.dicom:
            self.dicom.settle(self.site)
        self.site.settle()
        self.site.check(self.events, self.dicom)

    def report(self):
        lines = ["%s landed, per stage (from the daemon's last 'stage' log line, or the crash point reached):"
                 % self.what]
        lines += self.landed.lines()
        lines.append("what else happened:")
        lines += self.events.lines()
        return lines
