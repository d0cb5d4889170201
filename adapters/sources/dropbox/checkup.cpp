#include "adapters/sources/dropbox/checkup.hpp"

#include <libxml/xmlreader.h>

#include <algorithm>
#include <array>
#include <memory>

#include "daemon/util/xml_errors.hpp"

namespace sennen::dropbox {
namespace {

struct ReaderFree {
  void operator()(xmlTextReader* r) const { xmlFreeTextReader(r); }
};

std::string_view text_of(const xmlChar* p) { return p ? reinterpret_cast<const char*>(p) : ""; }

struct XmlFree {
  void operator()(xmlChar* p) const { xmlFree(p); }
};

std::string attribute(xmlTextReader* r, const char* name) {
  std::unique_ptr<xmlChar, XmlFree> v(xmlTextReaderGetAttribute(r, reinterpret_cast<const xmlChar*>(name)));
  return std::string(text_of(v.get()));
}

// Local names, so any namespace prefix matches.
constexpr std::array<std::string_view, 4> kId{"ClinicalDocument", "recordTarget", "patientRole", "id"};

}  // namespace

CdaIds cda_patient_ids(const std::filesystem::path& file) {
  CdaIds out;
  util::XmlErrors errors;
  std::unique_ptr<xmlTextReader, ReaderFree> reader(
      xmlReaderForFile(file.c_str(), nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!reader) {
    out.error = "it cannot be opened as XML" + (errors.first().empty() ? "" : ": " + errors.first());
    return out;
  }
  xmlTextReader* r = reader.get();
  errors.watch(r);
  std::vector<std::string> stack;  // local names of the open elements, root first
  int ret = 0;
  while ((ret = xmlTextReaderRead(r)) == 1) {
    if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT) continue;
    stack.resize(static_cast<std::size_t>(xmlTextReaderDepth(r)));
    stack.emplace_back(text_of(xmlTextReaderConstLocalName(r)));
    if (std::equal(stack.begin(), stack.end(), kId.begin(), kId.end()))
      out.ids.push_back({attribute(r, "root"), attribute(r, "extension")});
  }
  if (ret != 0 || !errors.first().empty()) {
    out.error = errors.first().empty() ? "it is not well-formed XML" : errors.first();
    out.ids.clear();
  }
  return out;
}

}  // namespace sennen::dropbox
