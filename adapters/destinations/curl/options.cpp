#include "adapters/destinations/curl/options.hpp"

namespace sennen::destinations {

const std::vector<std::string_view> kTransferKeys = {"connect_timeout", "low_speed_limit", "low_speed_time"};

Transfer read_transfer(const config::Section& s) {
  Transfer t;
  if (auto d = s.optional("connect_timeout"))
    if (auto secs = d->duration(false)) t.connect_timeout = *secs;
  if (auto l = s.optional("low_speed_limit")) {
    if (auto n = l->size()) {
      if (*n == 0)
        l->problem("must be more than 0 (a stalled upload must be noticed); write e.g. 1KiB");
      else
        t.low_speed_bytes = *n;
    }
  }
  if (auto d = s.optional("low_speed_time"))
    if (auto secs = d->duration(false)) t.low_speed_time = *secs;
  return t;
}

std::optional<std::string> read_https_url(const config::Node& n, std::string_view what, std::string_view example) {
  auto text = n.text(std::string(what) + ", e.g. " + std::string(example));
  if (!text) return std::nullopt;
  const std::string& url = *text;
  const std::string hint = "; write e.g. " + std::string(example);
  std::string lower = url.substr(0, 8);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower != "https://") {
    n.problem(config::in_quotes(url) + " does not start with https:// (batches are only sent over TLS)" + hint);
    return std::nullopt;
  }
  const std::string rest = url.substr(8);
  const std::string host = rest.substr(0, rest.find('/'));
  std::string why;
  if (host.empty() || host.front() == ':')
    why = "has no host name";
  else if (host.find('@') != std::string::npos)
    why = "contains a user name or password (the site certificate identifies this site; remove it)";
  else if (rest.find_first_of("?#") != std::string::npos)
    why = "contains a '?' or '#' (object names are added to the path; remove them)";
  else if (!config::all_chars_in(rest, "-._~/:%[]"))
    why = "contains a character that is not allowed in a URL (spaces or non-ASCII letters must be %-encoded)";
  if (!why.empty()) {
    n.problem(config::in_quotes(url) + " " + why + hint);
    return std::nullopt;
  }
  std::string out = "https://" + rest;
  while (out.size() > 8 && out.back() == '/') out.pop_back();
  return out;
}

}  // namespace sennen::destinations
