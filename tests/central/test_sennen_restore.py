"""central/sennen-restore against batches the real daemon delivered from a synthetic hospital.

The drill: the hospital goes through three cycles (updates, cancels, a deleted content folder, a
patient who becomes eligible, a batch voided because its patient was added to the stop list late,
more updates); the batches are restored and the restored tree must equal the source tree's eligible
current files, file for file by hash, also as of the end of each earlier cycle. Then the receiver's
folder is damaged: a tampered batch is refused, a deleted one is a gap. DicomRestore: instances a
modality pushed come back as Part-10 files in the Study/Series/SOP layout (needs root, like
tests/integration/test_dicom.py: the DICOM peers run in a private network namespace)."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

SOURCE_DIR = os.environ.get("SENNEN_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402
import test_dicom  # noqa: E402  (a module, so that unittest does not collect its tests here)
import test_https  # noqa: E402
import test_mml  # noqa: E402
import test_s3  # noqa: E402

RESTORE = os.path.join(SOURCE_DIR, "central", "sennen-restore")
EDGECTL = os.environ.get("SENNEN_EDGECTL", os.path.join(harness.BINARY_DIR, "tools/edgectl/sennen-edgectl"))
ROOTS = {"emr": "ssmix2/std", "emr-ext": "ssmix2/ext"}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tree_hashes(root):
    """{relative path bytes: sha256} of every file below root."""
    out, rootb = {}, os.fsencode(root)
    for d, _dirs, files in os.walk(rootb):
        for name in files:
            p = os.path.join(d, name)
            out[os.path.relpath(p, rootb)] = sha256(p)
    return out


def eligible_current(h, leave_out=()):
    """{(source, relative path bytes): sha256} read from the hospital's tree on disk: every current
    file (and content-folder part) of an eligible patient, except the patients in leave_out."""
    exp = h.expected()
    out = {}
    for (source, _path), f in harness.expected_current(exp).items():
        if f["patient_id"] in leave_out:
            continue
        rel = harness.name_bytes(f, "path")
        full = os.path.join(os.fsencode(h.path(ROOTS[source])), rel)
        if "parts" in f:
            for part in f["parts"]:
                out[(source, rel + b"/" + part["name"].encode())] = sha256(os.path.join(full, part["name"].encode()))
        else:
            out[(source, rel)] = sha256(full)
    return out


def restored(out_dir):
    got = {}
    for source in ROOTS:
        if os.path.isdir(os.path.join(out_dir, source)):
            got.update({(source, rel): s for rel, s in tree_hashes(os.path.join(out_dir, source)).items()})
    return got


class RestoreDrill(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(harness.EDGED, os.X_OK):
            raise unittest.SkipTest(f"daemon not built at {harness.EDGED} (set SENNEN_BINARY_DIR)")
        h = cls.h = harness.Hospital(patients=12)
        cls.work = tempfile.mkdtemp(prefix="sennen-restore-")
        cls.want, cls.cut = [], []
        # Cycle 1: everything eligible goes out.
        cls.cycle(h.run_once(), 0)
        cls.snapshot()
        # Cycle 2: updates and cancels are sealed while the receiver cannot take them; then an
        # eligible patient with records in that batch is added to the stop list: the batch is voided
        # (its number never reaches the receiver) and the rest goes out in the next one.
        h.mutate(seed=2)
        h.set_config("path: export", "path: export-broken")
        with open(h.path("export-broken"), "w") as f:
            f.write("a file where a folder should be")
        cls.cycle(h.run_once(), 1)
        sent = {(r["source"], r["path"]) for r in harness.records_of(h.batches())}
        exp = h.expected()
        cls.victim = next(f["patient_id"] for f in exp["files"] if f["status"] == "current"
                          and (f["source"], f["path"]) not in sent
                          and exp["patients"][f["patient_id"]]["group"] == "eligible")
        with open(h.path("optout.csv"), "ab") as f:
            f.write(("\r\n" + cls.victim + "\r\n").encode("cp932"))
        h.set_config("path: export-broken", "path: export")
        cls.cycle(h.run_once(), 0)
        cls.snapshot()
        # Cycle 3: more updates and cancels.
        h.mutate(seed=3)
        cls.cycle(h.run_once(), 0)
        cls.snapshot()
        cls.site_dir = os.path.join(h.export, exp["site_id"])
        cls.key = ["--key", h.path("pki/central.key"), "--cert", h.path("pki/central.crt"), "--ca", h.path("pki/ca.crt")]

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def cycle(cls, result, want_rc):
        rc, log = result
        if rc != want_rc:
            raise AssertionError(f"sennen-edged --once exited {rc}, expected {want_rc}: {log[-3000:]}")
        time.sleep(1.1)  # batch times are whole seconds: keep each cycle's batches apart for --as-of

    @classmethod
    def snapshot(cls):
        cls.want.append(eligible_current(cls.h, leave_out={getattr(cls, "victim", None)}))
        cls.cut.append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        time.sleep(1.1)

    def restore(self, *args, batch_dir=None, out=None):
        out = out or tempfile.mkdtemp(dir=self.work)
        r = subprocess.run([RESTORE, *self.key, "--json", *args, batch_dir or self.site_dir, out],
                           capture_output=True, text=True, timeout=300)
        try:
            report = json.loads(r.stdout)
        except ValueError:
            self.fail(f"sennen-restore printed no JSON report (exit {r.returncode}): {r.stdout} {r.stderr}")
        return r.returncode, report, out, r.stderr

    def damaged_copy(self):
        copy = tempfile.mkdtemp(dir=self.work)
        shutil.copytree(self.site_dir, os.path.join(copy, "site"))
        cms = sorted(os.path.join(d, n) for d, _s, fs in os.walk(copy) for n in fs if n.endswith(".cms"))
        return os.path.join(copy, "site"), cms

    def test_a_restore_rebuilds_every_eligible_current_file_byte_exact(self):
        rc, report, out, err = self.restore()
        self.assertEqual((rc, report["gaps"], report["refused"]), (0, [], []), report)
        self.assertIn("sennen-restore: 1/", err)  # progress
        self.assertEqual(restored(out), self.want[-1])
        # The voided batch's number was announced by the next batch, so it is no gap.
        manifests = [b["manifest"] for b in self.h.batches()]
        voided = [s for m in manifests for s in m["voided_sequences"]]
        self.assertTrue(voided, "the drill should have voided a batch")
        self.assertFalse(set(voided) & {m["sequence"] for m in manifests})
        self.assertEqual(sorted({m["sequence"] for m in manifests} | set(voided)),
                         list(range(1, max(m["sequence"] for m in manifests) + 1)))

    def test_as_of_reproduces_each_earlier_cycle(self):
        for i in range(len(self.cut) - 1):
            with self.subTest(cycle=i + 1):
                rc, report, out, _ = self.restore("--as-of", self.cut[i])
                self.assertEqual((rc, report["gaps"]), (0, []), report)
                self.assertGreater(report["skipped_as_of"], 0)
                self.assertEqual(restored(out), self.want[i])

    def test_one_patient(self):
        exp = self.h.expected()
        patient = next(f["patient_id"] for f in harness.expected_current(exp).values() if f["patient_id"] != self.victim)
        rc, _report, out, _ = self.restore("--patient", patient.lstrip("0"))
        self.assertEqual(rc, 0)
        mine = eligible_current(self.h, leave_out={p for p in exp["patients"] if p != patient} | {self.victim})
        self.assertTrue(mine)
        self.assertEqual(restored(out), mine)

    def test_an_interrupted_restore_goes_on_where_it_stopped(self):
        out = tempfile.mkdtemp(dir=self.work)
        p = subprocess.Popen([RESTORE, *self.key, self.site_dir, out], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        first = p.stderr.readline()  # the first batch is applied
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stderr.close()
        self.assertIn("sennen-restore: 1/", first)
        rc, report, _, _ = self.restore(out=out)
        self.assertEqual(rc, 0, report)
        self.assertGreaterEqual(report["already_applied"], 1)
        self.assertEqual(report["applied"] + report["already_applied"], report["batches"])
        self.assertEqual(restored(out), self.want[-1])

    def test_verify_only_checks_everything_and_writes_nothing(self):
        out = tempfile.mkdtemp(dir=self.work)
        rc, report, _, _ = self.restore("--verify-only", out=out)
        self.assertEqual((rc, report["verified"], report["gaps"]), (0, report["batches"], []), report)
        self.assertEqual(os.listdir(out), [])

    def test_commit_markers_of_format_1_are_read_by_their_batch_id(self):
        # A /1 marker has no sequence: the number is the batch id's last field (docs/batch-format.md).
        site, cms = self.damaged_copy()
        for c in cms:
            with open(c[:-4] + ".json") as f:
                m = json.load(f)
            del m["sequence"]
            m["format"] = "sennen-edge-batch/1"
            with open(c[:-4] + ".json", "w") as f:
                json.dump(m, f)
        rc, report, out, _ = self.restore(batch_dir=site)
        self.assertEqual((rc, report["gaps"]), (0, []), report)
        self.assertEqual(restored(out), self.want[-1])

    def test_a_tampered_batch_is_refused(self):
        site, cms = self.damaged_copy()
        victim = cms[-1]
        with open(victim, "r+b") as f:
            f.seek(os.path.getsize(victim) // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0x01]))
        # Make the commit marker agree, so the refusal is the cryptography's, not the marker's.
        marker = victim[:-4] + ".json"
        with open(marker) as f:
            m = json.load(f)
        m["sha256"] = sha256(victim)
        with open(marker, "w") as f:
            json.dump(m, f)
        rc, report, out, _ = self.restore(batch_dir=site)
        self.assertEqual(rc, 1)
        self.assertEqual([r["batch_id"] for r in report["refused"]], [m["batch_id"]])
        self.assertRegex(report["refused"][0]["reason"], "decrypt|verif")
        self.assertEqual(report["stopped_at"], m["batch_id"])
        self.assertEqual(report["applied"], len(cms) - 1)  # only what came before it
        self.assertEqual(restored(out), self.want[-2])

    def test_a_deleted_batch_is_a_gap_and_is_not_restored_past(self):
        site, cms = self.damaged_copy()
        with open(cms[1][:-4] + ".json") as f:
            lost = json.load(f)
        os.remove(cms[1])  # the marker stays: what it held is reported
        rc, report, out, _ = self.restore(batch_dir=site)
        self.assertEqual(rc, 1)
        # The lost batch announced the voided one: that number cannot be told from a lost one now.
        manifest = next(b["manifest"] for b in self.h.batches() if b["manifest"]["batch_id"] == lost["batch_id"])
        self.assertTrue(manifest["voided_sequences"])
        gaps = sorted(manifest["voided_sequences"] + [lost["sequence"]])
        self.assertEqual([g["sequence"] for g in report["gaps"]], gaps)
        self.assertIn(lost["batch_id"], report["gaps"][-1]["message"])
        self.assertIn(f"{lost['record_count']} records", report["gaps"][-1]["message"])
        self.assertEqual((report["applied"], report["stopped_at"] is not None), (1, True))
        # Without its marker too; and --past-gaps restores the rest, still reporting the gap.
        os.remove(cms[1][:-4] + ".json")
        rc, report, _, _ = self.restore("--past-gaps", batch_dir=site)
        self.assertEqual(rc, 1)
        self.assertEqual([g["sequence"] for g in report["gaps"]], gaps)
        self.assertEqual(report["applied"], report["batches"])
        # A batch missing after the last one held is seen through the heartbeat.
        os.remove(cms[-1])
        os.remove(cms[-1][:-4] + ".json")
        rc, report, _, _ = self.restore("--verify-only", batch_dir=site)
        self.assertEqual(rc, 1)
        with open(os.path.join(site, "heartbeat.json")) as f:
            newest = int(json.load(f)["last_batch"]["batch_id"].rsplit("-", 1)[1])
        self.assertEqual(max(g["sequence"] for g in report["gaps"]), newest)

    def test_the_site_names_what_a_lost_batch_held(self):
        # The receiver lost a batch and its marker: the central side knows only its number; the
        # site's spool still knows what that number held, record by record.
        site, cms = self.damaged_copy()
        with open(cms[-1][:-4] + ".json") as f:
            lost = json.load(f)
        os.remove(cms[-1])
        os.remove(cms[-1][:-4] + ".json")
        rc, report, _, _ = self.restore("--verify-only", batch_dir=site)
        self.assertEqual(rc, 1)
        gap = next(g for g in report["gaps"] if g["sequence"] == lost["sequence"])
        self.assertIn(f"sennen-edgectl batch show --sequence {lost['sequence']}", gap["message"])
        r = subprocess.run([EDGECTL, "batch", "show", "--sequence", str(lost["sequence"]), "--json", "--config",
                            self.h.config], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = json.loads(r.stdout)
        self.assertEqual((shown["batch_id"], shown["state"], shown["records_known"]), (lost["batch_id"], "delivered", True))
        manifest = next(b["manifest"] for b in self.h.batches() if b["manifest"]["batch_id"] == lost["batch_id"])
        self.assertTrue(manifest["records"])
        self.assertEqual(sorted((x["source"], x["event"], harness.name_bytes(x, "path")) for x in shown["records"]),
                         sorted((x["source"], x["event"], harness.name_bytes(x, "path")) for x in manifest["records"]))
        self.assertEqual(len(shown["records"]), shown["record_count"])
        # A number the site never sealed is an error that says so.
        r = subprocess.run([EDGECTL, "batch", "show", "--sequence", "999999", "--config", self.h.config],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no batch with sequence 999999", r.stderr)


class DropFolderAndMmlRestore(unittest.TestCase):
    """The monthly drop folder (UKE claims and DPC files, each sent without its withheld patients'
    blocks or rows) and MML instances come back byte-exact as delivered; a stopped patient's MML
    instance does not."""

    def test_drop_folder_files_and_mml_instances_come_back_as_delivered(self):
        h = harness.Hospital(patients=8, seed=5, extra=("--dropbox",))
        self.addCleanup(h.cleanup)
        exp = h.expected()
        eligible = sorted(p for p, v in exp["patients"].items() if v["group"] == "eligible")
        stopped = sorted(p for p, v in exp["patients"].items() if v["group"] == "stopped")[0]
        h.set_config("optout:", "  - {name: mml, type: mml, root: mml, deletion_purpose: delete}\noptout:")
        mml = {}
        for n, pid in enumerate([*eligible[:2], stopped]):
            rel = f"{2025 + n}/note-{n}.xml"
            data = test_mml.instance(pid, f"uid-{n}").encode()
            os.makedirs(h.path("mml", os.path.dirname(rel)), exist_ok=True)
            with open(h.path("mml", rel), "wb") as f:
                f.write(data)
            os.utime(h.path("mml", rel), test_mml.PAST)
            mml[rel] = (pid, hashlib.sha256(data).hexdigest())
        for _ in range(3):  # the drop folder's files are taken once they stayed unchanged
            rc, log = h.run_once()
            self.assertEqual(rc, 0, log[-3000:])
        out = tempfile.mkdtemp(dir=h.dir)
        r = subprocess.run([RESTORE, "--key", h.path("pki/central.key"), "--cert", h.path("pki/central.crt"),
                            "--ca", h.path("pki/ca.crt"), h.export, out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sent = {n: e["sha256"] for n, e in exp["dropbox"].items() if e["outcome"] == "sent"}
        self.assertTrue(sent)
        got = {os.fsdecode(rel): sha for rel, sha in tree_hashes(os.path.join(out, "monthly")).items()}
        self.assertEqual(got, sent)  # as delivered: the withheld patients' claims and rows are not in them
        got = {os.fsdecode(rel): sha for rel, sha in tree_hashes(os.path.join(out, "mml")).items()}
        self.assertEqual(got, {rel: sha for rel, (pid, sha) in mml.items() if pid != stopped})
        self.assertEqual(restored(out), eligible_current(h))


class LostBatchResent(unittest.TestCase):
    """A batch the receiver lost is a gap; the site lists it and sends its records again from the
    export trees; the restore past the gap is then complete."""

    def test_a_lost_batch_is_resent_and_the_restore_is_complete_again(self):
        h = harness.Hospital(patients=10, seed=8)
        self.addCleanup(h.cleanup)
        for seed in (None, 2):
            if seed:
                h.mutate(seed=seed)
            rc, log = h.run_once()
            self.assertEqual(rc, 0, log[-3000:])
        site = os.path.join(h.export, h.expected()["site_id"])
        first = sorted(os.path.join(d, n) for d, _s, fs in os.walk(site) for n in fs if n.endswith("-00000001.cms"))
        self.assertEqual(len(first), 1)
        with open(first[0][:-4] + ".json") as f:
            lost = json.load(f)
        os.remove(first[0])  # the receiver lost batch 1 and its marker
        os.remove(first[0][:-4] + ".json")
        key = ["--key", h.path("pki/central.key"), "--cert", h.path("pki/central.crt"), "--ca", h.path("pki/ca.crt")]

        def restore():
            out = tempfile.mkdtemp(dir=h.dir)
            r = subprocess.run([RESTORE, *key, "--json", "--past-gaps", site, out], capture_output=True, text=True)
            return r.returncode, json.loads(r.stdout), restored(out)

        rc, report, got = restore()
        self.assertEqual((rc, [g["sequence"] for g in report["gaps"]]), (1, [1]))
        self.assertNotEqual(got, eligible_current(h))  # what batch 1 held is missing
        r = subprocess.run([EDGECTL, "resend", "--sequence", "1", "--json", "--config", h.config],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        resent = json.loads(r.stdout)
        self.assertGreater(resent["to_read_again"], 0)
        self.assertGreater(lost["withdrawal_count"], 0)
        self.assertEqual(resent["withdrawals"], lost["withdrawal_count"])  # a lost withdrawal goes out again
        rc, log = h.run_once()
        self.assertEqual(rc, 0, log[-3000:])
        rc, report, got = restore()
        self.assertEqual([g["sequence"] for g in report["gaps"]], [1])  # still missing there, and said so
        self.assertEqual(got, eligible_current(h))  # but nothing of it is lost any more
        newest = max(b["manifest"]["sequence"] for b in h.batches())
        self.assertEqual(len(next(b for b in h.batches() if b["manifest"]["sequence"] == newest)["manifest"]
                             ["withdrawals"]), lost["withdrawal_count"])
        r = subprocess.run([EDGECTL, "resend", "--sequence", "99", "--config", h.config], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no batch with sequence 99", r.stderr)


class ReceiverRestore(unittest.TestCase):
    """The batches the https receiver (nginx, mutual TLS, WebDAV PUT) and an S3 bucket (the SigV4-
    checking test server) hold, in their storage folders, restore like a local destination's: three
    cycles with updates, cancels and a late stop, then the restored tree equals the eligible current
    files. (Restored from the receivers' storage on disk; sennen-restore does not download.)"""

    def setUp(self):
        self.h = harness.Hospital(patients=12, seed=7)
        self.addCleanup(self.h.cleanup)
        self.pki = self.h.path("tls")
        subprocess.run(["bash", test_https.MAKE_TLS_PKI, self.pki], check=True, capture_output=True)

    def cycles_then_restore(self, receiver_dir):
        def cycle():
            rc, log = self.h.run_once()
            self.assertEqual(rc, 0, log[-3000:])
        cycle()
        self.h.mutate(seed=2)
        cycle()
        victim = next(f["patient_id"] for f in harness.expected_current(self.h.expected()).values())
        with open(self.h.path("optout.csv"), "ab") as f:
            f.write(("\r\n" + victim + "\r\n").encode("cp932"))
        self.h.mutate(seed=3)
        cycle()
        site = os.path.join(receiver_dir, self.h.expected()["site_id"])
        out = tempfile.mkdtemp(dir=self.h.dir)
        r = subprocess.run([RESTORE, "--json", "--key", self.h.path("pki/central.key"), "--cert",
                            self.h.path("pki/central.crt"), "--ca", self.h.path("pki/ca.crt"), site, out],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["gaps"], report["refused"]), ([], []))
        self.assertGreaterEqual(report["batches"], 3)
        self.assertGreaterEqual(report["withdrawn"], 1)
        self.assertEqual(restored(out), eligible_current(self.h, leave_out={victim}))

    @unittest.skipUnless(os.path.exists(test_https.NGINX), "nginx is missing: apt-get install nginx-light")
    def test_the_https_receivers_batches(self):
        rx = test_https.Receiver(self.pki)
        self.addCleanup(rx.cleanup)
        rx.start()
        test_https.HttpsReceiverTest.use_url(self, rx.url())
        self.cycles_then_restore(rx.data)

    @unittest.skipUnless(test_s3.have_botocore(), "python3-botocore is missing: tools/install-build-deps")
    def test_the_s3_buckets_batches(self):
        bucket = test_s3.Bucket(self.h.path("bucket"), self.pki)
        self.addCleanup(bucket.stop)
        test_s3.S3DeliveryTest.write_key(self, test_s3.KEY_ID, test_s3.SECRET)
        test_s3.S3DeliveryTest.use_s3(self, bucket.endpoint)
        self.cycles_then_restore(bucket.data)


