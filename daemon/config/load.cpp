// Reads sennen-edge.yaml into a Config. The only file that includes yaml-cpp.
//
// Every problem is collected, not just the first: hospital IT staff often edit the file over a
// remote session with a slow turnaround, so one run should tell them everything that is wrong,
// each with file:line:column, what is wrong and how to write it instead.
#include <arpa/inet.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "daemon/config/config.hpp"
#include "daemon/config/suggest.hpp"

namespace sennen::config {
namespace {
namespace fs = std::filesystem;

constexpr std::string_view kDurationHint = "write e.g. 60s, 5m, 1h or 1d";
constexpr std::string_view kSizeHint = "write e.g. 64MiB, 1GiB or 500KB";

// Shows a value inside a message: quoted and cut short, so a pasted paragraph stays readable.
std::string in_quotes(std::string_view value) {
  std::size_t keep = value.size() <= 60 ? value.size() : 60;
  // Never cut a UTF-8 character (Japanese text is common here) in half: back up to a lead byte.
  while (keep < value.size() && keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) --keep;
  return "\"" + std::string(value.substr(0, keep)) + (keep < value.size() ? "...\"" : "\"");
}

std::string join_names(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

// Collects the problems of one file.
class Report {
 public:
  explicit Report(std::string file) : file_(std::move(file)) {}

  void add(const YAML::Mark& mark, std::string key, std::string message) {
    problems_.push_back(make(mark, std::move(key), std::move(message)));
  }
  Problem make(const YAML::Mark& mark, std::string key, std::string message) const {
    Problem p;
    p.file = file_;
    if (!mark.is_null()) {  // yaml-cpp counts from 0, editors from 1
      p.line = mark.line + 1;
      p.column = mark.column + 1;
    }
    p.key = std::move(key);
    p.message = std::move(message);
    return p;
  }
  bool empty() const { return problems_.empty(); }

  // In file order, so the list reads top to bottom like the file does.
  std::vector<Problem> take() {
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::move(problems_);
  }

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

// A value in the document, with the dotted path used in messages and the best position to point
// at. An empty value ("key:" and nothing after it) gets yaml-cpp's mark of the *next* token, often
// on a later line, so for those we point at the key instead.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};

Value make_value(const YAML::Node& node, const YAML::Mark& key_mark, std::string path) {
  YAML::Mark mark = node.Mark();
  if (mark.is_null() || (node.IsNull() && mark.line != key_mark.line)) mark = key_mark;
  return Value{node, mark, std::move(path)};
}

// An entry of a list. A bare "-" gets the mark of the token after it; that is still closer than
// the start of the list, so the item's own mark is used whenever there is one.
Value item_value(const Value& list, std::size_t i) {
  const YAML::Node node = list.node[i];
  const YAML::Mark own = node.Mark();
  return make_value(node, own.is_null() ? list.mark : own, list.path + "[" + std::to_string(i) + "]");
}

std::string kind_of(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping (indented 'key: value' lines)";
  if (node.IsNull()) return "nothing";
  return "a single value";
}

// A mapping being read. Unknown and duplicate keys are reported when it is opened; lookups then
// only see the known keys.
class Section {
 public:
  Section(Report& report, const Value& self, std::vector<std::string_view> known)
      : report_(report), self_(self) {
    // "heartbeat:" with every child commented out is an empty section, not an error.
    if (self.node.IsNull()) return;
    if (!self.node.IsMap()) {
      report_.add(self.mark, self.path,
                  "expected a mapping (indented 'key: value' lines), found " + kind_of(self.node));
      return;
    }
    std::map<std::string, int> first_line;
    for (auto it = self.node.begin(); it != self.node.end(); ++it) {
      const YAML::Mark key_mark = it->first.Mark();
      if (!it->first.IsScalar()) {
        report_.add(key_mark, self.path, "keys must be plain names such as 'name:', found " + kind_of(it->first));
        continue;
      }
      const std::string key = it->first.Scalar();
      const std::string path = child_path(key);
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string msg = "unknown key '" + key + "' " + where();
        if (auto near = detail::closest(key, known))
          msg += "; did you mean '" + *near + "'?";
        else
          msg += "; expected one of: " + join_names(known);
        report_.add(key_mark, path, msg);
        continue;
      }
      auto [pos, inserted] = first_line.emplace(key, key_mark.line + 1);
      if (!inserted) {
        report_.add(key_mark, path,
                    "'" + key + "' appears twice " + where() + " (first on line " + std::to_string(pos->second) +
                        "); keep only one");
        continue;
      }
      entries_.emplace_back(key, make_value(it->second, key_mark, path));
    }
  }

  std::optional<Value> optional(std::string_view key) const {
    for (const auto& [name, value] : entries_)
      if (name == key) return value;
    return std::nullopt;
  }

  // Missing keys are reported at the start of the mapping that should hold them.
  std::optional<Value> required(std::string_view key, std::string_view expected) const {
    auto v = optional(key);
    if (!v && (self_.node.IsNull() || self_.node.IsMap()))
      report_.add(self_.mark, child_path(key),
                  "missing required key '" + std::string(key) + "' " + where() + "; add " + std::string(expected));
    return v;
  }

  std::string child_path(std::string_view key) const {
    return self_.path.empty() ? std::string(key) : self_.path + "." + std::string(key);
  }

 private:
  std::string where() const { return self_.path.empty() ? "at the top level" : "in " + self_.path; }

  Report& report_;
  Value self_;
  std::vector<std::pair<std::string, Value>> entries_;
};

// ---- typed values ---------------------------------------------------------------------------

// The text of a single value; anything else (nothing, a list, a mapping) is reported.
std::optional<std::string> text(Report& r, const Value& v, std::string_view expected) {
  if (v.node.IsScalar()) return v.node.Scalar();
  r.add(v.mark, v.path,
        (v.node.IsNull() ? std::string("has no value") : "found " + kind_of(v.node)) + "; expected " +
            std::string(expected));
  return std::nullopt;
}

// Relative paths are relative to the config file, not to wherever the daemon was started.
std::optional<fs::path> path_value(Report& r, const Value& v, const fs::path& base, std::string_view expected) {
  auto s = text(r, v, expected);
  if (!s) return std::nullopt;
  if (s->empty()) {
    r.add(v.mark, v.path, "is empty; expected " + std::string(expected));
    return std::nullopt;
  }
  fs::path p(*s);
  p = (p.is_absolute() ? p : base / p).lexically_normal();
  // "/srv/x/" and "/srv/x" are the same folder; keep one spelling so they compare equal.
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

// One path, or a non-empty list of paths.
std::optional<std::vector<fs::path>> path_list(Report& r, const Value& v, const fs::path& base,
                                               std::string_view expected) {
  if (!v.node.IsSequence()) {
    auto p = path_value(r, v, base, expected);
    if (!p) return std::nullopt;
    return std::vector<fs::path>{*p};
  }
  if (v.node.size() == 0) {
    r.add(v.mark, v.path, "is an empty list; expected " + std::string(expected));
    return std::nullopt;
  }
  std::vector<fs::path> out;
  bool ok = true;
  for (std::size_t i = 0; i < v.node.size(); ++i) {
    auto p = path_value(r, item_value(v, i), base, "a path");
    if (p)
      out.push_back(*p);
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Seconds> duration_value(Report& r, const Value& v, bool allow_zero) {
  auto s = text(r, v, "a duration; " + std::string(kDurationHint));
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    r.add(v.mark, v.path, in_quotes(*s) + " is not a duration; " + std::string(kDurationHint));
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    r.add(v.mark, v.path, "must be longer than 0; " + std::string(kDurationHint));
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> size_value(Report& r, const Value& v) {
  auto s = text(r, v, "a size; " + std::string(kSizeHint));
  if (!s) return std::nullopt;
  auto n = parse_size(*s);
  if (!n) r.add(v.mark, v.path, in_quotes(*s) + " is not a size; " + std::string(kSizeHint));
  return n;
}

std::optional<long> integer_value(Report& r, const Value& v, long min, long max) {
  const std::string range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  auto s = text(r, v, range);
  if (!s) return std::nullopt;
  std::string_view digits = *s;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  // At most 9 digits are read, so n cannot overflow whatever the text holds.
  bool ok = !digits.empty() && digits.size() <= 9;
  long n = 0;
  for (std::size_t i = 0; ok && i < digits.size(); ++i) {
    if (digits[i] < '0' || digits[i] > '9') ok = false;
    n = n * 10 + (digits[i] - '0');
  }
  if (!ok || (negative ? -n : n) < min || (negative ? -n : n) > max) {
    r.add(v.mark, v.path, in_quotes(*s) + " is not " + range);
    return std::nullopt;
  }
  return negative ? -n : n;
}

std::optional<bool> bool_value(Report& r, const Value& v) {
  auto s = text(r, v, "true or false");
  if (!s) return std::nullopt;
  std::string lower = *s;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "true" || lower == "yes") return true;
  if (lower == "false" || lower == "no") return false;
  r.add(v.mark, v.path, in_quotes(*s) + " is not true or false; write true or false");
  return std::nullopt;
}

// One of a fixed set of words; `meaning` explains them in the message.
std::optional<std::string> choice_value(Report& r, const Value& v, const std::vector<std::string_view>& options,
                                        std::string_view meaning) {
  auto s = text(r, v, "one of: " + join_names(options));
  if (!s) return std::nullopt;
  if (std::find(options.begin(), options.end(), *s) != options.end()) return s;
  std::string msg = in_quotes(*s) + " is not one of: " + join_names(options);
  if (!meaning.empty()) msg += " (" + std::string(meaning) + ")";
  if (auto near = detail::closest(*s, options)) msg += "; did you mean '" + *near + "'?";
  r.add(v.mark, v.path, msg);
  return std::nullopt;
}

bool all_chars_in(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           extra.find(c) != std::string_view::npos;
  });
}

// ---- sections -------------------------------------------------------------------------------

class Loader {
 public:
  Loader(Report& report, fs::path base) : r_(report), base_(std::move(base)) {}

  void read(const Value& root, Config& cfg) {
    files_ = &cfg.files;
    Section top(r_, root,
                {"site", "state_dir", "sources", "optout", "destination", "encryption", "batch", "heartbeat",
                 "schedule", "metrics", "spool", "outbox"});
    if (auto v = top.required("site", "a 'site:' section with the facility code, e.g. id: \"1312345678\""))
      read_site(*v, cfg.site, cfg.placeholders);
    if (auto v = top.required("state_dir", "state_dir: /var/lib/sennen-edge (where the spool and outbox live)"))
      if (auto p = path_value(r_, *v, base_, "a folder path, e.g. /var/lib/sennen-edge")) cfg.state_dir = *p;
    if (auto v = top.required("sources", "a 'sources:' list with at least one SS-MIX2 folder to read"))
      read_sources(*v, cfg.sources);
    if (auto v = top.required("optout", "an 'optout:' section with stop_list: (the 提供停止 list)"))
      read_optout(*v, cfg.optout);
    if (auto v = top.required("destination", "a 'destination:' section, e.g. type: local and path: ..., type: https and url: ... or type: s3 and bucket: ..."))
      read_destination(*v, cfg.destination);
    if (auto v = top.required("encryption", "an 'encryption:' section with recipients, signer_cert and signer_key"))
      read_encryption(*v, cfg.encryption);
    if (auto v = top.optional("batch")) read_batch(*v, cfg.batch);
    if (auto v = top.optional("heartbeat")) read_heartbeat(*v, cfg.heartbeat);
    if (auto v = top.optional("spool")) read_cap(*v, "20GiB", cfg.limits.spool_max_bytes);
    if (auto v = top.optional("outbox")) read_cap(*v, "4GiB", cfg.limits.outbox_max_bytes);
    cfg.schedule.utc_offset_minutes = cfg.site.utc_offset_minutes;  // unless schedule.timezone says otherwise
    if (auto v = top.optional("schedule")) read_schedule(*v, cfg.schedule, cfg.destination);
    if (auto v = top.optional("metrics")) read_metrics(*v, cfg.metrics);
  }

 private:
  void read_site(const Value& v, Site& site, std::vector<Problem>& placeholders) {
    Section s(r_, v, {"id", "name", "timezone"});
    if (auto id = s.required("id", "id: \"1312345678\" (your 10-digit facility code, 医療機関コード)")) {
      if (auto t = text(r_, *id, "the facility code, e.g. \"1312345678\"")) {
        // The id becomes part of folder and file names, so nothing that could escape a folder.
        if (t->empty() || t->size() > 64 || !all_chars_in(*t, "-"))
          r_.add(id->mark, id->path,
                 in_quotes(*t) + " is not a usable site id; use 1 to 64 letters, digits or '-' " +
                     "(it is used in folder and file names), e.g. \"1312345678\"");
        else
          site.id = *t;
        if (site.id == kPlaceholderSiteId)
          placeholders.push_back(r_.make(
              id->mark, id->path,
              in_quotes(*t) + " is the placeholder shipped with sennen-edge; replace it with this hospital's " +
                  "10-digit facility code (医療機関コード), e.g. id: \"1312345678\", then run " +
                  "sennen-edged --check and start the service again"));
      }
    }
    if (auto name = s.optional("name"))
      if (auto t = text(r_, *name, "the hospital's name, e.g. \"Example Hospital\"")) site.name = *t;
    if (auto tz = s.optional("timezone")) {
      if (auto t = text(r_, *tz, "Asia/Tokyo, UTC or an offset such as \"+09:00\"")) {
        if (auto minutes = parse_utc_offset(*t)) {
          site.timezone = *t;
          site.utc_offset_minutes = *minutes;
        } else {
          r_.add(tz->mark, tz->path,
                 in_quotes(*t) + " is not supported: only fixed-offset zones are (Asia/Tokyo, UTC or Etc/UTC); " +
                     "write the offset instead, e.g. \"+09:00\" or \"-05:00\"");
        }
      }
    }
  }

  void read_sources(const Value& v, std::vector<Source>& sources) {
    if (v.node.IsNull() || (v.node.IsSequence() && v.node.size() == 0)) {
      r_.add(v.mark, v.path, "at least one source is required; add an entry such as '- name: emr' with type and root");
      return;
    }
    if (!v.node.IsSequence()) {
      r_.add(v.mark, v.path,
             "expected a list of sources (each entry starting with '- '), found " + kind_of(v.node));
      return;
    }
    std::map<std::string, std::pair<std::size_t, int>> names;  // name -> (index, line)
    std::map<fs::path, std::pair<std::size_t, int>> roots;      // root -> (index, line)
    for (std::size_t i = 0; i < v.node.size(); ++i) {
      const Value item = item_value(v, i);
      Source src;
      if (!item.node.IsMap()) {
        // Also covers a bare "-" with nothing after it.
        r_.add(item.mark, item.path,
               "expected a source (indented 'name:', 'type:' and 'root:' lines), found " + kind_of(item.node));
        continue;
      }
      read_source(item, src);
      // Only reached when the keys exist (a name or root was read), so these lookups find them.
      const YAML::Node& map = item.node;
      if (!src.name.empty()) {
        const YAML::Mark mark = map["name"].Mark();
        auto [pos, inserted] = names.emplace(src.name, std::pair(i, mark.line + 1));
        if (!inserted)
          r_.add(mark, item.path + ".name",
                 "name '" + src.name + "' is already used by sources[" + std::to_string(pos->second.first) +
                     "] (line " + std::to_string(pos->second.second) + "); every source needs its own name");
      }
      // Two sources reading one folder would send every record twice under different names.
      for (const auto& root : src.roots) {
        const YAML::Mark mark = map["root"].Mark();
        auto [pos, inserted] = roots.emplace(root, std::pair(i, mark.line + 1));
        if (!inserted)
          r_.add(mark, item.path + ".root",
                 "folder " + root.string() + " is already read by sources[" + std::to_string(pos->second.first) +
                     "] (line " + std::to_string(pos->second.second) + "); list each folder only once");
      }
      sources.push_back(std::move(src));
    }
  }

  void read_source(const Value& v, Source& src) {
    Section s(r_, v, {"name", "type", "vendor", "root", "poll_interval", "stable_after", "full_scan_interval",
                      "max_record_bytes", "allow_hard_links", "cross_filesystems", "port", "ae_title",
                      "allowed_calling_ae_titles", "allowed_addresses", "min_free", "max_incoming", "patient_id",
                      "peer", "local_ae_title", "retrieve", "lookback", "since", "move_port", "move_address",
                      "max_associations"});
    if (auto name = s.required("name", "name: emr (a short name for this source, used in logs and file names)")) {
      if (auto t = text(r_, *name, "a short name such as emr")) {
        if (t->empty() || t->size() > 64 || !all_chars_in(*t, "._-") || *t == "." || *t == "..")
          r_.add(name->mark, name->path,
                 in_quotes(*t) + " is not a usable source name; use 1 to 64 letters, digits, '.', '_' or '-', e.g. emr");
        else
          src.name = *t;
      }
    }
    if (auto type = s.required("type", "type: ssmix2 (standardized storage) or type: ssmix2-extended")) {
      if (auto t = choice_value(r_, *type, {"ssmix2", "ssmix2-extended", "dicom-scp", "dicom-qr"},
                                "ssmix2 = standardized storage 標準化ストレージ, "
                                "ssmix2-extended = extended storage 拡張ストレージ, "
                                "dicom-scp = DICOM images pushed to us (C-STORE), "
                                "dicom-qr = DICOM studies polled from a PACS (C-FIND, C-GET)"))
        src.type = *t == "ssmix2" ? SourceType::ssmix2
                   : *t == "dicom-scp" ? SourceType::dicom_scp
                   : *t == "dicom-qr"  ? SourceType::dicom_qr
                                       : SourceType::ssmix2_extended;
    }
    if (read_dicom_qr(s, src)) return;
    if (read_dicom_scp(s, src)) return;
    if (auto vendor = s.optional("vendor"))
      if (auto t = choice_value(r_, *vendor, {"generic", "fujitsu", "nec", "ssi"}, "use generic if unsure"))
        src.vendor = *t;
    if (auto root = s.required("root", "root: /srv/ssmix2/std (the folder the EMR exports to)"))
      if (auto roots = path_list(r_, *root, base_, "a folder path, or a list of folder paths")) src.roots = *roots;
    if (auto d = s.optional("poll_interval"))
      if (auto secs = duration_value(r_, *d, false)) src.poll_interval = *secs;
    if (auto d = s.optional("stable_after"))  // 0 is allowed: "read as soon as seen" (not advised)
      if (auto secs = duration_value(r_, *d, true)) src.stable_after = *secs;
    if (auto d = s.optional("full_scan_interval"))
      if (auto secs = duration_value(r_, *d, false)) src.full_scan_interval = *secs;
    src.max_record_bytes = src.type == SourceType::ssmix2 ? kMaxRecordBytesStandard : kMaxRecordBytesExtended;
    if (auto m = s.optional("max_record_bytes")) {
      if (auto n = size_value(r_, *m)) {
        if (*n == 0)
          r_.add(m->mark, m->path, "0 would quarantine every record; write a size, e.g. 256MiB");
        else
          src.max_record_bytes = *n;
      }
    }
    if (auto b = s.optional("allow_hard_links"))
      if (auto on = bool_value(r_, *b)) src.allow_hard_links = *on;
    if (auto b = s.optional("cross_filesystems"))
      if (auto on = bool_value(r_, *b)) src.cross_filesystems = *on;
  }

  // The keys of type: dicom-qr. Returns true when the source is one (its other keys are read
  // here); for other types, names any dicom-qr key as misplaced and returns false.
  bool read_dicom_qr(const Section& s, Source& src) {
    const std::vector<std::string_view> qr_keys = {"peer",  "local_ae_title", "retrieve",    "lookback",
                                                   "since", "move_port",      "move_address"};
    if (src.type != SourceType::dicom_qr) {
      for (auto key : qr_keys)
        if (auto extra = s.optional(key))
          r_.add(extra->mark, extra->path, "'" + std::string(key) + "' is only used with type: dicom-qr; remove it");
      return false;
    }
    for (std::string_view key : {"root", "vendor", "stable_after", "full_scan_interval", "max_record_bytes",
                                 "allow_hard_links", "cross_filesystems", "port", "ae_title",
                                 "allowed_calling_ae_titles", "allowed_addresses", "max_associations"})
      if (auto extra = s.optional(key))
        r_.add(extra->mark, extra->path, "'" + std::string(key) + "' is not used with type: dicom-qr; remove it");
    DicomQr& d = src.dicom_qr;
    if (auto p = s.required("peer", "peer: {host: 10.1.2.3, port: 104, ae_title: PACS} (the PACS to poll)")) {
      Section ps(r_, *p, {"host", "port", "ae_title"});
      if (auto h = ps.required("host", "host: 10.1.2.3 (the PACS's address)"))
        if (auto t = text(r_, *h, "a host name or IP address such as 10.1.2.3")) {
          if (t->empty() || t->find_first_of(" /\\") != std::string::npos)
            r_.add(h->mark, h->path, in_quotes(*t) + " is not a host; write e.g. 10.1.2.3");
          else
            d.host = *t;
        }
      if (auto n = ps.required("port", "port: 104 (the PACS's DICOM port)"))
        if (auto v = integer_value(r_, *n, 1, 65535)) d.port = static_cast<int>(*v);
      if (auto a = ps.required("ae_title", "ae_title: PACS (the PACS's AE title)"))
        if (auto t = ae_title(*a)) d.ae_title = *t;
    }
    if (auto a = s.required("local_ae_title", "local_ae_title: SENNEN (our AE title, as configured in the PACS)"))
      if (auto t = ae_title(*a)) d.local_ae_title = *t;
    if (auto r = s.optional("retrieve"))
      if (auto t = choice_value(r_, *r, {"get", "move"},
                                "get = C-GET (no inbound port needed), move = C-MOVE to local_ae_title on move_port"))
        d.retrieve = *t;
    if (d.retrieve == "move") {
      if (auto p = s.required("move_port", "move_port: 11113 (where the PACS connects to deliver a C-MOVE)"))
        if (auto n = integer_value(r_, *p, 1, 65535)) d.move_port = static_cast<int>(*n);
      if (auto a = s.optional("move_address"))
        if (auto t = text(r_, *a, "an IPv4 address of this host such as 10.1.2.4")) {
          in_addr addr{};
          if (::inet_pton(AF_INET, t->c_str(), &addr) == 1)
            d.move_address = *t;
          else
            r_.add(a->mark, a->path, in_quotes(*t) + " is not an IPv4 address; write e.g. 10.1.2.4");
        }
    } else {
      for (std::string_view key : {"move_port", "move_address"})
        if (auto extra = s.optional(key))
          r_.add(extra->mark, extra->path, "'" + std::string(key) + "' is only used with retrieve: move; remove it");
    }
    if (auto l = s.optional("lookback"))
      if (auto secs = duration_value(r_, *l, true)) d.lookback = *secs;
    if (auto v = s.optional("since")) {
      auto t = text(r_, *v, "a date written YYYY-MM-DD, e.g. 2015-01-01");
      auto date = t ? parse_date(*t) : std::nullopt;
      if (t && !date) r_.add(v->mark, v->path, in_quotes(*t) + " is not a real date; write YYYY-MM-DD, e.g. 2015-01-01");
      d.since = date;
    }
    read_dicom_common(s, d.min_free, d.max_incoming, d.patient_id, src);
    return true;
  }

  // The keys of type: dicom-scp. Returns true when the source is one (its other keys are read
  // here); for other types, names any DICOM key as misplaced and returns false.
  bool read_dicom_scp(const Section& s, Source& src) {
    const std::vector<std::string_view> dicom_keys = {"port",     "ae_title",     "allowed_calling_ae_titles",
                                                      "allowed_addresses", "min_free", "max_incoming",
                                                      "patient_id", "max_associations"};
    if (src.type != SourceType::dicom_scp) {
      for (auto key : dicom_keys)
        if (auto extra = s.optional(key))
          r_.add(extra->mark, extra->path, "'" + std::string(key) + "' is only used with type: dicom-scp; remove it");
      return false;
    }
    for (std::string_view key : {"root", "vendor", "stable_after", "full_scan_interval", "max_record_bytes",
                                 "allow_hard_links", "cross_filesystems"})
      if (auto extra = s.optional(key))
        r_.add(extra->mark, extra->path, "'" + std::string(key) + "' is not used with type: dicom-scp; remove it");
    DicomScp& d = src.dicom;
    if (auto p = s.required("port", "port: 11112 (the TCP port modalities send to)"))
      if (auto n = integer_value(r_, *p, 1, 65535)) d.port = static_cast<int>(*n);
    if (auto a = s.required("ae_title", "ae_title: SENNEN (the AE title modalities call)"))
      if (auto t = ae_title(*a)) d.ae_title = *t;
    if (auto l = s.required("allowed_calling_ae_titles", "allowed_calling_ae_titles: [CT1, MR1] (who may send)"))
      d.allowed_calling_ae_titles = string_list(*l, "AE titles", [&](const Value& item) { return ae_title(item); });
    if (auto l = s.optional("allowed_addresses"))
      d.allowed_addresses = string_list(*l, "IP addresses", [&](const Value& item) -> std::optional<std::string> {
        auto t = text(r_, item, "an IP address such as 10.1.2.3");
        if (!t) return std::nullopt;
        unsigned char buf[sizeof(struct in6_addr)];
        if (::inet_pton(AF_INET, t->c_str(), buf) == 1 || ::inet_pton(AF_INET6, t->c_str(), buf) == 1) return t;
        r_.add(item.mark, item.path, in_quotes(*t) + " is not an IP address; write e.g. 10.1.2.3 (host names are not accepted)");
        return std::nullopt;
      });
    if (auto m = s.optional("max_associations"))
      if (auto n = integer_value(r_, *m, 1, 64)) d.max_associations = static_cast<int>(*n);
    read_dicom_common(s, d.min_free, d.max_incoming, d.patient_id, src);
    return true;
  }

  // The keys both DICOM source types share: how much may wait on disk, the PatientID mapping and
  // the poll interval.
  void read_dicom_common(const Section& s, std::uint64_t& min_free, std::uint64_t& max_incoming, DicomPatientId& patient_id,
                         Source& src) {
    if (auto m = s.optional("min_free"))
      if (auto n = size_value(r_, *m)) min_free = *n;
    if (auto m = s.optional("max_incoming")) {
      if (auto n = size_value(r_, *m)) {
        if (*n < (1ull << 20))
          r_.add(m->mark, m->path, in_quotes(m->node.Scalar()) + " is too small; write at least 1MiB (e.g. 10GiB)");
        else
          max_incoming = *n;
      }
    }
    if (auto p = s.optional("patient_id")) {
      Section ps(r_, *p, {"strip_leading_zeros", "pad_to"});
      if (auto b = ps.optional("strip_leading_zeros"))
        if (auto value = bool_value(r_, *b)) patient_id.strip_leading_zeros = *value;
      if (auto n = ps.optional("pad_to"))
        if (auto value = integer_value(r_, *n, 0, 64)) patient_id.pad_to = static_cast<int>(*value);
    }
    if (auto d2 = s.optional("poll_interval"))
      if (auto secs = duration_value(r_, *d2, false)) src.poll_interval = *secs;
  }

  // DICOM AE titles: 1 to 16 characters of the default repertoire, no backslash or control
  // characters; leading and trailing spaces are not significant.
  std::optional<std::string> ae_title(const Value& v) {
    auto t = text(r_, v, "an AE title such as SENNEN");
    if (!t) return std::nullopt;
    std::string s = *t;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    bool ok = !s.empty() && s.size() <= 16 &&
              std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; });
    if (!ok) {
      r_.add(v.mark, v.path, in_quotes(*t) + " is not an AE title; use 1 to 16 ASCII letters, digits, spaces or " +
                                 "punctuation other than '\\', e.g. SENNEN");
      return std::nullopt;
    }
    return s;
  }

  // One value or a non-empty list of values, each checked by `one`.
  template <typename F>
  std::vector<std::string> string_list(const Value& v, const std::string& what, F one) {
    std::vector<std::string> out;
    if (!v.node.IsSequence()) {
      if (auto t = one(v)) out.push_back(*t);
      return out;
    }
    if (v.node.size() == 0) r_.add(v.mark, v.path, "is an empty list; expected one or more " + what);
    for (std::size_t i = 0; i < v.node.size(); ++i)
      if (auto t = one(item_value(v, i))) out.push_back(*t);
    return out;
  }

  void read_optout(const Value& v, OptOut& optout) {
    Section s(r_, v, {"stop_list", "allow_unreadable_lines", "notification"});
    if (auto p = s.required("stop_list", "stop_list: /etc/sennen-edge/optout.csv (the 提供停止 patient ID list)"))
      if (auto path = file_value(*p, "the path of the stop list file, e.g. /etc/sennen-edge/optout.csv"))
        optout.stop_list = *path;
    if (auto b = s.optional("allow_unreadable_lines"))
      if (auto value = bool_value(r_, *b)) optout.allow_unreadable_lines = *value;
    if (auto n = s.optional("notification")) {
      Section ns(r_, *n, {"notice_start", "wait_days"});
      Notification notification;
      bool ok = true;
      if (auto d = ns.required("notice_start", "notice_start: 2025-04-01 (the day patient notification began)")) {
        auto t = text(r_, *d, "a date written YYYY-MM-DD, e.g. 2025-04-01");
        auto date = t ? parse_date(*t) : std::nullopt;
        if (t && !date)
          r_.add(d->mark, d->path, in_quotes(*t) + " is not a real date; write YYYY-MM-DD, e.g. 2025-04-01");
        if (date)
          notification.notice_start = *date;
        else
          ok = false;
      } else {
        ok = false;
      }
      if (auto w = ns.optional("wait_days")) {
        if (auto days = integer_value(r_, *w, 0, 3650))
          notification.wait_days = static_cast<int>(*days);
        else
          ok = false;
      }
      if (ok) optout.notification = notification;
    }
  }

  void read_destination(const Value& v, Destination& dest) {
    Section s(r_, v,
              {"type", "path", "url", "tls", "connect_timeout", "low_speed_limit", "low_speed_time", "endpoint",
               "bucket", "region", "prefix", "addressing", "access_key_file", "multipart_threshold", "part_size"});
    std::optional<std::string> type;
    if (auto t = s.required("type", "type: local, type: https or type: s3")) {
      if (auto word = text(r_, *t, "local, https or s3")) {
        if (*word != "local" && *word != "https" && *word != "s3")
          r_.add(t->mark, t->path,
                 in_quotes(*word) + " is not a destination type; use type: local, type: https or type: s3");
        else
          type = *word;
      }
    }
    // Without a usable type the other keys cannot be judged; asking for them would only add noise.
    if (!type) return;
    dest.type = *type == "https" ? DestinationType::https
                : *type == "s3"  ? DestinationType::s3
                                 : DestinationType::local;
    // Keys of the other types are a mistake worth naming (e.g. a path left over after switching).
    const std::vector<std::string_view> local_keys{"path"};
    const std::vector<std::string_view> https_keys{"url"};
    const std::vector<std::string_view> network_keys{"tls", "connect_timeout", "low_speed_limit", "low_speed_time"};
    const std::vector<std::string_view> s3_keys{"endpoint", "bucket",          "region",
                                                "prefix",   "addressing",      "access_key_file",
                                                "part_size", "multipart_threshold"};
    std::vector<std::string_view> unused;
    if (dest.type != DestinationType::local) unused.insert(unused.end(), local_keys.begin(), local_keys.end());
    if (dest.type != DestinationType::https) unused.insert(unused.end(), https_keys.begin(), https_keys.end());
    if (dest.type == DestinationType::local) unused.insert(unused.end(), network_keys.begin(), network_keys.end());
    if (dest.type != DestinationType::s3) unused.insert(unused.end(), s3_keys.begin(), s3_keys.end());
    for (std::string_view key : unused)
      if (auto extra = s.optional(key))
        r_.add(extra->mark, extra->path,
               "'" + std::string(key) + "' is not used with type: " + *type + "; remove it" +
                   (dest.type == DestinationType::local ? " or set type: https or type: s3" : ""));
    if (dest.type == DestinationType::local) {
      if (auto p = s.required("path", "path: /var/lib/sennen-edge/export (where sealed batches are written)"))
        if (auto path = path_value(r_, *p, base_, "a folder path, e.g. /var/lib/sennen-edge/export"))
          dest.path = *path;
      return;
    }
    if (dest.type == DestinationType::https) {
      if (auto u = s.required("url", "url: https://ingest.example.jp/sennen (the central receiver)"))
        if (auto t = text(r_, *u, "the receiver's address, e.g. https://ingest.example.jp/sennen"))
          if (auto url = https_url(*u, *t)) dest.url = *url;
      if (auto t = s.required("tls", "tls: {ca: central-ca.crt, cert: site.crt, key: site.key}")) {
        Section ts(r_, *t, {"ca", "cert", "key"});
        if (auto p = ts.required("ca", "ca: /etc/sennen-edge/central-ca.crt (the CA of the receiver's certificate)"))
          if (auto path = file_value(*p, "the path of the CA certificate the receiver's certificate is issued by"))
            dest.tls.ca = *path;
        if (auto p = ts.required("cert", "cert: /etc/sennen-edge/site.crt (this site's client certificate)"))
          if (auto path = file_value(*p, "the path of this site's client certificate")) dest.tls.cert = *path;
        if (auto p = ts.required("key", "key: /etc/sennen-edge/site.key (the client certificate's private key)"))
          if (auto path = file_value(*p, "the path of the client certificate's private key"))
            dest.tls.key = *path;
      }
    } else {
      read_s3(s, dest);
    }
    if (auto d = s.optional("connect_timeout"))
      if (auto secs = duration_value(r_, *d, false)) dest.connect_timeout = *secs;
    if (auto l = s.optional("low_speed_limit")) {
      if (auto n = size_value(r_, *l)) {
        if (*n == 0)
          r_.add(l->mark, l->path, "must be more than 0 (a stalled upload must be noticed); write e.g. 1KiB");
        else
          dest.low_speed_bytes = *n;
      }
    }
    if (auto d = s.optional("low_speed_time"))
      if (auto secs = duration_value(r_, *d, false)) dest.low_speed_time = *secs;
  }

  void read_s3(const Section& s, Destination& dest) {
    if (auto u = s.required("endpoint", "endpoint: https://s3.ap-northeast-1.amazonaws.com (the S3 service)"))
      if (auto t = text(r_, *u, "the S3 service address, e.g. https://s3.ap-northeast-1.amazonaws.com"))
        if (auto url = https_url(*u, *t)) {
          // Objects are addressed as <endpoint>/<bucket>/<key>: a path here would be ambiguous.
          if (url->find('/', 8) != std::string::npos)
            r_.add(u->mark, u->path,
                   in_quotes(*t) + " has a path; write only https://host[:port] and put folders in prefix:");
          else
            dest.endpoint = *url;
        }
    if (auto b = s.required("bucket", "bucket: sennen-central (the bucket batches are uploaded to)")) {
      if (auto t = text(r_, *b, "a bucket name, e.g. sennen-central")) {
        // S3 bucket naming rules: 3-63 lower-case letters, digits, '-' and '.'.
        const bool ok = t->size() >= 3 && t->size() <= 63 &&
                        std::all_of(t->begin(), t->end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                        });
        if (!ok)
          r_.add(b->mark, b->path,
                 in_quotes(*t) + " is not a bucket name; use 3 to 63 lower-case letters, digits, '-' or '.'");
        else
          dest.bucket = *t;
      }
    }
    if (auto g = s.required("region", "region: ap-northeast-1 (the bucket's region; us-east-1 for most S3-compatible stores)")) {
      if (auto t = text(r_, *g, "a region name, e.g. ap-northeast-1")) {
        if (t->empty() || t->size() > 64 || !all_chars_in(*t, "-_"))
          r_.add(g->mark, g->path, in_quotes(*t) + " is not a region name; write e.g. ap-northeast-1");
        else
          dest.region = *t;
      }
    }
    if (auto p = s.optional("prefix")) {
      if (auto t = text(r_, *p, "a folder inside the bucket, e.g. sennen/incoming")) {
        std::string prefix = *t;
        while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
        while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
        if (!all_chars_in(prefix, "-._/") || prefix.find("//") != std::string::npos ||
            ("/" + prefix + "/").find("/../") != std::string::npos || ("/" + prefix + "/").find("/./") != std::string::npos)
          r_.add(p->mark, p->path,
                 in_quotes(*t) + " is not a usable prefix; use letters, digits, '-', '_', '.' and '/' between "
                                 "folder names, e.g. sennen/incoming");
        else
          dest.prefix = prefix;
      }
    }
    if (auto a = s.optional("addressing"))
      if (auto word = choice_value(r_, *a, {"path", "virtual"},
                                   "path: https://host/bucket/key, virtual: https://bucket.host/key"))
        dest.addressing = *word == "virtual" ? S3Addressing::virtual_host : S3Addressing::path;
    if (auto k = s.required("access_key_file",
                            "access_key_file: /etc/sennen-edge/s3.key (access key id and secret, one per line)"))
      if (auto path = file_value(*k, "the path of the file with the access key id and secret"))
        dest.access_key_file = *path;
    if (auto m = s.optional("multipart_threshold"))
      if (auto n = size_value(r_, *m)) {
        if (*n < (5ull << 20))
          r_.add(m->mark, m->path, in_quotes(m->node.Scalar()) + " is too small; write at least 5MiB (e.g. 64MiB)");
        else
          dest.multipart_threshold = *n;
      }
    if (auto m = s.optional("part_size"))
      if (auto n = size_value(r_, *m)) {
        if (*n < (5ull << 20) || *n > (5ull << 30))
          r_.add(m->mark, m->path,
                 in_quotes(m->node.Scalar()) + " is not a usable part size; S3 needs 5MiB to 5GiB (e.g. 16MiB)");
        else
          dest.part_size = *n;
      }
    // No client certificate for S3 (requests are signed with the access key); only the server is checked.
    std::optional<Value> t = s.optional("tls");
    if (!t) {
      s.required("tls", "tls: {ca: /etc/sennen-edge/s3-ca.crt} or tls: {use_system_ca: true}");
      return;
    }
    Section ts(r_, *t, {"ca", "use_system_ca"});
    if (auto u = ts.optional("use_system_ca")) {
      auto b = bool_value(r_, *u);
      if (!b) return;  // whether ca is needed depends on this; one problem is enough
      dest.tls.use_system_ca = *b;
    }
    if (dest.tls.use_system_ca) {
      if (auto p = ts.optional("ca"))
        if (auto path = file_value(*p, "the path of the CA certificate of the endpoint")) dest.tls.ca = *path;
      return;
    }
    if (auto p = ts.required("ca", "ca: /etc/sennen-edge/s3-ca.crt (the CA of the endpoint's certificate), or "
                                   "use_system_ca: true for a public cloud endpoint"))
      if (auto path = file_value(*p, "the path of the CA certificate of the endpoint")) dest.tls.ca = *path;
  }

