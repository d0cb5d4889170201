"""Power cuts, not only process death: state_dir (spool, outbox, DICOM incoming and store) on a
loop-mounted ext4 that is shut down at random moments the way the crash part picks them, which
drops everything not yet synced (the test machines' kernel has no device-mapper, so no
dm-flakey), then remounted (journal replay) and the daemon started again. The
receiver, the EMR's export trees and the PACS are other machines: they keep what they got.

One cut: SIGSTOP the daemon (from then on it does nothing), FS_IOC_SHUTDOWN with NOLOGFLUSH (the
file system keeps only what reached its journal or was synced; every later access is EIO),
SIGKILL, unmount, mount again. At a named crash point the daemon stops itself (crashpoint.cpp,
SENNEN_CRASH_SIGNAL=STOP) and the cut comes at exactly that point. The file system is mounted with
commit=600, so nothing reaches the disk by the periodic journal commit during a run: only what the
daemon synced survives, which is the case to test (ext4's fsync commits the whole journal, so a
missing directory fsync is caught only when nothing else synced after it)."""
import fcntl
import os
import struct
import subprocess
import time

import common
import crash

FS_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32)
SHUTDOWN_NOLOGFLUSH = 2


class Ext4:
    def __init__(self, image, mountpoint, size_mb=512):
        self.image, self.mountpoint = image, mountpoint
        subprocess.run(["truncate", "-s", "%dM" % size_mb, image], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", image], check=True)
        os.makedirs(mountpoint, exist_ok=True)
        self.mount()

    def mount(self):
        # Checked, not trusted: a state_dir that silently stayed the empty folder underneath would
        # look like a spool lost in the cut (once, in a long run, state_dir was found unmounted
        # after a cut; the cause was not found). A few tries: the loop device of the last mount may
        # still be going away (autoclear).
        for _attempt in range(5):
            r = subprocess.run(["mount", "-o", "loop,commit=600", self.image, self.mountpoint], capture_output=True,
                               text=True)
            if r.returncode == 0 and os.path.ismount(self.mountpoint):
                self.mounted = True
                return
            time.sleep(0.5)
        raise common.CampaignError("mount -o loop %s %s failed (exit status %d): %s" % (
            self.image, self.mountpoint, r.returncode, (r.stdout + r.stderr).strip()))

    def cut(self):
        fd = os.open(self.mountpoint, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.ioctl(fd, FS_IOC_SHUTDOWN, struct.pack("I", SHUTDOWN_NOLOGFLUSH))
        finally:
            os.close(fd)

    def umount(self):
        if self.mounted:
            r = subprocess.run(["umount", self.mountpoint], capture_output=True, text=True)
            if r.returncode != 0 or os.path.ismount(self.mountpoint):
                raise common.CampaignError("umount %s failed (exit status %d): %s" % (
                    self.mountpoint, r.returncode, (r.stdout + r.stderr).strip()))
            self.mounted = False


class PowerCampaign(crash.CrashCampaign):
    part = "power"
    what = "power cuts"
    crash_signal = "STOP"

    def prepare(self):
        state = self.site.state
        self.fs = Ext4(self.site.h.path("state.img"), state)

    def power_cut(self, d):
        self.fs.cut()
        d.kill()
        self.fs.umount()
        self.fs.mount()

    def end(self, d):
        landed = d.freeze()
        if landed is None:
            return None
        self.power_cut(d)
        return landed

    def after_crash_point(self, d):
        self.power_cut(d)  # it stopped itself there

    def cleanup(self):
        if getattr(self, "fs", None):
            subprocess.run(["umount", "-l", self.fs.mountpoint], capture_output=True)
