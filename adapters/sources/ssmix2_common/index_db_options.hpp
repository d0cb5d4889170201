#pragma once
// The `index_db:` block of a type: ssmix2 source: the guideline's index DB (table SSMIXIDX,
// formats.md §1.8), read through ODBC to learn which files changed without walking the tree.
// Names of the table and columns are configuration with the guideline's names as defaults:
// the guideline's column list is public (via NHO's documents), the DBMS and the exact spelling a
// vendor uses are not. config/sennen-edge.yaml documents each key.
#include <cstddef>
#include <string>

namespace sennen::ssmix2 {

struct IndexDbOptions {
  std::string connection;  // ODBC connection string: "DSN=ssmix" or "Driver=...;..."
  std::string table = "SSMIXIDX";
  std::string watermark_column = "UpdateDatetime";   // ordered: rows newer than the last one ingested
  std::string directory_column = "OutRelDirectory";  // the file's folder; its last 5 levels are used
  std::string file_column = "FileName";
  std::string volume_column = "VolumeLabel";  // "" when the table has none
  std::string volume_prefix = "STD";          // rows of other volumes (e.g. ANXnn) are not this source's
  std::size_t page_size = 1000;               // rows read per query (memory stays bounded)
};

}  // namespace sennen::ssmix2
