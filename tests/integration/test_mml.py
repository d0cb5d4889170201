"""type: mml with the real daemon: generated MML instances in a drop tree beside a synthetic
hospital (whose SS-MIX2 data gives its patients their visits), delivered byte-exact through the
gate, spool and sealed batches; an update names what it supersedes, a deletion instance becomes a
delete, an opted-out patient's instance never leaves, and a file without a patient is quarantined
with its reason. Also the public skoba/mml samples (skipped when absent)."""
import hashlib
import os
import shutil
import unittest

from harness import SAMPLES, Hospital, quarantine_rows, records_of

SKOBA = os.path.join(SAMPLES, "skoba_mml")
PAST = (1e9, 1e9)


def instance(patient, uid, parent=None, purpose="record", declaration='<?xml version="1.0" encoding="UTF-8"?>',
             title="progress note"):
    parent_el = '<parentId relation="oldEdition">%s</parentId>' % parent if parent else ""
    return (declaration + '\n<Mml version="4.1.2" createDate="2025-01-10T10:00:00" '
            'xmlns="http://www.medxml.net/MML/v4/base/1.0" '
            'xmlns:mmlCm="http://www.medxml.net/MML/v4/SharedComponent/Common/1.0">\n'
            '<MmlHeader><masterId><mmlCm:Id mmlCm:type="facility" mmlCm:tableId="JPN999999900009">%s</mmlCm:Id>'
            '</masterId></MmlHeader>\n<MmlBody><MmlModuleItem><docInfo contentModuleType="progressCourse">'
            '<title generationPurpose="%s">%s</title><docId><uid>%s</uid>%s</docId></docInfo>'
            '<content><p>%s</p></content></MmlModuleItem></MmlBody></Mml>\n'
            % (patient, purpose, title, uid, parent_el, "x" * 3000))


class MmlSourceTest(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=8)
        self.addCleanup(self.h.cleanup)
        self.drop = self.h.path("drop")
        os.makedirs(self.drop)
        self.h.set_config("optout:", "  - {name: mml, type: mml, root: drop, deletion_purpose: delete}\noptout:")

    def put(self, rel, content):
        p = os.path.join(self.drop, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content)
        os.utime(p, PAST)
        return content

    def run_daemon(self):
        rc, out = self.h.run_once()
        self.assertEqual(rc, 0, out)

    def mml_records(self):
        return [r for r in records_of(self.h.batches()) if r["source"] == "mml"]

    def test_updates_deletions_gate_and_quarantine(self):
        exp = self.h.expected()
        eligible = sorted(p for p, v in exp["patients"].items() if v["group"] == "eligible")
        stopped = sorted(p for p, v in exp["patients"].items() if v["group"] == "stopped")
        self.assertTrue(eligible and stopped, exp["patients"])
        ok, stop = eligible[0], stopped[0]
        files = {
            "2025/a.xml": self.put("2025/a.xml", instance(ok, "DOC1").encode()),
            "2025/01/b.xml": self.put("2025/01/b.xml", instance(ok, "DOC2", parent="DOC1").encode()),
            # Shift_JIS, as MML before v4 was written: carried as it is, never re-encoded.
            "old/sjis.xml": self.put("old/sjis.xml", instance(
                ok, "DOC9", declaration='<?xml version="1.0" encoding="Shift_JIS"?>',
                title="\u60a3\u8005").encode("shift_jis")),
        }
        self.put("stop.xml", instance(stop, "DOC3").encode())
        self.put("module.xml", b'<?xml version="1.0"?><mmlPi:PatientModule xmlns:mmlPi="x"/>\n')
        self.run_daemon()

        got = {r["path"]: r for r in self.mml_records()}
        self.assertEqual(set(got), set(files), "lost or extra MML records")
        for path, content in files.items():
            r = got[path]
            self.assertEqual(r["event"], "upsert")
            self.assertEqual(r["sha256"], hashlib.sha256(content).hexdigest(), path)
            self.assertEqual(r["size"], len(content), path)
            self.assertEqual(r["patient_id"], ok)
        self.assertEqual(got["2025/a.xml"]["key"], "DOC1")
        self.assertEqual(got["2025/01/b.xml"]["key"], "DOC2")
        self.assertEqual(got["2025/01/b.xml"]["attributes"]["supersedes"], "DOC1")
        self.assertEqual(got["old/sjis.xml"]["attributes"]["encoding"], "Shift_JIS")
        q = quarantine_rows(self.h)
        self.assertIn(("mml", b"module.xml"), q)
        self.assertIn("patient cannot be determined", q[("mml", b"module.xml")])
        self.assertNotIn(("mml", b"stop.xml"), q)  # withheld by the gate, not quarantined

        # A deletion instance for DOC2: one delete, nothing sent again.
        before = len(self.mml_records())
        self.put("2025/02/del.xml", instance(ok, "DOC4", parent="DOC2", purpose="delete").encode())
        self.run_daemon()
        new = self.mml_records()[before:]
        self.assertEqual([(r["event"], r["key"], r["path"]) for r in new], [("delete", "DOC2", "2025/02/del.xml")])
        self.run_daemon()
        self.assertEqual(len(self.mml_records()), before + 1)


@unittest.skipUnless(os.path.isdir(SKOBA), "shared/samples/skoba_mml not present")
class SkobaSamplesTest(unittest.TestCase):

    def test_skoba_samples(self):
        h = Hospital(patients=4)
        self.addCleanup(h.cleanup)
        os.makedirs(h.path("drop"))
        for n in os.listdir(SKOBA):
            if n.endswith(".xml"):  # not the folder's LICENSE and COMMIT notes
                shutil.copy(os.path.join(SKOBA, n), h.path("drop", n))
                os.utime(h.path("drop", n), PAST)
        h.set_config("optout:", "  - {name: mml, type: mml, root: drop}\noptout:")
        rc, out = h.run_once()
        self.assertEqual(rc, 0, out)
        # The one whole instance (patient 0000469905) has no visit in this hospital: with the
        # notification rule its record is held, not sent and not quarantined. The four single
        # modules have no MmlHeader: quarantined, each with its reason.
        q = quarantine_rows(h)
        modules = {b"mmllb_sample.xml", b"mmlpi_sample.xml", b"mmlps_sample.xml", b"mmlrd_sample.xml"}
        self.assertEqual({p for s, p in q if s == "mml"}, modules)
        for p in modules:
            self.assertIn("patient cannot be determined", q[("mml", p)])
        self.assertEqual([r for r in records_of(h.batches()) if r["source"] == "mml"], [])


if __name__ == "__main__":
    unittest.main()
