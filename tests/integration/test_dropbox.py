"""The monthly drop folder (type: dropbox, issue 14) with the real daemon: UKE claim, DPC and
health-checkup files staff drop are validated; another facility's file, a GO count that does not
match, a half-copied file and a file saved as UTF-8 with LF are moved to rejected/ with a reason
staff can act on; valid files leave without the parts of patients who may not (record-level
opt-out), DPC files only with a dpc_id_map, checkup documents only with checkup_patient_id_root;
the care-month calendar; a read-only drop folder with receipts; zip limits."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import unittest
import zipfile

from harness import BINARY_DIR, EDGED, SAMPLES, SOURCE_DIR, Hospital, HospitalTest, records_of

EDGECTL = os.path.join(BINARY_DIR, "tools/edgectl/sennen-edgectl")
FLEET = os.path.join(SOURCE_DIR, "central/sennen-fleet")

KANA = "テスト".encode("cp932")


def uke(facility, go=b"GO,3,1500,99"):
    f = b"IR,1," + facility[:2] + b"," + facility[2:3] + b"," + facility[3:] + b"," + KANA + b",,202501,00,0312345678\r\n"
    f += b"RE,1,1122,202412," + KANA + b",1,19700101,,,,,,,00123,\r\n"
    f += b"HO,01010016,1,1,1,1000,,\r\nKO,83136019,1111111,,1,200,\r\nSI,11,2,111000110,,288,1,\r\n"
    f += b"RE,2,1112,202412," + KANA + b",2,19800202,,,,,,,00456,\r\n"
    f += b"HO,01010016,1,2,1,500,,\r\nIY,21,1,620000001,1,10,1,\r\n"
    return f + go + b"\r\n"


def ef(facility9, rows=3):
    return b"".join(facility9 + b"\t%010d\t20250110\t20250105\t60\t0001\t%03d\t620600\r\n" % (4, i)
                    for i in range(rows))


class DropFolder(HospitalTest):
    """A hospital with a drop folder source `monthly` (root drop/, expect: [uke-medical])."""

    def setUp(self):
        super().setUp()
        self.site = self.h.expected()["site_id"].encode()
        self.drop = self.h.path("drop")
        os.makedirs(self.drop)
        self.h.set_config("sources:\n", "sources:\n  - name: monthly\n    type: dropbox\n    root: drop\n"
                          "    stable_after: 0s\n    expect: [uke-medical]\n")

    def put(self, name, content):
        path = os.path.join(self.drop, name)
        with open(path, "wb") as f:
            f.write(content)
        os.utime(path, (1700000000, 1700000000))

    def reason(self, name):
        with open(os.path.join(self.drop, "rejected", name + ".reason.txt"), encoding="utf-8-sig") as f:
            return f.read()


class DropboxTest(DropFolder):

    def test_rejected_with_reasons_valid_uke_sent_dpc_kept(self):
        self.put("RECEIPTC.UKE", uke(self.site))
        self.put("OTHER.UKE", uke(b"1319999999"))
        self.put("COUNT.UKE", uke(self.site, b"GO,2,1500,99"))
        self.put("HALF.UKE", uke(self.site)[:200])
        self.put("EDITED.UKE", uke(self.site).decode("cp932").replace("\r\n", "\n").encode("utf-8"))
        self.site9 = self.site[:2] + self.site[3:]
        self.put("EFn_%s_2501.txt" % self.site9.decode(), ef(self.site9))
        self.put("EFn_130999999_2501.txt", ef(b"130999999"))
        self.put("minutes.docx", b"PK\x03\x04")
        for _ in range(2):  # the first poll sees the files, the second finds them unchanged: stable
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertEqual(sorted(n for n in os.listdir(os.path.join(self.drop, "rejected")) if n.endswith(".UKE")),
                         ["COUNT.UKE", "EDITED.UKE", "HALF.UKE", "OTHER.UKE"])
        self.assertTrue(os.path.exists(os.path.join(self.drop, "EFn_%s_2501.txt" % self.site9.decode())))
        self.assertIn("another facility's file (its 施設コード is 130999999", self.reason("EFn_130999999_2501.txt"))
        self.assertIn("not recognised", self.reason("minutes.docx"))
        self.assertIn("another facility's file", self.reason("OTHER.UKE"))
        self.assertIn("他の医療機関", self.reason("OTHER.UKE"))
        self.assertIn("line 9, GO 総件数", self.reason("COUNT.UKE"))
        self.assertIn("GO trailer record is missing", self.reason("HALF.UKE"))
        self.assertIn("UTF-8 with LF-only line ends", self.reason("EDITED.UKE"))
        for name in ("OTHER.UKE", "COUNT.UKE", "HALF.UKE", "EDITED.UKE"):
            self.assertIn("What to do:", self.reason(name))
            self.assertIn("対処:", self.reason(name))
        self.assertIn("is a valid DPC EFn file", out)
        self.assertIn("it is not sent: without dpc_id_map its rows cannot be attributed", out)
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual([r["path"] for r in sent], ["RECEIPTC.UKE"])

    def test_a_patient_stopped_after_sealing_is_cut_out_before_the_file_leaves(self):
        eligible = [p for p, v in sorted(self.h.expected()["patients"].items()) if v["group"] == "eligible"][:2]
        ir = b"IR,1," + self.site[:2] + b"," + self.site[2:3] + b"," + self.site[3:] + b",,,202501,00,03\r\n"
        blocks = [b"RE,%d,1112,202412,,1,19700101,,,,,,,%s,\r\nHO,01010016,1,1,1,%d,,\r\nSI,11,2,111000110,,288,1,\r\n"
                  % (i + 1, pid.encode(), 100 * (i + 1)) for i, pid in enumerate(eligible)]
        self.put("RECEIPTC.UKE", ir + b"".join(blocks) + b"GO,2,300,99\r\n")
        rc, out = self.h.run_once()  # the file is seen; the EMR's records go out
        self.assertEqual(rc, 0, out)
        # The destination is unusable: the claim file is sealed with both claims, and stays.
        self.h.break_destination()
        rc, out = self.h.run_once()
        self.assertEqual(rc, 1, out)
        self.assertIn("is in the spool", out)
        sealed = [n[:-4] for n in self.h.outbox()]
        self.assertEqual(len(sealed), 1)
        # The second patient opts out before it leaves.
        with open(self.h.path("optout.csv"), "ab") as f:
            f.write(("\r\n" + eligible[1] + "\r\n").encode("cp932"))
        self.h.fix_destination()
        rc, out = self.h.run_once()
        self.assertEqual(rc, 0, out)
        batches = self.h.batches()
        self.assertNotIn(sealed[0], {b["manifest"]["batch_id"] for b in batches})
        sent = [r for r in records_of(batches) if r.get("source") == "monthly"]
        self.assertEqual(len(sent), 1)
        want = ir + blocks[0] + b"GO,1,100,99\r\n"
        self.assertEqual(sent[0]["sha256"], hashlib.sha256(want).hexdigest())
        self.assertEqual(sent[0]["attributes"]["removed"]["stopped"], 1)

    def test_zip_unpacked_safely_and_a_half_copied_zip_rejected(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("../../outside/RECEIPTC.UKE", uke(self.site))
        whole = buf.getvalue()
        self.put("claims.zip", whole)
        self.put("half.zip", whole[:len(whole) // 2])
        for _ in range(5):  # seen, unpacked; its file seen, taken in; moved to processed/
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertIn("damaged or was copied only in part", self.reason("half.zip"))
        self.assertEqual(sorted(os.listdir(os.path.join(self.drop, "processed"))),
                         ["claims.zip", "claims_RECEIPTC.UKE"])
        self.assertFalse(os.path.exists(self.h.path("outside")))
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual([r["path"] for r in sent], ["claims_RECEIPTC.UKE"])

    def test_zip_limits_are_configuration_checked_by_check(self):
        def check(keys):
            self.h.set_config("    stable_after: 0s\n", "    stable_after: 0s\n" + keys)
            r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True,
                               timeout=60)
            self.h.set_config("    stable_after: 0s\n" + keys, "    stable_after: 0s\n")
            return r.returncode, r.stdout + r.stderr
        rc, out = check("    zip_max_files: 0\n    zip_max_bytes: 0\n    zip_max_ratio: -1\n")
        self.assertNotEqual(rc, 0, out)
        for key in ("zip_max_files", "zip_max_bytes", "zip_max_ratio"):
            self.assertIn("sources[0]." + key, out)
        rc, out = check("    zip_max_files: 10\n    zip_max_bytes: 1GiB\n    zip_max_ratio: 50\n")
        self.assertEqual(rc, 0, out)
        # A zip that unpacks to more than 50 times its size is rejected; the same file within the
        # default limits (no ratio limit) is unpacked.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("RECEIPTC.UKE", uke(self.site) + b"\r\n" * 100000)
        self.put("packed.zip", buf.getvalue())
        self.h.set_config("    stable_after: 0s\n", "    stable_after: 0s\n    zip_max_ratio: 50\n")
        for _ in range(2):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertIn("more than 50 times its own size (zip_max_ratio)", self.reason("packed.zip"))
        self.assertFalse(os.path.exists(os.path.join(self.drop, "packed_RECEIPTC.UKE")))

    def test_dpc_rows_attributed_through_the_id_map_and_withheld(self):
        exp = self.h.expected()
        eligible = next(p for p, v in sorted(exp["patients"].items()) if v["group"] == "eligible")
        stopped = next(p for p, v in sorted(exp["patients"].items()) if v["group"] == "stopped")
        with open(self.h.path("dpc-ids.csv"), "wb") as f:  # as a hospital's spreadsheet writes it
            f.write(("データ識別番号,患者ID\r\n0000000001,%s\r\n0000000002,%s\r\n" % (eligible, stopped)).encode("cp932"))
        self.h.set_config("    expect: [uke-medical]\n", "    expect: [uke-medical]\n    dpc_id_map: dpc-ids.csv\n")
        site9 = self.site[:2] + self.site[3:]
        row = lambda data_id, n: site9 + b"\t%010d\t20250110\t20250105\t60\t0001\t%03d\t620600\r\n" % (data_id, n)
        title = "施設コード\tデータ識別番号\t退院年月日\t入院年月日\tデータ区分\t順序番号\t行為明細番号\t病院点数マスタコード\r\n".encode("cp932")
        original = title + row(1, 0) + row(2, 0) + row(1, 1) + row(3, 0) + row(2, 1)
        self.put("EFn_%s_2501.txt" % site9.decode(), original)
        for _ in range(3):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual(len(sent), 1, out)
        want = title + row(1, 0) + row(1, 1)
        self.assertEqual(sent[0]["sha256"], hashlib.sha256(want).hexdigest())
        self.assertEqual(sent[0]["attributes"]["removed"], {"stopped": 2, "not_notified": 0, "unattributed": 1})
        self.assertEqual(sent[0]["kind"], "DPC-EFn")

    @unittest.skipUnless(os.path.isdir(os.path.join(SAMPLES, "yokenzan_receiptisan")), "shared/samples not present")
    def test_public_sample_is_valid_for_its_facility(self):
        self.h.set_config('id: "%s"' % self.site.decode(), 'id: "1210000000"')
        shutil.copy(os.path.join(SAMPLES, "yokenzan_receiptisan/RECEIPTC_GAIRAI_SAMPLE.UKE"),
                    os.path.join(self.drop, "RECEIPTC.UKE"))
        os.utime(os.path.join(self.drop, "RECEIPTC.UKE"), (1700000000, 1700000000))
        for _ in range(2):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertIn("(UKE of facility 1210000000, billing month 202111, 75 claims) is in the spool", out)
        self.assertFalse(os.path.exists(os.path.join(self.drop, "rejected")))
        # None of its patients (chart numbers 00697, ...) is a notified patient of this hospital:
        # every claim is cut out, and what is left is IR and a GO of nothing.
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual(len(sent), 1)
        with open(os.path.join(self.drop, "processed", "RECEIPTC.UKE") if os.path.exists(
                os.path.join(self.drop, "processed", "RECEIPTC.UKE")) else os.path.join(self.drop, "RECEIPTC.UKE"),
                  "rb") as f:
            original = f.read()
        want = original[:original.index(b"\r\n") + 2] + b"GO,0,0,99\r\n"
        self.assertEqual(sent[0]["sha256"], hashlib.sha256(want).hexdigest())
        self.assertEqual(sent[0]["attributes"]["kept"], 0)
        self.assertEqual(sum(sent[0]["attributes"]["removed"].values()), 75)

    def test_stopped_and_unnotified_patients_claims_are_cut_out_when_sealed(self):
        exp = self.h.expected()
        by_group = {}
        for pid, p in sorted(exp["patients"].items()):
            by_group.setdefault(p["group"], []).append(pid)
        # One claim per patient, written here; the expectation is built from the same blocks,
        # without reading anything the daemon wrote or parsing with its code.
        claims = []  # (chart bytes, payer records, main points, kept?)
        for group, keep in (("eligible", True), ("stopped", False), ("never_notified", False), ("waiting", False)):
            for pid in by_group[group][:2]:
                claims.append((pid.encode(), keep))
        claims.insert(3, (b"", False))  # no chart number: cannot be attributed, withheld
        # Full-width digits and no leading zeros: the gate's canonical form finds the same patient.
        stopped = by_group["stopped"][0]
        claims.append((str(int(stopped)).translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}).encode("cp932"),
                       False))
        ir = b"IR,1," + self.site[:2] + b"," + self.site[2:3] + b"," + self.site[3:] + b"," + KANA + b",,202501,00,03\r\n"
        blocks = []
        for i, (chart, keep) in enumerate(claims):
            two_payers = i % 2 == 0
            block = b"RE,%d,%s,202412," % (i + 1, b"1122" if two_payers else b"1112") + KANA + \
                b",1,19700101,,,,,,," + chart + b",\r\n"
            block += b"HO,01010016,1,%d,1,%d,,\r\n" % (i, 100 + i)
            if two_payers:
                block += b"KO,83136019,1111111,,1,%d,\r\n" % (7 + i)
            block += b"SI,11,2,111000110,,288,1,\r\nCO,11,1,820100001,\r\n"
            blocks.append((block, keep, 2 if two_payers else 1, 100 + i))
        original = ir + b"".join(b for b, *_ in blocks) + b"GO,%d,%d,99\r\n" % (
            sum(n for _b, _k, n, _p in blocks), sum(p for _b, _k, _n, p in blocks))
        kept = [x for x in blocks if x[1]]
        want = ir + b"".join(b for b, *_ in kept) + b"GO,%d,%d,99\r\n" % (
            sum(n for _b, _k, n, _p in kept), sum(p for _b, _k, _n, p in kept))
        self.put("RECEIPTC.UKE", original)
        for _ in range(3):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertTrue(os.path.exists(os.path.join(self.drop, "processed", "RECEIPTC.UKE")))
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual(len(sent), 1, sent)
        r = sent[0]
        # The batch verified (every member's bytes against the manifest): what left is `want`.
        self.assertEqual(r["size"], len(want))
        self.assertEqual(r["sha256"], hashlib.sha256(want).hexdigest())
        a = r["attributes"]
        self.assertEqual(a["original_sha256"], hashlib.sha256(original).hexdigest())
        self.assertEqual(int(a["original_size"]), len(original))
        self.assertEqual(int(a["kept"]), 2)
        self.assertEqual(a["removed"], {"stopped": 3, "not_notified": 4, "unattributed": 1})
        # Dropped again, the same content is not sent again.
        self.put("RECEIPTC.UKE", original)
        for _ in range(3):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertEqual(len([r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]), 1)


class ReadOnlyFolderTest(DropFolder):
    """read_only: the drop folder mounted read-only for the daemon (a bind mount in a mount namespace
    of its own, as a share the service may only read): files stay, receipts go to their folder."""

    def run_read_only(self):
        drop = self.drop
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"', "sh",
                            drop, EDGED, "--config", self.h.config, "--once"], capture_output=True, text=True,
                           timeout=300)
        return r.returncode, r.stdout + r.stderr

    def receipt(self, name):
        with open(os.path.join(self.h.path("receipts"), name + ".receipt.txt"), encoding="utf-8-sig") as f:
            return f.read()

    @unittest.skipUnless(shutil.which("unshare"), "unshare is missing")
    def test_files_stay_and_receipts_say_what_became_of_them(self):
        probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("no mount namespace here (needs root or user namespaces)")
        os.makedirs(self.h.path("receipts"))
        self.h.set_config("    stable_after: 0s\n", "    stable_after: 0s\n    read_only: true\n    receipts: receipts\n")
        self.put("RECEIPTC.UKE", uke(self.site))
        self.put("OTHER.UKE", uke(b"1319999999"))
        self.put("claims.zip", b"PK\x03\x04" + b"\0" * 100)
        before = sorted(os.listdir(self.drop))
        for _ in range(3):  # seen; stable: taken in or rejected; receipt of what was taken in
            rc, out = self.run_read_only()
            self.assertEqual(rc, 0, out)
        self.assertIn("Read-only file system", subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && touch "$1/x"', "sh", self.drop],
            capture_output=True, text=True).stderr)  # the daemon really could not write there
        self.assertEqual(sorted(os.listdir(self.drop)), before)
        self.assertIn("[TAKEN IN] RECEIPTC.UKE", self.receipt("RECEIPTC.UKE"))
        self.assertIn("another facility's file", self.receipt("OTHER.UKE"))
        self.assertIn("What to do:", self.receipt("OTHER.UKE"))
        self.assertIn("configured read-only (read_only), so a zip file cannot be unpacked", self.receipt("claims.zip"))
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual([r["path"] for r in sent], ["RECEIPTC.UKE"])
        # Polled again, nothing is sent again and no receipt is rewritten.
        stamps = {n: os.stat(os.path.join(self.h.path("receipts"), n)).st_mtime_ns
                  for n in os.listdir(self.h.path("receipts"))}
        rc, out = self.run_read_only()
        self.assertEqual(rc, 0, out)
        self.assertEqual(len([r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]), 1)
        self.assertEqual(stamps, {n: os.stat(os.path.join(self.h.path("receipts"), n)).st_mtime_ns
                                  for n in os.listdir(self.h.path("receipts"))})

    def test_receipts_required_with_read_only_and_only_then(self):
        for keys, want in (("    read_only: true\n", "receipts"), ("    receipts: receipts\n", "read_only: true")):
            self.h.set_config("    stable_after: 0s\n", "    stable_after: 0s\n" + keys)
            r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True,
                               timeout=60)
            self.h.set_config("    stable_after: 0s\n" + keys, "    stable_after: 0s\n")
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(want, r.stdout + r.stderr)


def cda(ids):
    """A minimal CDA R2 document naming its patient by (root, extension) pairs."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">\n'
            '<recordTarget><patientRole>%s</patientRole></recordTarget>\n'
            '<component><structuredBody/></component></ClinicalDocument>\n'
            % "".join('<id root="%s" extension="%s"/>' % i for i in ids)).encode()


