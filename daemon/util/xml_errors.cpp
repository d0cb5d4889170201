#include "daemon/util/xml_errors.hpp"

#include <libxml/xmlerror.h>
#include <libxml/xmlreader.h>

#include <cstdarg>
#include <cstdio>

namespace sennen::util {
namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void on_error(void* first, xmlErrorPtr e) {
  auto* out = static_cast<std::string*>(first);
  if (!out->empty() || !e || !e->message) return;
  *out = trimmed(e->message);
  if (e->line > 0) *out += " (line " + std::to_string(e->line) + ")";
}

// libxml2 also prints a few messages straight to its generic handler, bypassing the structured one
// ("xmlParseChunk: encoder error", after the report it follows); one is kept only when nothing came before it.
void on_generic(void* first, const char* format, ...) {
  auto* out = static_cast<std::string*>(first);
  if (!out->empty()) return;
  char text[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  *out = trimmed(text);
}

}  // namespace

XmlErrors::XmlErrors()
    : previous_structured_(xmlStructuredError),
      previous_structured_context_(xmlStructuredErrorContext),
      previous_generic_(xmlGenericError),
      previous_generic_context_(xmlGenericErrorContext) {
  xmlSetStructuredErrorFunc(&first_, on_error);
  xmlSetGenericErrorFunc(&first_, on_generic);
}

XmlErrors::~XmlErrors() {
  xmlSetStructuredErrorFunc(previous_structured_context_, previous_structured_);
  xmlSetGenericErrorFunc(previous_generic_context_, previous_generic_);
}

void XmlErrors::watch(xmlTextReader* reader) { xmlTextReaderSetStructuredErrorHandler(reader, on_error, &first_); }

}  // namespace sennen::util
