#include "adapters/sources/ssmix2/index_db.hpp"

#include <charconv>

#include "adapters/sources/ssmix2/odbc.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::ssmix2 {
namespace {

// The unit folder's depth below a root: PID[0:3]/PID[3:6]/PID/DATE/TYPE.
constexpr int kUnitDepth = 5;

void put_field(std::string& out, const std::string& v) { out += std::to_string(v.size()) + ":" + v; }

bool take_field(std::string_view& in, std::string& out) {
  const auto colon = in.find(':');
  if (colon == std::string_view::npos) return false;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(in.data(), in.data() + colon, n);
  if (ec != std::errc() || end != in.data() + colon || n > in.size() - colon - 1) return false;
  out = std::string(in.substr(colon + 1, n));
  in.remove_prefix(colon + 1 + n);
  return true;
}

std::string select_list(const IndexDbOptions& o) {
  std::string s = o.watermark_column + ", " + o.directory_column + ", " + o.file_column;
  if (!o.volume_column.empty()) s += ", " + o.volume_column;
  return s;
}

// Throws sennen::Error when the table or a column is missing, or a column is of a type the feed
// cannot use (a number as the file name would make every row name a missing file).
void verify_columns(odbc::Connection& conn, const IndexDbOptions& o) {
  std::vector<odbc::Column> cols;
  try {
    cols = conn.query("SELECT " + select_list(o) + " FROM " + o.table + " WHERE 1 = 0", {}).columns();
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (check that table " + o.table + " and its columns " + select_list(o) +
                " exist and that this user may read them; the names are the keys table and *_column of index_db)");
  }
  const std::vector<std::pair<std::string, std::string>> keys = {{"watermark_column", o.watermark_column},
                                                                 {"directory_column", o.directory_column},
                                                                 {"file_column", o.file_column},
                                                                 {"volume_column", o.volume_column}};
  for (std::size_t i = 0; i < cols.size() && i < keys.size(); ++i) {
    const int t = cols[i].sql_type;
    if (odbc::is_text_type(t) || (i == 0 && odbc::is_timestamp_type(t))) continue;
    throw Error(
        "index DB (ODBC " + conn.label() + "): column " + keys[i].second + " of table " + o.table + " is " +
        odbc::type_name(t) + "; " + keys[i].first + " must name a " +
        (i == 0 ? "timestamp or text column (the guideline's UpdateDatetime or TransactionDatetime)" : "text column"));
  }
}

class OdbcIndex final : public IndexReader {
 public:
  // Checks the columns on every connection (once per poll): a table changed under the daemon
  // makes the poll walk, and say why, instead of reading rows it would misread.
  explicit OdbcIndex(const IndexDbOptions& o) : options_(o), conn_(o.connection) { verify_columns(conn_, options_); }
  const std::string& describe() const override { return conn_.label(); }

  std::optional<Watermark> newest() override {
    auto c = conn_.query(newest_query(options_), {}, 1);
    std::vector<std::optional<std::string>> row;
    if (!c.next(row)) return std::nullopt;
    return Watermark{row[0].value_or(""), row[1].value_or(""), row[2].value_or("")};
  }

  std::vector<IndexRow> after(const Watermark& from, std::size_t limit) override {
    std::vector<std::string> params;
    if (!from.value.empty()) params = {from.directory, from.directory, from.file};
    auto c = conn_.query(after_query(options_, from), params, limit);
    std::vector<IndexRow> out;
    std::vector<std::optional<std::string>> row;
    while (c.next(row)) {
      IndexRow r;
      r.watermark = row[0].value_or("");
      r.directory = row[1].value_or("");
      r.file = row[2].value_or("");
      if (row.size() > 3) r.volume = row[3].value_or("");
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  IndexDbOptions options_;
  odbc::Connection conn_;
};

}  // namespace

void WatermarkCodec::encode(const Watermark& w, UnitState& out) {
  out.status.clear();
  put_field(out.status, w.value);
  put_field(out.status, w.directory);
  put_field(out.status, w.file);
}

std::optional<Watermark> WatermarkCodec::decode(const UnitState& stored) {
  std::string_view in = stored.status;
  Watermark w;
  if (!take_field(in, w.value) || !take_field(in, w.directory) || !take_field(in, w.file) || !in.empty())
    return std::nullopt;
  return w;
}

std::string newest_query(const IndexDbOptions& o) {
  const std::string& wm = o.watermark_column;
  return "SELECT " + select_list(o) + " FROM " + o.table + " WHERE " + wm + " IS NOT NULL ORDER BY " + wm + " DESC, " +
         o.directory_column + " DESC, " + o.file_column + " DESC";
}

std::string after_query(const IndexDbOptions& o, const Watermark& from) {
  const std::string& wm = o.watermark_column;
  std::string where = wm + " IS NOT NULL";
  if (!from.value.empty()) {
    if (from.value.find_first_not_of("0123456789-:. T+/Z") != std::string::npos)
      throw Error("index DB: the watermark value " + util::display_name(from.value) + " read from column " + wm +
                  " is neither a timestamp nor a number; set watermark_column to a timestamp column (the "
                  "guideline's UpdateDatetime or TransactionDatetime)");
    const std::string lit = "'" + from.value + "'";
    where = wm + " > " + lit + " OR (" + wm + " = " + lit + " AND (" + o.directory_column + " > ? OR (" +
            o.directory_column + " = ? AND " + o.file_column + " > ?)))";
  }
  return "SELECT " + select_list(o) + " FROM " + o.table + " WHERE " + where + " ORDER BY " + wm + ", " +
         o.directory_column + ", " + o.file_column;
}

RowTarget map_row(const IndexRow& row, const IndexDbOptions& o) {
  RowTarget t;
  if (!o.volume_column.empty() && !o.volume_prefix.empty() && !row.volume.empty() &&
      row.volume.rfind(o.volume_prefix, 0) != 0) {
    t.other_volume = true;
    return t;
  }
  if (row.file.empty() || row.file.find_first_of("/\\") != std::string::npos || row.file == "." || row.file == "..") {
    t.problem = "its " + o.file_column + " " + util::display_name(row.file) + " is not a file name";
    return t;
  }
  std::vector<std::string> parts;
  std::string cur;
  for (char c : row.directory + "/") {
    if (c == '/' || c == '\\') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (parts.size() < kUnitDepth) {
    t.problem = "its " + o.directory_column + " " + util::display_name(row.directory) + " has fewer than " +
                std::to_string(kUnitDepth) + " folder levels (PID[0:3]/PID[3:6]/PID/DATE/TYPE)";
    return t;
  }
  for (std::size_t i = parts.size() - kUnitDepth; i < parts.size(); ++i) {
    if (parts[i] == "." || parts[i] == "..") {
      t.problem = "its " + o.directory_column + " " + util::display_name(row.directory) + " leads out of the root";
      return t;
    }
    t.unit_dir += (t.unit_dir.empty() ? "" : "/") + parts[i];
  }
  t.file = row.file;
  return t;
}

std::unique_ptr<IndexReader> open_odbc_index(const IndexDbOptions& options) {
  return std::make_unique<OdbcIndex>(options);
}

std::string check_index_db(const IndexDbOptions& o) {
  try {
    odbc::Connection conn(o.connection);
    verify_columns(conn, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace sennen::ssmix2