class CheckupTest(DropFolder):
    """Health-checkup documents go out only under the patient ID root the site names, through the
    gate like any single-patient record."""
    ROOT = "1.2.392.999.1"  # this test's stand-in for the hospital's patient ID root

    def test_sent_only_when_the_site_names_the_patient_id_root(self):
        exp = self.h.expected()
        eligible = next(p for p, v in sorted(exp["patients"].items()) if v["group"] == "eligible")
        stopped = next(p for p, v in sorted(exp["patients"].items()) if v["group"] == "stopped")
        self.put("kenshin_eligible.xml", cda([("1.2.392.200119.6.204", "99"), (self.ROOT, eligible)]))
        self.put("kenshin_stopped.xml", cda([(self.ROOT, stopped)]))
        self.put("kenshin_insurance_only.xml", cda([("1.2.392.200119.6.204", "99")]))
        self.put("kenshin_cut.xml", cda([(self.ROOT, eligible)])[:120])
        for _ in range(2):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertEqual([r for r in records_of(self.h.batches()) if r.get("source") == "monthly"], [])
        self.assertIn("is not configured (checkup_patient_id_root)", out)
        self.h.set_config("    stable_after: 0s\n",
                          '    stable_after: 0s\n    checkup_patient_id_root: "%s"\n' % self.ROOT)
        for name in os.listdir(self.drop):  # looked at again: touched
            if name.endswith(".xml"):
                os.utime(os.path.join(self.drop, name), (1700000100, 1700000100))
        logs = ""
        for _ in range(3):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
            logs += out
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual([r["path"] for r in sent], ["kenshin_eligible.xml"])
        self.assertEqual(sent[0]["kind"], "CDA-checkup")
        self.assertIn("not well-formed XML", self.reason("kenshin_cut.xml"))
        self.assertIn("it has no patient ID under root " + self.ROOT, logs)
        self.assertTrue(os.path.exists(os.path.join(self.drop, "kenshin_insurance_only.xml")))


