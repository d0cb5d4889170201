"""DICOM end to end: Orthanc (the Debian package) as the hospital's PACS, polled by a dicom-qr
source, and a modality pushing to a dicom-scp source with storescu, through the real daemon into
batches that the stock openssl CLI decrypts and verifies. Everything runs in a private network
namespace that has only loopback (Orthanc and DCMTK's acceptors bind every interface).

Checked: every eligible instance arrives exactly once with the data set Orthanc serves (or the one
pushed), stopped and not-yet-notified patients never leave, the manifest names each instance's
UIDs, modality and study date, a study that grows is completed by the next --once, retrieve: move
brings the same through our own acceptor, a study holding two patients (one stopped) is retrieved
once and gated per instance, and kill -9 in the middle of a C-GET loses and duplicates nothing."""
import base64
import collections
import ctypes
import datetime
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import BINARY_DIR, EDGED, VERIFY, Hospital, canonical

CLONE_NEWNET = 0x40000000
ORTHANC_DICOM, ORTHANC_HTTP, SCP_PORT = 14242, 18042, 11112
UID_ROOT = "1.2.826.0.1.3680043.9.7437."
NODELAY = dict(os.environ, TCP_NODELAY="1")
EDGECTL = os.path.join(BINARY_DIR, "tools/edgectl/sennen-edgectl")  # Debian's DCMTK leaves Nagle on (harness notes §3)


