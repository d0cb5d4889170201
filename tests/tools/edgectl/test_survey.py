"""sennen-edgectl survey on the synthetic hospital (counts checked against an independent walk in
python and the generator's own expected.json; the tree is unchanged afterwards) and on the public
NHO sample tree when present."""
import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

SOURCE_DIR = os.environ.get("SENNEN_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402

EDGECTL = os.environ.get("SENNEN_EDGECTL", os.path.join(harness.BINARY_DIR, "tools/edgectl/sennen-edgectl"))
VENDORS = os.path.join(SOURCE_DIR, "vendors")
NHO_SAMPLE = os.path.join(os.environ.get("SENNEN_SAMPLES", os.path.join(SOURCE_DIR, "..", "..", "shared", "samples")),
                          "nhoHQ_SSMIX2DataTestingTool")


def survey(*args, cwd=None):
    r = subprocess.run([EDGECTL, "survey", "--vendor-profiles", VENDORS, *args], capture_output=True, timeout=300,
                       cwd=cwd)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def survey_json(*roots):
    rc, out, err = survey("--json", *roots)
    if rc != 0:
        raise AssertionError(f"survey exit {rc}: {err[-2000:]}")
    return json.loads(out)


def walk(root):
    """Independent census: units at depth 6 (files: standardized, folders: extended), by the
    name's fields as formats.md §1.4 gives them, plus every regular file."""
    c = {"files": 0, "std": 0, "ext": 0, "types": collections.Counter(), "flags": collections.Counter(),
         "years": collections.Counter(), "widths": collections.Counter()}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        c["files"] += sum(1 for f in filenames if os.path.isfile(os.path.join(dirpath, f))
                          and not os.path.islink(os.path.join(dirpath, f)))
        units = []
        if depth == 5:
            units = [(f, "std") for f in filenames] + [(d, "ext") for d in dirnames]
        for name, kind in units:
            fields = name.split("_")
            if kind == "std" and len(fields) != 7:
                continue
            c[kind] += 1
            date = fields[1]
            # the data type the name says (what the daemon files the record as), which for an
            # extended content folder is its type folder's name
            c["types"][fields[2] if kind == "std" else os.path.basename(dirpath)] += 1
            c["flags"][fields[-1]] += 1
            c["years"]["-" if date == "-" else date[:4]] += 1
            ts = fields[4] if kind == "std" else (fields[-2] if fields[-2].isdigit() and len(fields[-2]) >= 14
                                                  else fields[-3])
            c["widths"][str(len(ts))] += 1
    return c


def tree_digest(root):
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


class SyntheticHospital(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = harness.Hospital(patients=24, seed="survey")
        cls.std, cls.ext = cls.h.path("ssmix2", "std"), cls.h.path("ssmix2", "ext")
        cls.exp = cls.h.expected()

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()

    def test_counts_match_an_independent_walk_and_the_generator(self):
        before = tree_digest(self.h.path("ssmix2"))
        j = survey_json(self.std, self.ext)
        self.assertEqual(before, tree_digest(self.h.path("ssmix2")), "survey changed the tree")
        std, ext = walk(self.std), walk(self.ext)
        self.assertEqual(j["files"], std["files"] + ext["files"])
        # the planted junk file has a good name: it is a unit whose content is not HL7
        self.assertEqual(j["standard_units"], std["std"])
        self.assertEqual(j["extended_units"], ext["ext"])
        self.assertEqual(j["data_types"], dict(std["types"] + ext["types"]))
        self.assertEqual(j["condition_flags"], dict(std["flags"] + ext["flags"]))
        self.assertEqual(j["years"], dict(std["years"] + ext["years"]))
        self.assertEqual(j["timestamp_digits"], dict(std["widths"] + ext["widths"]))
        vols = {v["root"]: v for v in j["volumes"]}
        self.assertEqual(vols[self.std]["layout"], "standard")
        self.assertEqual(vols[self.ext]["layout"], "extended")
        # the generator's own list of what it wrote
        gen = collections.Counter(f["kind"] for f in self.exp["files"])
        self.assertEqual(sum(gen.values()), j["standard_units"] + j["extended_units"])
        self.assertEqual(dict(gen), j["data_types"])
        # its two planted traps: an order filed under another patient's folder, and a file that is not HL7
        misplaced = [e["path"] for e in j["misplaced"]["examples"]]
        self.assertIn(self.exp["special"]["misplaced"], misplaced)
        self.assertEqual(j["misplaced"]["count"], 1)
        self.assertEqual([e["path"] for e in j["not_hl7"]["examples"]], [self.exp["special"]["junk"]])
        self.assertEqual(j["unparseable"]["count"], 0)
        self.assertEqual(j["unreadable"]["count"], 0)
        self.assertEqual(j["vendor_profiles"]["best"], "generic")
        self.assertIn("type: ssmix2\n", j["suggested_sources"])
        self.assertIn("type: ssmix2-extended\n", j["suggested_sources"])
        self.assertIn("ESC $ B", j["escape_sequences"])

    def test_text_and_suggested_config(self):
        rc, out, err = survey(self.std, self.ext)
        self.assertEqual(rc, 0, err)
        for heading in ("Volumes:", "Data types:", "Condition flags", "Timestamp", "Misplaced: 1",
                        "Vendor profile best matching: generic", "Suggested sources: block"):
            self.assertIn(heading, out)
        rc, out, err = survey("--suggest-config", self.std, self.ext)
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("sources:\n"), out)
        self.assertIn(json.dumps(self.std), out)
        # roots given relative (and with a trailing '/') are written absolute and normalised
        rc, out, err = survey("--suggest-config", "ssmix2/std", "./ssmix2/ext/", cwd=self.h.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("      - " + json.dumps(self.std) + "\n", out)
        self.assertIn("      - " + json.dumps(self.ext) + "\n", out)

    def test_a_root_that_does_not_exist_is_refused(self):
        rc, out, err = survey("--json", self.std, self.h.path("nonexistent"))
        self.assertNotEqual(rc, 0)  # CLI11 refuses a root that does not exist, before any walk

    def test_the_suggested_sources_block_is_a_valid_configuration(self):
        rc, block, err = survey("--suggest-config", self.std, self.ext)
        self.assertEqual(rc, 0, err)
        with open(self.h.config, encoding="utf-8") as f:
            text = f.read()
        start, end = text.index("sources:\n"), text.index("optout:\n")
        config = self.h.path("suggested.yaml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(text[:start] + block + text[end:])
        r = subprocess.run([harness.EDGED, "--config", config, "--check"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run the survey as another user")
    def test_an_unreadable_folder_is_counted_and_the_rest_surveyed(self):
        tree = self.h.path("readable-copy")
        shutil.copytree(self.std, tree, symlinks=True)
        subprocess.run(["chmod", "-R", "a+rX", tree], check=True)
        mode = os.stat(self.h.dir).st_mode & 0o7777
        os.chmod(self.h.dir, 0o755)  # only the way in: the hospital's keys stay private
        self.addCleanup(os.chmod, self.h.dir, mode)
        locked = os.path.join(tree, sorted(os.listdir(tree))[0])
        os.chmod(locked, 0o700)
        self.addCleanup(os.chmod, locked, 0o755)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", EDGECTL, "survey",
                            "--json", "--vendor-profiles", VENDORS, tree], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["unreadable"]["count"], 1)
        self.assertEqual(j["unreadable"]["examples"][0]["path"], os.path.basename(locked))
        inside = sum(len(fs) for _d, _s, fs in os.walk(locked))
        self.assertEqual(j["files"], walk(tree)["files"] - inside)


@unittest.skipUnless(os.path.isdir(NHO_SAMPLE), "public sample tree not present (shared/samples)")
class NhoSample(unittest.TestCase):
    def test_sample_tree_counts(self):
        roots = [os.path.join(NHO_SAMPLE, "sampleData")]
        roots = [r for r in roots if os.path.isdir(r)] or [NHO_SAMPLE]
        j = survey_json(*roots)
        total = {"std": 0, "ext": 0, "files": 0, "types": collections.Counter()}
        for r in roots:
            c = walk(r)
            total["std"] += c["std"]
            total["ext"] += c["ext"]
            total["files"] += c["files"]
            total["types"] += c["types"]
        self.assertEqual(j["files"], total["files"])
        self.assertEqual(j["standard_units"], total["std"])
        self.assertEqual(j["extended_units"], total["ext"])
        self.assertEqual(j["data_types"], dict(total["types"]))
        self.assertGreater(j["standard_units"], 0)


if __name__ == "__main__":
    unittest.main()