class UnattributedTest(DropFolder):
    """A claim without a chart number and a DPC row without a mapping name no patient the gate can
    check: withheld and counted, unless the site sets optout.send_unattributed."""

    def drop_both(self):
        exp = self.h.expected()
        eligible = next(p for p, v in sorted(exp["patients"].items()) if v["group"] == "eligible")
        with open(self.h.path("dpc-ids.csv"), "w") as f:
            f.write("0000000001,%s\n" % eligible)
        self.h.set_config("    expect: [uke-medical]\n", "    expect: [uke-medical]\n    dpc_id_map: dpc-ids.csv\n")
        ir = b"IR,1," + self.site[:2] + b"," + self.site[2:3] + b"," + self.site[3:] + b",,,202501,00,03\r\n"
        named = b"RE,1,1112,202412,,1,19700101,,,,,,,%s,\r\nHO,01010016,1,1,1,100,,\r\n" % eligible.encode()
        nameless = b"RE,2,1112,202412,,1,19700101,,,,,,,,\r\nHO,01010016,1,1,1,200,,\r\n"
        self.put("RECEIPTC.UKE", ir + named + nameless + b"GO,2,300,99\r\n")
        site9 = self.site[:2] + self.site[3:]
        row = lambda data_id: site9 + b"\t%010d\t20250110\t20250105\t60\t0001\t000\t620600\r\n" % data_id
        self.put("EFn_%s_2501.txt" % site9.decode(), row(1) + row(7))
        for _ in range(3):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        sent = {r["kind"]: r for r in records_of(self.h.batches()) if r.get("source") == "monthly"}
        self.assertEqual(sorted(sent), ["DPC-EFn", "UKE"], out)
        return sent, ir + named, row(1), nameless, row(7)

    def test_withheld_and_counted_by_default(self):
        sent, uke_kept, dpc_kept, _, _ = self.drop_both()
        self.assertEqual(sent["UKE"]["sha256"], hashlib.sha256(uke_kept + b"GO,1,100,99\r\n").hexdigest())
        self.assertEqual(sent["UKE"]["attributes"]["removed"]["unattributed"], 1)
        self.assertEqual(sent["DPC-EFn"]["sha256"], hashlib.sha256(dpc_kept).hexdigest())
        self.assertEqual(sent["DPC-EFn"]["attributes"]["removed"]["unattributed"], 1)

    def test_sent_when_the_site_says_so(self):
        self.h.set_config("  stop_list: optout.csv\n", "  stop_list: optout.csv\n  send_unattributed: true\n")
        sent, uke_kept, dpc_kept, nameless, unmapped = self.drop_both()
        self.assertEqual(sent["UKE"]["sha256"], hashlib.sha256(uke_kept + nameless + b"GO,2,300,99\r\n").hexdigest())
        self.assertEqual(sent["UKE"]["attributes"]["removed"]["unattributed"], 0)
        self.assertEqual(sent["UKE"]["attributes"]["kept"], 2)
        self.assertEqual(sent["DPC-EFn"]["sha256"], hashlib.sha256(dpc_kept + unmapped).hexdigest())
        self.assertEqual(sent["DPC-EFn"]["attributes"]["removed"]["unattributed"], 0)


