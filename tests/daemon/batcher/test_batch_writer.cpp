// Sealed batches are checked with the tools the central side uses (openssl cms, zstd, tar), and
// the pax tar inside is parsed byte by byte.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

#include "daemon/batcher/batch_writer.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/daemon/batcher/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace sennen::batcher;
using namespace sennen::batcher::testing;
using sennen::test::read_file;
using sennen::test::run;
using sennen::test::run_output;
using sennen::test::TempDir;

namespace {

constexpr std::int64_t kMtime = 1700000000;  // 2023-11-14 22:13:20 UTC

SealingKeys keys(const std::vector<std::string>& recipients = {"central"}) {
  std::vector<fs::path> r;
  for (auto& n : recipients) r.push_back(pki() / (n + ".crt"));
  return SealingKeys::load(pki() / "site.crt", pki() / "site.key", r);
}

// Hands out `data` in uneven pieces, like a file read that returns short counts.
BatchWriter::ReadFn reader(const std::string& data, std::size_t step = 7777) {
  auto pos = std::make_shared<std::size_t>(0);
  return [&data, pos, step](std::span<std::byte> buf) {
    std::size_t n = std::min({step, buf.size(), data.size() - *pos});
    std::memcpy(buf.data(), data.data() + *pos, n);
    *pos += n;
    return n;
  };
}

struct TarEntry {
  char type;
  std::string name;  // from the pax "path" record when there is one
  std::string body;
  std::string mode, uid, gid, uname, gname, mtime, magic;
  bool had_pax = false;
};

std::string field(const std::string& block, std::size_t off, std::size_t len) {
  std::string s = block.substr(off, len);
  return s.substr(0, s.find('\0'));
}

// A minimal POSIX tar reader: ustar headers, pax 'x' extended headers applied to the next entry.
std::vector<TarEntry> parse_tar(const std::string& tar) {
  std::vector<TarEntry> out;
  std::map<std::string, std::string> pax;
  std::size_t off = 0;
  while (off + 512 <= tar.size()) {
    std::string h = tar.substr(off, 512);
    if (h == std::string(512, '\0')) break;
    TarEntry e;
    e.type = h[156];
    e.name = field(h, 0, 100);
    e.mode = field(h, 100, 8);
    e.uid = field(h, 108, 8);
    e.gid = field(h, 116, 8);
    e.mtime = field(h, 136, 12);
    e.magic = h.substr(257, 8);
    e.uname = field(h, 265, 32);
    e.gname = field(h, 297, 32);
    std::string prefix = field(h, 345, 155);
    if (!prefix.empty()) e.name = prefix + "/" + e.name;
    std::size_t size = std::stoull(field(h, 124, 12), nullptr, 8);
    e.body = tar.substr(off + 512, size);
    off += 512 + (size + 511) / 512 * 512;
    if (e.type == 'x') {
      for (std::size_t p = 0; p < e.body.size();) {
        std::size_t sp = e.body.find(' ', p);
        std::size_t len = std::stoull(e.body.substr(p, sp - p));
        std::string rec = e.body.substr(sp + 1, len - (sp - p) - 2);
        pax[rec.substr(0, rec.find('='))] = rec.substr(rec.find('=') + 1);
        p += len;
      }
      continue;
    }
    if (pax.count("path")) e.name = pax["path"];
    e.had_pax = !pax.empty();
    pax.clear();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

TEST_CASE("a batch round-trips through openssl cms -decrypt | cms -verify | zstd -d | tar x") {
  TempDir t;
  const std::string manifest = R"({"batch":"b1","files":4})";
  const std::string japanese = "患者/山田^太郎/ｶﾙﾃ 記録.txt";
  const std::string japanese_body = "所見: 異常なし\n";
  const std::string big = random_bytes(5 * 1024 * 1024, 1);
  const std::string text = std::string(100000, 'a') + "MSH|^~\\&|SENNEN\r";
  fs::path batch = t / "b1.cms";
  SealedFile sealed;
  {
    BatchWriter w(batch, keys(), 3, kMtime);
    w.add_bytes("manifest.json", bytes(manifest));
    w.add_bytes(japanese, bytes(japanese_body));
    w.add_bytes("empty.txt", {});
    w.add_stream("data/random.bin", big.size(), reader(big));
    w.add_stream("data/text.hl7", text.size(), reader(text, 65536));
    sealed = w.finish();
  }

  SUBCASE("file: mode 0640, size and hash as reported") {
    struct stat st {};
    REQUIRE(::stat(batch.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(sealed.size == fs::file_size(batch));
    CHECK(sealed.sha256 == sennen::util::sha256_hex(read_file(batch)));
  }

  SUBCASE("outer layer is AuthEnvelopedData, inner is SignedData with SHA-256 and the signer certificate") {
    std::string outer = run_output("openssl cms -cmsout -print -inform DER -in " + shell_quote(batch.string()));
    CHECK(outer.find("contentType: id-smime-ct-authEnvelopedData") != std::string::npos);
    CHECK(outer.find("aes-256-gcm") != std::string::npos);
    fs::path inner = t / "inner.der";
    REQUIRE(run("openssl cms -decrypt -binary -inform DER -in " + shell_quote(batch.string()) + " -inkey " +
                shell_quote((pki() / "central.key").string()) + " -out " + shell_quote(inner.string())) == 0);
    std::string in = run_output("openssl cms -cmsout -print -inform DER -in " + shell_quote(inner.string()));
    CHECK(in.find("contentType: pkcs7-signedData") != std::string::npos);
    CHECK(in.find("algorithm: sha256") != std::string::npos);
    CHECK(in.find("CN=sennen-test-site") != std::string::npos);  // certificate included
  }

  SUBCASE("the stock pipeline extracts every byte") {
    fs::path out = t / "out";
    fs::create_directories(out);
    REQUIRE(run_pipeline(unseal_command(batch, "central") + " | tar x -C " + shell_quote(out.string())) == 0);
    CHECK(read_file(out / "manifest.json") == manifest);
    CHECK(read_file(out / japanese) == japanese_body);
    CHECK(read_file(out / "empty.txt").empty());
    CHECK(read_file(out / "data/random.bin") == big);
    CHECK(read_file(out / "data/text.hl7") == text);
    std::string listing = run_output("bash -o pipefail -c " +
                                     shell_quote(unseal_command(batch, "central") + " | tar tv --utc --full-time"));
    std::vector<std::string> lines;
    for (std::size_t p = 0; p < listing.size();) {
      std::size_t e = listing.find('\n', p);
      lines.push_back(listing.substr(p, e - p));
      p = e + 1;
    }
    REQUIRE(lines.size() == 5);
    CHECK(lines[0].find("-rw-r--r-- 0/0") == 0);
    CHECK(lines[0].find("2023-11-14 22:13:20 manifest.json") != std::string::npos);
    CHECK(lines[1].find(japanese) != std::string::npos);
    CHECK(lines[2].find("empty.txt") != std::string::npos);
    CHECK(lines[3].find("data/random.bin") != std::string::npos);
    CHECK(lines[4].find("data/text.hl7") != std::string::npos);
  }

  SUBCASE("the tar inside is POSIX pax with fixed ownership, mode and mtime") {
    std::string tar = run_output("bash -o pipefail -c " + shell_quote(unseal_command(batch, "central")));
    std::vector<TarEntry> entries = parse_tar(tar);
    REQUIRE(entries.size() == 5);
    std::vector<std::string> names;
    for (auto& e : entries) {
      names.push_back(e.name);
      CHECK(e.type == '0');
      CHECK(e.magic == std::string("ustar\0"
                                   "00",
                                   8));  // POSIX, not GNU "ustar  "
      CHECK(std::stoul(e.mode, nullptr, 8) == 0644);
      CHECK(std::stoul(e.uid, nullptr, 8) == 0);
      CHECK(std::stoul(e.gid, nullptr, 8) == 0);
      CHECK(e.uname.empty());
      CHECK(e.gname.empty());
      CHECK(std::stoll(e.mtime, nullptr, 8) == kMtime);
    }
    CHECK(names ==
          std::vector<std::string>{"manifest.json", japanese, "empty.txt", "data/random.bin", "data/text.hl7"});
    CHECK(entries[1].had_pax);  // the UTF-8 name travels in a pax "path" record
    CHECK(entries[3].body == big);
    // The end of the archive is exactly two zero records: no padding to a 10 KiB block.
    CHECK(tar.size() % 512 == 0);
    CHECK(tar.substr(tar.size() - 1024) == std::string(1024, '\0'));
  }
}

TEST_CASE("every recipient can decrypt; others cannot; a flipped byte is detected") {
  TempDir t;
  const std::string body = random_bytes(300000, 2);
  fs::path batch = t / "b.cms";
  {
    BatchWriter w(batch, keys({"central", "central2"}), 3, kMtime);
    w.add_bytes("manifest.json", bytes("{}"));
    w.add_bytes("x.bin", bytes(body));
    w.finish();
  }
  for (const char* who : {"central", "central2"}) {
    CAPTURE(who);
    fs::path out = t / who;
    fs::create_directories(out);
    CHECK(run_pipeline(unseal_command(batch, who) + " | tar x -C " + shell_quote(out.string())) == 0);
    CHECK(read_file(out / "x.bin") == body);
  }
  // The signer's key is not a recipient.
  CHECK(run("openssl cms -decrypt -binary -inform DER -in " + shell_quote(batch.string()) + " -inkey " +
            shell_quote((pki() / "site.key").string()) + " -out /dev/null 2>/dev/null") != 0);

  std::string sealed = read_file(batch);
  for (std::size_t at : {sealed.size() / 2, sealed.size() - 40}) {  // ciphertext; near the GCM tag
    CAPTURE(at);
    std::string tampered = sealed;
    tampered[at] = static_cast<char>(tampered[at] ^ 0x01);
    fs::path bad = t / ("tampered-" + std::to_string(at) + ".cms");
    sennen::test::write_file(bad, tampered);
    CHECK(run_pipeline("{ " + unseal_command(bad, "central") + "; } > /dev/null 2>&1") != 0);
  }
}

TEST_CASE("a source that changes while being sealed abandons the batch") {
  TempDir t;
  const std::string data = random_bytes(200000, 3);
  fs::path batch = t / "b.cms";
  SUBCASE("shrunk") {
    BatchWriter w(batch, keys(), 3, kMtime);
    w.add_bytes("manifest.json", bytes("{}"));
    std::string shorter = data.substr(0, data.size() - 1);
    try {
      w.add_stream("records/a.hl7", data.size(), reader(shorter));
      FAIL("no error");
    } catch (const sennen::Error& e) {
      CHECK(std::string(e.what()).find("records/a.hl7 changed while being sealed") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(w.add_bytes("b", bytes("x")), doctest::Contains("abandoned"), sennen::Error);
    CHECK_THROWS_AS(w.finish(), sennen::Error);
    CHECK(fs::exists(batch));  // still open...
  }
  SUBCASE("grew") {
    BatchWriter w(batch, keys(), 3, kMtime);
    try {
      w.add_stream("records/a.hl7", data.size() - 1, reader(data));
      FAIL("no error");
    } catch (const sennen::Error& e) {
      CHECK(std::string(e.what()).find("changed while being sealed") != std::string::npos);
    }
  }
  CHECK_FALSE(fs::exists(batch));  // ...and removed by the destructor
}

TEST_CASE("the output file is created exclusively and removed when not finished") {
  TempDir t;
  fs::path batch = t / "b.cms";
  {
    BatchWriter w(batch, keys(), 3, kMtime);
    w.add_bytes("a", bytes("x"));
  }
  CHECK_FALSE(fs::exists(batch));

  sennen::test::write_file(batch, "someone else's");
  CHECK_THROWS_WITH_AS(BatchWriter(batch, keys(), 3, kMtime), doctest::Contains(batch.c_str()), sennen::Error);
  CHECK(read_file(batch) == "someone else's");  // untouched

  CHECK_THROWS_WITH_AS(BatchWriter(t / "c.cms", keys(), 0, kMtime), doctest::Contains("zstd level"), sennen::Error);
  CHECK_FALSE(fs::exists(t / "c.cms"));
  CHECK_THROWS_WITH_AS(BatchWriter(t / "c.cms", keys(), 3, -1), doctest::Contains("system clock"), sennen::Error);
  CHECK_FALSE(fs::exists(t / "c.cms"));

  BatchWriter w(t / "d.cms", keys(), 3, kMtime);
  CHECK_THROWS_AS(w.add_bytes("../escape", bytes("x")), sennen::Error);
  CHECK_THROWS_AS(w.add_bytes("/abs", bytes("x")), sennen::Error);
}

TEST_CASE("size bounds hold: fixed + sum(entries) >= actual") {
  TempDir t;
  auto check = [&](const std::string& name, const std::vector<std::pair<std::string, std::string>>& files,
                   const std::vector<std::string>& recipients, int level) {
    SealingKeys k = keys(recipients);
    fs::path batch = t / (name + ".cms");
    std::uint64_t bound = BatchWriter::worst_case_fixed_bytes(k);
    std::uint64_t payload = 0;
    {
      BatchWriter w(batch, k, level, kMtime);
      for (auto& [path, body] : files) {
        w.add_stream(path, body.size(), reader(body));
        bound += BatchWriter::worst_case_entry_bytes(path, body.size());
        payload += body.size();
      }
      SealedFile sealed = w.finish();
      CHECK(sealed.size == fs::file_size(batch));
    }
    std::uint64_t actual = fs::file_size(batch);
    MESSAGE(name << ": payload " << payload << ", sealed " << actual << ", bound " << bound);
    CHECK(actual <= bound);
    // ...and not so loose that the planner wastes much room.
    CHECK(bound - actual <= payload / 50 + files.size() * 3072 + 20000);
  };

  SUBCASE("incompressible data") {
    std::vector<std::pair<std::string, std::string>> files;
    std::uint64_t seed = 10;
    for (std::size_t n : {0UL, 1UL, 511UL, 512UL, 513UL, 131072UL, 131073UL, 1000003UL, 4UL << 20})
      files.emplace_back("random/" + std::to_string(n) + ".bin", random_bytes(n, seed++));
    check("random-1", files, {"central"}, 1);
    check("random-19", files, {"central", "central2"}, 19);
  }
  SUBCASE("many tiny files with long Japanese names") {
    std::vector<std::pair<std::string, std::string>> files;
    for (int i = 0; i < 2000; ++i) {
      // Alternate short ASCII names (plain ustar) and long non-ASCII ones (pax extended header).
      std::string dir = i % 2 ? "患者/x" + std::string(static_cast<std::size_t>(i % 7) * 20, 'x') + "/山田^太郎" : "r";
      files.emplace_back(dir + "/" + std::to_string(i) + ".hl7",
                         random_bytes(static_cast<std::size_t>(i % 97), static_cast<std::uint64_t>(i)));
    }
    check("tiny", files, {"central"}, 3);
  }
  SUBCASE("empty batch") { check("empty", {}, {"central", "central2"}, 3); }
  SUBCASE("one large incompressible entry grows the file by no more than its own bound") {
    // Sensitive to the proportional (zstd + CMS chunking) part of the bound, which the totals
    // above hide behind the fixed and per-header allowances.
    const std::string big = random_bytes(8 << 20, 42);
    SealingKeys k = keys();
    auto sealed_size = [&](const std::string& name, bool with_big) {
      BatchWriter w(t / name, k, 1, kMtime);
      w.add_bytes("manifest.json", bytes("{}"));
      if (with_big) w.add_stream("big.bin", big.size(), reader(big));
      return w.finish().size;
    };
    std::uint64_t growth = sealed_size("with.cms", true) - sealed_size("without.cms", false);
    std::uint64_t bound = BatchWriter::worst_case_entry_bytes("big.bin", big.size());
    MESSAGE("8 MiB random entry: grew " << growth << ", bound " << bound);
    CHECK(growth > big.size());
    CHECK(growth <= bound);
  }
}
