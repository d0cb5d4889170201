"""The DICOM side of the crash campaign: a modality pushing to the daemon's dicom-scp source with
dcmtk's storescu while kills land (mid-association), and Orthanc as the PACS that the dicom-qr
source retrieves studies from (mid-retrieve). Instances belong to the synthetic hospital's patients
(eligible ones mostly, some stopped or not yet notified), so the gate applies to them too.

What must hold at the end, besides the oracle's checks (leaks by patient, duplicates: an instance
pushed again after a kill cut the push is never delivered twice):
- every instance the modality was told it was stored (C-STORE success), and every instance the
  PACS holds, of a patient who may be sent, arrived exactly once with the data set as sent or as
  the PACS serves it;
- an instance whose push was cut by a kill is pushed again (as a modality retries) until it is
  acknowledged."""
import datetime as dt
import os
import re
import subprocess
import threading
import time

import common
import harness
import test_dicom  # tests/integration/test_dicom.py: make_dcm, copies, dataset_of, Orthanc

SCP_PORT = test_dicom.SCP_PORT
SCP_SOURCE = test_dicom.SCP_SOURCE.replace("[CT1]", "[MODALITY]")
# Polled every cycle, so kills land in its C-FIND and C-GET.
QR_SOURCE = test_dicom.QR_SOURCE.replace("poll_interval: 1h", "poll_interval: 1s")
UID_ROOT = "1.2.826.0.1.3680043.9.7437.77."


def site_today():
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=9)).strftime("%Y%m%d")


