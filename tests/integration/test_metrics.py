"""Metrics and health of the running service: /metrics parses as Prometheus text and its numbers
match what the run did (records in the delivered batches, quarantined files, batches on disk);
/healthz is 200 while sources poll and turns 503, naming the source, when a source root vanishes."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

from harness import EDGED, Hospital, ServiceHelpers, free_port, records_of

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # python3-prometheus-client (pure Python) is installed for Debian's interpreter; a python3
    # earlier on PATH (pyenv, venv) does not look there.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value}, through the reference parser of the format."""
    out = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("sennen_"), family.name
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(metrics, name, **labels):
    return metrics[(name, frozenset(labels.items()))]


@unittest.skipIf(text_string_to_metric_families is None,
                 "python3-prometheus-client is missing: tools/install-build-deps")
class MetricsTest(ServiceHelpers, unittest.TestCase):

    def setUp(self):
        self.h = Hospital(patients=16, seed=5)
        self.h.set_config("poll_interval: 60s", "poll_interval: 1s")
        self.port = free_port()
        with open(self.h.config, "a", encoding="utf-8") as f:
            f.write(f"metrics:\n  port: {self.port}\n")
        self.start_service()

    def scrape(self):
        status, body = get(self.port, "/metrics")
        self.assertEqual(status, 200)
        return samples(body)

    def test_numbers_match_the_run_and_health_follows_progress(self):
        # Idle after a cycle that delivered everything it sealed, with every source polled twice.
        def settled():
            m = self.scrape()
            return (value(m, "sennen_destination_batches_delivered_total", destination="local " + self.h.export) >= 1
                    and value(m, "sennen_outbox_batches") == 0 and value(m, "sennen_cycle_running") == 0
                    and all(value(m, "sennen_source_polls_total", source=s, type=t) >= 2
                            for s, t in (("emr", "ssmix2"), ("emr-ext", "ssmix2-extended"))))
        self.assertTrue(self.wait_for(settled), self.log_text())
        m = self.scrape()
        batches = self.h.batches()
        delivered = len(records_of(batches))
        self.assertGreater(delivered, 0)

        dest = "local " + self.h.export
        self.assertEqual(value(m, "sennen_destination_batches_delivered_total", destination=dest), len(batches))
        self.assertEqual(value(m, "sennen_destination_failures_total", destination=dest), 0)
        cms_bytes = sum(os.path.getsize(os.path.join(r, n)) for r, _d, fs in os.walk(self.h.export)
                        for n in fs if n.endswith(".cms"))
        self.assertEqual(value(m, "sennen_destination_bytes_delivered_total", destination=dest), cms_bytes)
        self.assertEqual(value(m, "sennen_batches_sealed_total"), len(batches))
        self.assertEqual(value(m, "sennen_batch_seal_seconds_count"), len(batches))
        self.assertEqual(value(m, "sennen_batch_upload_seconds_count"), len(batches))

        # Every record taken in either left in a batch or is still held by the gate.
        ingested = sum(value(m, "sennen_source_records_ingested_total", source=s, type=t)
                       for s, t in (("emr", "ssmix2"), ("emr-ext", "ssmix2-extended")))
        held = sum(value(m, "sennen_spool_records", state=s) for s in ("held_stopped", "held_not_notified"))
        self.assertEqual(value(m, "sennen_spool_records", state="ready"), 0)
        self.assertEqual(ingested, delivered + held)
        self.assertGreater(held, 0)  # the synthetic hospital has stopped and not yet notified patients
        self.assertEqual(sum(value(m, "sennen_gate_withheld_records", reason=r) for r in ("stopped", "not_notified")),
                         held)

        # Quarantine: the generator's junk and misplaced files, counted by the source and in the spool.
        bad = [f for f in self.h.expected()["files"] if f["status"] in ("junk", "misplaced")]
        quarantined = sum(value(m, "sennen_source_quarantined_total", source=s, type=t)
                          for s, t in (("emr", "ssmix2"), ("emr-ext", "ssmix2-extended")))
        self.assertEqual(quarantined, len(bad))
        self.assertEqual(value(m, "sennen_quarantined_files"), len(bad))
        self.assertGreater(value(m, "sennen_source_files", source="emr", type="ssmix2"), 0)
        self.assertLessEqual(time.time() - value(m, "sennen_source_last_success_timestamp_seconds",
                                                 source="emr", type="ssmix2"), 10)
        self.assertGreater(value(m, "sennen_gate_stop_list_entries"), 0)

        # One count per poll the service logged. A poll is logged when it ends and counted when its
        # cycle ends, so the count may trail the log, never lead it.
        def polls():
            return value(self.scrape(), "sennen_source_polls_total", source="emr", type="ssmix2")
        before = polls()
        logged = sum(1 for line in self.log_text().splitlines()
                     if line.startswith("<6>source emr: ") and (" poll done in " in line or " full scan done in " in line))
        self.assertLessEqual(before, logged)
        self.assertTrue(self.wait_for(lambda: polls() >= logged, timeout=10))

        status, body = get(self.port, "/healthz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok")
        self.assertEqual(get(self.port, "/other")[0], 404)

        # The export share goes away: polls fail and, after three poll intervals, health says so.
        root = self.h.path("ssmix2", "std")
        os.rename(root, root + ".gone")
        self.assertTrue(self.wait_for(lambda: get(self.port, "/healthz")[0] == 503, timeout=30), self.log_text())
        status, body = get(self.port, "/healthz")
        health = json.loads(body)
        self.assertEqual(health["status"], "failing")
        self.assertTrue(any(p.startswith("source emr:") and "cannot be read" in p for p in health["problems"]),
                        health)
        m = self.scrape()
        self.assertEqual(value(m, "sennen_source_up", source="emr", type="ssmix2"), 0)
        self.assertGreater(value(m, "sennen_source_poll_failures_total", source="emr", type="ssmix2"), 0)

        # Back again: healthy on the next successful poll.
        os.rename(root + ".gone", root)
        self.assertTrue(self.wait_for(lambda: get(self.port, "/healthz")[0] == 200, timeout=30), self.log_text())

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)


    def test_port_in_use_leaves_the_pipeline_running(self):
        self.proc.kill()
        self.proc.wait()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", self.port))
            taken.listen()
            self.proc = subprocess.Popen([EDGED, "--config", self.h.config], stdout=self.log, stderr=self.log)
            self.assertTrue(self.wait_for(lambda: len(self.h.batches()) >= 1), self.log_text())
        self.assertIn(f"cannot listen on 127.0.0.1:{self.port}", self.log_text())
        self.assertIn("running without metrics", self.log_text())
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=20), 0)

if __name__ == "__main__":
    unittest.main()
