#include "adapters/sources/dicom_common/association_request.hpp"

#include <cstdio>

namespace sennen::dicom {
namespace {

constexpr std::size_t kPduHeader = 6;     // PDU type, reserved, 32-bit PDU length
constexpr std::size_t kFixedFields = 68;  // protocol version, reserved, called and calling AE titles, 32 reserved
constexpr std::size_t kItemHeader = 4;    // item type, reserved, 16-bit item length
constexpr std::size_t kUidMax = 64;       // PS3.5 9.1: a UID has at most 64 characters

using Bytes = std::span<const std::uint8_t>;

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

std::string hex(unsigned type) {
  char text[8];
  std::snprintf(text, sizeof text, "%02XH", type);
  return text;
}

// "the transfer syntax sub-item (40H) at byte 97"
std::string named(const std::string& what, unsigned type, std::size_t at) {
  return what + " (" + hex(type) + ") at byte " + std::to_string(at);
}

// Walks the items or sub-items that must fill [from, to) of `pdu` exactly, calling
// check(type, offset, value) on each.
template <class Check>
std::string walk(Bytes pdu, std::size_t from, std::size_t to, const std::string& container, Check check) {
  std::size_t at = from;
  while (at < to) {
    if (to - at < kItemHeader)
      return container + " ends in " + std::to_string(to - at) + " bytes that cannot hold an item (byte " +
             std::to_string(at) + ")";
    const std::size_t length = be16(&pdu[at + 2]);
    if (length > to - at - kItemHeader)
      return named("an item", pdu[at], at) + " claims " + std::to_string(length) + " bytes; " + container + " has " +
             std::to_string(to - at - kItemHeader) + " left";
    if (std::string problem = check(pdu[at], at, pdu.subspan(at + kItemHeader, length)); !problem.empty())
      return problem;
    at += kItemHeader + length;
  }
  return {};
}

// A UID as DCMTK keeps it: the text up to its first NUL (one NUL may pad it to even length).
std::string uid_problem(const std::string& what, unsigned type, std::size_t at, Bytes value) {
  if (value.size() > kUidMax)
    return named(what, type, at) + " has " + std::to_string(value.size()) + " bytes; a UID has at most 64";
  if (value.empty() || value[0] == 0) return named(what, type, at) + " is empty";
  return {};
}

std::string presentation_context_problem(Bytes pdu, std::size_t at, Bytes value) {
  const std::string what = named("the presentation context item", 0x20, at);
  if (value.size() < 4) return what + " has " + std::to_string(value.size()) + " bytes; its fixed fields take 4";
  int abstract = 0, transfer = 0;
  std::string problem = walk(pdu, at + kItemHeader + 4, at + kItemHeader + value.size(), what,
                             [&](unsigned type, std::size_t sub, Bytes v) -> std::string {
                               if (type == 0x30) {
                                 if (++abstract > 1)
                                   return named("a second abstract syntax sub-item", type, sub) + " follows the first";
                                 return uid_problem("the abstract syntax sub-item", type, sub, v);
                               }
                               if (type == 0x40) {
                                 ++transfer;
                                 return uid_problem("the transfer syntax sub-item", type, sub, v);
                               }
                               return {};
                             });
  if (!problem.empty()) return problem;
  if (abstract == 0) return what + " has no abstract syntax";
  if (transfer == 0) return what + " proposes no transfer syntax";
  return {};
}

std::string user_information_problem(Bytes pdu, std::size_t at, Bytes value) {
  const std::string what = named("the user information item", 0x50, at);
  return walk(
      pdu, at + kItemHeader, at + kItemHeader + value.size(), what,
      [&](unsigned type, std::size_t sub, Bytes v) -> std::string {
        const std::size_t n = v.size();
        switch (type) {
          case 0x51:  // maximum length: a 32-bit value
            if (n != 4)
              return named("the maximum length sub-item", type, sub) + " has " + std::to_string(n) + " bytes, not 4";
            return {};
          case 0x52:  // implementation class UID
          case 0x55:  // implementation version name (16 characters in PS3.7; DCMTK reads up to 64)
            if (n > kUidMax)
              return named("the implementation sub-item", type, sub) + " has " + std::to_string(n) +
                     " bytes; DCMTK reads at most 64";
            return {};
          case 0x54:  // SCP/SCU role selection: UID length, UID, SCU role, SCP role
            if (n < 4 || be16(v.data()) != n - 4)
              return named("the role selection sub-item", type, sub) + " has " + std::to_string(n) +
                     " bytes, which is not its UID's length plus 4";
            return {};
          case 0x56:  // SOP class extended negotiation: UID length, UID, application information
            if (n < 2 || be16(v.data()) > n - 2)
              return named("the extended negotiation sub-item", type, sub) + " has " + std::to_string(n) +
                     " bytes, fewer than its UID needs";
            return {};
          case 0x58: {  // user identity: type, response requested, primary field, secondary field
            if (n < 6)
              return named("the user identity sub-item", type, sub) + " has " + std::to_string(n) +
                     " bytes; its fixed fields take 6";
            const std::size_t primary = be16(&v[2]);
            if (primary > n - 6 || be16(&v[4 + primary]) != n - 6 - primary)
              return named("the user identity sub-item", type, sub) + "'s primary and secondary fields do not fill it";
            // Only a user name with password (type 2) has a secondary field; DCMTK reads no other's.
            if (v[0] != 2 && n - 6 - primary != 0)
              return named("the user identity sub-item", type, sub) + " of type " + std::to_string(v[0]) +
                     " has a secondary field";
            return {};
          }
          case 0x59:
            return named("a user identity answer", type, sub) + " belongs in an A-ASSOCIATE-AC, not in a request";
          default:  // asynchronous operations (53H), common extended negotiation (57H), others
            return {};
        }
      });
}

}  // namespace

std::uint64_t pdu_size(std::span<const std::uint8_t, 6> header) {
  return kPduHeader + ((std::uint64_t{header[2]} << 24) | (std::uint64_t{header[3]} << 16) |
                       (std::uint64_t{header[4]} << 8) | std::uint64_t{header[5]});
}

std::string association_request_problem(Bytes pdu) {
  if (pdu.size() < kPduHeader) return "the PDU is shorter than its 6-byte header";
  if (pdu[0] != 0x01) return "PDU type " + hex(pdu[0]) + " is not an A-ASSOCIATE-RQ";
  const std::uint64_t length = pdu_size(pdu.first<kPduHeader>()) - kPduHeader;
  if (length < kFixedFields)
    return "the A-ASSOCIATE-RQ has " + std::to_string(length) + " bytes; its fixed fields take 68";
  const std::uint64_t end = kPduHeader + length;
  if (pdu.size() < end)
    return "the A-ASSOCIATE-RQ ends after " + std::to_string(pdu.size()) + " of its " + std::to_string(end) + " bytes";
  const Bytes request = pdu.first(static_cast<std::size_t>(end));
  int application_contexts = 0, presentation_contexts = 0, user_information = 0;
  std::string problem = walk(request, kPduHeader + kFixedFields, static_cast<std::size_t>(end), "the A-ASSOCIATE-RQ",
                             [&](unsigned type, std::size_t at, Bytes value) -> std::string {
                               switch (type) {
                                 case 0x10:
                                   if (++application_contexts > 1)
                                     return named("a second application context item", type, at) + " follows the first";
                                   return uid_problem("the application context item", type, at, value);
                                 case 0x20:
                                   ++presentation_contexts;
                                   return presentation_context_problem(request, at, value);
                                 case 0x21:
                                   return named("an accepted presentation context item", type, at) +
                                          " belongs in an A-ASSOCIATE-AC, not in a request";
                                 case 0x50:
                                   if (++user_information > 1)
                                     return named("a second user information item", type, at) + " follows the first";
                                   return user_information_problem(request, at, value);
                                 default:  // skipped, as DCMTK skips them
                                   return {};
                               }
                             });
  if (!problem.empty()) return problem;
  if (application_contexts == 0) return "the A-ASSOCIATE-RQ has no application context item (10H)";
  if (presentation_contexts == 0) return "the A-ASSOCIATE-RQ proposes no presentation context (20H)";
  return {};
}

}  // namespace sennen::dicom