  // "https://host[:port][/path]": no other scheme (batches and heartbeats must never travel in
  // the clear), no user:password (the client certificate identifies the site), no query or
  // fragment (object names are appended to the path). A trailing '/' is dropped.
  std::optional<std::string> https_url(const Value& v, const std::string& url) {
    const std::string example = "; write e.g. https://ingest.example.jp/sennen";
    std::string lower = url.substr(0, 8);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (lower != "https://") {
      r_.add(v.mark, v.path,
             in_quotes(url) + " does not start with https:// (batches are only sent over TLS)" + example);
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
    else if (!all_chars_in(rest, "-._~/:%[]"))
      why = "contains a character that is not allowed in a URL (spaces or non-ASCII letters must be %-encoded)";
    if (!why.empty()) {
      r_.add(v.mark, v.path, in_quotes(url) + " " + why + example);
      return std::nullopt;
    }
    std::string out = "https://" + rest;
    while (out.size() > 8 && out.back() == '/') out.pop_back();
    return out;
  }

  void read_encryption(const Value& v, Encryption& enc) {
    Section s(r_, v, {"recipients", "signer_cert", "signer_key"});
    if (auto p = s.required("recipients", "recipients: [/etc/sennen-edge/central.crt] (who may decrypt)"))
      if (auto paths = file_list(*p, "a certificate path, or a list of certificate paths"))
        enc.recipients = *paths;
    if (auto p = s.required("signer_cert", "signer_cert: /etc/sennen-edge/site.crt"))
      if (auto path = file_value(*p, "the path of this site's certificate")) enc.signer_cert = *path;
    if (auto p = s.required("signer_key", "signer_key: /etc/sennen-edge/site.key"))
      if (auto path = file_value(*p, "the path of this site's private key")) enc.signer_key = *path;
  }

  void read_batch(const Value& v, Batch& batch) {
    Section s(r_, v, {"max_bytes", "zstd_level"});
    if (auto m = s.optional("max_bytes")) {
      if (auto n = size_value(r_, *m)) {
        if (*n < (1ull << 20))
          r_.add(m->mark, m->path, in_quotes(m->node.Scalar()) + " is too small; write at least 1MiB (e.g. 64MiB)");
        else
          batch.max_bytes = *n;
      }
    }
    if (auto z = s.optional("zstd_level"))  // 20..22 need hundreds of MiB of memory; not worth it here
      if (auto level = integer_value(r_, *z, 1, 19)) batch.zstd_level = static_cast<int>(*level);
  }

  // spool: {max_bytes} and outbox: {max_bytes}. A cap of 0 would pause the stage for good.
  void read_cap(const Value& v, std::string_view example, std::uint64_t& cap) {
    Section s(r_, v, {"max_bytes"});
    if (auto m = s.optional("max_bytes")) {
      if (auto n = size_value(r_, *m)) {
        if (*n == 0)
          r_.add(m->mark, m->path, "0 would pause this stage for good; write a size, e.g. " + std::string(example));
        else
          cap = *n;
      }
    }
  }

  void read_heartbeat(const Value& v, Heartbeat& hb) {
    Section s(r_, v, {"interval"});
    if (auto i = s.optional("interval"))
      if (auto secs = duration_value(r_, *i, false)) hb.interval = *secs;
  }

  void read_metrics(const Value& v, Metrics& m) {
    Section s(r_, v, {"port", "max_pending_age"});
    if (auto p = s.optional("port"))  // served on 127.0.0.1 only; 0 turns it off
      if (auto n = integer_value(r_, *p, 0, 65535)) m.port = static_cast<int>(*n);
    if (auto a = s.optional("max_pending_age"))
      if (auto secs = duration_value(r_, *a, false)) m.max_pending_age = *secs;
  }

  void read_schedule(const Value& v, Schedule& sched, const Destination& dest) {
    Section s(r_, v, {"timezone", "upload_window", "bandwidth_limit"});
    if (auto tz = s.optional("timezone")) {
      if (auto t = text(r_, *tz, "Asia/Tokyo, UTC or an offset such as \"+09:00\"")) {
        if (auto minutes = parse_utc_offset(*t)) {
          sched.timezone = *t;
          sched.utc_offset_minutes = *minutes;
        } else {
          r_.add(tz->mark, tz->path,
                 in_quotes(*t) + " is not supported: only fixed-offset zones are (Asia/Tokyo, UTC or Etc/UTC); " +
                     "write the offset instead, e.g. \"+09:00\"");
        }
      }
    }
    if (auto w = s.optional("upload_window")) {
      const std::string hint = "write the daily hours as \"HH:MM-HH:MM\", e.g. \"01:00-05:00\" or \"22:00-05:00\" "
                               "(past midnight); remove the key to upload at any time";
      if (auto t = text(r_, *w, hint)) {
        if (auto window = parse_time_window(*t)) {
          // The whole day is the same as no window; keep one representation of "always".
          if (!(window->start_minute == 0 && window->end_minute == 24 * 60)) sched.upload_window = *window;
        } else {
          r_.add(w->mark, w->path, in_quotes(*t) + " is not a time window; " + hint);
        }
      }
    }
    if (auto b = s.optional("bandwidth_limit")) {
      const std::string hint = "write a rate in bits per second, e.g. 50Mbit, 800kbit or 1Gbit; remove the key for no limit";
      if (auto t = text(r_, *b, hint)) {
        auto rate = parse_bandwidth(*t);
        if (!rate)
          r_.add(b->mark, b->path, in_quotes(*t) + " is not a bandwidth; " + hint);
        else if (dest.type != DestinationType::local && *rate < dest.low_speed_bytes)
          // A cap below the stall limit would make every upload look stalled and be abandoned.
          r_.add(b->mark, b->path,
                 in_quotes(*t) + " is below destination.low_speed_limit (" + std::to_string(dest.low_speed_bytes) +
                     " bytes/s), so every upload would be abandoned as stalled; raise the limit or lower "
                     "low_speed_limit");
        else
          sched.bandwidth_bytes_per_second = *rate;
      }
    }
  }

  // A path that names a file (not a folder): also kept in Config::files with its position.
  std::optional<fs::path> file_value(const Value& v, std::string_view expected) {
    auto p = path_value(r_, v, base_, expected);
    if (p) files_->push_back({*p, r_.make(v.mark, v.path, "")});
    return p;
  }

  std::optional<std::vector<fs::path>> file_list(const Value& v, std::string_view expected) {
    auto paths = path_list(r_, v, base_, expected);
    if (!paths) return paths;
    for (std::size_t i = 0; i < paths->size(); ++i) {
      const Value at = v.node.IsSequence() ? item_value(v, i) : v;
      files_->push_back({(*paths)[i], r_.make(at.mark, at.path, "")});
    }
    return paths;
  }

  Report& r_;
  fs::path base_;
  std::vector<NamedFile>* files_ = nullptr;
};

// yaml-cpp's messages are terse ("illegal map value"); add what usually causes them.
std::string syntax_hint(const std::string& yaml_text, const YAML::Exception& e) {
  // An unclosed '[' or '{' is only noticed at the next key, often a line later.
  if (e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW)
    return "a '[' on this or an earlier line is not closed with ']'";
  if (e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW)
    return "a '{' on this or an earlier line is not closed with '}'";
  if (e.msg.starts_with("a ','")) return "remove it, or write the list it belongs to in [ ]";
  const int line0 = e.mark.line;
  std::istringstream in(yaml_text);
  std::string line;
  for (int i = 0; i <= line0 && std::getline(in, line); ++i) {
  }
  const auto indent_end = line.find_first_not_of(" \t");
  if (line.substr(0, indent_end).find('\t') != std::string::npos)
    return "this line is indented with a tab; YAML needs spaces";
  return "check the indentation (spaces, lined up with the keys around it) and that a space follows each ':'";
}

// Where the root node of each document of the stream is (what YAML::Node::Mark() would say), and
// nothing else.
class DocumentRoots final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;
  void OnDocumentStart(const YAML::Mark&) override { in_root_ = false; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { node(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (!in_root_) marks.push_back(m);
    in_root_ = true;
  }
  bool in_root_ = false;
};

// The file's first document, after checking that no other one follows. Not YAML::LoadAll: the
// yaml-cpp of Debian 12 (0.7) never returns from it when a document starts with a ',' (its parser
// reports the same empty document again and again, growing memory; jbeder/yaml-cpp#1040, fixed
// upstream in 2024), which hung sennen-edged at start and on SIGHUP. Found by fuzz_config.
// Throws YAML::Exception for a syntax error, as LoadAll does.
YAML::Node first_document(const std::string& yaml_text, Report& report) {
  std::istringstream stream(yaml_text);
  YAML::Parser parser(stream);
  DocumentRoots roots;
  int documents = 0;  // two are all it takes to know there is more than one
  while (documents < 2 && parser.HandleNextDocument(roots)) ++documents;
  if (documents == 2) {
    const YAML::Mark second = roots.marks.size() == 2 ? roots.marks[1] : YAML::Mark::null_mark();
    if (roots.marks.size() == 2 && roots.marks[0].pos == second.pos)  // the parser did not move on
      throw YAML::ParserException(second, "a ',' outside [ ] or { }");
    report.add(second, "", "only one YAML document is allowed; remove the '---' line and what follows");
  }
  return YAML::Load(yaml_text);
}

}  // namespace

Config parse(const std::string& yaml_text, const std::filesystem::path& file_for_messages) {
  Report report(file_for_messages.string());
  Config cfg;
  std::error_code ec;
  cfg.file = file_for_messages.empty() ? fs::path() : fs::absolute(file_for_messages, ec).lexically_normal();
  const fs::path base = cfg.file.empty() ? fs::current_path(ec) : cfg.file.parent_path();

  YAML::Node doc;
  try {
    doc = first_document(yaml_text, report);
  } catch (const YAML::Exception& e) {
    report.add(e.mark, "", "YAML syntax error: " + e.msg + "; " + syntax_hint(yaml_text, e));
    throw ConfigError(report.take());
  }
  if (!doc || doc.IsNull()) {
    report.add(YAML::Mark::null_mark(), "",
               "the file has no settings; start from the shipped sennen-edge.yaml, which lists every key");
    throw ConfigError(report.take());
  }
  if (!doc.IsMap()) {
    report.add(doc.Mark(), "",
               "expected settings as 'key: value' lines (site:, sources:, ...), found " + kind_of(doc));
    throw ConfigError(report.take());
  }

  Loader(report, base).read(make_value(doc, doc.Mark(), ""), cfg);
  if (!report.empty()) throw ConfigError(report.take());
  return cfg;
}

void require_edited(const Config& cfg) {
  if (!cfg.placeholders.empty()) throw ConfigError(cfg.placeholders);
}

Config load(const std::filesystem::path& file) {
  auto fail = [&](const std::string& why) {
    Problem p;
    p.file = file.string();
    p.message = why;
    throw ConfigError({p});
  };
  std::error_code ec;
  if (fs::is_directory(file, ec)) fail("is a folder; give the path of the configuration file (sennen-edge.yaml)");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    fail("cannot open the configuration file (" + std::string(std::strerror(err)) +
         "); check the path and that the sennen-edge user may read it");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("cannot read the configuration file; check the disk and the file's permissions");
  return parse(text.str(), file);
}

}  // namespace sennen::config
