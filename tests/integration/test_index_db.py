"""The index DB change feed of a `type: ssmix2` source (`index_db:`), through real ODBC drivers:
SQLite's (libsqliteodbc) and PostgreSQL's (odbc-postgresql) against a PostgreSQL cluster this test
starts on 127.0.0.1 as the `postgres` user (docs/harness.md R1). After the first poll (a walk) a
poll with nothing new opens no folder of the tree (strace), a new row's file is sent in one poll, a
file the index does not name is found by the reconciliation walk (full_scan_interval) and counted,
and an unusable index DB is refused by --check and makes the daemon walk instead, saying so."""
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import BINARY_DIR, EDGED, Hospital, free_port, records_of

EDGECTL = os.path.join(BINARY_DIR, "tools/edgectl/sennen-edgectl")

ODBC_DIRS = glob.glob("/usr/lib/*/odbc")
PG_BIN = "/usr/lib/postgresql/15/bin"
AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
MISSED = "file the index DB did not name, found by the reconciliation walk"
FALLBACK = "index DB unusable: the tree was walked instead"
BASE = "2026-12-01 00:00:00"


def driver(name):
    for d in ODBC_DIRS:
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    return None


SQLITE_DRIVER = driver("libsqlite3odbc.so")
PG_DRIVER = driver("psqlodbcw.so")
SCHEMA = ("CREATE TABLE SSMIXIDX (VolumeLabel varchar(10), FacilityID char(10), PatientID varchar(15), "
          "OrderDate varchar(8), DataKind varchar(180), OrderNo varchar(22), ProcessingType varchar(3), "
          "EnterOrgCD varchar(5), TransactionDatetime varchar(17), OutRelDirectory varchar(260), "
          "FileName varchar(260), UpdateDatetime %s)")