def setUpModule():
    # The whole test process (and so Orthanc, the daemon and the dcmtk tools) sees only loopback.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise AssertionError("unshare(CLONE_NEWNET) failed (errno %d): the DICOM test needs root" % ctypes.get_errno())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def pattern_bytes(size, seed):
    block = bytes((i * 31 + seed) & 0xFF for i in range(251))
    return (block * (size // len(block) + 1))[:size]


def make_dcm(path, patient, study, series, sop, date, modality="CT", frames=0, side=16, seed=0):
    """A Part-10 file written by dump2dcm: Secondary Capture, or an ultrasound multi-frame when
    `frames` is given (side x side 8-bit pixels per frame)."""
    raw = path + ".raw"
    with open(raw, "wb") as f:
        f.write(pattern_bytes(side * side * max(frames, 1), seed))
    sop_class = "=UltrasoundMultiframeImageStorage" if frames else "=SecondaryCaptureImageStorage"
    dump = (f"(0002,0001) OB 00\\01\n(0002,0002) UI {sop_class}\n(0002,0003) UI [{sop}]\n"
            f"(0002,0010) UI =LittleEndianExplicit\n(0008,0016) UI {sop_class}\n(0008,0018) UI [{sop}]\n"
            f"(0008,0020) DA [{date}]\n(0008,0030) TM [101500]\n(0008,0060) CS [{modality}]\n"
            f"(0010,0010) PN [Test^Patient]\n(0010,0020) LO [{patient}]\n(0020,000d) UI [{study}]\n"
            f"(0020,000e) UI [{series}]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n"
            + (f"(0028,0008) IS [{frames}]\n" if frames else "")
            + f"(0028,0010) US {side}\n(0028,0011) US {side}\n(0028,0100) US 8\n(0028,0101) US 8\n"
            f"(0028,0102) US 7\n(0028,0103) US 0\n(7fe0,0010) OB ={raw}\n")
    with open(path + ".txt", "w", errors="surrogateescape") as f:  # "\udcff": the byte 0xFF, as a peer may send
        f.write(dump)
    subprocess.run(["dump2dcm", "-q", "+te", path + ".txt", path], check=True)
    os.remove(raw)
    os.remove(path + ".txt")
    return path


def copies(template, placeholder, count, out_dir):
    """`count` instances cut from one dump2dcm file by replacing the SOP Instance UID `placeholder`
    (meta header and data set) with another of the same length: hundreds of files in a moment."""
    with open(template, "rb") as f:
        data = f.read()
    assert data.count(placeholder.encode()) == 2, "the placeholder UID must appear exactly twice"
    stem = placeholder[:-5]
    out = {}
    for i in range(count):
        sop = stem + str(10000 + i)
        path = os.path.join(out_dir, sop + ".dcm")
        with open(path, "wb") as f:
            f.write(data.replace(placeholder.encode(), sop.encode()))
        out[sop] = path
    return out


def dataset_of(data):
    """What travels on the wire: the bytes after the Part-10 file meta information."""
    assert data[128:132] == b"DICM", "not a Part-10 file"
    meta_len = int.from_bytes(data[140:144], "little")
    return data[144 + meta_len:]


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Orthanc:
    """Orthanc with its own storage in `root`, knowing our AE title SENNEN."""

    def __init__(self, root):
        self.root = root
        db = os.path.join(root, "orthanc-db")
        os.makedirs(db)
        config = {"Name": "test-orthanc", "StorageDirectory": db, "IndexDirectory": db, "Plugins": [],
                  "HttpPort": ORTHANC_HTTP, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                  "DicomAet": "ORTHANC", "DicomPort": ORTHANC_DICOM, "DicomCheckCalledAet": False,
                  "DicomAlwaysAllowStore": True, "DicomAlwaysAllowFind": False, "DicomAlwaysAllowGet": False,
                  "DicomAlwaysAllowMove": False,
                  "DicomModalities": {"edge": {"AET": "SENNEN", "Host": "127.0.0.1", "Port": 11113, "AllowFind": True,
                                               "AllowGet": True, "AllowMove": True, "AllowStore": True,
                                               "AllowEcho": True}},
                  "SaveJobs": False, "SynchronousCMove": True, "StableAge": 5, "DicomThreadsCount": 4,
                  "StorageAccessOnFind": "Never"}
        path = os.path.join(root, "orthanc.json")
        with open(path, "w") as f:
            json.dump(config, f)
        self.log = open(os.path.join(root, "orthanc.log"), "w")
        self.proc = subprocess.Popen(["Orthanc", "--verbose", path], stdout=self.log, stderr=self.log, env=NODELAY)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            echo = subprocess.run(["echoscu", "-aet", "SENNEN", "-aec", "ORTHANC", "127.0.0.1", str(ORTHANC_DICOM)],
                                  capture_output=True, env=NODELAY)
            if echo.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise AssertionError("Orthanc did not start; see " + os.path.join(root, "orthanc.log"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def store(self, files):
        files = list(files)
        for i in range(0, len(files), 500):  # bounded command lines
            subprocess.run(["storescu", "-aet", "MODALITY", "-aec", "ORTHANC", "127.0.0.1", str(ORTHANC_DICOM),
                            *files[i:i + 500]], check=True, capture_output=True, env=NODELAY)

    def get_requests(self):
        """C-GET requests received so far (the --verbose log names each)."""
        with open(os.path.join(self.root, "orthanc.log"), errors="replace") as f:
            return f.read().count("C-GET-SCU request received")

    def http(self, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{ORTHANC_HTTP}{path}", data=body)
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def file_of(self, sop):
        found = json.loads(self.http("/tools/lookup", sop.encode()))
        ids = [m["ID"] for m in found if m["Type"] == "Instance"]
        assert len(ids) == 1, found
        return self.http(f"/instances/{ids[0]}/file")


def delivered(h, keep):
    """Every delivered batch (decrypted and verified by the openssl CLI, extracted under `keep`)
    and, per DICOM record, its manifest entry and the bytes it carried."""
    r = subprocess.run([VERIFY, "--json", "--keep", keep, "--key", h.path("pki/central.key"), "--cert",
                        h.path("pki/central.crt"), "--ca", h.path("pki/ca.crt"), h.export],
                       capture_output=True, text=True)
    batches = json.loads(r.stdout) if r.stdout.strip() else []
    bad = [b for b in batches if not b["verified"]]
    if bad or r.returncode != 0:
        raise AssertionError("batches failed verification: " + json.dumps(bad)[:2000] + r.stderr[-1000:])
    out = []
    for b in sorted(batches, key=lambda b: b["manifest"]["batch_id"]):
        folder = os.path.join(keep, os.path.basename(b["file"])[:-4])
        for rec in b["manifest"]["records"]:
            if rec["kind"].startswith("DICOM-") and rec["event"] == "upsert":
                out.append((rec, read(os.path.join(folder, rec["archive_path"]))))
    return out


def site_today():
    """The hospital's date (the synthetic hospital's site is Asia/Tokyo), whatever the box's zone."""
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=9)).strftime("%Y%m%d")


QR_SOURCE = """  - name: pacs
    type: dicom-qr
    peer: {host: 127.0.0.1, port: %d, ae_title: ORTHANC}
    local_ae_title: SENNEN
    poll_interval: 1h
    lookback: 2d
    since: 2015-01-01
    patient_id: {strip_leading_zeros: false, pad_to: 10}
    min_free: 1MiB
""" % ORTHANC_DICOM

SCP_SOURCE = """  - name: modality
    type: dicom-scp
    port: %d
    ae_title: SENNEN
    allowed_calling_ae_titles: [CT1]
    min_free: 1MiB
""" % SCP_PORT


class DicomTest(unittest.TestCase):
    """A synthetic hospital (its SS-MIX2 visits decide who is notified) plus a PACS and a modality."""

    def setUp(self):
        self.h = Hospital(patients=8, seed=4)
        self.work = tempfile.mkdtemp(prefix="sennen-dicom-", dir=self.h.dir)
        self.pacs = Orthanc(os.path.join(self.work, "pacs"))
        self.addCleanup(self.h.cleanup)
        self.addCleanup(self.pacs.stop)
        groups = collections.defaultdict(list)
        for pid, p in sorted(self.h.expected()["patients"].items()):
            groups[p["group"]].append(pid)
        self.eligible = groups["eligible"]
        self.stopped = groups["stopped"][0]
        self.not_notified = (groups["never_notified"] + groups["waiting"])[0]
        self.dcm = os.path.join(self.work, "dcm")
        os.makedirs(self.dcm)

    def add_sources(self, *sources):
        self.h.set_config("optout:\n", "".join(sources) + "optout:\n")

    def instance(self, patient, study, series, n, date, **kw):
        st = UID_ROOT + str(study)
        se = f"{st}.{series}"
        sop = f"{se}.{n}"
        path = make_dcm(os.path.join(self.dcm, sop + ".dcm"), patient, st, se, sop, date, seed=study * 7 + n, **kw)
        return sop, {"study": st, "series": se, "date": date, "modality": kw.get("modality", "CT"),
                     "patient": patient, "path": path}

    def assert_each_once(self, got, want):
        """The delivered DICOM records are exactly the SOP Instance UIDs in `want`, each once."""
        sops = collections.Counter(r["attributes"]["sop_instance_uid"] for r, _ in got)
        self.assertEqual(set(sops) - set(want), set(), "delivered, but should not have been")
        self.assertEqual(set(want) - set(sops), set(), "lost")
        self.assertEqual(max(sops.values()), 1, "an instance was delivered twice")

    def run_once(self):
        rc, log = self.h.run_once(timeout=240)
        self.assertEqual(rc, 0, log[-4000:])
        return log

    def push(self, files, also=None):
        """The modality pushes to our SCP while the daemon runs as a service (`also()` runs before the
        push); stopped with SIGTERM. Returns the service's log."""
        log = open(self.h.path("service.log"), "w")
        proc = subprocess.Popen([EDGED, "--config", self.h.config], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while subprocess.run(["echoscu", "-aet", "CT1", "-aec", "SENNEN", "127.0.0.1", str(SCP_PORT)],
                                 capture_output=True, env=NODELAY).returncode != 0:
                self.assertIsNone(proc.poll(), "the daemon exited")
                self.assertLess(time.monotonic(), deadline, "our SCP did not answer C-ECHO")
                time.sleep(0.2)
            if also:
                also()
            r = subprocess.run(["storescu", "-v", "-aet", "CT1", "-aec", "SENNEN", "127.0.0.1", str(SCP_PORT),
                                *files], capture_output=True, text=True, env=NODELAY)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual((r.stdout + r.stderr).count("Received Store Response (Success)"), len(files))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
            log.close()
        self.assertEqual(proc.returncode, 0, "the service ended with %d" % proc.returncode)
        return read(self.h.path("service.log"))

    def test_pacs_and_modality_deliver_each_eligible_instance_once_byte_exact(self):
        a, b, c = self.eligible[:3]
        today = site_today()
        qr = {}  # SOP UID -> what was stored in Orthanc
        for n in (1, 2):
            qr.update([self.instance(a, 1, 1, n, today)])  # grows later; dated today: inside lookback
        for n in (1, 2, 3):
            qr.update([self.instance(b.lstrip("0"), 2, 1, n, "20240301", modality="MR")])  # mapped by pad_to
        # One large multi-frame object (40 frames of 1 MiB).
        qr.update([self.instance(c, 3, 1, 1, "20240305", modality="US", frames=40, side=1024)])
        withheld = {}
        withheld.update([self.instance(self.stopped, 4, 1, 1, "20240310")])
        withheld.update([self.instance(self.not_notified, 5, 1, 1, "20240311")])
        old = dict([self.instance(a, 6, 1, 1, "20100101")])  # before `since`: never retrieved
        self.pacs.store(v["path"] for v in [*qr.values(), *withheld.values(), *old.values()])
        self.add_sources(QR_SOURCE, SCP_SOURCE)

        self.run_once()
        got = delivered(self.h, os.path.join(self.work, "keep1"))
        self.assert_each_once(got, qr)  # the eligible instances since `since`
        for rec, data in got:
            sop = rec["attributes"]["sop_instance_uid"]
            want = qr[sop]
            self.assertEqual(dataset_of(data), dataset_of(self.pacs.file_of(sop)), sop)
            self.assertEqual(rec["source"], "pacs")
            self.assertEqual(rec["patient_key"], canonical(want["patient"]))
            self.assertEqual(len(rec["patient_id"]), 10)  # pad_to: 10
            self.assertEqual(rec["kind"], "DICOM-" + want["modality"])
            attrs = rec["attributes"]
            self.assertEqual((attrs["study_uid"], attrs["series_uid"], attrs["modality"], attrs["study_date"]),
                             (want["study"], want["series"], want["modality"], want["date"]))
        big = [len(data) for rec, data in got if rec["attributes"]["modality"] == "US"]
        self.assertGreater(big[0], 40 << 20)

        # A modality pushes: one eligible study, and an instance of the stopped patient.
        pushed = dict([self.instance(a, 7, 1, 1, "20240401", modality="DX"),
                       self.instance(a, 7, 1, 2, "20240401", modality="DX")])
        pushed_stopped = dict([self.instance(self.stopped, 8, 1, 1, "20240402")])
        self.push([v["path"] for v in [*pushed.values(), *pushed_stopped.values()]])
        # Study 1 grows on the PACS between polls.
        grown = dict([self.instance(a, 1, 2, 1, today)])
        self.pacs.store(v["path"] for v in grown.values())

        self.run_once()
        self.run_once()  # nothing more
        got = delivered(self.h, os.path.join(self.work, "keep2"))
        self.assert_each_once(got, {**qr, **pushed, **grown})
        for rec, data in got:
            sop = rec["attributes"]["sop_instance_uid"]
            if sop in pushed:
                self.assertEqual(rec["source"], "modality")
                self.assertEqual(dataset_of(data), dataset_of(read(pushed[sop]["path"])), sop)
                self.assertEqual(rec["attributes"]["modality"], "DX")
            elif sop in grown:
                self.assertEqual(dataset_of(data), dataset_of(self.pacs.file_of(sop)), sop)
        keys = {r["patient_key"] for r, _ in got}
        self.assertNotIn(canonical(self.stopped), keys)
        self.assertNotIn(canonical(self.not_notified), keys)

    def test_odd_bytes_from_a_peer_never_crash_and_keep_their_bytes(self):
        """A Modality that is not UTF-8 (it becomes the record's kind and an attribute) and a calling
        AE title holding a newline and a priority: the service keeps serving, the instance arrives with
        its bytes in the manifest, and the refusal is one log line in display form."""
        a = self.eligible[0]
        pushed = dict([self.instance(a, 20, 1, 1, "20240701", modality="C\udcffT")])
        self.add_sources(SCP_SOURCE)

        def odd_ae_title():
            r = subprocess.run(["echoscu", "-aet", b"CT\n<0>forged\xff", "-aec", "SENNEN", "127.0.0.1",
                                str(SCP_PORT)], capture_output=True, env=NODELAY)
            self.assertNotEqual(r.returncode, 0, "an AE title not in allowed_calling_ae_titles was accepted")

        log = self.push([v["path"] for v in pushed.values()], also=odd_ae_title)
        self.run_once()
        for line in log.decode("utf-8").splitlines():  # strict: no raw byte from the peer
            self.assertRegex(line, r"^<[3-7]>[^\x00-\x1f\x7f]*$")
        self.assertIn(b"'CT\\x0a<0>forged\\xff' from 127.0.0.1: calling AE title not in allowed", log)
        got = delivered(self.h, os.path.join(self.work, "keep"))
        self.assertEqual(len(got), 1)
        rec, data = got[0]
        self.assertEqual(dataset_of(data), dataset_of(read(pushed[rec["attributes"]["sop_instance_uid"]]["path"])))
        self.assertEqual(rec["kind"], "DICOM-C\\xffT")
        self.assertEqual(base64.b64decode(rec["kind_b64"]), b"DICOM-C\xffT")
        self.assertEqual(base64.b64decode(rec["attributes"]["modality_b64"]), b"C\xffT")

    def test_peers_turned_away_at_negotiation_are_counted_in_the_heartbeat_and_status(self):
        """An AE title we do not allow, and an allowed one offering only a query model (no storage
        class): each logged, and counted per calling AE title in the heartbeat's sources[].events,
        which `sennen-edgectl status` shows; the push itself still arrives."""
        a = self.eligible[0]
        pushed = dict([self.instance(a, 21, 1, 1, "20240701")])
        self.add_sources(SCP_SOURCE.replace("    min_free: 1MiB\n", "    min_free: 1MiB\n    poll_interval: 1s\n"))
        seen = {}

        def refusals():
            r = subprocess.run(["echoscu", "-aet", "INTRUDER", "-aec", "SENNEN", "127.0.0.1", str(SCP_PORT)],
                               capture_output=True, env=NODELAY)
            self.assertNotEqual(r.returncode, 0)
            subprocess.run(["findscu", "-S", "-aet", "CT1", "-aec", "SENNEN", "-k", "QueryRetrieveLevel=STUDY",
                            "127.0.0.1", str(SCP_PORT)], capture_output=True, env=NODELAY)
            deadline = time.monotonic() + 60
            while True:
                try:
                    events = {x["name"]: x.get("events", {}) for x in self.h.heartbeat()["sources"]}["modality"]
                except (OSError, ValueError, KeyError):
                    events = {}
                if ("INTRUDER" in events.get("associations refused from", {}) and
                        "CT1" in events.get("presentation contexts refused for", {})):
                    break
                self.assertLess(time.monotonic(), deadline, "the heartbeat did not count the refusals")
                time.sleep(0.3)
            seen["events"] = events
            seen["status"] = subprocess.run([EDGECTL, "status", "--config", self.h.config], capture_output=True,
                                            text=True).stdout

        log = self.push([v["path"] for v in pushed.values()], also=refusals)
        self.assertEqual(seen["events"]["associations refused from"]["INTRUDER"]["total"], 1)
        self.assertEqual(seen["events"]["presentation contexts refused for"]["CT1"]["total"], 1)
        self.assertIn("associations refused from 'INTRUDER': 1 since the daemon started", seen["status"])
        self.assertIn("presentation contexts refused for 'CT1': 1 since the daemon started", seen["status"])
        self.assertIn(b"FINDStudyRootQueryRetrieveInformationModel (not a storage SOP class)", log)
        self.run_once()
        self.assert_each_once(delivered(self.h, os.path.join(self.work, "keep")), pushed)

    def test_retrieve_move_delivers_through_our_own_acceptor(self):
        """retrieve: move, wired from the config file: the PACS connects back to move_port."""
        a = self.eligible[0]
        qr = dict([self.instance(a, 10, 1, n, "20240601", modality="MR") for n in (1, 2, 3)])
        withheld = dict([self.instance(self.stopped, 11, 1, 1, "20240601")])
        self.pacs.store(v["path"] for v in [*qr.values(), *withheld.values()])
        self.add_sources(QR_SOURCE.replace("    lookback: 2d\n", "    lookback: 2d\n    retrieve: move\n"
                                           "    move_port: 11113\n    move_address: 127.0.0.1\n"))
        log = self.run_once()
        self.assertIn("accepting C-MOVE sub-operations", log)
        got = delivered(self.h, os.path.join(self.work, "keep"))
        self.assert_each_once(got, qr)
        for rec, data in got:
            sop = rec["attributes"]["sop_instance_uid"]
            self.assertEqual(dataset_of(data), dataset_of(self.pacs.file_of(sop)), sop)

    def test_a_study_of_two_patients_is_retrieved_once_and_each_instance_gated_by_its_own_patient(self):
        """Orthanc answers a C-FIND once per (PatientID, StudyInstanceUID): a study holding instances
        of an eligible and of a stopped patient is one retrieve, and only the eligible one's leave."""
        a = self.eligible[0]
        eligible = dict([self.instance(a, 12, 1, n, "20240701") for n in (1, 2)])
        stopped = dict([self.instance(self.stopped, 12, 2, 1, "20240701")])
        self.pacs.store(v["path"] for v in [*eligible.values(), *stopped.values()])
        self.add_sources(QR_SOURCE)
        self.run_once()
        self.assertEqual(self.pacs.get_requests(), 1)
        got = delivered(self.h, os.path.join(self.work, "keep"))
        self.assert_each_once(got, eligible)
        self.assertEqual({r["patient_key"] for r, _ in got}, {canonical(a)})
        # The stopped patient's instance did arrive with the study, and is held back, not lost
        # (in incoming/ until the next poll moves it into store/).
        kept = [n for _d, _s, names in os.walk(self.h.path("state", "dicom", "pacs")) for n in names]
        for sop in stopped:
            self.assertTrue(any(n.startswith(sop + ".") or n.startswith(sop + "~") for n in kept), kept)

    def test_kill_9_in_the_middle_of_a_retrieve_loses_and_duplicates_nothing(self):
        patient = self.eligible[0]
        template = make_dcm(os.path.join(self.dcm, "template.dcm"), patient, UID_ROOT + "9", UID_ROOT + "9.1",
                            UID_ROOT + "9.1.99999", "20240501")
        files = copies(template, UID_ROOT + "9.1.99999", 800, self.dcm)
        os.remove(template)
        self.pacs.store(files.values())
        self.add_sources(QR_SOURCE)

        incoming = self.h.path("state", "dicom", "pacs", "incoming")
        proc = subprocess.Popen([EDGED, "--config", self.h.config, "--once"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        arrived = 0
        while arrived < 100:  # some instances are safe in incoming/, the C-GET is still running
            self.assertIsNone(proc.poll(), "the daemon finished before it could be killed; make the study bigger")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
            arrived = sum(1 for n in os.listdir(incoming) if n.endswith(".dcm")) if os.path.isdir(incoming) else 0
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertLess(arrived, len(files), "killed after the retrieve ended")

        self.run_once()
        self.run_once()
        got = delivered(self.h, os.path.join(self.work, "keep"))
        self.assert_each_once(got, files)
        for rec, data in got:
            self.assertEqual(dataset_of(data), dataset_of(read(files[rec["attributes"]["sop_instance_uid"]])))


if __name__ == "__main__":
    unittest.main()
