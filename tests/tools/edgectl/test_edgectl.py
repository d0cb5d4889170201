"""sennen-edgectl: status/queue/quarantine/audit against a synthetic hospital after a real
`sennen-edged --once`, cross-checked with the spool itself (python's sqlite3); doctor against
each misconfiguration it must catch; optout check on a messy CP932 file; verify-batch."""
import datetime
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get("SENNEN_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../../..")))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import harness  # noqa: E402

EDGECTL = os.environ.get("SENNEN_EDGECTL", os.path.join(harness.BINARY_DIR, "tools/edgectl/sennen-edgectl"))


def edgectl(*args, env=None, wrapper=()):
    """Runs sennen-edgectl, under `wrapper` (e.g. faketime or unshare) when given."""
    r = subprocess.run([*wrapper, EDGECTL, *args], capture_output=True, text=True, timeout=60, env=env)
    return r.returncode, r.stdout, r.stderr


def edgectl_json(*args):
    rc, out, err = edgectl(*args, "--json")
    try:
        return rc, json.loads(out)
    except ValueError:
        raise AssertionError(f"not JSON from {args}: rc={rc} stdout={out[:500]} stderr={err[:500]}")


class HospitalViews(unittest.TestCase):
    """One hospital, one daemon run; every read-only view checked against the spool."""

    @classmethod
    def setUpClass(cls):
        cls.h = harness.Hospital(patients=16, seed="edgectl")
        cls.cfg = cls.h.config
        cls.db = cls.h.path("state", "spool.db")
        rc, out, err = edgectl("status", "--config", cls.cfg)
        cls.before_run = (rc, err, os.path.exists(cls.db))
        rc, log = cls.h.run_once()
        assert rc == 0, log[-3000:]
        cls.exp = cls.h.expected()

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()

    def query(self, sql, *args):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def test_status_before_the_daemon_ran_says_so_and_creates_nothing(self):
        rc, err, created = self.before_run
        self.assertEqual(rc, 2)
        self.assertIn("has not run", err)
        self.assertFalse(created, "status created a spool")

    def test_status(self):
        rc, st = edgectl_json("status", "--config", self.cfg)
        self.assertEqual(rc, 0)
        self.assertEqual(st["site_id"], self.exp["site_id"])
        self.assertEqual(st["service"], {"running": False, "pid": None, "metrics": None})  # --once has ended
        # Per source: units by status, as in dirpoll_units.
        for src in st["sources"]:
            want = dict(self.query("SELECT status, COUNT(*) FROM dirpoll_units WHERE source = ? GROUP BY status",
                                   src["name"]))
            self.assertEqual(src["units_by_status"], want)
            self.assertTrue(src["units_by_status"].get("ingested", 0) > 0)
            self.assertIsNone(src["last_error"])
        held = dict(((r, n) for r, n in self.query(
            "SELECT hold_reason, COUNT(*) FROM spool_records WHERE state = 'held' GROUP BY hold_reason")))
        self.assertEqual(st["gate"]["withheld_stopped"], held.get("stopped", 0))
        self.assertEqual(st["gate"]["withheld_not_notified"], held.get("not_notified", 0))
        self.assertTrue(st["gate"]["withheld_stopped"] > 0)
        self.assertEqual(st["gate"]["stop_list_file"]["encoding"], "cp932")
        self.assertEqual(st["gate"]["stop_list_file"]["unreadable_lines"], 0)
        with open(self.h.path("optout.csv"), "rb") as f:
            self.assertEqual(st["gate"]["stop_list_file"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(st["gate"]["stop_list_applied_entries"], self.query("SELECT COUNT(*) FROM gate_stops")[0][0])
        # Everything eligible was delivered: nothing ready, nothing in the outbox.
        self.assertEqual(st["spool"]["ready"], 0)
        self.assertEqual(st["outbox"]["batches_pending"], 0)
        batches = self.h.batches()
        self.assertEqual(st["last_batch"]["batch_id"], batches[-1]["manifest"]["batch_id"])
        self.assertEqual(st["last_batch"]["records"], len(batches[-1]["manifest"]["records"]))
        bad = [f for f in self.exp["files"] if f["status"] in ("misplaced", "junk")]
        self.assertEqual(st["quarantined"], len(bad))
        hb = self.h.heartbeat()
        self.assertEqual(st["heartbeat"]["time"], hb["time"])
        self.assertEqual(st["heartbeat"]["status"], "ok")
        self.assertEqual(st["heartbeat"]["path"], self.h.path("state", "heartbeat.json"))
        # The text form carries the same facts.
        rc, text, _ = edgectl("status", "--config", self.cfg)
        self.assertEqual(rc, 0)
        self.assertIn(st["last_batch"]["batch_id"], text)
        self.assertIn(f"{st['quarantined']} files", text)

    def test_status_reads_while_the_daemon_holds_a_write_transaction(self):
        with open(self.db, "rb") as f:
            before = hashlib.sha256(f.read()).hexdigest()
        con = sqlite3.connect(self.db, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO spool_counters (name, value) VALUES ('edgectl_test', 1)")
            rc, st = edgectl_json("status", "--config", self.cfg)
            self.assertEqual(rc, 0)
            rc, q = edgectl_json("queue", "--config", self.cfg)
            self.assertEqual(rc, 0)
        finally:
            con.execute("ROLLBACK")
            con.close()
        with open(self.db, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), before, "edgectl changed the spool")

    def test_queue(self):
        rc, q = edgectl_json("queue", "--config", self.cfg)
        self.assertEqual(rc, 0)
        want = {(s, k, st, r or None): n for s, k, st, r, n in self.query(
            "SELECT source, kind, state, hold_reason, COUNT(*) FROM spool_records GROUP BY 1, 2, 3, 4")}
        got = {(r["source"], r["kind"], r["state"], r["hold_reason"]): r["count"] for r in q["records"]}
        self.assertEqual(got, want)
        self.assertTrue(all(r["oldest_age_seconds"] >= 0 for r in q["records"]))
        rc, text, _ = edgectl("queue", "--config", self.cfg)
        self.assertIn("held (stopped)", text)

    def test_quarantine_list(self):
        rc, rows = edgectl_json("quarantine", "list", "--config", self.cfg)
        self.assertEqual(rc, 0)
        bad = {f["path"] for f in self.exp["files"] if f["status"] in ("misplaced", "junk")}
        self.assertEqual({r["path"] for r in rows}, bad)
        for r in rows:
            self.assertTrue(r["reason"])
            self.assertTrue(os.path.isfile(r["copy_path"]), r)
            self.assertTrue(os.path.isfile(r["copy_path"] + ".reason.txt"), r)

    def patients(self, group):
        return [pid for pid, p in self.exp["patients"].items() if p["group"] == group]

    def test_audit_stopped_patient_in_any_spelling(self):
        pid = self.patients("stopped")[0]
        key = harness.canonical(pid)
        full_width = "".join(chr(ord(c) + 0xFEE0) for c in pid)  # staff type IDs in full width too
        for spelling in (pid, full_width, " " + key + " "):
            rc, a = edgectl_json("audit", "--config", self.cfg, "--patient", spelling)
            self.assertEqual(rc, 0, spelling)
            self.assertEqual(a["patient_key"], key)
            self.assertIsNotNone(a["on_stop_list_since"])
            want = self.query("SELECT path FROM spool_records WHERE patient_key = ? ORDER BY id", key)
            self.assertEqual([r["path"] for r in a["records"]], [p for (p,) in want])
            self.assertTrue(a["records"])
            self.assertTrue(all(r["state"] == "held" and r["hold_reason"] == "stopped" for r in a["records"]))
        rc, text, _ = edgectl("audit", "--config", self.cfg, "--patient", pid)
        self.assertIn("leave the spool", text)  # says what it cannot show

    def test_audit_shows_the_hospitals_id_and_real_dates(self):
        pid = self.patients("stopped")[0]
        key = harness.canonical(pid)
        self.assertNotEqual(pid, key, "the synthetic IDs have leading zeros")
        (day,), = self.query("SELECT MIN(visit_day) FROM gate_visits WHERE patient_key = ?", key)
        first_visit = (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()
        rc, a = edgectl_json("audit", "--config", self.cfg, "--patient", key)
        self.assertEqual(rc, 0)
        self.assertEqual(a["patient_ids"], [pid])  # as the EMR wrote it, although asked by the canonical key
        self.assertEqual({r["patient_id"] for r in a["records"]}, {pid})
        self.assertEqual(a["first_visit"], first_visit)
        self.assertNotIn("first_visit_day", a)
        # Times in the site's time zone (Asia/Tokyo in the synthetic config).
        (ingested,), = self.query("SELECT MIN(ingested_at) FROM spool_records WHERE patient_key = ?", key)
        tokyo = datetime.datetime.fromtimestamp(ingested, datetime.timezone(datetime.timedelta(hours=9)))
        self.assertEqual(a["records"][0]["ingested_at"], tokyo.isoformat())
        rc, text, _ = edgectl("audit", "--config", self.cfg, "--patient", key)
        self.assertEqual(rc, 0)
        self.assertIn("as the hospital's records write it: " + pid + "\n", text)
        self.assertIn("visits seen: first on " + first_visit + "\n", text)
        self.assertNotIn("on day", text)
        self.assertIn(tokyo.isoformat(), text)

    def test_audit_delivered_patient_is_honest(self):
        pid = self.patients("eligible")[0]
        rc, a = edgectl_json("audit", "--config", self.cfg, "--patient", pid)
        self.assertEqual(rc, 0)
        self.assertIsNone(a["on_stop_list_since"])
        self.assertEqual(a["records"], [])  # delivered: gone from the spool
        self.assertIn("delivered", a["note"])

    def test_audit_refuses_a_non_id(self):
        rc, out, err = edgectl("audit", "--config", self.cfg, "--patient", "山田 太郎")
        self.assertEqual(rc, 2)
        self.assertNotIn("山田", err)  # never echoes what may be a name

    def test_optout_check_takes_config_like_the_other_commands(self):
        stop_list = self.h.path("optout.csv")
        # Without FILE: the configured stop list.
        rc, out, err = edgectl("optout", "check", "--config", self.cfg, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["file"], stop_list)
        rc, out, err = edgectl("optout", "check", "--config", self.cfg)
        self.assertEqual(rc, 0, err)
        self.assertIn(stop_list, out)
        # FILE and --config, in either order: FILE is checked.
        with tempfile.TemporaryDirectory() as tmp:
            other = os.path.join(tmp, "new.csv")
            with open(other, "wb") as f:
                f.write(b"12 34\r\n")
            rc, out, err = edgectl("optout", "check", other, "--config", self.cfg)
            self.assertEqual(rc, 1, err)
            self.assertIn(other, out)
            rc, out, err = edgectl("optout", "check", "--config", self.cfg, "--json", other)
            self.assertEqual((rc, json.loads(out)["file"]), (1, other), err)
        # A config with problems is reported, not ignored.
        rc, out, err = edgectl("optout", "check", stop_list, "--config", "/nonexistent/sennen-edge.yaml")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/sennen-edge.yaml", err)

    def test_verify_batch(self):
        env = dict(os.environ, SENNEN_VERIFY_BATCHES=harness.VERIFY)
        cms = sorted(os.path.join(r, n) for r, _d, fs in os.walk(self.h.export) for n in fs if n.endswith(".cms"))[0]
        pki = self.h.path("pki")
        args = ["--key", f"{pki}/central.key", "--cert", f"{pki}/central.crt", "--ca", f"{pki}/ca.crt"]
        rc, out, err = edgectl("verify-batch", cms, *args, "--json", env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["manifest"]["batch_id"], os.path.basename(cms)[:-4])
        rc, out, _ = edgectl("verify-batch", cms, *args, env=env)
        self.assertIn("signature verified", out)
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "tampered.cms")
            data = bytearray(open(cms, "rb").read())
            data[len(data) // 2] ^= 0xFF
            open(bad, "wb").write(bytes(data))
            rc, out, _ = edgectl("verify-batch", bad, *args, env=env)
            self.assertEqual(rc, 1)
            self.assertIn("NOT VERIFIED", out)


    def test_verify_batch_from_the_build_tree_finds_the_verifier(self):
        # As a newcomer runs it: no SENNEN_VERIFY_BATCHES, no tools/ folder on PATH.
        env = {k: v for k, v in os.environ.items() if k != "SENNEN_VERIFY_BATCHES"}
        env["PATH"] = "/usr/bin:/bin"
        cms = sorted(os.path.join(r, n) for r, _d, fs in os.walk(self.h.export) for n in fs if n.endswith(".cms"))[0]
        pki = self.h.path("pki")
        rc, out, err = edgectl("verify-batch", cms, "--key", f"{pki}/central.key", "--cert", f"{pki}/central.crt",
                               "--ca", f"{pki}/ca.crt", env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn("signature verified", out)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class Doctor(unittest.TestCase):
    """A healthy hospital passes; each misconfiguration is one failing (or warning) check."""

    @classmethod
    def setUpClass(cls):
        cls.h = harness.Hospital(patients=4, seed="doctor")
        with open(cls.h.config, encoding="utf-8") as f:
            cls.base = f.read()
        pki = cls.h.path("pki")
        # Certificates from the hospital's own CA with the real openssl CLI.
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "odd.key", "-subj", "/CN=odd", "-out",
                "odd.csr", cwd=pki)
        openssl("x509", "-req", "-in", "odd.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "-1",
                "-out", "expired.crt", cwd=pki)
        openssl("x509", "-req", "-in", "odd.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "10",
                "-out", "soon.crt", cwd=pki)
        os.chmod(os.path.join(pki, "odd.key"), 0o600)
        shutil.copy(os.path.join(pki, "site.key"), os.path.join(pki, "open.key"))
        os.chmod(os.path.join(pki, "open.key"), 0o644)

    @classmethod
    def tearDownClass(cls):
        cls.h.cleanup()

    def doctor(self, replace=(), extra_args=(), wrapper=()):
        cfg, _text = self.h.variant(self.base, replace)
        rc, out, err = edgectl("doctor", "--config", cfg, "--json", *extra_args, wrapper=wrapper)
        report = json.loads(out)
        results = {}
        for c in report["checks"]:
            results.setdefault(c["check"], []).append((c["result"], c["message"]))
        self.assertEqual(report["ok"], rc == 0)
        return rc, results

    def assert_result(self, results, check, result, text=""):
        got = results.get(check, [])
        self.assertTrue(any(r == result and text in m for r, m in got), f"{check}: want {result} {text!r}, got {got}")

    def test_healthy(self):
        rc, res = self.doctor()
        self.assertEqual(rc, 0, res)
        for check in ("config", "clock", "source emr", "source emr-ext", "stop list", "signer key mode", "certificates",
                      "state_dir"):
            self.assert_result(res, check, "pass")
        self.assertEqual([c for c in res if c.startswith("DICOM peer")], [])  # no dicom-qr source, nothing to ask
        rc, out, _ = edgectl("doctor", "--config", self.h.config)
        self.assertIn("PASS  certificates", out)

    def test_missing_root(self):
        rc, res = self.doctor([("root: ssmix2/std", "root: ssmix2/nowhere")])
        self.assertEqual(rc, 1)
        self.assert_result(res, "source emr", "fail", "does not exist")
        self.assert_result(res, "source emr-ext", "pass")

    def test_unreadable_stop_list_line(self):
        with open(self.h.path("optout.csv"), "rb") as f:
            data = f.read()
        with open(self.h.path("bad-optout.csv"), "wb") as f:
            f.write(data + "12 34,山田\r\n".encode("cp932"))
        rc, res = self.doctor([("stop_list: optout.csv", "stop_list: bad-optout.csv")])
        self.assertEqual(rc, 1)
        self.assert_result(res, "stop list", "fail", "1 unreadable line")
        rc, res = self.doctor([("stop_list: optout.csv", "stop_list: bad-optout.csv\n  allow_unreadable_lines: true")])
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "stop list", "warn", "allow_unreadable_lines")

    def test_key_readable_by_others(self):
        rc, res = self.doctor([("signer_key: pki/site.key", "signer_key: pki/open.key")])
        self.assertEqual(rc, 1)
        self.assert_result(res, "signer key mode", "fail", "0644")
        self.assert_result(res, "certificates", "fail", "chmod 600")

    def test_s3_access_key_file_mode(self):
        s3 = ("destination:\n  type: s3\n  endpoint: https://127.0.0.1:9\n  bucket: sennen-central\n"
              "  region: ap-northeast-1\n  access_key_file: {key}\n  tls: {{ca: pki/ca.crt}}\n")
        local = "destination:\n  type: local\n  path: export\n"
        for name, mode in (("s3-open.key", 0o644), ("s3.key", 0o600)):
            with open(self.h.path(name), "w", encoding="utf-8") as f:
                f.write("AKIDTEST\nsecret\n")
            os.chmod(self.h.path(name), mode)
        rc, res = self.doctor([(local, s3.format(key="s3-open.key"))])
        self.assertEqual(rc, 1)
        self.assert_result(res, "destination.access_key_file mode", "fail", "chmod 600")
        self.assert_result(res, "destination reachability", "fail", "chmod 600")
        rc, res = self.doctor([(local, s3.format(key="s3.key"))])
        self.assert_result(res, "destination reachability", "fail", "HEAD https://127.0.0.1:9/sennen-central/")
        self.assertNotIn("destination.access_key_file mode", res)
        self.assert_result(res, "destination.access_key_file", "pass")
        self.assert_result(res, "destination.tls.ca", "pass")

    def test_expired_signer(self):
        rc, res = self.doctor([("signer_cert: pki/site.crt", "signer_cert: pki/expired.crt"),
                               ("signer_key: pki/site.key", "signer_key: pki/odd.key")])
        self.assertEqual(rc, 1)
        self.assert_result(res, "certificates", "fail", "expired")

    def test_signer_expiring_soon_warns(self):
        rc, res = self.doctor([("signer_cert: pki/site.crt", "signer_cert: pki/soon.crt"),
                               ("signer_key: pki/site.key", "signer_key: pki/odd.key")])
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "certificates", "pass")
        self.assert_result(res, "certificate expiry", "warn", "soon.crt expires in 9 day")

    def test_mismatched_key(self):
        rc, res = self.doctor([("signer_key: pki/site.key", "signer_key: pki/odd.key")])
        self.assertEqual(rc, 1)
        self.assert_result(res, "certificates", "fail", "does not match")

    def test_placeholder_site_id(self):
        site = self.h.expected()["site_id"]
        rc, res = self.doctor([(f'id: "{site}"', 'id: "0000000000"')])
        self.assertEqual(rc, 1)
        self.assert_result(res, "config", "fail", "placeholder")
        self.assert_result(res, "certificates", "pass")  # the rest is still checked

    def test_invalid_config(self):
        rc, res = self.doctor([("batch:", "batch:\n  no_such_key: 1")])
        self.assertEqual(rc, 1)
        self.assert_result(res, "config", "fail", "no_such_key")

    @unittest.skipUnless(shutil.which("faketime"), "faketime is missing: tools/install-build-deps")
    def test_clock_before_the_build(self):
        rc, res = self.doctor(wrapper=("faketime", "2020-01-01 00:00:00"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "clock", "fail", "before this program was built")
        rc, res = self.doctor(wrapper=("faketime", "2101-01-01 00:00:00"))
        self.assert_result(res, "clock", "fail", "after 2100")

    def doctor_on_tmpfs(self, size, replace=(), fill=False):
        """doctor with state_dir on a tmpfs of `size`, mounted in a mount namespace of the command
        only; `fill`: the tmpfs is filled up first (0 bytes free)."""
        small = self.h.path("small")
        os.makedirs(small, exist_ok=True)
        script = f'mount -t tmpfs -o size={size} tmpfs {small} && mkdir {small}/state'
        if fill:
            script += f' && (cat /dev/zero > {small}/filler 2>/dev/null; true)'
        rc, res = self.doctor([("state_dir: state", f"state_dir: {small}/state"), *replace],
                              wrapper=("unshare", "--mount", "--propagation", "private", "sh", "-c",
                                       script + ' && exec "$@"', "sh"))
        return rc, res

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "a private mount needs root and unshare")
    def test_disk_space_below_one_batch_fails(self):
        # 16 MiB cannot hold one batch of the default 64 MiB: the daemon cannot go on.
        rc, res = self.doctor_on_tmpfs("16m")
        self.assertEqual(rc, 1, res)
        self.assert_result(res, "disk space", "fail", "batch.max_bytes")
        # A full disk: the verdict fails, whatever the batch size.
        rc, res = self.doctor_on_tmpfs("16m", [("max_bytes: 64MiB", "max_bytes: 1MiB")], fill=True)
        self.assertEqual(rc, 1, res)
        self.assert_result(res, "disk space", "fail", "0 B free")

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "a private mount needs root and unshare")
    def test_little_disk_space_above_what_is_needed_warns(self):
        rc, res = self.doctor_on_tmpfs("200m", [("max_bytes: 64MiB", "max_bytes: 1MiB")])
        self.assertEqual(rc, 0, res)
        self.assert_result(res, "disk space", "warn", "less than 5 GiB")

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "a private mount needs root and unshare")
    def test_disk_space_below_a_dicom_sources_min_free_fails(self):
        scp = ("  - name: modality\n    type: dicom-scp\n    port: 11112\n    ae_title: SENNEN\n"
               "    allowed_calling_ae_titles: [CT1]\n    min_free: 300MiB\noptout:")
        rc, res = self.doctor_on_tmpfs("200m", [("max_bytes: 64MiB", "max_bytes: 1MiB"), ("optout:", scp)])
        self.assertEqual(rc, 1, res)
        self.assert_result(res, "disk space", "fail", "min_free of source modality")

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("unshare"), "a private mount needs root and unshare")
    def test_missing_cp932_converter_fails(self):
        # glibc's gconv modules hidden, as on a minimal EL install without glibc-gconv-extra.
        modules = glob.glob("/usr/lib*/gconv/CP932.so") + glob.glob("/usr/lib*/*/gconv/CP932.so")
        folders = sorted({os.path.dirname(m) for m in modules})
        self.assertTrue(folders, "glibc's CP932 gconv module was not found")
        script = " && ".join(f"mount -t tmpfs tmpfs {f}" for f in folders)
        rc, res = self.doctor(wrapper=("unshare", "--mount", "--propagation", "private", "sh", "-c",
                                       script + ' && exec "$@"', "sh"))
        self.assertEqual(rc, 1, res)
        self.assert_result(res, "character sets", "fail", "glibc-gconv-extra")
        rc, res = self.doctor()
        self.assert_result(res, "character sets", "pass", "CP932")

    @unittest.skipUnless(os.geteuid() == 0, "access as the service user needs root")
    def test_root_not_readable_by_service_user(self):
        # The hospital lives in a 0700 temporary folder: 'nobody' cannot reach the trees.
        os.chmod(self.h.dir, 0o700)
        rc, res = self.doctor(extra_args=("--service-user", "nobody"))
        self.assertEqual(rc, 1)
        self.assert_result(res, "source emr", "fail", "not readable by the service user 'nobody'")


