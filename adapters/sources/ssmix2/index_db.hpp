#pragma once
// The index DB change feed of a type: ssmix2 source (formats.md §1.8): which files changed, read
// from the table the EMR keeps beside its tree, instead of walking millions of files. The index
// only says where to look; the file on disk is the truth (standard_source.cpp reads it the way
// the walker does). ODBC stays in index_db.cpp and odbc.cpp.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/sources/ssmix2_common/index_db_options.hpp"
#include "daemon/core/source.hpp"

namespace sennen::ssmix2 {

struct IndexRow {
  std::string watermark, directory, file, volume;
};

// The last row ingested, in the feed's order (watermark, directory, file). The next poll reads the
// rows after it, so rows sharing its watermark value but ordered after it are not skipped, and the
// ones before it are not read again.
struct Watermark {
  std::string value, directory, file;
  bool operator==(const Watermark&) const = default;
};
// Kept in SourceState (daemon/core/checkpoint_table.hpp), committed with the records of the rows
// it passed: a poll killed half way reads those rows again, never skips them.
struct WatermarkCodec {
  static void encode(const Watermark& w, UnitState& out);
  static std::optional<Watermark> decode(const UnitState& stored);
};

class IndexReader {
 public:
  virtual ~IndexReader() = default;
  virtual const std::string& describe() const = 0;  // for messages (no password)
  // The last row in the feed's order, as a watermark; nullopt when the table is empty.
  virtual std::optional<Watermark> newest() = 0;
  // At most `limit` rows after `from`, in the feed's order (from.value "": from the first row).
  virtual std::vector<IndexRow> after(const Watermark& from, std::size_t limit) = 0;
};
using IndexReaderFactory = std::function<std::unique_ptr<IndexReader>()>;

// Connects through ODBC. Throws sennen::Error saying what failed, naming the connection.
std::unique_ptr<IndexReader> open_odbc_index(const IndexDbOptions& options);
// What is wrong with the index DB as configured (cannot connect, no such table, a column missing
// or of a type the feed cannot order by), or "" when a query of its rows works.
std::string check_index_db(const IndexDbOptions& options);

// The query of IndexReader::newest (the rows in reverse order: the driver is asked for one).
std::string newest_query(const IndexDbOptions& options);
// The query of IndexReader::after, with `?` for directory, directory, file when from.value is set.
// Throws sennen::Error when from.value holds characters a timestamp or a number never has (it is
// written into the query as a literal: its type is the DBMS's to convert, which a bound text
// parameter would not let every DBMS do).
std::string after_query(const IndexDbOptions& options, const Watermark& from);

// Where a row's file is: its unit folder below a root (the last 5 levels of the row's directory,
// with '\' read as '/') and its name; or why the row cannot be used.
struct RowTarget {
  std::string unit_dir, file;
  std::string problem;        // the row cannot be used (reported, skipped)
  bool other_volume = false;  // a row of another volume (e.g. the extended storage): not ours
};
RowTarget map_row(const IndexRow& row, const IndexDbOptions& options);

}  // namespace sennen::ssmix2
