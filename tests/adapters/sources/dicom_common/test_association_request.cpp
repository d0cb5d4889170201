// The A-ASSOCIATE-RQ check run before DCMTK reads a request (association_request.hpp): what real
// DICOM tools send passes; each structure DCMTK 3.6.7 gives up on (and leaks on) is refused, with
// the item and its offset named.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "adapters/sources/dicom_common/association_request.hpp"
#include "tests/support/temp_dir.hpp"

using sennen::dicom::association_request_problem;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes u16(std::size_t v) { return {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)}; }

Bytes item(std::uint8_t type, const Bytes& value) { return cat({{type, 0}, u16(value.size()), value}); }

Bytes context(std::uint8_t id, const std::vector<Bytes>& sub_items) {
  Bytes value{id, 0, 0, 0};
  for (const auto& s : sub_items) value = cat({value, s});
  return item(0x20, value);
}

const Bytes kAppContext = item(0x10, text("1.2.840.10008.3.1.1.1"));
const Bytes kCtImage = item(0x30, text("1.2.840.10008.5.1.4.1.1.2"));
const Bytes kExplicitLe = item(0x40, text("1.2.840.10008.1.2.1"));
const Bytes kImplicitLe = item(0x40, text("1.2.840.10008.1.2"));
const Bytes kMaxLength = item(0x51, {0, 0, 0x40, 0});

// An A-ASSOCIATE-RQ from SENNEN's peer MODALITY with these items after the fixed fields.
Bytes request(const std::vector<Bytes>& items) {
  Bytes fixed = cat({{0, 1, 0, 0}, text("SENNEN          "), text("MODALITY        "), Bytes(32, 0)});
  for (const auto& i : items) fixed = cat({fixed, i});
  const std::size_t n = fixed.size();
  return cat({{0x01, 0, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
               static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)},
              fixed});
}

Bytes with_user_items(const std::vector<Bytes>& sub_items) {
  Bytes user;
  for (const auto& s : sub_items) user = cat({user, s});
  return request({kAppContext, context(1, {kCtImage, kExplicitLe}), item(0x50, user)});
}

std::string problem(const Bytes& pdu) { return association_request_problem(pdu); }

}  // namespace