class OptoutCheck(unittest.TestCase):
    def test_messy_cp932_file(self):
        lines = ["患者ID,氏名,備考", "0000012345,山田　太郎,", "１２３４５６,鈴木花子,全角", "# コメント 佐藤",
                 "12 34,田中一郎,typo", '="0000099999",高橋,', ",伊藤,ID missing", "", "A-77,渡辺,"]
        data = b"\r\n".join(line.encode("cp932") for line in lines) + b"\r\n55555,\x85\x40\x85\x41\r\n"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "optout.csv")
            with open(path, "wb") as f:
                f.write(data)
            rc, out, err = edgectl("optout", "check", "--json", "--show-ids", path)
            self.assertEqual(rc, 1, err)
            j = json.loads(out)
            self.assertEqual(j["encoding"], "cp932")
            self.assertEqual(j["sha256"], hashlib.sha256(data).hexdigest())
            self.assertEqual(sorted(j["canonical_ids"]), sorted(["12345", "123456", "99999", "A-77", "55555"]))
            self.assertEqual([p["line"] for p in j["problems"]], [5, 7, 10])
            self.assertEqual(j["unreadable_lines"], 3)
            rc, text, _ = edgectl("optout", "check", path)
            self.assertEqual(rc, 1)
            self.assertIn("line 5:", text)
            for name in ("山田", "鈴木", "田中", "伊藤", "佐藤"):  # line content is never printed
                self.assertNotIn(name, out + text)
            # The same IDs, cleanly written, pass.
            with open(path, "wb") as f:
                f.write("患者ID\r\n0000012345\r\n".encode("cp932"))
            rc, text, _ = edgectl("optout", "check", path)
            self.assertEqual(rc, 0, text)
            self.assertIn("OK", text)

    def test_missing_file(self):
        rc, _out, err = edgectl("optout", "check", "/nonexistent/optout.csv")
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/optout.csv", err)


