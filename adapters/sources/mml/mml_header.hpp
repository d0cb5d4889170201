#pragma once
// The few fields of an MML instance (formats.md §3) the mml source needs: the patient from
// MmlHeader/masterId, and the identity of the first MmlModuleItem's document (docInfo). Pure
// function over the first bytes of a file: the reader stops at the end of that first docInfo, so
// the rest of the instance (the modules' content, however large) is never parsed.
#include <optional>
#include <string>
#include <string_view>

namespace sennen::mml {

struct Header {
  std::string version;          // Mml@version, e.g. "4.1.2"; "" when absent
  std::string create_date;      // Mml@createDate; "" when absent
  std::string encoding;         // as the XML declaration names it ("" when it names none: UTF-8)
  std::string patient_id;       // MmlHeader/masterId/Id, surrounding white space trimmed
  std::string module_type;      // docInfo@contentModuleType; "" when absent
  std::string purpose;          // docInfo/title@generationPurpose; "" when absent
  std::string uid;              // docInfo/docId/uid
  std::string parent_id;        // docInfo/docId/parentId; "" when absent
  std::string parent_relation;  // its @relation, e.g. "oldEdition"
};

struct ParseResult {
  std::optional<Header> header;
  std::string error;  // why no header could be read (one sentence), when header is empty
};

// The encoding the XML declaration at the start of `data` names ("" when there is none or it
// names none). Only a declaration that is whole within the first 512 bytes is read.
std::string declared_encoding(std::string_view data);

// Reads the header of an MML instance (any version whose element names are those of v2.x-4.x)
// from `data`, the first bytes of the file (the whole file, or a prefix: a prefix that ends before
// the first docInfo is closed is an error saying so). The declared encoding is honoured (UTF-8,
// Shift_JIS, ...); no DTD or external entity is ever loaded.
ParseResult parse_header(std::string_view data);

}  // namespace sennen::mml
