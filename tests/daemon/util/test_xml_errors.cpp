#include <doctest/doctest.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <string>

#include "daemon/util/xml_errors.hpp"

using namespace sennen;

namespace {

void count(void* heard, xmlErrorPtr) { ++*static_cast<int*>(heard); }

// A document libxml2 reports an error in, through the thread's global handler.
void parse_broken() {
  const std::string broken = "<a>\n<b></a>";
  xmlFreeDoc(xmlReadMemory(broken.data(), static_cast<int>(broken.size()), nullptr, nullptr, XML_PARSE_NONET));
}

}  // namespace

TEST_CASE("xml errors: keeps the first report with its line, and gives the thread's handler back at its end") {
  int heard = 0;
  xmlSetStructuredErrorFunc(&heard, count);
  {
    util::XmlErrors errors;
    parse_broken();
    CHECK(heard == 0);
    CHECK(errors.first().find("(line 2)") != std::string::npos);
  }
  parse_broken();
  CHECK(heard > 0);
  xmlSetStructuredErrorFunc(nullptr, nullptr);
}
