"""central/sennen-fleet against synthetic central receiver directories, plus one end-to-end run of
the real daemon (its `local` destination lays files out exactly like the receiver)."""
import datetime as dt
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

SOURCE_DIR = os.environ.get("SENNEN_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
FLEET = os.path.join(SOURCE_DIR, "central/sennen-fleet")
NOW = "2026-11-25T12:00:00Z"
GIB = 1024 ** 3


def heartbeat(site_id, time="2026-11-25T11:58:00Z", **changes):
    """A heartbeat as daemon/telemetry/heartbeat.cpp writes it; `changes` override top-level keys,
    and "spool__ready"-style keys override one field of a nested object."""
    hb = {
        "format": "sennen-edge-heartbeat/1", "site_id": site_id, "site_name": f"Hospital {site_id}",
        "version": "0.1.0", "time": time, "uptime_seconds": 3600, "interval_seconds": 300, "status": "ok",
        "config_sha256": "0" * 64,
        "sources": [{"name": "emr", "type": "ssmix2", "last_poll": time, "last_success": time, "files_seen": 10,
                     "ingested_last_poll": 0, "quarantined_last_poll": 0, "waiting_to_be_stable": 0,
                     "last_error": None}],
        "spool": {"ready": 0, "ready_bytes": 0, "in_batches": 0, "batches_pending": 0,
                  "oldest_pending_age_seconds": 0, "quarantined_total": 0,
                  "content_bytes": 2 * GIB, "max_bytes": 20 * GIB, "intake_paused": None},
        "outbox": {"bytes": 0, "max_bytes": 4 * GIB, "sealing_paused": None},
        "gate": {"stop_list_entries": 2, "stop_list_unreadable_lines": 0, "stop_list_sha256": "1" * 64,
                 "sealing_paused": None, "withheld_stopped": 0, "withheld_not_notified": 0, "purged_total": 0,
                 "withdrawals_pending": 0, "withdrawals_total": 2},
        "last_batch": {"batch_id": f"{site_id}-20261125T100000Z-00000007", "created_at": "2026-11-25T10:00:00Z",
                       "delivered_at": "2026-11-25T10:00:05Z", "records": 5, "withdrawals": 0, "size": 1000},
        "destination": {"describe": "https https://ingest.example.jp/sennen", "last_success": time,
                        "last_error": None},
        "certificates": {"client": {"path": "/etc/sennen-edge/site.crt", "not_after": "2027-06-01T00:00:00Z",
                                    "expires_in_days": 187, "error": None},
                         "signer": {"path": "/etc/sennen-edge/site.crt", "not_after": "2027-06-01T00:00:00Z",
                                    "expires_in_days": 187, "error": None}},
        "disk": {"state_dir_free_bytes": 80 * GIB, "state_dir_total_bytes": 200 * GIB},
        "progress": {"summary": "idle", "files_scanned": 10, "records_ingested": 0, "bytes_sealed": 0,
                     "bytes_delivered": 0},
    }
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__")
            hb[outer][inner] = value
        else:
            hb[key] = value
    return hb


class Receiver:
    """A central receiver directory in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sennen-fleet-")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def site(self, site_id, hb=None, raw=None):
        folder = os.path.join(self.dir, site_id)
        os.makedirs(folder, exist_ok=True)
        if hb is not None or raw is not None:
            with open(os.path.join(folder, "heartbeat.json"), "w", encoding="utf-8") as f:
                f.write(raw if raw is not None else json.dumps(hb, indent=2))
        return folder

    def batch(self, site_id, day, batch_id, created_at, mtime=None):
        folder = os.path.join(self.dir, site_id, day)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, batch_id + ".cms"), "wb") as f:
            f.write(b"\0" * 100)
        marker = os.path.join(folder, batch_id + ".json")
        with open(marker, "w", encoding="utf-8") as f:
            json.dump({"batch_id": batch_id, "created_at": created_at, "format": "sennen-edge-batch/1",
                       "record_count": 3, "sha256": "2" * 64, "site_id": site_id, "size": 100,
                       "withdrawal_count": 0}, f)
        if mtime is not None:
            os.utime(marker, (mtime, mtime))
        return marker


class Tags(html.parser.HTMLParser):
    """Every tag name and every src/href value of a page, as a browser would see them."""

    def __init__(self):
        super().__init__()
        self.names, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.links.extend(v or "" for k, v in attrs if k in ("src", "href", "xlink:href"))


def fleet(*args, now=NOW):
    extra = ["--now", now] if now else []
    return subprocess.run([sys.executable, FLEET, *args, *extra], capture_output=True, text=True, timeout=60)


def epoch(iso_utc):
    return dt.datetime.strptime(iso_utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def by_site(stdout):
    return {s["site_id"]: s for s in json.loads(stdout)}


class FleetTest(unittest.TestCase):

    def setUp(self):
        self.r = Receiver()
        self.addCleanup(self.r.cleanup)
        self.tmp = tempfile.mkdtemp(prefix="sennen-fleet-out-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_coverage_absent_from_an_older_heartbeat_is_none_and_the_page_says_so(self):
        self.r.site("1000000001", heartbeat("1000000001"))
        page = os.path.join(self.tmp, "f.html")
        r = fleet(self.r.dir, "--json", "--html", page)
        self.assertIsNone(by_site(r.stdout)["1000000001"]["coverage"])
        with open(page, encoding="utf-8") as f:
            self.assertIn("no heartbeat reports coverage yet", f.read())

    def test_coverage_cells_and_expected_but_missing(self):
        kinds = [{"kind": "patient", "label": "患者情報", "structured": 3, "pdf_jpeg": 0, "expected": "structured"},
                 {"kind": "progress_notes", "label": "経過記録情報", "structured": 2, "pdf_jpeg": 1,
                  "expected": None},
                 {"kind": "reports", "label": "報告書情報", "structured": 5, "pdf_jpeg": 0, "expected": "pdf_jpeg"},
                 {"kind": "dialysis", "label": "透析情報", "structured": 0, "pdf_jpeg": 0, "expected": "none"}]
        self.r.site("1000000001", heartbeat("1000000001", coverage={
            "window_days": 30, "vendor_profiles": ["generic"], "kinds": kinds, "other_records": 4}))
        page = os.path.join(self.tmp, "f.html")
        r = fleet(self.r.dir, "--json", "--html", page)
        cov = by_site(r.stdout)["1000000001"]["coverage"]
        cells = {k["kind"]: (k["cell"], k["expected_but_missing"]) for k in cov["kinds"]}
        self.assertEqual(cells, {"patient": ("○", False), "progress_notes": ("○ + PDF", False),
                                 "reports": ("○", True), "dialysis": ("×", False)})
        with open(page, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(text.count('<td class="missing"'), 1)
        self.assertIn("経過記録情報", text)

    def mixed_fleet(self):
        r = self.r
        r.site("1000000001", heartbeat("1000000001"))                                   # healthy
        r.site("1000000002", heartbeat("1000000002", time="2026-11-25T10:30:00Z"))      # late (90 min)
        r.site("1000000003", heartbeat("1000000003", status="failing",
                                       destination__last_error="HTTP 403 Forbidden: the receiver refused "
                                                               "the client certificate"))
        r.site("1000000004", heartbeat("1000000004", status="failing",
                                       gate__sealing_paused="outbox full (2 GiB cap)"))
        r.site("1000000005", heartbeat("1000000005", disk__state_dir_free_bytes=2 * GIB,
                                       spool__oldest_pending_age_seconds=3 * 86400, spool__ready=1200,
                                       spool__in_batches=300, spool__batches_pending=2,
                                       certificates={"client": {"expires_in_days": 10},
                                                     "signer": {"expires_in_days": 400}}))
        r.site("1000000006", raw='{"format": "sennen-edge-heartbeat/1", "time": ')      # corrupt
        r.site("1000000007")                                                            # no heartbeat
        r.batch("1000000007", "20261120", "1000000007-20261120T010000Z-00000001", "2026-11-20T01:00:00Z",
                mtime=epoch("2026-11-20T01:00:30Z"))

    # ------------------------------------------------------------------ flags and exit codes

    def test_healthy_fleet_exits_0_and_says_ok(self):
        self.r.site("1000000001", heartbeat("1000000001"))
        self.r.site("1000000002", heartbeat("1000000002", time="2026-11-25T11:50:00Z"))
        r = fleet(self.r.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rows = [l for l in r.stdout.splitlines() if l.startswith("100000000")]
        self.assertEqual(len(rows), 2)
        self.assertTrue(all(l.rstrip().endswith("OK") for l in rows), r.stdout)
        self.assertIn("2 site(s), 0 need attention", r.stdout)

    def test_each_problem_gets_its_flag(self):
        self.mixed_fleet()
        r = fleet(self.r.dir, "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        sites = by_site(r.stdout)
        self.assertEqual({k: v["flags"] for k, v in sites.items()}, {
            "1000000001": [],
            "1000000002": ["LATE"],
            "1000000003": ["FAILING"],
            "1000000004": ["FAILING"],
            "1000000005": ["NEAR LIMIT"],
            "1000000006": ["UNREADABLE"],
            "1000000007": ["UNREADABLE"],
        })
        self.assertFalse(sites["1000000001"]["needs_attention"])
        self.assertTrue(all(s["needs_attention"] for k, s in sites.items() if k != "1000000001"))
        self.assertIn("HTTP 403", sites["1000000003"]["failing"]["destination"])
        self.assertEqual(sites["1000000004"]["sealing_paused"], "outbox full (2 GiB cap)")
        near = [x["text"] for x in sites["1000000005"]["reasons"]]
        self.assertEqual(len(near), 3, near)  # disk, oldest pending, client certificate (not the signer)
        self.assertTrue(any("certificate client expires in 10 day" in t for t in near), near)
        self.assertTrue(any("2.0G free" in t for t in near), near)
        self.assertEqual(sites["1000000005"]["certificates"], {"client": 10, "signer": 400})
        self.assertEqual(sites["1000000005"]["backlog"]["records"], 1500)
        self.assertEqual(sites["1000000005"]["backlog"]["batches_pending"], 2)
        self.assertEqual(sites["1000000002"]["heartbeat_age_seconds"], 90 * 60)
        # Unreadable: which file and why.
        why6 = sites["1000000006"]["reasons"][0]["text"]
        self.assertIn(os.path.join(self.r.dir, "1000000006", "heartbeat.json"), why6)
        self.assertIn("not valid JSON", why6)
        self.assertRegex(why6, r"line \d+ column \d+")
        why7 = sites["1000000007"]["reasons"][0]["text"]
        self.assertIn(os.path.join(self.r.dir, "1000000007", "heartbeat.json"), why7)
        self.assertIn("missing", why7)
        # Without a heartbeat the receiver's commit markers still tell the last batch.
        self.assertEqual(sites["1000000007"]["last_batch"]["batch_id"], "1000000007-20261120T010000Z-00000001")
        self.assertEqual(sites["1000000007"]["last_batch"]["source"], "receiver")
        self.assertEqual(sites["1000000007"]["last_batch"]["time"], "2026-11-20T01:00:30Z")  # arrival

    def test_text_table_fits_80_columns_with_indented_reasons(self):
        self.mixed_fleet()
        r = fleet(self.r.dir)
        self.assertEqual(r.returncode, 1)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("SITE"))
        self.assertEqual([l for l in lines if len(l) > 80], [])
        rows = {l.split()[0]: l for l in lines if re.match(r"^\d{10} ", l)}
        self.assertEqual(len(rows), 7)
        self.assertTrue(rows["1000000001"].endswith("OK"))
        self.assertTrue(rows["1000000002"].endswith("LATE"))
        self.assertTrue(rows["1000000005"].endswith("NEAR LIMIT"))
        self.assertIn("1500r/2b", rows["1000000005"])
        reasons = [l for l in lines if l.startswith("    ")]
        self.assertTrue(any("FAILING: destination" in l and "HTTP 403" in l for l in reasons), r.stdout)
        self.assertTrue(any("FAILING: sealing paused: outbox full" in l for l in reasons), r.stdout)
        self.assertTrue(any(l.startswith("    UNREADABLE: ") for l in reasons), r.stdout)
        self.assertIn("7 site(s), 6 need attention", r.stdout)

    def test_heartbeat_problems_are_failing_reasons_and_counts_are_shown(self):
        self.r.site("1000000009", heartbeat("1000000009", status="failing", problems=[
            {"code": "stop_list_retained", "message": "2 patient ID(s) are no longer in the stop list"},
            {"code": "crash_loop", "message": "3 starts within 60 min followed a run that did not end cleanly"},
            {"code": "destination", "message": "said again by the destination check"}],
            spool__quarantined_total=4, gate__withheld_stopped=7, gate__withheld_not_notified=44,
            gate__stop_list_retained=2))
        r = fleet(self.r.dir, "--json")
        site = {s["site_id"]: s for s in json.loads(r.stdout)}["1000000009"]
        texts = [x["text"] for x in site["reasons"] if x["flag"] == "FAILING"]
        self.assertIn("2 patient ID(s) are no longer in the stop list", texts)
        self.assertIn("3 starts within 60 min followed a run that did not end cleanly", texts)
        self.assertNotIn("said again by the destination check", texts)  # the destination check says it
        self.assertEqual(site["counts"]["quarantined"], 4)
        self.assertEqual(site["counts"]["withheld_stopped"], 7)
        self.assertEqual(site["counts"]["withheld_not_notified"], 44)
        text = fleet(self.r.dir).stdout
        self.assertIn("quarantined 4; withheld 7 (stop list), 44 (not yet notified)", text)
        html_out = os.path.join(self.r.dir, "..", "fleet.html")
        fleet(self.r.dir, "--html", html_out)
        with open(html_out, encoding="utf-8") as f:
            self.assertIn("<td>4</td><td>7 / 44</td>", f.read())

    def test_late_is_three_intervals_of_the_sites_own_interval(self):
        self.r.site("2000000001", heartbeat("2000000001", time="2026-11-25T11:57:10Z", interval_seconds=60))  # 170 s
        self.r.site("2000000002", heartbeat("2000000002", time="2026-11-25T11:56:40Z", interval_seconds=60))  # 200 s
        hb = heartbeat("2000000003", time="2026-11-25T11:46:00Z")  # 14 min, default interval 5 min
        del hb["interval_seconds"]
        self.r.site("2000000003", hb)
        hb = heartbeat("2000000004", time="2026-11-25T11:44:00Z")  # 16 min
        del hb["interval_seconds"]
        self.r.site("2000000004", hb)
        sites = by_site(fleet(self.r.dir, "--json").stdout)
        self.assertEqual(sites["2000000001"]["flags"], [])
        self.assertEqual(sites["2000000002"]["flags"], ["LATE"])
        self.assertEqual(sites["2000000003"]["flags"], [])
        self.assertEqual(sites["2000000003"]["interval_seconds"], 300)
        self.assertEqual(sites["2000000004"]["flags"], ["LATE"])
        # A site whose clock runs ahead cannot hide behind a heartbeat from the future.
        self.r.site("2000000005", heartbeat("2000000005", time="2026-11-26T12:00:00Z"))
        sites = by_site(fleet(self.r.dir, "--json").stdout)
        self.assertEqual(sites["2000000005"]["flags"], ["FAILING"])
        self.assertIn("in the future", sites["2000000005"]["reasons"][0]["text"])
        shutil.rmtree(os.path.join(self.r.dir, "2000000005"))
        # The same tree judged an hour earlier is fine: --now really sets the clock.
        self.assertEqual(fleet(self.r.dir, now="2026-11-25T11:58:00Z").returncode, 0)

    def test_failing_source_and_bare_failing_status(self):
        hb = heartbeat("3000000001", status="failing")
        hb["sources"][0]["last_error"] = "cannot read /srv/ssmix2: Permission denied"
        self.r.site("3000000001", hb)
        self.r.site("3000000002", heartbeat("3000000002", status="failing"))
        sites = by_site(fleet(self.r.dir, "--json").stdout)
        self.assertEqual(sites["3000000001"]["failing"]["sources"],
                         [{"name": "emr", "error": "cannot read /srv/ssmix2: Permission denied"}])
        self.assertEqual(sites["3000000001"]["flags"], ["FAILING"])
        self.assertEqual(sites["3000000002"]["flags"], ["FAILING"])
        self.assertIn("no error text", sites["3000000002"]["reasons"][0]["text"])

    def test_disk_fraction_and_certificate_shapes(self):
        # 6 GiB free is above 5 GiB, but below 10 % of a 100 GiB disk.
        self.r.site("4000000001", heartbeat("4000000001", disk={"state_dir_free_bytes": 6 * GIB,
                                                                 "state_dir_total_bytes": 100 * GIB}))
        self.r.site("4000000002", heartbeat("4000000002", disk={"state_dir_free_bytes": 6 * GIB,
                                                                 "state_dir_total_bytes": 50 * GIB}))
        self.r.site("4000000003", heartbeat("4000000003", certificates={"client": 45, "signer": 29}))
        self.r.site("4000000004", heartbeat("4000000004", certificates={
            "client": {"not_after": "2026-11-20T00:00:00Z"}, "signer": {"not_after": "2027-11-20T00:00:00Z"}}))
        self.r.site("4000000005", heartbeat("4000000005", certificates={"client": {"unknown": "shape"}}))
        sites = by_site(fleet(self.r.dir, "--json").stdout)
        self.assertEqual(sites["4000000001"]["flags"], ["NEAR LIMIT"])
        self.assertEqual(sites["4000000002"]["flags"], [])
        self.assertEqual(sites["4000000003"]["flags"], ["NEAR LIMIT"])
        self.assertIn("signer expires in 29", sites["4000000003"]["reasons"][0]["text"])
        self.assertEqual(sites["4000000004"]["flags"], ["NEAR LIMIT"])
        self.assertIn("client expired 6 day(s) ago", sites["4000000004"]["reasons"][0]["text"])
        self.assertEqual(sites["4000000005"]["flags"], [])
        self.assertEqual(sites["4000000005"]["certificates"], {})
        self.assertEqual(sites["4000000002"]["certificates"], {"client": 187, "signer": 187})

    def test_near_limit_caps_certificates_and_disk_each_flagged_with_the_reason(self):
        def cert(days, error=None):
            return {"path": "/etc/sennen-edge/site.crt", "not_after": None if error else "2026-12-01T00:00:00Z",
                    "expires_in_days": None if error else days, "error": error}
        r = self.r
        r.site("8000000001", heartbeat("8000000001", spool__content_bytes=15 * GIB,  # 75 %: fine
                                       outbox={"bytes": 3 * GIB, "max_bytes": 4 * GIB, "sealing_paused": None}))
        r.site("8000000002", heartbeat("8000000002", spool__content_bytes=17 * GIB))  # 85 %
        r.site("8000000003", heartbeat("8000000003", outbox={
            "bytes": 4 * GIB + 1, "max_bytes": 4 * GIB,
            "sealing_paused": "outbox holds 4 GiB of its 4 GiB cap (outbox.max_bytes): batches wait for the "
                              "upload window; sealing paused until deliveries make room"}))
        r.site("8000000004", heartbeat("8000000004", status="failing", spool__content_bytes=21 * GIB,
                                       spool__intake_paused="spool holds 21 GiB of its 20 GiB cap "
                                                            "(spool.max_bytes): ...; intake paused"))
        r.site("8000000005", heartbeat("8000000005", certificates={"client": cert(12), "signer": cert(300)}))
        r.site("8000000006", heartbeat("8000000006", certificates={"client": cert(300), "signer": cert(29)}))
        r.site("8000000007", heartbeat("8000000007", status="failing", certificates={
            "client": cert(300), "signer": cert(None, "cannot open /etc/sennen-edge/site.crt: No such file")}))
        r.site("8000000008", heartbeat("8000000008", disk={"state_dir_free_bytes": 15 * GIB,
                                                           "state_dir_total_bytes": 200 * GIB}))
        result = fleet(r.dir, "--json")
        self.assertEqual(result.returncode, 1)
        sites = by_site(result.stdout)
        self.assertEqual({k: v["flags"] for k, v in sites.items()}, {
            "8000000001": [], "8000000002": ["NEAR LIMIT"], "8000000003": ["NEAR LIMIT"],
            "8000000004": ["FAILING", "NEAR LIMIT"], "8000000005": ["NEAR LIMIT"], "8000000006": ["NEAR LIMIT"],
            "8000000007": ["FAILING"], "8000000008": ["NEAR LIMIT"],
        })
        reasons = {k: [x["text"] for x in v["reasons"]] for k, v in sites.items()}
        self.assertEqual(reasons["8000000002"], ["spool holds 17.0G of its 20.0G cap (85 %, spool.max_bytes)"])
        self.assertEqual(len(reasons["8000000003"]), 1)
        self.assertIn("outbox holds 4.0G of its 4.0G cap (100 %, outbox.max_bytes); sealing paused: outbox holds",
                      reasons["8000000003"][0])
        self.assertIn("upload window", reasons["8000000003"][0])
        self.assertEqual(reasons["8000000004"][0], "intake paused: spool holds 21 GiB of its 20 GiB cap "
                                                   "(spool.max_bytes): ...; intake paused")
        self.assertIn("105 %", reasons["8000000004"][1])
        self.assertEqual(reasons["8000000005"], ["certificate client expires in 12 day(s)"])
        self.assertEqual(reasons["8000000006"], ["certificate signer expires in 29 day(s)"])
        self.assertEqual(reasons["8000000007"], ["certificate signer cannot be read by the site: cannot open "
                                                 "/etc/sennen-edge/site.crt: No such file"])
        self.assertIn("state_dir has 15.0G of 200.0G free", reasons["8000000008"][0])
        self.assertEqual(sites["8000000007"]["certificates"], {"client": 300})
        self.assertEqual(sites["8000000002"]["limits"]["spool"],
                         {"bytes": 17 * GIB, "max_bytes": 20 * GIB, "fraction": 0.85})
        self.assertIsNone(sites["8000000001"]["limits"]["sealing_paused"])
        self.assertTrue(sites["8000000003"]["limits"]["sealing_paused"].startswith("outbox holds"))
        # The same reasons in the table and on the page.
        text = fleet(r.dir).stdout
        self.assertRegex(text, r"(?m)^8000000001 .* OK$")
        self.assertIn("NEAR LIMIT: spool holds 17.0G of its 20.0G cap", text)
        self.assertIn("FAILING: intake paused: spool holds 21 GiB", text)
        out = os.path.join(self.tmp, "fleet.html")
        fleet(r.dir, "--html", out)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        self.assertIn("<th>spool / outbox of cap</th>", page)
        self.assertIn("<td>85 % / 0 %</td>", page)
        self.assertIn("certificate client expires in 12 day(s)", page)

    def test_last_batch_is_the_newer_of_heartbeat_and_receiver(self):
        sid = "5000000001"
        self.r.site(sid, heartbeat(sid))  # heartbeat: batch ...07 delivered 2026-11-25T10:00:05Z
        # An older batch on disk (its marker arrived the day before): the heartbeat's batch wins.
        self.r.batch(sid, "20261124", f"{sid}-20261124T100000Z-00000006", "2026-11-24T10:00:00Z",
                     mtime=epoch("2026-11-24T10:00:10Z"))
        lb = by_site(fleet(self.r.dir, "--json").stdout)[sid]["last_batch"]
        self.assertEqual((lb["batch_id"], lb["source"]), (f"{sid}-20261125T100000Z-00000007", "heartbeat"))
        # A marker that arrived after the heartbeat's batch wins and is reported as from the receiver.
        self.r.batch(sid, "20261125", f"{sid}-20261125T110000Z-00000008", "2026-11-25T11:00:00Z",
                     mtime=epoch("2026-11-25T11:00:00Z"))
        lb = by_site(fleet(self.r.dir, "--json").stdout)[sid]["last_batch"]
        self.assertEqual(lb["batch_id"], f"{sid}-20261125T110000Z-00000008")
        self.assertEqual(lb["source"], "receiver")
        self.assertEqual(lb["age_seconds"], 3600)
        # Half-written uploads (".tmp-" files) and unreadable markers are not batches.
        with open(os.path.join(self.r.dir, sid, "20261125", f"{sid}-20261125T115000Z-00000009.json.tmp-77"), "w") as f:
            f.write("{}")
        with open(os.path.join(self.r.dir, sid, "20261125", f"{sid}-20261125T115500Z-00000010.json"), "w") as f:
            f.write("{trunc")
        lb = by_site(fleet(self.r.dir, "--json").stdout)[sid]["last_batch"]
        self.assertEqual(lb["batch_id"], f"{sid}-20261125T110000Z-00000008")
        # The same batch in both: the heartbeat's delivery time, confirmed by the receiver.
        shutil.rmtree(os.path.join(self.r.dir, sid, "20261125"))
        self.r.batch(sid, "20261125", f"{sid}-20261125T100000Z-00000007", "2026-11-25T10:00:00Z",
                     mtime=epoch("2026-11-25T10:00:06Z"))
        lb = by_site(fleet(self.r.dir, "--json").stdout)[sid]["last_batch"]
        self.assertEqual(lb["batch_id"], f"{sid}-20261125T100000Z-00000007")
        self.assertEqual(lb["source"], "heartbeat+receiver")
        self.assertEqual(lb["time"], "2026-11-25T10:00:05Z")

    def test_wrong_format_and_misfiled_heartbeat_are_unreadable(self):
        self.r.site("6000000001", raw="[1, 2]")
        self.r.site("6000000002", heartbeat("6000000002", format="something-else/1"))
        self.r.site("6000000003", heartbeat("6000000003", time="yesterday"))
        self.r.site("6000000004", heartbeat("6000000099"))
        self.r.site("6000000005", raw="")
        sites = by_site(fleet(self.r.dir, "--json").stdout)
        for sid, why in (("6000000001", "not a JSON object"), ("6000000002", "format is 'something-else/1'"),
                         ("6000000003", '"time"'), ("6000000004", "6000000099"), ("6000000005", "empty")):
            self.assertEqual(sites[sid]["flags"], ["UNREADABLE"], sid)
            self.assertIn(why, sites[sid]["reasons"][0]["text"], sid)

    def test_behind_rpo_only_with_an_objective_and_only_when_the_recovery_point_is_older(self):
        rp = lambda t: {"time": t, "age_seconds": 0, "pending": 4, "withheld_stopped": 2, "withheld_not_notified": 1}
        self.r.site("1000000001", heartbeat("1000000001", recovery_point=rp("2026-11-25T06:00:00Z")))  # 6 h
        self.r.site("1000000002", heartbeat("1000000002", recovery_point=rp("2026-11-23T12:00:00Z")))  # 48 h
        self.r.site("1000000003", heartbeat("1000000003", recovery_point=rp(None)))  # never polled yet
        self.r.site("1000000004", heartbeat("1000000004"))  # a site before recovery points
        plain = by_site(fleet(self.r.dir, "--json").stdout)
        self.assertFalse([s for s in plain.values() if "BEHIND RPO" in s["flags"]])
        self.assertEqual(plain["1000000002"]["recovery_point"]["age_seconds"], 48 * 3600)
        r = fleet(self.r.dir, "--json", "--rpo", "36h")
        self.assertEqual(r.returncode, 1)
        sites = by_site(r.stdout)
        self.assertEqual({k for k, s in sites.items() if "BEHIND RPO" in s["flags"]},
                         {"1000000002", "1000000003", "1000000004"})
        reason = next(x["text"] for x in sites["1000000002"]["reasons"] if x["flag"] == "BEHIND RPO")
        self.assertIn("2026-11-23T12:00:00Z", reason)
        self.assertIn("4 record(s) wait", reason)
        self.assertEqual(fleet(self.r.dir, "--rpo", "soon").returncode, 2)

    def test_usage_errors_exit_2(self):
        self.r.site("1000000001", heartbeat("1000000001"))
        self.assertEqual(fleet(os.path.join(self.r.dir, "nope")).returncode, 2)
        r = fleet(self.r.dir, now="25/11/2026")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--now", r.stderr)
        self.assertEqual(fleet(self.r.dir, "--bogus").returncode, 2)
        self.assertEqual(fleet(now=None).returncode, 2)
        r = fleet(self.r.dir, "--html", os.path.join(self.tmp, "no-such-dir", "x.html"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("--html", r.stderr)
        r = fleet("--help", now=None)
        self.assertEqual(r.returncode, 0)
        self.assertIn("S3", r.stdout)

    def test_empty_receiver_needs_attention(self):
        r = fleet(self.r.dir)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no site folders", r.stdout)
        self.assertEqual(json.loads(fleet(self.r.dir, "--json").stdout), [])

    # ------------------------------------------------------------------ HTML and history

    def test_missing_care_months_are_flagged_per_site_and_listed_across_sites(self):
        def drop(months):
            return {"name": "monthly", "type": "dropbox", "last_error": None, "months": months}
        calendar = {"uke-medical": {"2026-09": "arrived", "2026-10": "missing", "2026-11": "not due"},
                    "dpc": {"2026-09": "before start", "2026-10": "missing", "2026-11": "not due"}}
        problem = [{"code": "missing_month", "message": "source monthly: no file has arrived for care month(s) "
                                                        "past their deadline: dpc 2026-10, uke-medical 2026-10"}]
        for sid in ("1000000001", "1000000002"):
            hb = heartbeat(sid, status="failing", problems=problem)
            hb["sources"].append(drop(calendar))
            self.r.site(sid, hb)
        hb = heartbeat("1000000003")
        hb["sources"].append(drop({"uke-medical": {"2026-10": "arrived", "2026-11": "not due"}}))
        self.r.site("1000000003", hb)
        r = fleet(self.r.dir, "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        sites = by_site(r.stdout)
        self.assertEqual(sites["1000000001"]["flags"], ["MISSING"])  # not also FAILING for the same problem
        self.assertEqual(sites["1000000001"]["missing_months"],
                         [{"source": "monthly", "kind": "dpc", "month": "2026-10"},
                          {"source": "monthly", "kind": "uke-medical", "month": "2026-10"}])
        self.assertEqual(sites["1000000003"]["flags"], [])
        self.assertEqual(sites["1000000003"]["missing_months"], [])
        r = fleet(self.r.dir)
        self.assertIn("MISSING: source monthly: no dpc file for care month 2026-10", r.stdout)
        self.assertIn("missing care months across sites:\n    2026-10 dpc: 1000000001, 1000000002\n"
                      "    2026-10 uke-medical: 1000000001, 1000000002\n", r.stdout)
        out = os.path.join(self.tmp, "fleet.html")
        fleet(self.r.dir, "--html", out)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        self.assertIn('class="flag f-MISSING"', page)
        self.assertIn("<td>2026-10 dpc<br>2026-10 uke-medical</td>", page)

    def test_html_is_self_contained_coloured_and_escaped(self):
        self.mixed_fleet()
        evil = heartbeat("1000000008", site_name='<script>alert("x")</script> & Co',
                         destination__last_error="<img src=http://evil.example/x.png>")
        self.r.site("1000000008", evil)
        out = os.path.join(self.tmp, "fleet.html")
        r = fleet(self.r.dir, "--html", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        with open(out, encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertIn("<svg", page)
        self.assertIn("<style>", page)
        self.assertNotIn("<script", page.lower())
        self.assertNotIn("<img", page.lower())
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co", page)
        tags = Tags()
        tags.feed(page)
        tags.close()
        self.assertIn("svg", tags.names)
        self.assertNotIn("script", tags.names)
        self.assertNotIn("img", tags.names)
        self.assertNotIn("link", tags.names)
        self.assertTrue(tags.links)  # the table links to each site's chart, in-page
        self.assertEqual([v for v in tags.links if not v.startswith("#")], [])
        self.assertNotIn("@import", page)
        self.assertNotIn("url(", page)
        for flag in ("f-OK", "f-LATE", "f-FAILING", "f-NEAR-LIMIT", "f-UNREADABLE"):
            self.assertIn(f'class="flag {flag}"', page)
            self.assertRegex(page, r"\." + flag + r"\{background:#")  # each flag has its colour
        self.assertEqual(page.count('<div class="site"'), 8)

    def test_history_appends_per_heartbeat_caps_and_charts(self):
        sid = "7000000001"
        hdir = os.path.join(self.tmp, "history")
        out = os.path.join(self.tmp, "fleet.html")
        backlog = [0, 50, 120, 80]
        for i, ready in enumerate(backlog):
            t = f"2026-11-25T11:{40 + 5 * i:02d}:00Z"
            self.r.site(sid, heartbeat(sid, time=t, spool__ready=ready))
            r = fleet(self.r.dir, "--history", hdir, "--html", out, now=t)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # A rerun before the next heartbeat adds nothing.
        fleet(self.r.dir, "--history", hdir, now="2026-11-25T11:56:00Z")
        path = os.path.join(hdir, sid + ".jsonl")
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(l) for l in f]
        self.assertEqual([l["records"] for l in lines], backlog)
        self.assertEqual(lines[-1]["time"], "2026-11-25T11:55:00Z")
        with open(out, encoding="utf-8") as f:
            page = f.read()
        points = re.search(r'<polyline points="([^"]+)"', page).group(1).split()
        self.assertEqual(len(points), len(backlog))
        ys = [float(p.split(",")[1]) for p in points]
        self.assertEqual(ys.index(min(ys)), 2)  # highest backlog is drawn highest (smallest y)
        self.assertEqual(ys.index(max(ys)), 0)

        # Capped to the last 500 lines; junk lines are ignored, not fatal.
        with open(path, "w", encoding="utf-8") as f:
            f.write("not json\n")
            for i in range(600):
                f.write(json.dumps({"time": f"2026-11-0{1 + i // 100}T00:{i % 60:02d}:00Z", "records": i}) + "\n")
        self.r.site(sid, heartbeat(sid, time="2026-11-25T12:00:00Z", spool__ready=7))
        self.assertEqual(fleet(self.r.dir, "--history", hdir, "--html", out).returncode, 0)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 500)
        self.assertEqual(json.loads(lines[-1])["records"], 7)
        with open(out, encoding="utf-8") as f:
            points = re.search(r'<polyline points="([^"]+)"', f.read()).group(1).split()
        self.assertEqual(len(points), 500)

    def test_unreadable_site_keeps_its_history_untouched(self):
        sid = "7000000002"
        hdir = os.path.join(self.tmp, "history")
        self.r.site(sid, heartbeat(sid))
        fleet(self.r.dir, "--history", hdir)
        self.r.site(sid, raw="{")
        r = fleet(self.r.dir, "--history", hdir, "--html", os.path.join(self.tmp, "f.html"))
        self.assertEqual(r.returncode, 1)
        with open(os.path.join(hdir, sid + ".jsonl"), encoding="utf-8") as f:
            self.assertEqual(len(f.read().splitlines()), 1)


class EndToEndTest(unittest.TestCase):
    """The real daemon delivers to a `local` destination; sennen-fleet reads that as a receiver."""

    def test_fresh_site_from_the_real_daemon_is_ok(self):
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
        import harness
        if not os.access(harness.EDGED, os.X_OK):
            self.skipTest(f"daemon not built at {harness.EDGED} (set SENNEN_BINARY_DIR)")
        h = harness.Hospital(patients=8)
        self.addCleanup(h.cleanup)
        rc, log = h.run_once()
        self.assertEqual(rc, 0, log)
        site = h.expected()["site_id"]
        r = fleet(h.export, "--json", now=None)
        sites = by_site(r.stdout)
        self.assertEqual(list(sites), [site])
        s = sites[site]
        self.assertEqual(s["status"], "ok")
        self.assertTrue(s["last_batch"] and s["last_batch"]["source"] == "heartbeat+receiver", s["last_batch"])
        self.assertLess(s["heartbeat_age_seconds"], 300)
        if shutil.disk_usage(h.dir).free >= 6 * GIB:  # a nearly full test machine is rightly NEAR LIMIT
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertEqual(s["flags"], [])
            text = fleet(h.export, now=None)
            self.assertEqual(text.returncode, 0, text.stdout)
            self.assertRegex(text.stdout, rf"(?m)^{site} .* OK$")

    def test_recovery_point_moves_with_confirmed_deliveries_and_stalls_while_the_receiver_is_down(self):
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
        import harness
        if not os.access(harness.EDGED, os.X_OK):
            self.skipTest(f"daemon not built at {harness.EDGED} (set SENNEN_BINARY_DIR)")
        edgectl = os.path.join(harness.BINARY_DIR, "tools/edgectl/sennen-edgectl")
        h = harness.Hospital(patients=8)
        self.addCleanup(h.cleanup)

        def once(want_rc):
            rc, log = h.run_once()
            self.assertEqual(rc, want_rc, log[-3000:])
            with open(h.path("state", "heartbeat.json")) as f:  # the box's copy: written also when the receiver is down
                hb = json.load(f)
            time.sleep(1.1)  # times are whole seconds
            return hb

        def rp(hb):
            return {s["name"]: s["recovery_point"]["time"] for s in hb["sources"]}, hb["recovery_point"]

        first = once(0)
        src1, site1 = rp(first)
        self.assertEqual(site1["pending"], 0)
        self.assertEqual(src1, {s["name"]: s["last_success"] for s in first["sources"]})  # all delivered
        self.assertEqual(site1["time"], min(src1.values()))
        self.assertGreater(site1["withheld_stopped"] + site1["withheld_not_notified"], 0)  # counted apart

        # The receiver goes away; new records wait: the recovery point stays at the oldest of them.
        h.mutate()
        h.set_config("path: export", "path: export-broken")
        with open(h.path("export-broken"), "w") as f:
            f.write("a file where a folder should be")
        down1 = once(1)
        src2, site2 = rp(down1)
        self.assertGreater(site2["pending"], 0)
        self.assertLess(src2["emr"], down1["sources"][0]["last_success"])
        down2 = once(1)
        src3, site3 = rp(down2)
        self.assertEqual((src3, site3["time"]), (src2, site2["time"]), "it must stall while nothing is delivered")
        self.assertGreater(site3["age_seconds"], site2["age_seconds"])
        status = subprocess.run([edgectl, "status", "--json", "--config", h.config], capture_output=True, text=True)
        self.assertEqual(json.loads(status.stdout)["recovery_point"]["time"], site3["time"], status.stderr)
        text = subprocess.run([edgectl, "status", "--config", h.config], capture_output=True, text=True).stdout
        self.assertIn("recovery point " + site3["time"], text)
        # sennen-fleet on a receiver holding that heartbeat flags it behind an objective of 1 s.
        rx = tempfile.mkdtemp(prefix="sennen-fleet-rp-")
        self.addCleanup(shutil.rmtree, rx, True)
        os.makedirs(os.path.join(rx, down2["site_id"]))
        shutil.copy(h.path("state", "heartbeat.json"), os.path.join(rx, down2["site_id"], "heartbeat.json"))
        sites = by_site(fleet(rx, "--json", "--rpo", "1s", now=None).stdout)
        self.assertIn("BEHIND RPO", sites[down2["site_id"]]["flags"])

        # Back up: everything is confirmed delivered, the recovery point moves past the stall.
        h.set_config("path: export-broken", "path: export")
        up = once(0)
        src4, site4 = rp(up)
        self.assertEqual(site4["pending"], 0)
        self.assertGreater(site4["time"], site3["time"])
        self.assertEqual(src4, {s["name"]: s["last_success"] for s in up["sources"]})
        self.assertEqual(h.heartbeat()["recovery_point"]["time"], site4["time"])  # also in the one sent


if __name__ == "__main__":
    unittest.main()


# The kinds the synthetic hospital writes, as docs/coverage-kinds.md maps them (the test's oracle).
SYNTH_KINDS = {"ADT-00": "patient", "PPR-01": "diagnoses", "OML-11": "lab_results", "OMP-01": "prescriptions"}
SYNTH_STANDARD_CODES = {"11506-3": "progress_notes"}
SYNTH_LOCAL_CODES = {"L-OBSERVATIONS": "vitals"}


def oracle_kind(kind):
    parts = kind.split("^")
    if kind in SYNTH_KINDS:
        return SYNTH_KINDS[kind]
    if len(parts) > 3 and parts[3] in SYNTH_STANDARD_CODES:
        return SYNTH_STANDARD_CODES[parts[3]]
    return SYNTH_LOCAL_CODES.get(parts[0])


class CoverageEndToEndTest(unittest.TestCase):
    """Two sites run by the real daemon, one whose source states what it expects per document kind:
    the heartbeats' coverage matches the delivered batches' manifests, and sennen-fleet shows the
    seed's 17-kind table across both sites with expected-but-missing kinds highlighted."""

    def test_coverage_table_from_real_heartbeats(self):
        sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
        import harness
        if not os.access(harness.EDGED, os.X_OK):
            self.skipTest(f"daemon not built at {harness.EDGED} (set SENNEN_BINARY_DIR)")
        a = harness.Hospital(patients=12, seed="cov-a", extra=("--site-id", "1311111111"))
        self.addCleanup(a.cleanup)
        b = harness.Hospital(patients=12, seed="cov-b", extra=("--site-id", "1322222222"))
        self.addCleanup(b.cleanup)
        b.set_config("    root: ssmix2/std\n",
                     "    root: ssmix2/std\n"
                     "    profile: {expected_kinds: {lab_results: structured, dialysis: structured, "
                     "reports: pdf_jpeg}}\n")
        receiver = tempfile.mkdtemp(prefix="sennen-fleet-cov-")
        self.addCleanup(shutil.rmtree, receiver, True)
        delivered = {}
        for h in (a, b):
            rc, log = h.run_once()
            self.assertEqual(rc, 0, log[-3000:])
            site = h.expected()["site_id"]
            counts = {}
            for r in harness.records_of(h.batches()):
                kind = oracle_kind(r["kind"])
                if r["event"] != "upsert":
                    continue
                form = ("pdf_jpeg" if any(p["name"].lower().endswith((".pdf", ".jpg", ".jpeg"))
                                          for p in r.get("parts", [])) else "structured")
                counts[(kind, form)] = counts.get((kind, form), 0) + 1
            delivered[site] = counts
            shutil.copytree(os.path.join(h.export, site), os.path.join(receiver, site))
        r = fleet(receiver, "--json", now=None)
        sites = by_site(r.stdout)
        self.assertEqual(set(sites), set(delivered))
        for site, counts in delivered.items():
            cov = sites[site]["coverage"]
            self.assertEqual(cov["window_days"], 30)
            self.assertEqual(len(cov["kinds"]), 17)
            got = {}
            for k in cov["kinds"]:
                for form in ("structured", "pdf_jpeg"):
                    if k[form]:
                        got[(k["kind"], form)] = k[form]
            want = {k: n for k, n in counts.items() if k[0] is not None}
            self.assertEqual(got, want, site)
            self.assertEqual(cov["other_records"], sum(n for k, n in counts.items() if k[0] is None))
            self.assertEqual(cov["vendor_profiles"], ["generic"])
        missing = {site: sorted(k["kind"] for k in s["coverage"]["kinds"] if k["expected_but_missing"])
                   for site, s in sites.items()}
        self.assertEqual(missing, {"1311111111": [], "1322222222": ["dialysis", "reports"]})
        kinds_b = {k["kind"]: k for k in sites["1322222222"]["coverage"]["kinds"]}
        self.assertEqual(kinds_b["lab_results"]["expected"], "structured")
        self.assertEqual(kinds_b["lab_results"]["cell"], "○")
        self.assertEqual(kinds_b["dialysis"]["cell"], "×")

        page = os.path.join(receiver, "fleet.html")
        r = fleet(receiver, "--html", page, now=None)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        self.assertIn('<table class="coverage">', text)
        for label in ("患者情報", "検歴情報", "透析情報", "初診時特有情報"):
            self.assertIn(label, text)
        self.assertEqual(text.count('<td class="missing"'), 2)
        # For the screenshot (tests/central/fleet_screenshot.sh): keep the page where asked.
        if os.environ.get("SENNEN_FLEET_PAGE"):
            shutil.copy(page, os.environ["SENNEN_FLEET_PAGE"])
