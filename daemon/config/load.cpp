// Reads sennen-edge.yaml into a Config. The only file that includes yaml-cpp.
//
// Every problem is collected, not just the first: hospital IT staff often edit the file over a
// remote session with a slow turnaround, so one run should tell them everything that is wrong,
// each with file:line:column, what is wrong and how to write it instead.
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
#include "daemon/config/reader.hpp"
#include "daemon/config/suggest.hpp"
#include "daemon/config/yaml_reader.hpp"

namespace sennen::config {
namespace {
namespace fs = std::filesystem;
using detail::all_chars_in;
using detail::bool_value;
using detail::duration_value;
using detail::in_quotes;
using detail::integer_value;
using detail::item_value;
using detail::join_names;
using detail::kind_of;
using detail::make_value;
using detail::Mapping;
using detail::path_list;
using detail::path_value;
using detail::Report;
using detail::size_value;
using detail::text;
using detail::Value;
// ---- sections -------------------------------------------------------------------------------

class Loader {
 public:
  Loader(Report& report, fs::path base, const Catalog& catalog)
      : r_(report), base_(std::move(base)), catalog_(catalog) {}

  void read(const Value& root, Config& cfg) {
    files_ = &cfg.files;
    Mapping top(r_, root,
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
    if (auto v = top.required("destination",
                              "a 'destination:' section, e.g. type: local and path: ..., type: https and url: ... or "
                              "type: s3 and bucket: ..."))
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
    Mapping s(r_, v, {"id", "name", "timezone"});
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
          placeholders.push_back(
              r_.make(id->mark, id->path,
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
      r_.add(v.mark, v.path, "expected a list of sources (each entry starting with '- '), found " + kind_of(v.node));
      return;
    }
    std::map<std::string, std::pair<std::size_t, int>> names;  // name -> (index, line)
    std::map<fs::path, std::pair<std::size_t, int>> folders;   // folder -> (index, line)
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
      if (src.options)
        for (const auto& folder : src.options->folders()) {
          const YAML::Mark mark = map["root"] ? map["root"].Mark() : item.mark;
          auto [pos, inserted] = folders.emplace(folder, std::pair(i, mark.line + 1));
          if (!inserted)
            r_.add(mark, item.path + ".root",
                   "folder " + folder.string() + " is already read by sources[" + std::to_string(pos->second.first) +
                       "] (line " + std::to_string(pos->second.second) + "); list each folder only once");
        }
      sources.push_back(std::move(src));
    }
  }

  // name, type and poll_interval are every source's; the type's own keys are read by its adapter
  // (config/catalog.hpp). A key of another type is named as misplaced.
  void read_source(const Value& v, Source& src) {
    std::vector<std::string_view> names;
    for (const auto& t : catalog_.sources) names.push_back(t.name);
    const SourceType* type = nullptr;
    if (auto t = v.node.IsMap() ? v.node["type"] : YAML::Node(); t && t.IsScalar())
      for (const auto& candidate : catalog_.sources)
        if (candidate.name == t.Scalar()) type = &candidate;
    // Without a usable type its keys cannot be judged (asking for them would only add noise): then
    // every type's keys are let through unread.
    std::vector<std::string_view> known{"name", "type", "poll_interval"};
    for (const auto& t : catalog_.sources)
      if (!type || &t == type) known.insert(known.end(), t.keys.begin(), t.keys.end());
    auto elsewhere = [&](const std::string& key) -> std::string {
      std::vector<std::string_view> users;
      for (const auto& other : catalog_.sources)
        if (std::find(other.keys.begin(), other.keys.end(), key) != other.keys.end()) users.push_back(other.name);
      if (users.empty()) return "";
      if (users.size() == 1) return "'" + key + "' is only used with type: " + std::string(users[0]) + "; remove it";
      return "'" + key + "' is not used with type: " + std::string(type->name) + "; remove it";
    };
    const Node node = make_node(r_, v, base_, files_);
    Section s(node, known, elsewhere);
    if (auto name = s.required("name", "name: emr (a short name for this source, used in logs and file names)")) {
      if (auto t = name->text("a short name such as emr")) {
        if (t->empty() || t->size() > 64 || !all_chars_in(*t, "._-") || *t == "." || *t == "..")
          name->problem(in_quotes(*t) +
                        " is not a usable source name; use 1 to 64 letters, digits, '.', '_' or '-', e.g. emr");
        else
          src.name = *t;
      }
    }
    std::string meanings;
    for (const auto& t : catalog_.sources)
      meanings += (meanings.empty() ? "" : ", ") + std::string(t.name) + " = " + std::string(t.meaning);
    if (auto t = s.required("type", "type: ssmix2 (standardized storage) or type: ssmix2-extended"))
      if (auto word = t->choice(names, meanings)) src.type = *word;
    if (auto d = s.optional("poll_interval"))
      if (auto secs = d->duration(false)) src.poll_interval = *secs;
    if (type) src.options = type->read(s);
  }

  void read_optout(const Value& v, OptOut& optout) {
    Mapping s(r_, v, {"stop_list", "allow_unreadable_lines", "send_unattributed", "notification"});
    if (auto p = s.required("stop_list", "stop_list: /etc/sennen-edge/optout.csv (the 提供停止 patient ID list)"))
      if (auto path = file_value(*p, "the path of the stop list file, e.g. /etc/sennen-edge/optout.csv"))
        optout.stop_list = *path;
    if (auto b = s.optional("allow_unreadable_lines"))
      if (auto value = bool_value(r_, *b)) optout.allow_unreadable_lines = *value;
    if (auto b = s.optional("send_unattributed"))
      if (auto value = bool_value(r_, *b)) optout.send_unattributed = *value;
    if (auto n = s.optional("notification")) {
      Mapping ns(r_, *n, {"notice_start", "wait_days"});
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

  // type is every destination's; the type's own keys are read by its adapter (config/catalog.hpp).
  void read_destination(const Value& v, Destination& dest) {
    std::vector<std::string_view> names;
    for (const auto& t : catalog_.destinations) names.push_back(t.name);
    const DestinationType* type = nullptr;
    if (auto t = v.node.IsMap() ? v.node["type"] : YAML::Node(); t && t.IsScalar())
      for (const auto& candidate : catalog_.destinations)
        if (candidate.name == t.Scalar()) type = &candidate;
    // Without a usable type its keys cannot be judged (asking for them would only add noise): then
    // every type's keys are let through unread.
    std::vector<std::string_view> known{"type"};
    for (const auto& t : catalog_.destinations)
      if (!type || &t == type) known.insert(known.end(), t.keys.begin(), t.keys.end());
    auto elsewhere = [&](const std::string& key) -> std::string {
      // Leftovers after switching types are common: the types that do use the key are named.
      std::string others;
      for (const auto& other : catalog_.destinations)
        if (std::find(other.keys.begin(), other.keys.end(), key) != other.keys.end())
          others += (others.empty() ? " or set type: " : " or type: ") + std::string(other.name);
      if (others.empty()) return "";
      return "'" + key + "' is not used with type: " + std::string(type->name) + "; remove it" + others;
    };
    const Node node = make_node(r_, v, base_, files_);
    Section s(node, known, elsewhere);
    std::string all;
    for (std::size_t i = 0; i < names.size(); ++i)
      all += (i == 0 ? "type: " : i + 1 == names.size() ? " or type: " : ", type: ") + std::string(names[i]);
    if (auto t = s.required("type", all)) {
      if (auto word = t->text(join_names(names))) {
        if (!type)
          t->problem(in_quotes(*word) + " is not a destination type; use " + all);
        else
          dest.type = *word;
      }
    }
    // Without a usable type the other keys cannot be judged; asking for them would only add noise.
    if (type) dest.options = type->read(s);
  }

  void read_encryption(const Value& v, Encryption& enc) {
    Mapping s(r_, v, {"recipients", "signer_cert", "signer_key"});
    if (auto p = s.required("recipients", "recipients: [/etc/sennen-edge/central.crt] (who may decrypt)"))
      if (auto paths = file_list(*p, "a certificate path, or a list of certificate paths")) enc.recipients = *paths;
    if (auto p = s.required("signer_cert", "signer_cert: /etc/sennen-edge/site.crt"))
      if (auto path = file_value(*p, "the path of this site's certificate")) enc.signer_cert = *path;
    if (auto p = s.required("signer_key", "signer_key: /etc/sennen-edge/site.key"))
      if (auto path = file_value(*p, "the path of this site's private key")) enc.signer_key = *path;
  }

  void read_batch(const Value& v, Batch& batch) {
    Mapping s(r_, v, {"max_bytes", "zstd_level"});
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
    Mapping s(r_, v, {"max_bytes"});
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
    Mapping s(r_, v, {"interval"});
    if (auto i = s.optional("interval"))
      if (auto secs = duration_value(r_, *i, false)) hb.interval = *secs;
  }

  void read_metrics(const Value& v, Metrics& m) {
    Mapping s(r_, v, {"port", "max_pending_age"});
    if (auto p = s.optional("port"))  // served on 127.0.0.1 only; 0 turns it off
      if (auto n = integer_value(r_, *p, 0, 65535)) m.port = static_cast<int>(*n);
    if (auto a = s.optional("max_pending_age"))
      if (auto secs = duration_value(r_, *a, false)) m.max_pending_age = *secs;
  }

  void read_schedule(const Value& v, Schedule& sched, const Destination& dest) {
    Mapping s(r_, v, {"timezone", "upload_window", "bandwidth_limit"});
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
      const std::string hint =
          "write the daily hours as \"HH:MM-HH:MM\", e.g. \"01:00-05:00\" or \"22:00-05:00\" "
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
      const std::string hint =
          "write a rate in bits per second, e.g. 50Mbit, 800kbit or 1Gbit; remove the key for no limit";
      if (auto t = text(r_, *b, hint)) {
        auto rate = parse_bandwidth(*t);
        if (!rate)
          r_.add(b->mark, b->path, in_quotes(*t) + " is not a bandwidth; " + hint);
        else if (const auto stall = dest.options ? dest.options->stall_below_bytes_per_second() : 0; *rate < stall)
          // A cap below the stall limit would make every upload look stalled and be abandoned.
          r_.add(b->mark, b->path,
                 in_quotes(*t) + " is below destination.low_speed_limit (" + std::to_string(stall) +
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
  const Catalog& catalog_;
  std::vector<NamedFile>* files_ = nullptr;
};

// yaml-cpp's messages are terse ("illegal map value"); add what usually causes them.
std::string syntax_hint(const std::string& yaml_text, const YAML::Exception& e) {
  // An unclosed '[' or '{' is only noticed at the next key, often a line later.
  if (e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW) return "a '[' on this or an earlier line is not closed with ']'";
  if (e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW) return "a '{' on this or an earlier line is not closed with '}'";
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

Config parse(const std::string& yaml_text, const std::filesystem::path& file_for_messages, const Catalog& catalog) {
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
    report.add(doc.Mark(), "", "expected settings as 'key: value' lines (site:, sources:, ...), found " + kind_of(doc));
    throw ConfigError(report.take());
  }

  Loader(report, base, catalog).read(make_value(doc, doc.Mark(), ""), cfg);
  if (!report.empty()) throw ConfigError(report.take());
  return cfg;
}

void require_edited(const Config& cfg) {
  if (!cfg.placeholders.empty()) throw ConfigError(cfg.placeholders);
}

void read_yaml_file(const std::filesystem::path& file, const std::function<void(const Node& root)>& read) {
  Report report(file.string());
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    report.add(YAML::Mark::null_mark(), "",
               "cannot read the file (" + std::string(std::strerror(errno)) +
                   "); check the path and that the sennen-edge user may read it");
    throw ConfigError(report.take());
  }
  YAML::Node doc;
  try {
    doc = first_document(text.str(), report);
  } catch (const YAML::Exception& e) {
    report.add(e.mark, "", "YAML syntax error: " + e.msg + "; " + syntax_hint(text.str(), e));
    throw ConfigError(report.take());
  }
  if (!doc || !doc.IsMap()) {
    report.add(doc ? doc.Mark() : YAML::Mark::null_mark(), "", "expected settings as 'key: value' lines");
    throw ConfigError(report.take());
  }
  read(make_node(report, make_value(doc, doc.Mark(), ""), file.parent_path(), nullptr));
  if (!report.empty()) throw ConfigError(report.take());
}

Config load(const std::filesystem::path& file, const Catalog& catalog) {
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
  return parse(text.str(), file, catalog);
}

}  // namespace sennen::config