class Help(unittest.TestCase):
    def test_every_subcommand_has_help(self):
        for cmd in (["status"], ["doctor"], ["optout", "check"], ["optout", "list"], ["optout", "import"], ["queue"],
                    ["quarantine", "list"], ["quarantine", "show"], ["quarantine", "retry"], ["flush"], ["audit"],
                    ["verify-batch"]):
            rc, out, _ = edgectl(*cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            self.assertIn("Usage", out)



class HeartbeatWhenTheReceiverIsAway(unittest.TestCase):
    """A site whose https receiver cannot be reached: status still shows the last heartbeat, kept
    in state_dir, with the destination's error in it."""

    def test_status_shows_the_heartbeat_kept_on_the_box(self):
        h = harness.Hospital(patients=4, seed=3)
        self.addCleanup(h.cleanup)
        pki = h.path("tls")
        subprocess.run(["bash", os.path.join(SOURCE_DIR, "tests/support/make_tls_pki.sh"), pki], check=True,
                       stdout=subprocess.DEVNULL)
        h.set_destination("destination:\n  type: https\n  url: https://127.0.0.1:%d/sennen\n"
                          "  tls: {ca: tls/ca.crt, cert: tls/client.crt, key: tls/client.key}\n"
                          "  connect_timeout: 2s\n" % harness.free_port())
        rc, log = h.run_once()
        self.assertNotEqual(rc, 0, log)
        rc, st = edgectl_json("status", "--config", h.config)
        self.assertEqual(st["heartbeat"]["path"], h.path("state", "heartbeat.json"), st["heartbeat"])
        with open(h.path("state", "heartbeat.json"), encoding="utf-8") as f:
            kept = json.load(f)
        self.assertEqual(st["heartbeat"]["time"], kept["time"])
        self.assertIn("cannot connect to the receiver", st["destination"]["last_error"])
        self.assertGreater(st["destination"]["bytes_pending"], 0)

if __name__ == "__main__":
    unittest.main()
