#include "adapters/sources/dropbox/dpc_filter.hpp"

#include <set>

#include "adapters/sources/dropbox/lines.hpp"
#include "adapters/sources/dropbox/uke.hpp"
#include "adapters/sources/dropbox/uke_filter.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/log.hpp"

namespace sennen::dropbox {

std::map<std::string, std::string> read_dpc_id_map(const std::filesystem::path& csv) {
  std::map<std::string, std::string> ids;
  std::set<std::string> ambiguous;  // given two patients: neither is believed
  util::Cp932ToUtf8 cp932;
  LineReader reader(csv);
  LineReader::Line line;
  while (reader.next(line)) {
    std::string text = line.text;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (line.number == 1 && text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
    const auto sep = text.find_first_of(",\t");
    if (sep == std::string::npos) continue;
    // CP932 unless it is UTF-8 already (chart_patient decodes CP932 and canonicalises).
    auto id = [&cp932](std::string_view v) {
      return saved_as_utf8(v) ? canonical_patient_id(v) : chart_patient(v, cp932);
    };
    const auto data_id = id(std::string_view(text).substr(0, sep));
    auto rest = std::string_view(text).substr(sep + 1);
    rest = rest.substr(0, rest.find_first_of(",\t"));
    const auto patient = id(rest);
    if (!data_id || !patient || ambiguous.contains(*data_id)) continue;
    if (const auto [at, added] = ids.emplace(*data_id, *patient); !added && at->second != *patient) {
      ids.erase(at);
      ambiguous.insert(*data_id);
    }
  }
  if (!ambiguous.empty())
    log::warning("dpc_id_map " + csv.string() + ": " + std::to_string(ambiguous.size()) +
                 " データ識別番号 listed with two different patient IDs (the first: " + *ambiguous.begin() +
                 "); their rows are withheld as unattributed until the map says one");
  return ids;
}

FilterCounts filter_dpc(const std::map<std::string, std::string>& ids, const ContentReader& in,
                        const PatientGate& decide, const ContentWriter& write) {
  FilterCounts c;
  LineReader reader(in);
  LineReader::Line line;
  while (reader.next(line)) {
    if (line.too_long) throw Error("line " + std::to_string(line.number) + " is not what a validated DPC file holds");
    const auto fields = split_fields(line.text, '\t');
    const bool title = line.number == 1 && !digits(fields[0], 9);
    if (!title) {
      if (fields.size() < 2 || !digits(fields[0], 9))
        throw Error("line " + std::to_string(line.number) + " is not what a validated DPC file holds");
      const auto data_id = canonical_patient_id(fields[1]);
      const auto it = data_id ? ids.find(*data_id) : ids.end();
      const Withhold why = decide(it == ids.end() ? std::nullopt : std::optional<std::string>(it->second));
      if (why == Withhold::stopped) ++c.stopped;
      if (why == Withhold::not_notified) ++c.not_notified;
      if (why == Withhold::unattributed) ++c.unattributed;
      if (why != Withhold::none) continue;
      ++c.kept;
    }
    write(line.text);
    write(line.raw_end);
    c.bytes_out += line.text.size() + line.raw_end.size();
  }
  c.bytes_in = reader.bytes_read();
  return c;
}

}  // namespace sennen::dropbox
