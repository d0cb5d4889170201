"""Full disks: state_dir (spool, outbox, DICOM incoming and store) on a tmpfs that is shrunk, while
the daemon works, to what it already holds plus a little (0 to 256 KiB), at a moment aimed at a
stage that writes there (walking and ingest commits, the dicom-qr retrieve, release, sealing,
signing, the heartbeat) and while EMR-writer rounds and DICOM pushes keep coming. The same file
system the daemon uses, filling for real: SQLite, the sealer, the DICOM receiver and the AtomicFile
writers all meet ENOSPC wherever they happen to be.

One episode: shrink; wait until the daemon names the full disk in its log (it must, within
`FULL_SEEN` seconds, or the episode fails); push a new study from the modality, which must not be
answered success while less than min_free is free (DICOM answers A700 and the modality keeps it);
keep it full for a few seconds (the service must stay up: a crash loop under systemd is what issue
10 found); the heartbeat the central side receives must carry the problem "disk"; give the space back (remount to
the full size); it must carry on by itself through two more cycles; then SIGTERM, and a clean exit.
At the end the same oracle as the crash part: nothing lost, duplicated, leaked or corrupt, no temp
file left, integrity_check passes.

tmpfs rather than ext4 on a loop device: its size changes with a remount, so space goes and comes
back at once without a filler file, and root gets no reserved blocks (ext4 lets root write into
its 5 % reserve)."""
import glob
import json
import os
import subprocess
import time

import common
import crash

FULL_SIZE = 512 << 20
# Stages that write into state_dir, where the disk is made to fill.
DISK_AIMS = ("walk", "ingest-commit", "qr-retrieve", "release", "seal", "sign", "heartbeat")
FULL_SEEN = 30  # seconds for the daemon to name the full disk in its log
HEARTBEAT_SEEN = 10  # and for a heartbeat (every 2 s) to carry the problem "disk"
FULL_TEXTS = ("the disk holding the spool is full", "No space left on device", "free disk space",
              "refusing C-STORE (A700 out of resources)")
MIN_FREE = 1 << 20  # the DICOM sources' min_free in the campaign's config (tests/integration/test_dicom.py)


class Tmpfs:
    def __init__(self, mountpoint):
        self.mountpoint = mountpoint
        os.makedirs(mountpoint, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % FULL_SIZE, "tmpfs", mountpoint],
                       check=True)
        self.mounted = True

    def used(self):
        v = os.statvfs(self.mountpoint)
        return (v.f_blocks - v.f_bfree) * v.f_frsize

    def free(self):
        v = os.statvfs(self.mountpoint)
        return v.f_bavail * v.f_frsize

    def resize(self, size):
        size = (size + 4095) // 4096 * 4096
        r = subprocess.run(["mount", "-o", "remount,size=%d" % size, self.mountpoint], capture_output=True, text=True)
        return r.returncode == 0

    def shrink(self, headroom):
        """To what is used now plus `headroom`; the daemon may write in between, so try again a few
        times (tmpfs refuses a size below what it holds)."""
        for _ in range(20):
            if self.resize(self.used() + headroom):
                return True
        return False

    def umount(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.mountpoint], capture_output=True)
            self.mounted = False


