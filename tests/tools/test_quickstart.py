"""tools/quickstart, after its build: it must build sennen-edgectl too, explain the two files the
synthetic hospital plants for the quarantine, and end with the exact sennen-edgectl commands to
try next on its config, each of which must work. Installing packages and building are stubbed
out (the build tree under test has the binaries); everything else runs as a newcomer runs it."""
import os
import shlex
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("SENNEN_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BINARY_DIR = os.environ.get("SENNEN_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
EDGECTL = os.path.join(BINARY_DIR, "tools/edgectl/sennen-edgectl")


class Quickstart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sennen-quickstart-")
        top = os.path.join(cls.tmp, "top")
        tools = os.path.join(top, "tools")
        stubs = os.path.join(cls.tmp, "stubs")
        central = os.path.join(top, "central")
        os.makedirs(tools)
        os.makedirs(central)
        os.makedirs(stubs)
        for name in ("quickstart", "sennen-synth-hospital", "make-test-pki"):
            os.symlink(os.path.join(SOURCE_DIR, "tools", name), os.path.join(tools, name))
        os.symlink(os.path.join(SOURCE_DIR, "central", "sennen-verify-batches"),
                   os.path.join(central, "sennen-verify-batches"))
        cls.cmake_log = os.path.join(cls.tmp, "cmake.log")
        for path, body in ((os.path.join(tools, "install-build-deps"), "exit 0\n"),
                           (os.path.join(stubs, "cmake"), 'echo "$*" >> %s\n' % shlex.quote(cls.cmake_log))):
            with open(path, "w") as f:
                f.write("#!/bin/sh\n" + body)
            os.chmod(path, 0o755)
        cls.out = os.path.join(cls.tmp, "quickstart")
        env = dict(os.environ, PATH=stubs + ":" + os.environ["PATH"], QUICKSTART_DIR=cls.out, BUILD_DIR=BINARY_DIR)
        r = subprocess.run(["bash", os.path.join(tools, "quickstart")], env=env, capture_output=True, text=True,
                           timeout=600)
        cls.rc, cls.stdout, cls.stderr = r.returncode, r.stdout, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_it_runs(self):
        self.assertEqual(self.rc, 0, self.stdout[-3000:] + self.stderr[-3000:])

    def test_it_builds_sennen_edgectl_too(self):
        with open(self.cmake_log) as f:
            builds = [line.split() for line in f if line.startswith("--build")]
        self.assertTrue(builds)
        targets = builds[0][builds[0].index("--target") + 1:]
        self.assertIn("sennen-edged", targets)
        self.assertIn("sennen-edgectl", targets)

    def test_it_explains_the_two_planted_files(self):
        self.assertIn("quarantined 2 file(s)", self.stdout)
        self.assertIn("planted on purpose", self.stdout)
        self.assertIn("filed in another patient's folder", self.stdout)
        self.assertIn("not an HL7 message", self.stdout)

    def test_it_ends_with_commands_that_work(self):
        cfg = os.path.join(self.out, "sennen-edge.yaml")
        tail = self.stdout[self.stdout.index("== what to try next"):]
        commands = [shlex.split(line.split("#")[0]) for line in tail.splitlines() if line.startswith("  " + EDGECTL)]
        self.assertEqual([c[1] for c in commands], ["status", "audit", "doctor", "quarantine", "optout"], tail)
        for c in commands:
            self.assertEqual(c[c.index("--config") + 1], cfg, c)
            r = subprocess.run(c, capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, "%s: %s %s" % (c, r.stdout[-2000:], r.stderr[-2000:]))
        audit = next(c for c in commands if c[1] == "audit")
        r = subprocess.run([*audit, "--json"], capture_output=True, text=True, timeout=60)
        self.assertIn('"on_stop_list_since": "', r.stdout)  # a patient worth auditing: on the stop list


if __name__ == "__main__":
    unittest.main()
