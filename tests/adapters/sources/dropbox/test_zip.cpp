#include <doctest/doctest.h>

#include <algorithm>

#include "adapters/sources/dropbox/zip.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;
namespace fs = std::filesystem;

namespace {
// Writes a zip with python's zipfile (entry names as given, so hostile ones too), stored or deflated.
void make_zip(const fs::path& zip, const std::vector<std::pair<std::string, std::string>>& entries,
              bool deflate = false) {
  std::string py = std::string("import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.") +
                   (deflate ? "ZIP_DEFLATED" : "ZIP_STORED") + ")\n";
  for (const auto& [name, content] : entries) py += "z.writestr(" + std::string("'") + name + "','" + content + "')\n";
  py += "z.close()\n";
  test::write_file(zip.parent_path() / "make.py", py);
  REQUIRE(test::run("python3 '" + (zip.parent_path() / "make.py").string() + "' '" + zip.string() + "'") == 0);
  fs::remove(zip.parent_path() / "make.py");
}
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST_CASE("zip: by name and content; an Office document (a zip inside) is not one") {
  CHECK(looks_like_zip("m.ZIP", std::string("PK\x03\x04", 4)));
  CHECK_FALSE(looks_like_zip("minutes.docx", std::string("PK\x03\x04", 4)));
  CHECK_FALSE(looks_like_zip("m.zip", "IR,1"));
}

TEST_CASE("zip: files are unpacked flat beside it, never outside the folder, whatever their names") {
  test::TempDir tmp;
  fs::create_directories(tmp / "drop");
  make_zip(tmp / "drop/m.zip",
           {{"RECEIPTC.UKE", "IR"}, {"../../escape.txt", "x"}, {"/etc/abs.txt", "y"}, {"dir/", ""}});
  auto u = unpack_zip(tmp / "drop/m.zip", tmp / "drop", {});
  REQUIRE_FALSE(u.rejection);
  CHECK(u.files.size() == 3);
  CHECK(listing(tmp.path()) ==
        std::vector<std::string>{"drop", "drop/m.zip", "drop/m_RECEIPTC.UKE", "drop/m_abs.txt", "drop/m_escape.txt"});
  CHECK(test::read_file(tmp / "drop/m_RECEIPTC.UKE") == "IR");
}

TEST_CASE("zip: a half-copied zip, and one over the limits, unpack nothing and say why") {
  test::TempDir tmp;
  fs::create_directories(tmp / "drop");
  make_zip(tmp / "whole.zip", {{"a.txt", std::string(3000, 'a')}, {"b.txt", "b"}});
  const std::string whole = test::read_file(tmp / "whole.zip");
  test::write_file(tmp / "drop/half.zip", whole.substr(0, whole.size() / 2));
  auto half = unpack_zip(tmp / "drop/half.zip", tmp / "drop", {});
  REQUIRE(half.rejection);
  CHECK(half.rejection->what_en.find("copied only in part") != std::string::npos);
  CHECK(listing(tmp / "drop") == std::vector<std::string>{"half.zip"});
  fs::copy_file(tmp / "whole.zip", tmp / "drop/big.zip");
  auto big = unpack_zip(tmp / "drop/big.zip", tmp / "drop", {1000, 100});
  REQUIRE(big.rejection);
  CHECK(big.rejection->what_en.find("larger than 100 bytes") != std::string::npos);
  auto many = unpack_zip(tmp / "drop/big.zip", tmp / "drop", {1, 1 << 20});
  REQUIRE(many.rejection);
  CHECK(many.rejection->what_en.find("more than 1 files") != std::string::npos);
  // 3001 bytes from an archive of a few hundred: over 2 times its size, within 100 times.
  make_zip(tmp / "drop/packed.zip", {{"a.txt", std::string(3000, 'a')}, {"b.txt", "b"}}, true);
  auto packed = unpack_zip(tmp / "drop/packed.zip", tmp / "drop", {1000, 1 << 20, 2});
  REQUIRE(packed.rejection);
  CHECK(packed.rejection->what_en.find("more than 2 times its own size (zip_max_ratio)") != std::string::npos);
  CHECK(listing(tmp / "drop") == std::vector<std::string>{"big.zip", "half.zip", "packed.zip"});
  auto fits = unpack_zip(tmp / "drop/packed.zip", tmp / "drop", {1000, 1 << 20, 100});
  CHECK_FALSE(fits.rejection);
  CHECK(fits.files.size() == 2);
}

namespace {
// A zip of `names` (Python literals), each holding its own name; `cp932`: stored in CP932 without
// the UTF-8 flag, as Japanese Windows' own zip writes them, else as UTF-8 (flagged).
void make_named_zip(const fs::path& zip, const std::string& names, bool cp932) {
  test::write_file(zip.parent_path() / "make.py",
                   "import zipfile,sys\n"
                   "z=zipfile.ZipFile(sys.argv[1],'w')\n"
                   "for n in [" +
                       names + "]:\n" +
                       (cp932 ? "  z.writestr(n.encode('cp932').decode('cp437'), n)\n" : "  z.writestr(n, n)\n") +
                       "z.close()\n");
  REQUIRE(test::run("python3 '" + (zip.parent_path() / "make.py").string() + "' '" + zip.string() + "'") == 0);
  fs::remove(zip.parent_path() / "make.py");
}
}  // namespace

TEST_CASE("zip: Japanese names stored as UTF-8 are kept; one that cannot be read whole rejects the zip") {
  // Under the service's C locale libarchive gave no name for UTF-8 ones, and the files were
  // skipped. 一覧表 in CP932 ends in 0x5C (表 is 0x95 0x5C), which libarchive takes for a folder
  // separator: no name is left, so the zip is rejected, saying why, rather than a file skipped.
  test::TempDir tmp;
  const std::string names = "'\\u8868\\u7d19.pdf', 'sub/\\u4e00\\u89a7\\u8868'";
  fs::create_directories(tmp / "utf8");
  make_named_zip(tmp / "utf8/m.zip", names, false);
  auto utf8 = unpack_zip(tmp / "utf8/m.zip", tmp / "utf8", {});
  REQUIRE_FALSE(utf8.rejection);
  CHECK(listing(tmp / "utf8") == std::vector<std::string>{"m.zip", "m_一覧表", "m_表紙.pdf"});
  fs::create_directories(tmp / "cp932");
  make_named_zip(tmp / "cp932/m.zip", names, true);
  auto cp932 = unpack_zip(tmp / "cp932/m.zip", tmp / "cp932", {});
  REQUIRE(cp932.rejection);
  CHECK(cp932.rejection->what_en.find("has no usable name") != std::string::npos);
  CHECK(listing(tmp / "cp932") == std::vector<std::string>{"m.zip"});
}

TEST_CASE("zip: a name too long to be put in the folder unpacks nothing and says why") {
  test::TempDir tmp;
  fs::create_directories(tmp / "drop");
  make_zip(tmp / "drop/m.zip", {{"a.txt", "a"}, {std::string(230, 'n') + ".UKE", "IR"}});
  auto u = unpack_zip(tmp / "drop/m.zip", tmp / "drop", {});
  REQUIRE(u.rejection);
  CHECK(u.rejection->what_en.find("the name of a file in the zip is too long") != std::string::npos);
  CHECK(listing(tmp / "drop") == std::vector<std::string>{"m.zip"});
}

TEST_CASE("zip: a zip inside a zip is not unpacked, at any depth") {
  // Unpacked, it would be unpacked in turn at the next poll: each level within the limits, the
  // whole nest without any.
  test::TempDir tmp;
  fs::create_directories(tmp / "drop");
  make_zip(tmp / "inner.zip", {{"RECEIPTC.UKE", "IR"}});
  REQUIRE(test::run("cd '" + tmp.path().string() +
                    "' && python3 -c \"import zipfile; z=zipfile.ZipFile('drop/outer.zip','w'); "
                    "z.writestr('a.txt','a'); z.write('inner.zip','Inner.ZIP'); z.close()\"") == 0);
  auto u = unpack_zip(tmp / "drop/outer.zip", tmp / "drop", {});
  REQUIRE(u.rejection);
  CHECK(u.rejection->what_en == "the zip holds another zip file (Inner.ZIP); a zip inside a zip is not unpacked.");
  CHECK(listing(tmp / "drop") == std::vector<std::string>{"outer.zip"});
}