def row(std, path, n, stamp_fraction):
    """An SSMIXIDX row for the file at `path`, the n-th change."""
    rel = os.path.relpath(os.path.dirname(path), std)
    name = os.path.basename(path)
    f = name.split("_")
    when = "%s.%s" % (BASE[:-2] + "%02d" % (n // 1000 % 60), stamp_fraction(n))
    return ("STD01", "1312345678", f[0], f[1], f[2], f[3], "DEL" if name.endswith("_0") else "INS", "-", f[4],
            rel, name, when)


class IndexFeed:
    """The scenario, for one DBMS: subclasses say how to make the table and add rows."""
    stamp_fraction = staticmethod(lambda n: "%03d" % (n % 1000))

    def setUp(self):
        self.h = Hospital(patients=6, seed="index")
        self.std = self.h.path("ssmix2", "std")
        self.n = 0

    def tearDown(self):
        self.h.cleanup()

    def std_files(self):
        return sorted(os.path.join(d, n) for d, _s, ns in os.walk(self.std) for n in ns)

    def next_rows(self, paths):
        out = []
        for p in paths:
            self.n += 1
            out.append(row(self.std, p, self.n, self.stamp_fraction))
        return out

    def configure(self, full_scan="24h"):
        if not hasattr(self, "base"):
            with open(self.h.config, encoding="utf-8") as f:
                self.base = f.read()
        block = "    full_scan_interval: %s\n    index_db:\n      connection: \"%s\"\n" % (full_scan, self.connection)
        with open(self.h.config, "w", encoding="utf-8") as f:
            f.write(self.base.replace("    root: ssmix2/std\n", "    root: ssmix2/std\n" + block))

    def run_once(self, trace=None):
        cmd = [EDGED, "--config", self.h.config, "--once"]
        if trace:
            cmd = ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout + r.stderr

    def sent_paths(self):
        return {r["path"] for r in records_of(self.h.batches()) if r["source"] == "emr"}

    def new_file(self, order):
        """A new current version beside an existing one of a patient whose records leave (same
        bytes: its PID-3 matches the folder), old enough to be read."""
        exp = self.h.expected()
        f = next(f for f in exp["files"] if f["source"] == "emr" and f["status"] == "current"
                 and exp["patients"][f["patient_id"]]["group"] == "eligible")
        src = os.path.join(self.std, f["path"])
        parts = os.path.basename(src).split("_")
        parts[3] = order
        dst = os.path.join(os.path.dirname(src), "_".join(parts))
        shutil.copyfile(src, dst)
        os.utime(dst, (time.time() - 3600, time.time() - 3600))
        return dst

    def doctor_index(self):
        """sennen-edgectl doctor's check of the index DB: (result, message)."""
        r = subprocess.run([EDGECTL, "doctor", "--config", self.h.config, "--json"], capture_output=True, text=True,
                           timeout=60)
        checks = [c for c in json.loads(r.stdout)["checks"] if c["check"] == "source emr index DB"]
        self.assertEqual(len(checks), 1, r.stdout)
        return checks[0]["result"], checks[0]["message"]

    def emr_events(self):
        src = next(s for s in self.h.heartbeat()["sources"] if s["name"] == "emr")
        return src["events"]

    def test_feed(self):
        if shutil.which("strace") is None:
            self.skipTest("strace is not installed (apt-get install strace)")
        self.create(self.next_rows(self.std_files()))
        self.configure()
        r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.doctor_index()[0], "pass")

        trace = self.h.path("trace.txt")

        def opened():
            with open(trace, encoding="utf-8", errors="replace") as f:
                return [line for line in f if self.std + "/" in line or '"%s"' % self.std in line]

        out = self.run_once(trace)  # the first poll walks, then follows the index from its last row
        self.assertIn("following the index DB", out)
        self.assertTrue(opened(), "the trace sees the walk's folders")
        sent = self.sent_paths()
        self.assertTrue(sent)

        self.run_once(trace)  # nothing new: no folder of the tree is opened
        self.assertEqual(opened(), [], "the tree was read although the index said nothing changed")

        new = self.new_file("777777777777771")
        self.insert(self.next_rows([new]))
        self.run_once()
        rel = os.path.relpath(new, self.std)
        self.assertIn(rel, self.sent_paths() - sent, "a new row's file is sent in one poll")

        missed = self.new_file("777777777777772")  # never in the index
        self.run_once()
        rel_missed = os.path.relpath(missed, self.std)
        self.assertNotIn(rel_missed, self.sent_paths())
        self.configure(full_scan="1s")
        time.sleep(1.1)
        out = self.run_once()
        self.assertIn(rel_missed, self.sent_paths(), "the reconciliation walk finds what the index missed")
        self.assertIn("was not named by the index DB", out)
        self.assertEqual(self.emr_events()[MISSED]["index_db"]["last_poll"], 1)

        self.configure()
        self.break_index()
        late = self.new_file("777777777777773")
        out = self.run_once()  # the index cannot be read: the tree is walked, and that is said
        self.assertIn("the tree is walked instead", out)
        self.assertIn(os.path.relpath(late, self.std), self.sent_paths())
        self.assertEqual(self.emr_events()[FALLBACK]["index_db"]["last_poll"], 1)
        r = subprocess.run([EDGED, "--config", self.h.config, "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("index DB", r.stderr)
        result, message = self.doctor_index()
        self.assertEqual(result, "fail")
        self.assertIn("until this is fixed the source walks its tree every poll", message)
        records = [r["path"] for r in records_of(self.h.batches()) if r["source"] == "emr"]
        self.assertEqual(len(records), len(set(records)), "nothing sent twice")


@unittest.skipUnless(SQLITE_DRIVER, "the SQLite ODBC driver is not installed (apt-get install libsqliteodbc)")
class SqliteIndex(IndexFeed, unittest.TestCase):
    def create(self, rows):
        self.db = self.h.path("ssmixidx.db")
        self.connection = "Driver=%s;Database=%s" % (SQLITE_DRIVER, self.db)
        with sqlite3.connect(self.db) as c:
            c.execute(SCHEMA % "timestamp")
        self.insert(rows)

    def insert(self, rows):
        with sqlite3.connect(self.db) as c:
            c.executemany("INSERT INTO SSMIXIDX VALUES (%s)" % ",".join("?" * 12), rows)

    def break_index(self):
        os.rename(self.db, self.db + ".away")  # the driver opens an empty database: no table

    def check(self, connection):
        cfg = self.h.config
        with open(cfg, encoding="utf-8") as f:
            text = f.read()
        text = text.replace("    root: ssmix2/std\n",
                            "    root: ssmix2/std\n    index_db:\n      connection: \"%s\"\n" % connection)
        path = self.h.path("variant.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run([EDGED, "--config", path, "--check"], capture_output=True, text=True, timeout=60)
        return r.returncode, r.stderr

    def test_check_refuses_an_unusable_index(self):
        rc, err = self.check("DSN=no-such-dsn;UID=u;PWD=secret42")
        self.assertEqual(rc, 2, err)
        self.assertIn("index DB (ODBC DSN=no-such-dsn;UID=u;PWD=***)", err)
        self.assertIn("cannot connect", err)
        self.assertNotIn("secret42", err)

        empty = self.h.path("empty.db")
        sqlite3.connect(empty).close()
        rc, err = self.check("Driver=%s;Database=%s" % (SQLITE_DRIVER, empty))
        self.assertEqual(rc, 2, err)
        self.assertIn("no such table", err)
        self.assertIn("check that table SSMIXIDX", err)

        typed = self.h.path("typed.db")
        with sqlite3.connect(typed) as c:
            c.execute(SCHEMA.replace("FileName varchar(260)", "FileName integer") % "timestamp")
        rc, err = self.check("Driver=%s;Database=%s" % (SQLITE_DRIVER, typed))
        self.assertEqual(rc, 2, err)
        self.assertIn("column FileName of table SSMIXIDX is INTEGER", err)

        # At run time the same table makes the poll walk, saying why; the records still flow.
        r = subprocess.run([EDGED, "--config", self.h.path("variant.yaml"), "--once"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("column FileName of table SSMIXIDX is INTEGER", r.stderr)
        self.assertIn("the tree is walked instead", r.stderr)
        self.assertTrue([b for b in self.h.batches() if b["manifest"]["records"]])


def have_postgres():
    return PG_DRIVER and os.path.exists(os.path.join(PG_BIN, "initdb")) and shutil.which("psql") and \
        shutil.which("setpriv") and os.geteuid() == 0


@unittest.skipUnless(have_postgres(), "needs root, PostgreSQL 15 (apt-get install postgresql) and psqlODBC "
                     "(apt-get install odbc-postgresql) to start a throwaway cluster as the postgres user")
class PostgresIndex(IndexFeed, unittest.TestCase):
    # PostgreSQL keeps microseconds: the watermark must round-trip them exactly.
    stamp_fraction = staticmethod(lambda n: "%06d" % (n % 1000 * 1001))

    def setUp(self):
        super().setUp()
        self.pg = tempfile.mkdtemp(prefix="sennen-pg-", dir="/tmp")
        shutil.chown(self.pg, "postgres", "postgres")
        self.port = free_port()
        subprocess.run(AS_POSTGRES + [PG_BIN + "/initdb", "-D", self.pg + "/data", "-U", "postgres", "-A", "trust",
                                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True)
        self.start()
        self.psql("CREATE DATABASE ssmix", db="postgres")
        self.connection = ("Driver=%s;Server=127.0.0.1;Port=%d;Database=ssmix;Uid=postgres;Pwd=;SSLmode=disable"
                           % (PG_DRIVER, self.port))

    def start(self):
        subprocess.run(AS_POSTGRES + [PG_BIN + "/pg_ctl", "-D", self.pg + "/data", "-l", self.pg + "/log", "-w", "-s",
                                      "-o", "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off"
                                      % (self.port, self.pg), "start"], check=True, capture_output=True)

    def tearDown(self):
        subprocess.run(AS_POSTGRES + [PG_BIN + "/pg_ctl", "-D", self.pg + "/data", "-m", "immediate", "-w", "-s",
                                      "stop"], capture_output=True)
        shutil.rmtree(self.pg, ignore_errors=True)
        super().tearDown()

    def psql(self, sql, db="ssmix"):
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "postgres", "-d", db], input=sql, text=True, check=True, capture_output=True)

    def create(self, rows):
        self.psql(SCHEMA % "timestamp" + ";")
        self.insert(rows)

    def insert(self, rows):
        def lit(v):
            return "'" + v.replace("'", "''") + "'"
        values = ",\n".join("(" + ",".join(lit(v) for v in r) + ")" for r in rows)
        self.psql("INSERT INTO SSMIXIDX VALUES " + values + ";")

    def break_index(self):
        subprocess.run(AS_POSTGRES + [PG_BIN + "/pg_ctl", "-D", self.pg + "/data", "-m", "fast", "-w", "-s", "stop"],
                       check=True, capture_output=True)


if __name__ == "__main__":
    unittest.main()
