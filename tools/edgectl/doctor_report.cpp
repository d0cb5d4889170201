#include "tools/edgectl/doctor_report.hpp"

#include <cctype>
#include <iostream>

#include "tools/edgectl/common.hpp"

namespace sennen::edgectl {
namespace {
using nlohmann::json;

const char* label(Level l) {
  switch (l) {
    case Level::pass:
      return "PASS";
    case Level::warn:
      return "WARN";
    case Level::fail:
      return "FAIL";
    case Level::info:
      return "----";
  }
  return "?";
}

}  // namespace

bool Report::failed() const {
  for (const auto& c : checks_)
    if (c.level == Level::fail) return true;
  return false;
}

void Report::print(bool as_json) const {
  if (as_json) {
    json j = json::array();
    for (const auto& c : checks_) {
      std::string s = label(c.level);
      for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      j.push_back({{"check", c.name}, {"result", c.level == Level::info ? "not_checked" : s}, {"message", c.message}});
    }
    print_json({{"checks", j}, {"ok", !failed()}});
    return;
  }
  int fails = 0, warns = 0;
  for (const auto& c : checks_) {
    std::cout << label(c.level) << "  " << c.name << ": " << c.message << "\n";
    fails += c.level == Level::fail;
    warns += c.level == Level::warn;
  }
  std::cout << "\n"
            << (fails ? "FAILED" : "OK") << ": " << fails << " failed, " << warns << " warning(s), " << checks_.size()
            << " checks\n";
}

}  // namespace sennen::edgectl
