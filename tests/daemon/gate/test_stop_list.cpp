#include <doctest/doctest.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/gate/stop_list.hpp"
#include "tests/support/temp_dir.hpp"

using sennen::gate::kMaxReportedProblems;
using sennen::gate::load_stop_list;
using sennen::gate::parse_stop_list;
using sennen::gate::StopList;
namespace t = sennen::test;

namespace {

using Ids = std::set<std::string>;

// Converts UTF-8 text with the system's iconv(1), so the test does not trust our own decoder.
std::string iconv_to(const std::string& utf8, const std::string& charset) {
  t::TempDir dir;
  t::write_file(dir / "in.txt", utf8);
  return t::run_output("iconv -f UTF-8 -t " + charset + " '" + (dir / "in.txt").string() + "'");
}

std::vector<std::size_t> problem_lines(const StopList& list) {
  std::vector<std::size_t> lines;
  for (const auto& p : list.problems) lines.push_back(p.line);
  return lines;
}

void check_reasons_do_not_quote(const StopList& list, const std::vector<std::string>& secrets) {
  for (const auto& p : list.problems)
    for (const auto& s : secrets) {
      CAPTURE(p.reason);
      CHECK(p.reason.find(s) == std::string::npos);
    }
}

std::string sha256sum(const std::filesystem::path& file) {
  return t::run_output("sha256sum '" + file.string() + "'").substr(0, 64);
}

}  // namespace

TEST_CASE("one ID per line with every line ending") {
  for (std::string_view eol : {"\n", "\r\n", "\r"}) {
    CAPTURE(eol);
    std::string text = "0001234" + std::string(eol) + "5678" + std::string(eol) + "ab-12";
    StopList list = parse_stop_list(text);
    CHECK(list.ids == Ids{"1234", "5678", "AB-12"});
    CHECK(list.problems.empty());
    CHECK(list.lines == 3);
    CHECK(list.encoding == "utf-8");
    CHECK(list.contains("1234"));
    CHECK_FALSE(list.contains("0001234"));  // callers pass canonical IDs
    list = parse_stop_list(text + std::string(eol));
    CHECK(list.lines == 3);
  }
  StopList mixed = parse_stop_list("1\r\n2\n3\r4\r\r\n5");
  CHECK(mixed.ids == Ids{"1", "2", "3", "4", "5"});
  CHECK(mixed.lines == 6);  // "4\r" then an empty line ended by "\r\n"
}

TEST_CASE("UTF-8 with BOM, header, CRLF") {
  StopList list = parse_stop_list("\xEF\xBB\xBF患者ID,氏名\r\n0001234,山田太郎\r\n5678,佐藤花子\r\n");
  CHECK(list.encoding == "utf-8-bom");
  CHECK(list.ids == Ids{"1234", "5678"});
  CHECK(list.problems.empty());
  CHECK(list.lines == 3);
}

TEST_CASE("CP932 (Shift_JIS) from Excel") {
  const std::string header = iconv_to("患者ID,氏名\r\n", "CP932");
  CHECK(header == "\x8a\xb3\x8e\xd2ID,\x8e\x81\x96\xbc\r\n");  // the bytes Excel writes
  const std::string body = iconv_to("0001234,山田太郎\r\n０５６７８,佐藤　花子\r\nＡＢ－１２,ｶﾀｶﾅ\r\n", "CP932");
  StopList list = parse_stop_list(header + body);
  CHECK(list.encoding == "cp932");
  CHECK(list.ids == Ids{"1234", "5678", "AB-12"});
  CHECK(list.problems.empty());

  StopList name_first = parse_stop_list(iconv_to("氏名,患者番号\n山田太郎,0001234\n", "CP932"));
  CHECK(name_first.encoding == "cp932");
  CHECK(name_first.ids == Ids{"1234"});
  CHECK(name_first.problems.empty());
}

