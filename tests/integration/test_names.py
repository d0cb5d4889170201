"""Names are data: CP932 and invalid UTF-8 at every level of the SS-MIX2 path in both storages,
newlines, backslashes and '..', a link to the site's signing key, a part name libarchive could not
store. The real daemon never crashes, writes its heartbeat, delivers every other record, and
delivers each odd name with its exact bytes in the manifest or quarantines it with a reason."""
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

from harness import (VERIFY, Hospital, assert_delivered_exactly, name_bytes, quarantine_rows, records_of,
                     run_once_raw, unit_folder, unit_name)

CP932 = "テスト".encode("cp932")        # b'\x83e\x83X\x83g'
BAD = b"\xff\xfe"                      # neither UTF-8 nor CP932
FORGE = b"x\n<0>emergency: forged"     # a newline and a syslog priority
BACKSLASHES = b"..\\..\\x"
ODD = {"cp932": CP932, "invalid": BAD}


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Planter:
    """Adds odd names to a synthetic hospital's trees, noting what each should become."""

    def __init__(self, h):
        self.h = h
        self.exp = h.expected()
        self.delivered = {}     # (source, rel bytes) -> {"sha256", "size"} or {"parts": {(name, sha, size)}}
        self.quarantined = set()  # (source, rel bytes)
        self.files = []         # absolute paths written, to backdate
        eligible = {p for p, v in self.exp["patients"].items() if v["group"] == "eligible"}
        cur = [f for f in self.exp["files"] if f["status"] == "current" and f["patient_id"] in eligible]
        self.std = next(f for f in cur if f["source"] == "emr" and f["kind"] == "OMP-01")
        self.ext = next(f for f in cur if f["source"] == "emr-ext")
        with open(h.path("ssmix2/std", self.std["path"]), "rb") as f:
            self.hl7 = f.read()
        self.n = 0

    def root(self, source):
        return self.h.path("ssmix2/std" if source == "emr" else "ssmix2/ext").encode()

    def write(self, source, rel, data):
        path = os.path.join(self.root(source), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.files.append(path)

    def order(self):
        self.n += 1
        return b"9%014d" % self.n

    def std_name(self, kind=None, order=None, dept=None):
        return unit_name(self.std, order or self.order(), kind, dept)

    def std_dir(self, levels=None, kind=None):
        return unit_folder(self.std, levels, kind)

    def std_deliver(self, rel):
        self.write("emr", rel, self.hl7)
        self.delivered[("emr", rel)] = {"sha256": sha(self.hl7), "size": len(self.hl7)}

    def std_quarantine(self, rel, data=None):
        self.write("emr", rel, self.hl7 if data is None else data)
        self.quarantined.add(("emr", rel))

    def ext_name(self, kind=None, key=None):
        return unit_name(self.ext, key or self.order(), kind)

    def ext_dir(self, levels=None, kind=None):
        return unit_folder(self.ext, levels, kind)

    def ext_parts(self, rel, parts):
        for name, data in parts:
            self.write("emr-ext", rel + b"/" + name, data)
        return {(name, sha(data), len(data)) for name, data in parts}

    def ext_deliver(self, rel, parts=None):
        parts = parts or [(b"document.xml", b"<doc/>"), (b"report.pdf", b"%PDF-1.4 synthetic")]
        self.delivered[("emr-ext", rel)] = {"parts": self.ext_parts(rel, parts)}

    def ext_quarantine(self, rel, parts=None):
        self.ext_parts(rel, parts or [(b"document.xml", b"<doc/>")])
        self.quarantined.add(("emr-ext", rel))

    def plant(self):
        for label, odd in ODD.items():
            # Standardized storage, file name fields (delivered: the name is still SS-MIX2).
            self.std_deliver(self.std_dir() + b"/" + self.std_name(order=odd))
            self.std_deliver(self.std_dir() + b"/" + self.std_name(dept=odd))
            # A file name that is not SS-MIX2 at all.
            self.std_quarantine(self.std_dir() + b"/" + odd + b".txt", b"junk")
            # Type folder (the type field agrees with it: delivered).
            self.std_deliver(self.std_dir(kind=odd) + b"/" + self.std_name(kind=odd))
            # Date, patient and patient-prefix folders: the name disagrees with them, misplaced.
            for level in (0, 1, 2, 3):
                self.std_quarantine(self.std_dir(levels={level: odd}) + b"/" + self.std_name())
            # Extended storage: content folder key, part names, type folder.
            self.ext_deliver(self.ext_dir() + b"/" + self.ext_name(key=odd))
            self.ext_deliver(self.ext_dir() + b"/" + self.ext_name(),
                             [(b"document.xml", b"<doc/>"), (odd + b".pdf", b"%PDF " + label.encode())])
            self.ext_deliver(self.ext_dir(kind=odd) + b"/" + self.ext_name(kind=odd))
            self.ext_quarantine(self.ext_dir() + b"/" + odd)
            for level in (0, 1, 2, 3):
                self.ext_quarantine(self.ext_dir(levels={level: odd}) + b"/" + self.ext_name())
        # Names that are valid UTF-8 but not safe as they are: a newline, backslashes, '..' parts.
        self.std_deliver(self.std_dir() + b"/" + self.std_name(order=FORGE.replace(b"_", b"-")))
        self.std_quarantine(self.std_dir() + b"/" + b"junk" + FORGE, b"junk")
        self.std_deliver(self.std_dir() + b"/" + self.std_name(order=BACKSLASHES))
        self.std_deliver(self.std_dir() + b"/" + self.std_name(order=b"a:b|c"))
        self.ext_deliver(self.ext_dir() + b"/" + self.ext_name(),
                         [(b"document.xml", b"<doc/>"), (BACKSLASHES, b"backslashes"), (b"x\nnew line", b"nl"),
                          (b"\xe3\x81", b"a cut UTF-8 sequence")])
        # A link to the site's signing key inside an otherwise valid content folder.
        rel = self.ext_dir() + b"/" + self.ext_name()
        self.ext_quarantine(rel)
        link = os.path.join(self.root("emr-ext"), rel, b"key.pem")
        os.symlink(self.h.path("pki", "site.key").encode(), link)
        self.age()

    def age(self, seconds_ago=7200):
        """Everything planted was written a while ago (stable_after is 30 s)."""
        when = time.time() - seconds_ago
        for path in self.files:
            os.utime(path, (when, when))
        for source in ("emr", "emr-ext"):
            for dirpath, _d, _f in os.walk(self.root(source), topdown=False):
                os.utime(dirpath, (when, when))


def check_output(tc, rc, out, err):
    tc.assertIn(rc, (0, 1), "exit status %d (a negative one is a signal): %r" % (rc, err[-3000:]))
    text = err.decode("utf-8")  # strict: never a raw byte of a name
    out.decode("utf-8")
    for line in text.splitlines():
        tc.assertRegex(line, r"^<[3-7]>", "a log line without its own priority: %r" % line)
        tc.assertFalse(re.search(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u2028\u2029]", line), repr(line))
        tc.assertFalse(line.startswith(("<0>", "<1>", "<2>", "emergency")), repr(line))


class NamesTest(unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=16, seed=9)

    def tearDown(self):
        if os.environ.get("SENNEN_KEEP_TEST_DIRS"):
            print("kept", self.h.dir)
        else:
            self.h.cleanup()

    def extract_all(self):
        """Every delivered batch unpacked by the central side's tools into one folder."""
        keep = tempfile.mkdtemp(dir=self.h.dir, prefix="central-")
        r = subprocess.run([VERIFY, "--keep", keep, "--key", self.h.path("pki/central.key"), "--cert",
                            self.h.path("pki/central.crt"), "--ca", self.h.path("pki/ca.crt"), self.h.export],
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return keep

    def test_odd_names_never_crash_and_are_delivered_or_quarantined(self):
        p = Planter(self.h)
        p.plant()
        rc, out, err = run_once_raw(self.h)
        check_output(self, rc, out, err)
        hb = self.h.heartbeat()
        self.assertIn(hb["status"], ("ok", "failing"))

        batches = self.h.batches()
        planted = self.delivered_besides(p)  # every other record arrived, once and byte-exact, in the same run

        # Each odd name that is still SS-MIX2 was delivered with its exact bytes recoverable.
        self.assertEqual(set(planted), set(p.delivered), "odd names not delivered")
        for k, want in p.delivered.items():
            r = planted[k]
            self.assertTrue(r["archive_path"].startswith("records/"), r)
            if "parts" in want:
                got = {(name_bytes(x, "name"), x["sha256"], x["size"]) for x in r["parts"]}
                self.assertEqual(got, want["parts"], k)
            else:
                self.assertEqual((r["sha256"], r["size"]), (want["sha256"], want["size"]), k)
            # The kind and the attributes taken from the name keep their bytes too.
            name = k[1].rsplit(b"/", 1)[1]
            fields = name.split(b"_")
            self.assertEqual(name_bytes(r, "kind"), k[1].split(b"/")[4])
            if k[0] == "emr":
                self.assertEqual(name_bytes(r["attributes"], "order_no"), fields[3])
                self.assertEqual(name_bytes(r["attributes"], "department"), fields[5])
        # Member names a reader extracts where they belong: nothing odd in any of them.
        for b in batches:
            for r in b["manifest"]["records"]:
                for ap in [r.get("archive_path")] + [x["archive_path"] for x in r.get("parts", [])]:
                    if ap is None:
                        continue
                    for c in ap.split("/"):
                        self.assertNotIn(c, ("", ".", ".."), ap)
                        self.assertFalse(re.search(r'[\x00-\x1f\x7f-\x9f\\<>:"|?*]', c), ap)

        # Each odd name that is not SS-MIX2 (or misplaced) is quarantined with a reason.
        rows = quarantine_rows(self.h)
        for k in p.quarantined:
            self.assertIn(k, rows, "not quarantined: %r" % (k,))
            self.assertTrue(rows[k], k)

        self.assert_key_nowhere()

        # The next run is as calm: nothing sent twice, nothing new quarantined.
        rc, out, err = run_once_raw(self.h)
        check_output(self, rc, out, err)
        self.assertEqual(len(self.h.batches()), len(batches))
        self.assertEqual(quarantine_rows(self.h), rows)

    def assert_key_nowhere(self):
        """Nothing of the site's signing key in state_dir/quarantine or in any delivered batch."""
        with open(self.h.path("pki", "site.key"), "rb") as f:
            body = f.read().splitlines()[1]
        for top in (self.h.path("state", "quarantine"), self.extract_all()):
            for dirpath, _d, files in os.walk(top):
                for n in files:
                    path = os.path.join(dirpath, n)
                    self.assertFalse(os.path.islink(path), "a link in %s: %s" % (top, path))
                    with open(path, "rb") as f:
                        self.assertNotIn(body, f.read(), path)

    def delivered_besides(self, p):
        """Checks every record but the planted ones arrived (once, byte-exact); returns the planted."""
        planted, others = {}, []
        for r in records_of(self.h.batches()):
            k = (r["source"], name_bytes(r, "path"))
            if k in p.delivered:
                self.assertNotIn(k, planted, "sent twice: %r" % (k,))
                planted[k] = r
            else:
                others.append(r)
        assert_delivered_exactly(self, [{"manifest": {"records": others}}], p.exp)
        return planted

    def test_a_part_name_libarchive_cannot_store_stalls_nothing(self):
        # A part name that is not UTF-8 in a content folder whose own name is fine: libarchive
        # refused it ("Can't record entry in tar file without pathname") and no batch was sealed.
        p = Planter(self.h)
        rel = p.ext_dir() + b"/" + p.ext_name()
        p.ext_deliver(rel, [(b"document.xml", b"<doc/>"), (BAD + b".pdf", b"%PDF-1.4")])
        p.age()
        rc, out, err = run_once_raw(self.h)
        planted = self.delivered_besides(p)  # the others, in the same run
        check_output(self, rc, out, err)
        r = planted[("emr-ext", rel)]
        self.assertEqual({name_bytes(x, "name") for x in r["parts"]}, {b"document.xml", BAD + b".pdf"})

    def test_a_link_to_the_site_key_is_never_copied_nor_sent(self):
        p = Planter(self.h)
        rel = p.ext_dir() + b"/" + p.ext_name()
        p.ext_quarantine(rel)
        os.symlink(self.h.path("pki", "site.key").encode(), os.path.join(p.root("emr-ext"), rel, b"key.pem"))
        p.age()
        rc, out, err = run_once_raw(self.h)
        check_output(self, rc, out, err)
        self.delivered_besides(p)
        # The extended-storage source refuses the folder for the link it holds (the walker never
        # opens links), so the quarantine records it by reference; nothing of the key is anywhere.
        reason = quarantine_rows(self.h)[("emr-ext", rel)]
        self.assertIn("key.pem, a symbolic link", reason)
        self.assertIn("never opened", reason)
        self.assert_key_nowhere()

    def test_a_newline_in_a_name_forges_no_log_line(self):
        p = Planter(self.h)
        p.std_quarantine(p.std_dir() + b"/" + FORGE, b"junk")
        p.age()
        rc, out, err = run_once_raw(self.h)
        check_output(self, rc, out, err)
        self.assertIn(b"x\\x0a<0>emergency: forged", err)


if __name__ == "__main__":
    unittest.main()