TEST_CASE("association request: what DCMTK's echoscu and storescu sent (the fuzz seeds) passes, unless cut short") {
  const auto dir = sennen::test::source_dir() / "tests/fuzz/corpus/fuzz_dicom_association";
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("seed-", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const Bytes session((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    if (name == "seed-cut-request")  // a request cut short, as the fuzzer may send it
      CHECK(problem(session) == "the A-ASSOCIATE-RQ ends after 40 of its 211 bytes");
    else
      CHECK(problem(session) == "");
    ++seeds;
  }
  CHECK(seeds >= 8);
}

TEST_CASE("association request: every item PS3.8 and PS3.7 define, in their sizes, passes") {
  const Bytes identity_password = item(0x58, cat({{2, 1}, u16(4), text("user"), u16(6), text("secret")}));
  const Bytes identity_name = item(0x58, cat({{1, 0}, u16(4), text("user"), u16(0)}));
  const std::string mr = "1.2.840.10008.5.1.4.1.1.4";
  const Bytes ok = request({
      kAppContext,
      context(1, {kCtImage, kExplicitLe, kImplicitLe}),
      context(3, {item(0x30, cat({text(mr), {0}})), kImplicitLe, item(0x7f, {1, 2, 3})}),  // NUL-padded UID
      item(0x99, {9, 9, 9}),  // an item type this standard does not know: skipped
      item(0x50, cat({kMaxLength, item(0x52, text("1.2.276.0.7230010.3.0.3.6.7")), item(0x53, {0, 1, 0, 1}),
                      item(0x54, cat({u16(mr.size()), text(mr), {1, 0}})), item(0x55, text("OFFIS_DCMTK_367")),
                      item(0x56, cat({u16(mr.size()), text(mr), {1, 1, 1}})), item(0x57, {0, 3, 'a', 'b', 'c'}),
                      identity_name, identity_password, item(0x5f, {})})),
  });
  CHECK(problem(ok) == "");
  CHECK(problem(request({kAppContext, context(1, {kCtImage, kExplicitLe})})) == "");  // no user information
}

TEST_CASE("association request: structures DCMTK gives up on or cannot answer are refused, naming the item") {
  struct Case {
    const char* what;
    Bytes pdu;
    const char* expected;
  };
  const Bytes ct = kCtImage, le = kExplicitLe;
  const Case cases[] = {
      {"a transfer syntax sub-item longer than its context",
       request({kAppContext, item(0x20, cat({{1, 0, 0, 0}, ct, {0x40, 0, 0, 9}, text("1.2")}))}),
       "an item (40H) at byte 136 claims 9 bytes; the presentation context item (20H) at byte 99 has 3 left"},
      {"a context without a transfer syntax", request({kAppContext, context(1, {ct})}),
       "the presentation context item (20H) at byte 99 proposes no transfer syntax"},
      {"a context without an abstract syntax", request({kAppContext, context(1, {le})}),
       "the presentation context item (20H) at byte 99 has no abstract syntax"},
      {"two abstract syntaxes", request({kAppContext, context(1, {ct, ct, le})}), "a second abstract syntax"},
      {"a context shorter than its fixed fields", request({kAppContext, item(0x20, {1, 0})}),
       "the presentation context item (20H) at byte 99 has 2 bytes; its fixed fields take 4"},
      {"a context ending in two stray bytes", request({kAppContext, item(0x20, cat({{1, 0, 0, 0}, ct, le, {0, 0}}))}),
       "ends in 2 bytes that cannot hold an item"},
      {"an empty abstract syntax", request({kAppContext, context(1, {item(0x30, {}), le})}),
       "the abstract syntax sub-item (30H) at byte 107 is empty"},
      {"an abstract syntax that begins with NUL", request({kAppContext, context(1, {item(0x30, {0, '1'}), le})}),
       "the abstract syntax sub-item (30H) at byte 107 is empty"},
      {"a transfer syntax of 65 bytes", request({kAppContext, context(1, {ct, item(0x40, Bytes(65, '1'))})}),
       "has 65 bytes; a UID has at most 64"},
      {"an accepted context (21H) in a request", request({kAppContext, item(0x21, {1, 0, 0, 0}), context(3, {ct, le})}),
       "an accepted presentation context item (21H) at byte 99 belongs in an A-ASSOCIATE-AC"},
      {"no application context", request({context(1, {ct, le})}), "has no application context item (10H)"},
      {"an empty application context name", request({item(0x10, {}), context(1, {ct, le})}),
       "the application context item (10H) at byte 74 is empty"},
      {"two application contexts", request({kAppContext, kAppContext, context(1, {ct, le})}),
       "a second application context item (10H) at byte 99 follows the first"},
      {"no presentation context", request({kAppContext, item(0x50, kMaxLength)}), "proposes no presentation context"},
      {"a maximum length of 2 bytes", with_user_items({item(0x51, {0, 1})}), "the maximum length sub-item (51H)"},
      {"a role selection whose UID overruns it", with_user_items({item(0x54, cat({u16(30), text("1.2"), {1, 0}}))}),
       "the role selection sub-item (54H)"},
      {"an extended negotiation shorter than its UID", with_user_items({item(0x56, cat({u16(20), text("1.2")}))}),
       "the extended negotiation sub-item (56H)"},
      {"a user identity whose fields do not fill it",
       with_user_items({item(0x58, cat({{1, 0}, u16(4), text("user"), u16(0), {7}}))}),
       "primary and secondary fields do not fill it"},
      {"a user identity of type 1 with a secondary field",
       with_user_items({item(0x58, cat({{1, 0}, u16(1), text("u"), u16(1), text("p")}))}),
       "of type 1 has a secondary field"},
      {"a user identity answer in a request", with_user_items({item(0x59, {0, 0})}), "belongs in an A-ASSOCIATE-AC"},
      {"two user information items",
       request({kAppContext, context(1, {ct, le}), item(0x50, kMaxLength), item(0x50, kMaxLength)}),
       "a second user information item (50H)"},
      {"a PDU shorter than its fixed fields", Bytes{0x01, 0, 0, 0, 0, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
       "has 10 bytes; its fixed fields take 68"},
      {"another PDU type", Bytes{0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6}, "PDU type 07H is not an A-ASSOCIATE-RQ"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const std::string found = problem(c.pdu);
    CHECK(found.find(c.expected) != std::string::npos);
    INFO(found);
    CHECK(!found.empty());
  }
  // The PDU's length covers less than its last item claims.
  Bytes overrun = request({kAppContext, context(1, {ct, le})});
  overrun[5] -= 3;
  overrun.resize(overrun.size() - 3);
  CHECK(problem(overrun).find("the presentation context item") == std::string::npos);
  CHECK(problem(overrun).find("an item (20H) at byte 99 claims") == 0);
}

TEST_CASE("association request: one as large as 128 contexts allow passes; one cut short does not") {
  std::vector<Bytes> items{kAppContext};
  for (int id = 1; id < 256; id += 2) items.push_back(context(static_cast<std::uint8_t>(id), {kCtImage, kExplicitLe}));
  const Bytes whole = request(items);
  CHECK(problem(whole) == "");
  CHECK(problem(Bytes(whole.begin(), whole.end() - 1)) == "the A-ASSOCIATE-RQ ends after " +
                                                              std::to_string(whole.size() - 1) + " of its " +
                                                              std::to_string(whole.size()) + " bytes");
  items.back() = context(255, {kCtImage});  // the last one is checked as the first
  CHECK(problem(request(items)).find("proposes no transfer syntax") != std::string::npos);
}