TEST_CASE("CP932 with bytes that are not CP932: the line is reported, the file is still read") {
  std::string bytes = iconv_to("患者ID,氏名\n0001234,山田太郎\n", "CP932");
  bytes += "5678,\x81\x20\xFF\n";  // line 3: broken name, ID readable
  bytes +=
      "12\xFF"
      "34,\x8e\x52\n";  // line 4: broken ID
  bytes += iconv_to("9012,鈴木\n", "CP932");
  StopList list = parse_stop_list(bytes);
  CHECK(list.encoding == "cp932");
  CHECK(list.ids == Ids{"1234", "5678", "9012"});
  REQUIRE(problem_lines(list) == std::vector<std::size_t>{3, 4});
  CHECK(list.problems[0].reason.find("column 2") != std::string::npos);
  CHECK(list.problems[0].reason.find("CP932") != std::string::npos);
  CHECK(list.problems[0].reason.find("withheld") != std::string::npos);
  CHECK(list.problems[1].reason.find("column 1") != std::string::npos);
  CHECK(list.problems[1].reason.find("CP932") != std::string::npos);
  check_reasons_do_not_quote(list, {"12", "34", "\xEF\xBF\xBD"});
}

// Found by review: the bytes of a workbook saved over the list hold short lines of digits, read as
// IDs; with allow_unreadable_lines the pipeline went on with them and missed every real one.
TEST_CASE("a workbook saved in place of the list yields no ID, only one problem naming it") {
  for (const std::string& magic : {std::string("PK\x03\x04", 4), std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")}) {
    std::string bytes = magic + std::string("\x14\0\x06\0", 4) + "\n1234\n5678\r\n" + std::string(64, '\xFF');
    StopList list = parse_stop_list(bytes);
    CHECK(list.encoding == "binary");
    CHECK(list.ids.empty());
    REQUIRE(problem_lines(list) == std::vector<std::size_t>{1});
    CHECK(list.problem_lines == 1);
    CHECK(list.problems[0].reason.find("workbook") != std::string::npos);
    CHECK(list.problems[0].reason.find("CSV") != std::string::npos);
  }
}

TEST_CASE("UTF-16 (Excel \"Unicode text\"): tab separated, with and without BOM") {
  const std::string text = "患者ID\t氏名\r\n0001234\t山田太郎\r\n５６７８\t𠀋野\r\n";  // U+2000B needs a surrogate pair
  StopList le = parse_stop_list("\xFF\xFE" + iconv_to(text, "UTF-16LE"));
  CHECK(le.encoding == "utf-16le");
  CHECK(le.ids == Ids{"1234", "5678"});
  CHECK(le.problems.empty());
  CHECK(le.lines == 3);

  StopList be = parse_stop_list("\xFE\xFF" + iconv_to(text, "UTF-16BE"));
  CHECK(be.encoding == "utf-16be");
  CHECK(be.ids == Ids{"1234", "5678"});
  CHECK(be.problems.empty());

  StopList no_bom = parse_stop_list(iconv_to(text, "UTF-16LE"));
  CHECK(no_bom.encoding == "utf-16le");
  CHECK(no_bom.ids == Ids{"1234", "5678"});

  StopList no_bom_be = parse_stop_list(iconv_to(text, "UTF-16BE"));
  CHECK(no_bom_be.encoding == "utf-16be");
  CHECK(no_bom_be.ids == Ids{"1234", "5678"});

  // A stray NUL in a UTF-8 list does not make it UTF-16: that line alone is reported.
  using namespace std::string_literals;
  StopList stray = parse_stop_list(
      "1234\n56\0"
      "78\n9012\n3456,山田\n"s);
  CHECK(stray.encoding == "utf-8");
  CHECK(stray.ids == Ids{"1234", "9012", "3456"});
  CHECK(problem_lines(stray) == std::vector<std::size_t>{2});

  // Hand-made: "12\n", then a lone high surrogate before "3", then a cut final code unit.
  StopList broken = parse_stop_list(
      "\xFF\xFE"
      "1\0"
      "2\0"
      "\n\0"
      "\x00\xD8"
      "3\0"
      "\n\0"
      "4"s);
  CHECK(broken.ids == Ids{"12"});
  REQUIRE(problem_lines(broken) == std::vector<std::size_t>{2, 3});
  CHECK(broken.problems[0].reason.find("UTF-16") != std::string::npos);
}

TEST_CASE("Excel quoting and separators") {
  StopList csv = parse_stop_list(
      "患者ID,氏名,メモ\n"
      "\"0001234\",\"山田, 太郎\",\"memo \"\"quoted\"\", with comma\"\n"
      "=\"0005678\",佐藤\n"
      "\"=\"\"0009012\"\"\",鈴木\n"
      "  \"0003456\"  ,  田中  \n"
      "\"0007890\n");  // unmatched quote: runs to the end of its line only
  CHECK(csv.ids == Ids{"1234", "5678", "9012", "3456", "7890"});
  CHECK(csv.problems.empty());

  StopList semicolon = parse_stop_list("患者ID;氏名;身長\n0001;山田;170,5\n0002;佐藤;160,2\n");
  CHECK(semicolon.ids == Ids{"1", "2"});
  CHECK(semicolon.problems.empty());

  StopList tab = parse_stop_list("1\t山田, 太郎\n2\t佐藤\n");
  CHECK(tab.ids == Ids{"1", "2"});
  CHECK(tab.problems.empty());

  // "氏名,患者ID" with a quoted name holding the separator: the column count must not shift.
  StopList quoted_name = parse_stop_list("氏名,患者ID\n\"山田, 太郎\",0042\n");
  CHECK(quoted_name.ids == Ids{"42"});
  CHECK(quoted_name.problems.empty());
}

TEST_CASE("a quote never swallows the lines below it") {
  StopList list = parse_stop_list("1234,\"memo that Excel would continue\n5678\n9012\n");
  CHECK(list.ids == Ids{"1234", "5678", "9012"});
  CHECK(list.problems.empty());
}

TEST_CASE("full-width digits, full-width space, NBSP and stray spaces") {
  StopList list = parse_stop_list(
      "１２３４\n"
      "\xE3\x80\x80０００５６７８\xE3\x80\x80\n"
      "\xC2\xA0 9012 \xC2\xA0\n"
      "  3456  ,  山田  \n"
      "７８９０，佐藤\n");  // a full-width comma typed in IME mode separates too
  CHECK(list.ids == Ids{"1234", "5678", "9012", "3456", "7890"});
  CHECK(list.problems.empty());
}

TEST_CASE("comments and blank lines") {
  StopList list = parse_stop_list(
      "# 提供停止リスト 2024年4月\n"
      "\n"
      "   # indented comment\n"
      "1234 # moved to ward 3, see memo\n"
      "5678,山田 # note, with commas\n"
      "\t\n"
      ",,,\n"
      "\xE3\x80\x80\n"
      "#9999\n"
      "＃8888\n"
      "=\"\",\"\"\n"
      "4321\t# tab before the comment\n");
  CHECK(list.ids == Ids{"1234", "5678", "4321"});
  CHECK(list.problems.empty());
  CHECK(list.lines == 12);

  StopList glued = parse_stop_list("1234#5\n5678\n");  // not a comment: '#' glued to the ID
  CHECK(glued.ids == Ids{"5678"});
  CHECK(problem_lines(glued) == std::vector<std::size_t>{1});

  StopList quoted_hash = parse_stop_list("1\n\"#7777\"\n");  // quoted: data, not a comment
  CHECK(problem_lines(quoted_hash) == std::vector<std::size_t>{2});
}

TEST_CASE("header detection") {
  SUBCASE("ID column not first") {
    StopList list = parse_stop_list("氏名,患者ID\n山田太郎,0001234\n佐藤花子,5678\n");
    CHECK(list.ids == Ids{"1234", "5678"});
    CHECK(list.problems.empty());
  }
  SUBCASE("names of the ID column, any case or width") {
    for (std::string name : {"患者ID", "患者ＩＤ", "患者番号", "カルテ番号", "ｶﾙﾃ番号", "ID", "ＩＤ", "id",
                             "patient_id", "Patient ID", "PATIENT-ID", " patient id ", "\"患者ID\""}) {
      CAPTURE(name);
      StopList list = parse_stop_list("氏名," + name + ",メモ\n山田,0042,x\n佐藤,43,\n");
      CHECK(list.ids == Ids{"42", "43"});
      CHECK(list.problems.empty());
    }
  }
  SUBCASE("a row-number column before the named ID column is not read") {
    StopList list = parse_stop_list("No,患者ID,氏名\n1,0001234,山田\n2,5678,佐藤\n");
    CHECK(list.ids == Ids{"1234", "5678"});
  }
  SUBCASE("two named ID columns: both are read") {
    StopList list = parse_stop_list("患者ID,カルテ番号,氏名\n1234,,山田\n,5678,佐藤\n9,10,鈴木\n,,田中\n");
    CHECK(list.ids == Ids{"1234", "5678", "9", "10"});
    REQUIRE(problem_lines(list) == std::vector<std::size_t>{5});
    CHECK(list.problems[0].reason.find("columns 1 and 2 are empty") != std::string::npos);
  }
  SUBCASE("unnamed header: first column used") {
    StopList list = parse_stop_list("番号,名前\n0001234,山田\n");
    CHECK(list.ids == Ids{"1234"});
    CHECK(list.problems.empty());
  }
  SUBCASE("header after comments and blank lines") {
    StopList list = parse_stop_list("# list\n\n氏名,患者ID\n山田,1234\n");
    CHECK(list.ids == Ids{"1234"});
    CHECK(list.problems.empty());
  }
  SUBCASE("no header after the first ID") {
    StopList list = parse_stop_list("1234,山田\n患者ID,氏名\n5678,佐藤\n");
    CHECK(list.ids == Ids{"1234", "5678"});
    CHECK(problem_lines(list) == std::vector<std::size_t>{2});
  }
  SUBCASE("a mistyped first ID is reported, not taken as a header") {
    StopList list = parse_stop_list("12 34\n5678\n");
    CHECK(list.ids == Ids{"5678"});
    CHECK(problem_lines(list) == std::vector<std::size_t>{1});
  }
  SUBCASE("a header alone is an empty list") {
    StopList list = parse_stop_list("患者ID,氏名\r\n");
    CHECK(list.ids.empty());
    CHECK(list.problems.empty());
  }
}

TEST_CASE("problem lines: numbered, explained, never quoted") {
  StopList list = parse_stop_list(
      "1234,山田太郎\n"   // 1 ok
      "山田太郎\n"        // 2 a name where the ID belongs
      "98 76,山田太郎\n"  // 3 space inside
      ",山田太郎\n"       // 4 empty ID cell
      "\n"                // 5 blank
      "5678,山田太郎\n"   // 6 ok
      "Yamada-Taro#X\n"   // 7 '#' is not allowed
      + std::string(65, '8') +
      "\n"           // 8 too long
      "VLUT_01\n");  // 9 ok: '_' is
  CHECK(list.ids == Ids{"1234", "5678", "VLUT_01"});
  REQUIRE(problem_lines(list) == std::vector<std::size_t>{2, 3, 4, 7, 8});
  CHECK(list.problem_lines == 5);
  CHECK(list.problems[0].reason.find("not a patient ID") != std::string::npos);
  CHECK(list.problems[1].reason.find("space") != std::string::npos);
  CHECK(list.problems[2].reason.find("column 1 is empty") != std::string::npos);
  CHECK(list.problems[3].reason.find("letters, digits, '-' and '_'") != std::string::npos);
  CHECK(list.problems[4].reason.find("64") != std::string::npos);
  check_reasons_do_not_quote(list, {"山田", "太郎", "98", "76", "Yamada", "Taro", "888"});
}

TEST_CASE("all-garbage files") {
  StopList names = parse_stop_list("山田太郎\n佐藤花子\n鈴木一郎\n");
  CHECK(names.ids.empty());
  CHECK(problem_lines(names) == std::vector<std::size_t>{1, 2, 3});  // line 1 is not let off as a header
  check_reasons_do_not_quote(names, {"山田", "佐藤", "鈴木"});

  StopList bytes = parse_stop_list("\x80\x81\xFE\n\xA0\xFD\xFF\n");
  CHECK(bytes.encoding == "cp932");
  CHECK(bytes.ids.empty());
  CHECK(problem_lines(bytes) == std::vector<std::size_t>{1, 2});
}

TEST_CASE("empty and comment-only files") {
  t::TempDir dir;
  t::write_file(dir / "empty.csv", "");
  StopList empty = load_stop_list(dir / "empty.csv");
  CHECK(empty.ids.empty());
  CHECK(empty.problems.empty());
  CHECK(empty.problem_lines == 0);
  CHECK(empty.lines == 0);
  CHECK(empty.encoding == "utf-8");
  CHECK(empty.sha256 == sha256sum(dir / "empty.csv"));

  StopList bom = parse_stop_list("\xEF\xBB\xBF");
  CHECK(bom.ids.empty());
  CHECK(bom.problems.empty());
  CHECK(bom.encoding == "utf-8-bom");

  StopList comments = parse_stop_list("# nobody has opted out yet\r\n\r\n");
  CHECK(comments.ids.empty());
  CHECK(comments.problems.empty());
  CHECK(comments.lines == 2);
}

TEST_CASE("load_stop_list: sha256 of the raw bytes, and actionable errors") {
  t::TempDir dir;
  const auto file = dir / "stop list.csv";
  t::write_file(file, iconv_to("患者ID,氏名\r\n0001234,山田太郎\r\n", "CP932"));
  StopList list = load_stop_list(file);
  CHECK(list.ids == Ids{"1234"});
  CHECK(list.sha256.size() == 64);
  CHECK(list.sha256 == sha256sum(file));
  CHECK(parse_stop_list(t::read_file(file)).sha256 == list.sha256);

  const auto missing = dir / "missing.csv";
  CHECK_THROWS_AS(load_stop_list(missing), sennen::Error);
  try {
    load_stop_list(missing);
  } catch (const sennen::Error& e) {
    const std::string what = e.what();
    CHECK(what.find(missing.string()) != std::string::npos);
    CHECK(what.find("configuration") != std::string::npos);
  }

  CHECK_THROWS_AS(load_stop_list(dir.path()), sennen::Error);  // a directory

  const auto big = dir / "big.csv";
  REQUIRE(t::run("truncate -s 67108865 '" + big.string() + "'") == 0);  // 64 MiB + 1
  try {
    load_stop_list(big);
    FAIL("a file over 64 MiB was accepted");
  } catch (const sennen::Error& e) {
    CHECK(std::string(e.what()).find(big.string()) != std::string::npos);
  }
}

TEST_CASE("problems are capped, the count is not") {
  std::string text = "1234\n";
  for (int i = 0; i < 1500; ++i) text += "山田太郎\n";
  StopList list = parse_stop_list(text);
  CHECK(list.ids == Ids{"1234"});
  CHECK(list.problem_lines == 1500);
  REQUIRE(list.problems.size() == kMaxReportedProblems);
  CHECK(list.problems.front().line == 2);
  CHECK(list.problems.back().line == kMaxReportedProblems + 1);
}

TEST_CASE("random bytes: never throws, results are consistent") {
  std::mt19937 rng(7);
  const std::string_view tokens[] = {"0",
                                     "1",
                                     "9",
                                     "a",
                                     "Z",
                                     "-",
                                     ",",
                                     "\t",
                                     ";",
                                     " ",
                                     "\"",
                                     "'",
                                     "=",
                                     "#",
                                     "\n",
                                     "\r",
                                     "\r\n",
                                     "０",
                                     "，",
                                     "＃",
                                     "\xE3\x80\x80",
                                     "\xC2\xA0",
                                     "患者ID",
                                     "ID",
                                     "山田",
                                     "\x8a\xb3",
                                     "\x81",
                                     "\xFF",
                                     "\xFE",
                                     std::string_view("\0", 1),
                                     "\xEF\xBB\xBF",
                                     "\xED\xA0\x80",
                                     "\xF0\x9F\x98\x80"};
  std::uniform_int_distribution<int> byte(0, 255), coin(0, 3);
  std::uniform_int_distribution<std::size_t> pick(0, std::size(tokens) - 1), len(0, 200);
  for (int n = 0; n < 4000; ++n) {
    std::string input;
    const bool raw_bytes = coin(rng) == 0;
    if (coin(rng) == 0) input = (coin(rng) < 2) ? "\xFF\xFE" : "\xFE\xFF";
    for (std::size_t k = len(rng); k > 0; --k) {
      if (raw_bytes)
        input.push_back(static_cast<char>(byte(rng)));
      else
        input += tokens[pick(rng)];
    }
    CAPTURE(n);
    StopList list;
    REQUIRE_NOTHROW(list = parse_stop_list(input));
    REQUIRE(list.sha256.size() == 64);
    REQUIRE(std::set<std::string>{"utf-8", "utf-8-bom", "cp932", "utf-16le", "utf-16be"}.count(list.encoding) == 1);
    for (const auto& id : list.ids) REQUIRE(sennen::canonical_patient_id(id) == id);
    REQUIRE(list.problems.size() == std::min(list.problem_lines, kMaxReportedProblems));
    std::size_t prev = 0;
    for (const auto& p : list.problems) {
      REQUIRE(p.line > prev);  // one problem per line, in order
      REQUIRE(p.line <= list.lines);
      REQUIRE(!p.reason.empty());
      prev = p.line;
    }
  }
}

TEST_CASE("round trip: every ID written in any accepted form is read back") {
  std::mt19937 rng(1234);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  const std::string names[] = {"山田太郎", "佐藤 花子", "鈴木　一郎", "Tanaka, Ichiro", "髙橋"};
  const std::string encodings[] = {"utf-8", "utf-8-bom", "cp932", "utf-16le", "utf-16be"};
  const std::string eols[] = {"\n", "\r\n", "\r"};
  auto wide = [](const std::string& s) {  // ASCII -> full-width
    std::string out;
    for (char c : s) {
      char32_t cp = static_cast<char32_t>(c) + 0xFEE0;
      out += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
              static_cast<char>(0x80 | (cp & 0x3F))};
    }
    return out;
  };
  for (int round = 0; round < 150; ++round) {
    const std::string enc = encodings[pick(5)];
    const std::string eol = eols[pick(3)];
    const std::size_t format = pick(4);  // 0 IDs only, 1 ID,name  2 name,ID with header  3 tab with header
    const std::string sep = format == 3 ? "\t" : ",";
    std::string text = pick(2) ? "# 提供停止" + eol : "";
    if (format == 2) text += "氏名,患者ID" + eol;
    if (format == 3) text += "患者ID\t氏名" + eol;
    Ids expected;
    for (std::size_t k = 1 + pick(20); k > 0; --k) {
      std::string id = pick(3) ? std::to_string(1 + pick(9999999)) : "ab-" + std::to_string(pick(999));
      std::string spelled = pick(2) ? std::string(pick(4), '0') + id : id;
      switch (pick(6)) {
        case 0:
          spelled = wide(spelled);
          break;
        case 1:
          spelled = "=\"" + spelled + "\"";
          break;
        case 2:
          spelled = "\"" + spelled + "\"";
          break;
        case 3:
          spelled = "\xE3\x80\x80" + spelled + " ";
          break;
        default:
          break;
      }
      auto canonical = sennen::canonical_patient_id(spelled);
      REQUIRE(canonical);
      expected.insert(*canonical);
      std::string name = names[pick(5)];
      if (name.find(sep) != std::string::npos) name = "\"" + name + "\"";
      if (format == 0) text += spelled;
      if (format == 1 || format == 3) text += spelled + sep + name;
      if (format == 2) text += name + sep + spelled;
      text += pick(5) ? eol : " # note" + eol + eol;
    }
    text += "山田" + eol;  // makes the encoding detectable, and is reported (line has no ID)
    std::string bytes;
    if (enc == "utf-8") bytes = text;
    if (enc == "utf-8-bom") bytes = "\xEF\xBB\xBF" + text;
    if (enc == "cp932") bytes = iconv_to(text, "CP932");
    if (enc == "utf-16le") bytes = "\xFF\xFE" + iconv_to(text, "UTF-16LE");
    if (enc == "utf-16be") bytes = "\xFE\xFF" + iconv_to(text, "UTF-16BE");
    CAPTURE(text);
    StopList list = parse_stop_list(bytes);
    CHECK(list.encoding == enc);
    CHECK(list.ids == expected);
    REQUIRE(list.problems.size() == 1);  // the trailing name-only line
    CHECK(list.problems[0].line == list.lines);
  }
}