class DiskFullCampaign(crash.CrashCampaign):
    part = "disk"
    what = "disk-full episodes"

    def prepare(self):
        self.fs = Tmpfs(self.site.state)
        self.said = common.Tally()

    def cleanup(self):
        if getattr(self, "fs", None):
            self.fs.umount()

    def heartbeat_problems(self, since=0):
        """Problem codes of the heartbeat at the receiver, if it was written after `since` (time.time())."""
        codes = set()
        for path in glob.glob(os.path.join(self.site.h.export, "*", "heartbeat.json")):
            try:
                if os.stat(path).st_mtime <= since:
                    continue
                with open(path, encoding="utf-8") as f:
                    hb = json.load(f)
            except (OSError, ValueError):
                continue
            codes |= {p.get("code", "?") for p in hb.get("problems", [])}
        return codes

    def push_while_full(self, d):
        """A new study from the modality: never answered success while less than min_free is free
        (A700 then, and the modality keeps the instances for later)."""
        self.dicom.after_run()  # the pushes started with the run first
        sops = self.dicom.queue_push(self.rng.choice(self.dicom.eligible), 3)
        free_before = self.fs.free()
        refused_before = self.dicom.tally.get("C-STORE pushes refused (A700 out of resources)")
        acked_before = len(self.dicom.acked)
        self.dicom.push(d, sops)
        full = free_before < MIN_FREE and self.fs.free() < MIN_FREE
        if full and len(self.dicom.acked) > acked_before:
            raise common.CampaignError("C-STORE answered success with less than min_free free; see %s" % d.log_path)
        refused = self.dicom.tally.get("C-STORE pushes refused (A700 out of resources)") > refused_before
        if full and not refused:
            # Not success is not enough: an SCP that is gone, hangs or refuses the association
            # would pass that; the modality must be told to keep the study and try later.
            raise common.CampaignError("the modality's push got no A700 while less than min_free was free (the SCP "
                                       "did not answer, or answered otherwise); see %s" % d.log_path)
        if refused:
            self.events.add("episodes where the modality was answered A700")

    def one_kill(self):  # one episode
        rng = self.rng
        self.change_world()
        if self.site.mutate_in_background(updates=rng.choice((60, 150))):  # something to ingest while it fills
            self.events.add("EMR-writer rounds (mutate), run while the daemon works")
        d = self.start("disk")
        try:
            self.episode(d)
        except BaseException:
            d.kill()  # a failed episode leaves no service running behind the campaign
            raise

    def episode(self, d):
        rng = self.rng
        aim = rng.choice(DISK_AIMS)
        if not d.wait_stage(aim, timeout=2.5):
            self.missed.add(aim)
        landed = d.where()
        shrunk_at = time.time()
        if not self.fs.shrink(rng.choice((0, 16 << 10, 64 << 10, 256 << 10))):
            raise common.CampaignError("could not shrink the tmpfs under %s" % self.fs.mountpoint)
        if d.proc.poll() is not None:
            raise common.CampaignError("the service ended (exit status %s) as the disk filled; see %s"
                                       % (d.wait(), d.log_path))
        self.record(landed, aim)
        # Until the daemon names the full disk: EMR files keep coming (the mutate round); after a
        # few seconds without, the modality pushes too (a writer that always comes).
        end = time.monotonic() + FULL_SEEN
        pushed = False
        while not any(t in d.text() for t in FULL_TEXTS):
            if d.proc.poll() is not None or time.monotonic() > end:
                raise common.CampaignError("the full disk was not named in the log within %d s (or the service "
                                           "ended: %s); see %s" % (FULL_SEEN, d.proc.poll(), d.log_path))
            if not pushed and self.dicom and time.monotonic() > end - FULL_SEEN + 3:
                self.push_while_full(d)
                pushed = True
            time.sleep(0.1)
        for t in FULL_TEXTS:
            if t in d.text():
                self.said.add("log: " + t)
        if not pushed and self.dicom:
            self.push_while_full(d)
        time.sleep(rng.uniform(1, 4))  # full for a while: the service stays up
        end = time.monotonic() + HEARTBEAT_SEEN
        while "disk" not in self.heartbeat_problems(since=shrunk_at):
            if d.proc.poll() is not None or time.monotonic() > end:
                raise common.CampaignError("no heartbeat named the full disk within %d s (or the service ended: %s); "
                                           "see %s" % (HEARTBEAT_SEEN, d.proc.poll(), d.log_path))
            time.sleep(0.2)
        for code in sorted(self.heartbeat_problems(since=shrunk_at)):
            self.said.add("heartbeat problem while full: " + code)
        status = common.run([common.EDGECTL, "status", "--config", self.site.config])
        if "disk" in status.stdout:
            self.said.add("sennen-edgectl status names the disk")
        if not self.fs.resize(FULL_SIZE):
            raise common.CampaignError("could not give the space back under %s" % self.fs.mountpoint)
        with d.lock:
            idle = d.stage_counts.get("idle", 0)
        if not d.wait_stage("idle", timeout=60, nth=idle + 2):
            raise common.CampaignError("the service did not carry on once space returned (exit status %s); see %s"
                                       % (d.proc.poll(), d.log_path))
        rc = d.stop()
        if rc != 0:
            raise common.CampaignError("the service exited with %s at SIGTERM after a full disk; see %s"
                                       % (rc, d.log_path))

    def report(self):
        return super().report() + ["what the daemon said while the disk was full (episodes):"] + self.said.lines()
