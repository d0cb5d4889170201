"""The monthly drop folder (type: dropbox, issue 14) with the real daemon: UKE claim and DPC files
staff drop are validated; another facility's file, a GO count that does not match, a half-copied file
and a file saved as UTF-8 with LF are moved to rejected/ with a reason staff can act on; a valid
file stays where it is and nothing of it leaves (record-level opt-out is not built yet)."""
import os
import shutil
import unittest

from harness import SAMPLES, HospitalTest, records_of

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


class DropboxTest(HospitalTest):
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

    def test_rejected_with_reasons_valid_kept_nothing_sent(self):
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
        self.assertTrue(os.path.exists(os.path.join(self.drop, "RECEIPTC.UKE")))
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
        self.assertIn("is not sent: record-level opt-out", out)
        sent = [r for r in records_of(self.h.batches()) if r.get("source") == "monthly"]
        self.assertEqual(sent, [])

    @unittest.skipUnless(os.path.isdir(os.path.join(SAMPLES, "yokenzan_receiptisan")), "shared/samples not present")
    def test_public_sample_is_valid_for_its_facility(self):
        self.h.set_config('id: "%s"' % self.site.decode(), 'id: "1210000000"')
        shutil.copy(os.path.join(SAMPLES, "yokenzan_receiptisan/RECEIPTC_GAIRAI_SAMPLE.UKE"),
                    os.path.join(self.drop, "RECEIPTC.UKE"))
        os.utime(os.path.join(self.drop, "RECEIPTC.UKE"), (1700000000, 1700000000))
        for _ in range(2):
            rc, out = self.h.run_once()
            self.assertEqual(rc, 0, out)
        self.assertIn("valid UKE file of facility 1210000000, billing month 202111 (75 claims)", out)
        self.assertFalse(os.path.exists(os.path.join(self.drop, "rejected")))


if __name__ == "__main__":
    unittest.main()
