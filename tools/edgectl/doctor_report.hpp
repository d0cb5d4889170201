#pragma once
// sennen-edgectl doctor's result list: each check adds pass, warn, fail or info (not checked)
// with a message that says what to fix; printed as text or JSON.
#include <string>
#include <vector>

namespace sennen::edgectl {

enum class Level { pass, warn, fail, info };

struct Check {
  Level level;
  std::string name, message;
};

class Report {
 public:
  void add(Level l, std::string name, std::string message) {
    checks_.push_back({l, std::move(name), std::move(message)});
  }
  bool failed() const;
  void print(bool as_json) const;

 private:
  std::vector<Check> checks_;
};

}  // namespace sennen::edgectl
