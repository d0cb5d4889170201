"""A failing network: the service delivers over https (mutual TLS) to nginx through a fault proxy
and a misbehaving receiver (netfaults.py: resets, stalls, slow drip, refused connections, cut TLS
handshakes, 5xx, 4xx, a 201 for a body it did not store, a body stored cut short), run after run,
while the tree and the stop list keep changing; some runs end with SIGTERM, some with SIGKILL in
the middle of whatever the network was doing. At the end the faults stop, the daemon finishes,
and the receiver must hold exactly what the oracle says: every batch once (a batch sent again
after a fault lands under the same name and replaces itself), byte-exact, nothing dropped after a
4xx, no temp or stray file at the receiver or in state_dir."""
import os
import re
import subprocess
import time

import common
import netfaults
import workload
from test_https import MAKE_TLS_PKI, Receiver

DELIVERED = re.compile(r"delivered batch (\S+) ")


class NetworkCampaign:
    part = "network"

    def __init__(self, seed, runs, workdir, patients=120):
        self.rng = common.part_rng(seed, self.part)
        self.runs = runs
        self.site = workload.Site(workdir, seed, patients, self.rng)
        self.events = common.Tally()
        self.faults = common.Tally()
        self.deliveries = {}  # batch id -> times the daemon logged it delivered
        pki = self.site.h.path("tls")
        subprocess.run(["bash", MAKE_TLS_PKI, pki], check=True)
        self.rx = Receiver(pki)
        self.rx.start()
        self.receiver = netfaults.FaultyReceiver(common.part_rng(seed, self.part + "/receiver"),
                                                 os.path.join(self.rx.dir, "data"), os.path.join(self.rx.dir, "faulty"),
                                                 pki, self.faults)
        self.proxy = netfaults.FaultProxy(common.part_rng(seed, self.part + "/proxy"), self.rx.port, self.receiver.port,
                                          self.faults)
        # Short timeouts so a stall costs seconds, not the minute of the defaults.
        self.site.h.set_destination(
            "destination:\n  type: https\n  url: https://127.0.0.1:%d/sennen\n"
            "  tls: {ca: tls/ca.crt, cert: tls/client.crt, key: tls/client.key}\n"
            "  connect_timeout: 3s\n  low_speed_time: 3s\n" % self.proxy.port)
        self.site.h.export = self.rx.data  # what the oracle and the temp-file check read

    def one_run(self):
        rng = self.rng
        if rng.random() < 0.3:
            self.site.edit_stop_list(self.events)
        if rng.random() < 0.6 and self.site.mutate_in_background(updates=rng.choice((20, 60))):
            self.events.add("EMR-writer rounds (mutate), run while the daemon works")
        d = self.site.start("net")
        time.sleep(rng.uniform(2, 5))
        if rng.random() < 0.25:
            if d.kill() is None:
                raise common.CampaignError("the service ended on its own (exit status %s); see %s"
                                           % (d.wait(), d.log_path))
            d.close()
            self.events.add("runs ended with SIGKILL")
        else:
            rc = d.stop()
            if rc != 0:
                raise common.CampaignError("the service exited with %s at SIGTERM; see %s; it said:\n%s"
                                           % (rc, d.log_path, common.said(d.log_path)))
            self.events.add("runs ended with SIGTERM")
        self.count_deliveries(d.log_path)
        self.site.after_run()

    def count_deliveries(self, log_path):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            for m in DELIVERED.finditer(f.read()):
                self.deliveries[m.group(1)] = self.deliveries.get(m.group(1), 0) + 1

    def run(self):
        common.log("%s: %d service runs through the fault proxy on %s" % (self.part, self.runs, self.site.h.dir))
        started = time.monotonic()
        for i in range(self.runs):
            self.one_run()
            if (i + 1) % 25 == 0:
                common.log("%s: %d runs so far" % (self.part, i + 1))
        common.log("%s: %d runs in %.0f s; faults off, letting the daemon finish" % (self.part, self.runs,
                                                                                     time.monotonic() - started))
        self.proxy.faults = self.receiver.faults = False
        self.site.settle()
        for log_name in sorted(os.listdir(os.path.join(self.site.h.dir, "logs"))):
            if "-final" in log_name:
                self.count_deliveries(os.path.join(self.site.h.dir, "logs", log_name))
        stray = netfaults.stray_files(self.rx.data)
        self.site.check(self.events)
        if stray:
            raise common.CampaignError("stray files at the receiver: %s" % stray[:10])

    def cleanup(self):
        self.proxy.stop()
        self.receiver.stop()
        self.rx.cleanup()

    def report(self):
        lines = ["faults injected, per kind (proxy: per connection; receiver: per request):"]
        lines += self.faults.lines()
        lines.append("deliveries the daemon logged: %d of %d batches, %d batches delivered more than once "
                     "(same name, replaced at the receiver)" % (
                         sum(self.deliveries.values()), len(self.deliveries),
                         sum(1 for n in self.deliveries.values() if n > 1)))
        lines.append("what else happened:")
        lines += self.events.lines()
        return lines