class MissingMonthsTest(DropFolder):
    """The care-month calendar end to end, the daemon's clock set by faketime (LD_PRELOAD): the
    months logic asks the injected Clock, which in the daemon is the system clock."""

    def at(self, when, *cmd):
        r = subprocess.run(["faketime", when, *cmd], capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, TZ="UTC"))
        return r.returncode, r.stdout + r.stderr

    def months(self):
        return next(s for s in self.h.heartbeat()["sources"] if s["name"] == "monthly")["months"]

    @unittest.skipUnless(shutil.which("faketime"), "faketime is missing: tools/install-build-deps")
    def test_a_month_past_its_deadline_is_missing_in_heartbeat_status_and_fleet(self):
        self.h.set_config("    expect: [uke-medical]\n", "    expect: [uke-medical, dpc]\n")
        # The box starts on 10 January 2027 (12:00 JST): December's files are due by 25 January.
        rc, out = self.at("2027-01-10 03:00:00", EDGED, "--config", self.h.config, "--once")
        self.assertEqual(rc, 0, out)
        m = self.months()
        self.assertEqual(sorted(m), ["dpc", "uke-medical"])
        self.assertEqual(len(m["dpc"]), 12)
        self.assertEqual(m["uke-medical"]["2026-12"], "not due")
        self.assertEqual(m["uke-medical"]["2026-11"], "before start")  # never asked for
        self.assertNotIn("missing_month", [p["code"] for p in self.h.heartbeat()["problems"]])
        # The 25th is the last day; on the 26th (JST) December is missing for both kinds.
        rc, out = self.at("2027-01-25 14:00:00", EDGED, "--config", self.h.config, "--once")
        self.assertEqual(self.months()["dpc"]["2026-12"], "not due", out)
        rc, out = self.at("2027-01-25 15:30:00", EDGED, "--config", self.h.config, "--once")
        hb = self.h.heartbeat()
        self.assertEqual(self.months()["dpc"]["2026-12"], "missing", out)
        self.assertEqual(self.months()["uke-medical"]["2026-12"], "missing")
        self.assertEqual(hb["status"], "failing")
        problem = next(p for p in hb["problems"] if p["code"] == "missing_month")
        self.assertIn("dpc 2026-12, uke-medical 2026-12", problem["message"])
        # December's claims (billed in January) arrive late: only DPC stays missing.
        claims = uke(self.site).replace(b",202501,", b",202701,").replace(b",202412,", b",202612,")
        self.put("RECEIPTC.UKE", claims)
        for _ in range(2):  # seen, then stable
            rc, out = self.at("2027-01-27 03:00:00", EDGED, "--config", self.h.config, "--once")
            self.assertEqual(rc, 0, out)
        self.assertIn("billing month 202701", out)
        self.assertEqual(self.months()["uke-medical"]["2026-12"], "arrived")
        self.assertEqual(self.months()["dpc"]["2026-12"], "missing")
        rc, out = self.at("2027-01-27 03:00:00", EDGECTL, "status", "--config", self.h.config)
        self.assertEqual(rc, 0, out)
        header = next(l for l in out.splitlines() if "2026-01" in l)
        self.assertEqual(header.split(), ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06",
                                          "2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"])
        rows = {l.split()[0]: l.split()[1:] for l in out.splitlines() if l.strip().startswith(("dpc ", "uke-"))}
        self.assertEqual(rows["dpc"], ["-"] * 11 + ["MISSING"])
        self.assertEqual(rows["uke-medical"], ["-"] * 11 + ["arrived"])
        # The central side: the export folder is laid out as the receiver's.
        r = subprocess.run([sys.executable, FLEET, self.h.export, "--json", "--now", "2027-01-27T03:00:00Z"],
                           capture_output=True, text=True, timeout=60)
        site = json.loads(r.stdout)[0]
        self.assertIn("MISSING", site["flags"], r.stdout)
        self.assertEqual(site["missing_months"], [{"source": "monthly", "kind": "dpc", "month": "2026-12"}])


