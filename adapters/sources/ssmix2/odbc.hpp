#pragma once
// A small owner of unixODBC handles (environment, connection, statement), for the index DB feed
// (index_db.hpp). <sql.h> stays in odbc.cpp: nothing that includes this header sees it. Errors
// are sennen::Error naming the connection (its password removed) and carrying every diagnostic
// record the driver gave (SQLGetDiagRec: SQLSTATE, native code, text).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sennen::odbc {

struct Column {
  std::string name;
  int sql_type = 0;  // SQL_CHAR, SQL_TYPE_TIMESTAMP, ... as the driver describes it
};

// How a connection string is named in messages: every PWD=/Password= value replaced by "***".
std::string redact(const std::string& connection_string);
// "VARCHAR", "TIMESTAMP", ... for messages; "SQL type <n>" for others.
std::string type_name(int sql_type);
bool is_text_type(int sql_type);
bool is_timestamp_type(int sql_type);

class Cursor;

class Connection {
 public:
  // SQLDriverConnect with the string as written ("DSN=ssmix;" or "Driver=...;Database=...;").
  // Throws sennen::Error saying what failed (the driver's diagnostics) and for which connection.
  explicit Connection(const std::string& connection_string);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& label() const;  // the redacted connection string
  // Runs `sql` with `params` bound, in order, as text to its `?` markers. At most `max_rows`
  // rows are fetched (0: no limit); the driver is asked not to send more (SQL_ATTR_MAX_ROWS).
  Cursor query(const std::string& sql, const std::vector<std::string>& params, std::size_t max_rows = 0);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The result of one query; owns its statement handle. Every value is fetched as text
// (SQL_C_CHAR), whole however long, whatever size the driver describes.
class Cursor {
 public:
  struct Impl;
  explicit Cursor(std::unique_ptr<Impl> impl);
  ~Cursor();
  Cursor(Cursor&&) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  const std::vector<Column>& columns() const;
  // The next row (nullopt for SQL NULL), or false when there is none (or max_rows were read).
  bool next(std::vector<std::optional<std::string>>& row);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::odbc
