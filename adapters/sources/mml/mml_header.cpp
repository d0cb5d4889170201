#include "adapters/sources/mml/mml_header.hpp"

#include <libxml/xmlreader.h>

#include <climits>
#include <array>
#include <memory>
#include <vector>

#include "daemon/util/xml_errors.hpp"

namespace sennen::mml {
namespace {

struct ReaderFree {
  void operator()(xmlTextReader* r) const { xmlFreeTextReader(r); }
};
struct XmlFree {
  void operator()(xmlChar* p) const { xmlFree(p); }
};

std::string_view text_of(const xmlChar* p) { return p ? reinterpret_cast<const char*>(p) : ""; }

std::string trimmed(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(kSpace) - b + 1));
}

// The value of the current element's attribute whose local name is `name` (whatever its prefix).
std::string attribute(xmlTextReader* r, std::string_view name) {
  std::string out;
  if (xmlTextReaderMoveToFirstAttribute(r) != 1) return out;
  do {
    if (text_of(xmlTextReaderConstLocalName(r)) == name) {
      out = std::string(text_of(xmlTextReaderConstValue(r)));
      break;
    }
  } while (xmlTextReaderMoveToNextAttribute(r) == 1);
  xmlTextReaderMoveToElement(r);
  return out;
}

template <std::size_t N>
bool at(const std::vector<std::string>& stack, const std::array<std::string_view, N>& path) {
  if (stack.size() != path.size()) return false;
  auto it = stack.begin();
  for (std::string_view p : path)
    if (*it++ != p) return false;
  return true;
}

// The element paths read (local names, so any namespace prefix the creator chose matches).
constexpr std::array<std::string_view, 3> kMaster{"Mml", "MmlHeader", "masterId"};
constexpr std::array<std::string_view, 4> kMasterId{"Mml", "MmlHeader", "masterId", "Id"};
constexpr std::array<std::string_view, 4> kDocInfo{"Mml", "MmlBody", "MmlModuleItem", "docInfo"};
constexpr std::array<std::string_view, 5> kTitle{"Mml", "MmlBody", "MmlModuleItem", "docInfo", "title"};
constexpr std::array<std::string_view, 6> kUid{"Mml", "MmlBody", "MmlModuleItem", "docInfo", "docId", "uid"};
constexpr std::array<std::string_view, 6> kParent{"Mml", "MmlBody", "MmlModuleItem", "docInfo", "docId", "parentId"};

}  // namespace

std::string declared_encoding(std::string_view data) {
  if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
  if (data.substr(0, 5) != "<?xml") return {};
  const auto end = data.substr(0, 512).find("?>");
  if (end == std::string_view::npos) return {};
  const std::string_view decl = data.substr(0, end);
  auto pos = decl.find("encoding");
  if (pos == std::string_view::npos) return {};
  pos = decl.find_first_of("\"'", pos);
  if (pos == std::string_view::npos) return {};
  const auto close = decl.find(decl[pos], pos + 1);
  if (close == std::string_view::npos) return {};
  return std::string(decl.substr(pos + 1, close - pos - 1));
}

ParseResult parse_header(std::string_view data) {
  ParseResult out;
  if (data.size() > INT_MAX) {
    out.error = "internal: header prefix too large";
    return out;
  }
  util::XmlErrors errors;
  std::unique_ptr<xmlTextReader, ReaderFree> reader(
      xmlReaderForMemory(data.data(), static_cast<int>(data.size()), nullptr, nullptr,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!reader) {
    out.error = "the XML reader could not be set up (out of memory?)";
    return out;
  }
  xmlTextReader* r = reader.get();
  errors.watch(r);

  Header h;
  h.encoding = declared_encoding(data);
  std::vector<std::string> stack;  // local names of the open elements, root first
  int master_ids = 0;
  bool seen_master = false, seen_docinfo = false, done = false;
  int ret = 0;
  while (!done && (ret = xmlTextReaderRead(r)) == 1) {
    const int type = xmlTextReaderNodeType(r);
    const auto depth = static_cast<std::size_t>(xmlTextReaderDepth(r));
    if (type == XML_READER_TYPE_ELEMENT) {
      stack.resize(depth);
      stack.emplace_back(text_of(xmlTextReaderConstLocalName(r)));
      if (depth == 0) {
        if (stack[0] != "Mml") {
          out.error =
              "the root element is <" + std::string(text_of(xmlTextReaderConstName(r))) +
              ">, not <Mml>: a module on its own has no MmlHeader/masterId, so its patient cannot be determined";
          return out;
        }
        h.version = attribute(r, "version");
        h.create_date = attribute(r, "createDate");
      } else if (at(stack, kMaster)) {
        seen_master = true;
      } else if (at(stack, kMasterId)) {
        if (++master_ids > 1) {
          out.error = "MmlHeader/masterId holds more than one Id: the patient is ambiguous";
          return out;
        }
      } else if (at(stack, kDocInfo)) {
        seen_docinfo = true;
        h.module_type = attribute(r, "contentModuleType");
      } else if (at(stack, kTitle)) {
        h.purpose = attribute(r, "generationPurpose");
      } else if (at(stack, kParent)) {
        h.parent_relation = attribute(r, "relation");
      }
      // An empty element closes at once: no END_ELEMENT follows it.
      if (xmlTextReaderIsEmptyElement(r) == 1) {
        if (at(stack, kDocInfo)) done = true;
        stack.pop_back();
      }
    } else if (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA ||
               type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE || type == XML_READER_TYPE_WHITESPACE) {
      stack.resize(depth);
      const std::string_view v = text_of(xmlTextReaderConstValue(r));
      if (at(stack, kMasterId))
        h.patient_id += v;
      else if (at(stack, kUid))
        h.uid += v;
      else if (at(stack, kParent))
        h.parent_id += v;
    } else if (type == XML_READER_TYPE_END_ELEMENT) {
      stack.resize(depth + 1);
      if (at(stack, kDocInfo)) done = true;
      stack.pop_back();
    }
  }
  if (!done) {
    if (ret == -1)
      out.error = "not well-formed XML before the end of the first docInfo: " +
                  (errors.first().empty() ? std::string("parse error") : errors.first());
    else
      out.error = seen_docinfo ? "the first docInfo never closes"
                               : "no MmlBody/MmlModuleItem/docInfo: the document has no identity (docId/uid)";
    if (!seen_master && ret != -1) out.error = "no MmlHeader/masterId: the patient cannot be determined";
    return out;
  }
  h.patient_id = trimmed(h.patient_id);
  h.uid = trimmed(h.uid);
  h.parent_id = trimmed(h.parent_id);
  if (!seen_master)
    out.error = "no MmlHeader/masterId: the patient cannot be determined";
  else if (h.patient_id.empty())
    out.error = "MmlHeader/masterId holds no patient ID";
  else if (h.uid.empty())
    out.error = "the first docInfo has no docId/uid: the document has no identity";
  else
    out.header = std::move(h);
  return out;
}

}  // namespace sennen::mml