class GeneratedDropFolderTest(unittest.TestCase):
    """The synthetic hospital's drop folder (sennen-synth-hospital create --dropbox): every trap
    ends as the generator says, computed there from the blocks it wrote."""

    def setUp(self):
        self.h = Hospital(extra=("--dropbox",))

    def tearDown(self):
        self.h.cleanup()

    def test_every_file_ends_as_expected(self):
        for _ in range(3):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        want = self.h.expected()["dropbox"]
        sent = {r["path"]: r for r in records_of(self.h.batches()) if r.get("source") == "monthly"}
        drop = self.h.path("drop")
        for name, e in want.items():
            if e["outcome"] == "sent":
                self.assertEqual(sent[name]["sha256"], e["sha256"], name)
                self.assertEqual(sent[name]["attributes"]["kept"], e["kept"], name)
                self.assertEqual(sum(sent[name]["attributes"]["removed"].values()), e["withheld"], name)
                self.assertTrue(os.path.exists(os.path.join(drop, "processed", name)), name)
            else:
                with open(os.path.join(drop, "rejected", name + ".reason.txt"), encoding="utf-8-sig") as f:
                    self.assertIn(e["reason"], f.read(), name)
        self.assertEqual(set(sent), {n for n, e in want.items() if e["outcome"] == "sent"})


if __name__ == "__main__":
    unittest.main()