class DicomCase(unittest.TestCase):
    """A synthetic hospital of `seed` with a folder for DICOM files; the DICOM peers run in a private
    network namespace (root, like tests/integration/test_dicom.py), else the test is skipped."""
    seed = 4

    def setUp(self):
        try:
            test_dicom.setUpModule()
        except AssertionError as e:
            self.skipTest(str(e))
        self.h = harness.Hospital(patients=8, seed=self.seed)
        self.addCleanup(self.h.cleanup)
        self.dcm = self.h.path("dcm")
        os.makedirs(self.dcm)

    def instances(self):
        """({SOP UID: instance} of two eligible patients (two series, an MR), {...} of a stopped one)."""
        patients = self.h.expected()["patients"]
        eligible = sorted(p for p, v in patients.items() if v["group"] == "eligible")
        stopped = sorted(p for p, v in patients.items() if v["group"] == "stopped")[0]
        instance = test_dicom.DicomTest.instance
        want = dict([instance(self, eligible[0], 1, 1, 1, "20240301"), instance(self, eligible[0], 1, 2, 1, "20240301"),
                     instance(self, eligible[1], 2, 1, 1, "20240302", modality="MR")])
        held = dict([instance(self, stopped, 3, 1, 1, "20240303")])
        return want, held


class DicomRestore(DicomCase):
    """A modality pushes to a dicom-scp source; the restore gives back each eligible instance."""

    def test_pushed_instances_come_back_as_part10_files_in_study_series_sop_layout(self):
        want, held = self.instances()
        self.h.set_config("optout:\n", test_dicom.SCP_SOURCE + "optout:\n")
        test_dicom.DicomTest.push(self, [v["path"] for v in [*want.values(), *held.values()]])
        rc, log = self.h.run_once()
        self.assertEqual(rc, 0, log[-3000:])
        out = tempfile.mkdtemp(dir=self.h.dir)
        r = subprocess.run([RESTORE, "--key", self.h.path("pki/central.key"), "--cert", self.h.path("pki/central.crt"),
                            "--ca", self.h.path("pki/ca.crt"), self.h.export, out], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        got = {rel: os.path.join(out, "modality", os.fsdecode(rel)) for rel in tree_hashes(os.path.join(out, "modality"))}
        self.assertEqual(set(got), {f"{v['study']}/{v['series']}/{sop}.dcm".encode() for sop, v in want.items()})
        for sop, v in want.items():
            restored_file = got[f"{v['study']}/{v['series']}/{sop}.dcm".encode()]
            data = test_dicom.read(restored_file)
            self.assertEqual(test_dicom.dataset_of(data), test_dicom.dataset_of(test_dicom.read(v["path"])), sop)
        self.assertEqual(restored(out), eligible_current(self.h))  # and the SS-MIX2 trees as well



class DicomQrRestore(DicomCase):
    """A dicom-qr source pulls from a PACS (Orthanc); the restore gives back each eligible instance as
    a Part-10 file and, with --store-to, sends them to a PACS by C-STORE: after the PACS lost them,
    the instances it holds again carry the data sets it had."""
    seed = 6

    def setUp(self):
        super().setUp()
        self.pacs = test_dicom.Orthanc(self.h.path("pacs"))
        self.addCleanup(self.pacs.stop)

    def pacs_instances(self):
        return json.loads(self.pacs.http("/instances"))

    def test_pulled_instances_are_restored_and_stored_back_to_a_pacs(self):
        want, held = self.instances()
        self.pacs.store(v["path"] for v in [*want.values(), *held.values()])
        originals = {sop: test_dicom.dataset_of(self.pacs.file_of(sop)) for sop in want}
        self.h.set_config("optout:\n", test_dicom.QR_SOURCE + "optout:\n")
        rc, log = self.h.run_once(timeout=240)
        self.assertEqual(rc, 0, log[-3000:])
        # The PACS loses everything; the restore gives it back.
        for i in self.pacs_instances():
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{test_dicom.ORTHANC_HTTP}/instances/{i}",
                                                          method="DELETE"), timeout=30).close()
        self.assertEqual(self.pacs_instances(), [])
        out = tempfile.mkdtemp(dir=self.h.dir)
        r = subprocess.run([RESTORE, "--key", self.h.path("pki/central.key"), "--cert", self.h.path("pki/central.crt"),
                            "--ca", self.h.path("pki/ca.crt"), "--json", "--store-to",
                            f"ORTHANC@127.0.0.1:{test_dicom.ORTHANC_DICOM}", self.h.export, out],
                           capture_output=True, text=True, env=test_dicom.NODELAY, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual((report["stored"], report["store_failed"]), (len(want), []), report)
        got = {rel: os.path.join(out, "pacs", os.fsdecode(rel)) for rel in tree_hashes(os.path.join(out, "pacs"))}
        self.assertEqual(set(got), {f"{v['study']}/{v['series']}/{sop}.dcm".encode() for sop, v in want.items()})
        self.assertEqual(len(self.pacs_instances()), len(want))  # the stopped patient's instance stays away
        for sop, v in want.items():
            restored_file = got[f"{v['study']}/{v['series']}/{sop}.dcm".encode()]
            self.assertEqual(test_dicom.dataset_of(test_dicom.read(restored_file)), originals[sop], sop)
            self.assertEqual(test_dicom.dataset_of(self.pacs.file_of(sop)), originals[sop], sop)
        self.assertEqual(restored(out), eligible_current(self.h))

    def test_an_unreachable_pacs_is_reported_instance_by_instance(self):
        want, _held = self.instances()
        sop, v = next(iter(want.items()))
        self.pacs.store([v["path"]])
        self.h.set_config("optout:\n", test_dicom.QR_SOURCE + "optout:\n")
        rc, log = self.h.run_once(timeout=240)
        self.assertEqual(rc, 0, log[-3000:])
        out = tempfile.mkdtemp(dir=self.h.dir)
        r = subprocess.run([RESTORE, "--key", self.h.path("pki/central.key"), "--cert", self.h.path("pki/central.crt"),
                            "--ca", self.h.path("pki/ca.crt"), "--store-to", "NOBODY@127.0.0.1:1", self.h.export, out],
                           capture_output=True, text=True, env=test_dicom.NODELAY, timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("0 DICOM instance(s) stored to NOBODY@127.0.0.1:1", r.stdout)
        self.assertIn(f"NOT STORED {out}/pacs/{v['study']}/{v['series']}/{sop}.dcm", r.stdout)


if __name__ == "__main__":
    unittest.main()