class DicomLoad:
    def __init__(self, workdir, rng):
        self.rng = rng
        self.work = os.path.join(workdir, "dicom")
        os.makedirs(self.work, exist_ok=True)
        self.pacs = None
        self.studies = 0
        self.pushed = {}     # sop -> {"patient", "path"}: every instance the modality has to get stored
        self.acked = set()   # sops the daemon answered success for
        self.cut = set()     # sops whose push was cut at least once (maybe stored, answer lost)
        self.on_pacs = set()  # sops stored in the PACS
        self.patient_of = {}  # sop -> patient ID
        self.files = {}       # sop -> the Part-10 file made for it
        self.to_push = []    # sops not yet acknowledged
        self.pusher = None
        self.tally = common.Tally()

    def attach(self, site):
        self.site = site
        site.h.set_config("optout:\n", SCP_SOURCE + QR_SOURCE + "optout:\n")
        groups = {}
        for pid, p in sorted(site.patients.items()):
            groups.setdefault(p["group"], []).append(pid)
        self.eligible = groups["eligible"]
        self.others = groups.get("stopped", [])[:1] + (groups.get("never_notified", []) + groups.get("waiting", []))[:1]
        self.pacs = test_dicom.Orthanc(os.path.join(self.work, "pacs"))
        for pid in [self.rng.choice(self.eligible), self.rng.choice(self.eligible)] + self.others:
            self.store_on_pacs(pid, 150 if pid in self.eligible else 5)
        for pid in [self.rng.choice(self.eligible)] + self.others:
            self.queue_push(pid, 20)

    def new_study(self, pid, count):
        """`count` instances of one new study of patient `pid`, dated today (inside the dicom-qr
        lookback, so a later poll finds it); returns {sop: path}."""
        self.studies += 1
        st = UID_ROOT + str(self.studies)
        folder = os.path.join(self.work, "study%d" % self.studies)
        os.makedirs(folder)
        template = test_dicom.make_dcm(os.path.join(folder, "template.dcm"), pid, st, st + ".1", st + ".1.99999",
                                       site_today(), seed=self.studies)
        files = test_dicom.copies(template, st + ".1.99999", count, folder)
        os.remove(template)
        self.patient_of.update((sop, pid) for sop in files)
        self.files.update(files)
        return files

    def store_on_pacs(self, pid, count):
        files = self.new_study(pid, count)
        self.pacs.store(files.values())
        self.on_pacs |= set(files)

    def queue_push(self, pid, count):
        """A new study for the modality to push; returns its SOP Instance UIDs."""
        files = self.new_study(pid, count)
        for sop, path in files.items():
            self.pushed[sop] = path
            self.to_push.append(sop)
        return list(files)

    def change_world(self, rng, events):
        if rng.random() < 0.25:
            self.store_on_pacs(rng.choice(self.eligible), rng.choice((50, 150, 300)))
            events.add("DICOM: studies added to the PACS")
        if rng.random() < 0.3:
            self.queue_push(rng.choice(self.eligible), rng.choice((10, 40, 80)))
            events.add("DICOM: studies for the modality to push")

    def during(self, d, rng):
        """Pushes what is not yet acknowledged while `d` runs (in a thread; cut when d is killed)."""
        if not self.to_push or rng.random() < 0.4:
            return
        batch = list(self.to_push)
        self.pusher = threading.Thread(target=self.push, args=(d, batch), daemon=True)
        self.pusher.start()

    def push(self, d, sops):
        if not d.wait_text("DICOM SCP 'SENNEN' listening", timeout=10):
            return
        r = subprocess.run(["storescu", "-v", "-aet", "MODALITY", "-aec", "SENNEN", "127.0.0.1", str(SCP_PORT),
                            *[self.pushed[s] for s in sops]], capture_output=True, text=True,
                           env=dict(os.environ, TCP_NODELAY="1"))
        acked, current, refused = set(), None, 0
        by_path = {self.pushed[s]: s for s in sops}
        for line in (r.stdout + r.stderr).splitlines():
            m = re.search(r"Sending file: (.*)$", line)
            if m:
                current = by_path.get(m.group(1).strip())
            elif "Received Store Response (Success)" in line and current:
                acked.add(current)
            elif "Refused: OutOfResources" in line:
                refused += 1
        if refused:
            self.tally.add("C-STORE pushes refused (A700 out of resources)", refused)
        self.acked |= acked
        self.cut |= set(sops) - acked
        self.to_push = [s for s in self.to_push if s not in self.acked]
        self.tally.add("C-STORE pushes answered success", len(acked))
        if set(sops) - acked:
            self.tally.add("C-STORE pushes cut (pushed again later)", len(set(sops) - acked))

    def after_run(self):
        if self.pusher:
            self.pusher.join(60)
            self.pusher = None

    def settle(self, site):
        """Every instance pushed until acknowledged, with the service up (its SCP listening)."""
        self.after_run()
        for _attempt in range(5):
            if not self.to_push:
                return
            d = site.start("final-push")
            self.push(d, list(self.to_push))
            d.stop()
        raise common.CampaignError("the modality could not store %d instances: %s" % (len(self.to_push),
                                                                                      self.to_push[:3]))

    def stop(self):
        if self.pacs:
            self.pacs.stop()

    # ------------------------------------------------------------------ checks

    def record_keys(self, delivered):
        return {(r["source"], r["key"]) for b in delivered.committed + delivered.abandoned
                for r in b["manifest"]["records"] if r["source"] in ("modality", "pacs")}

    def check(self, delivered, o, pr, keep):
        """Each instance of a patient who may be sent arrived (once: the oracle counts duplicates),
        its data set exactly as the modality sent it or the PACS serves it. `keep`: where the
        batches were taken apart."""
        end = time.time_ns()
        got = {}
        for b in delivered.committed:
            folder = os.path.join(keep, os.path.basename(b["file"])[:-4])
            for r in b["manifest"]["records"]:
                if r["source"] in ("modality", "pacs"):
                    sop = r["attributes"]["sop_instance_uid"]
                    got.setdefault((r["source"], sop), []).append(os.path.join(folder, r["archive_path"]))
                    # The oracle judges leaks by the manifest's label; here by whose study it is.
                    pid = self.patient_of.get(sop)
                    if pid is None:
                        continue
                    if r["patient_key"] != harness.canonical(pid):
                        pr.add("wrong", "DICOM %s:%s sent as patient %s, but it is of patient %s" %
                               (r["source"], sop, r["patient_key"], harness.canonical(pid)))
                        if not o.may_leave(harness.canonical(pid), b["left_at"], b.get("checked_at")):
                            pr.add("leaked", "DICOM %s:%s of patient %s (stopped or not notified then)" %
                                   (r["source"], sop, harness.canonical(pid)))
        want = {("modality", s) for s in self.acked} | {("pacs", s) for s in self.on_pacs}
        for key, paths in got.items():
            if key not in want:
                pr.add("wrong", "DICOM %s:%s was never acknowledged or stored on the PACS" % key)
                continue
            expect = test_dicom.dataset_of(test_dicom.read(self.files[key[1]]))
            for path in paths:
                data = test_dicom.dataset_of(test_dicom.read(path))
                # The PACS serves what it stored, which may not be the file it was given: ask it then.
                if data != expect and (key[0] == "modality" or data != test_dicom.dataset_of(self.pacs.file_of(key[1]))):
                    pr.add("corrupt", "DICOM %s:%s: the data set differs from what was sent" % key)
        for key in sorted(want - set(got)):
            pid = self.patient_of[key[1]]
            if not o.stops.stopped_now(harness.canonical(pid)) and o.notified_at(pid, end):
                pr.add("lost", "DICOM %s:%s" % key)
