#pragma once
// Small RAII layer over SQLite: Connection, Statement (prepared once, reset on each use) and
// Transaction (rolls back unless committed). Only the spool module uses SQLite.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;
struct sqlite3_blob;

namespace sennen::sqlite {

class Connection {
 public:
  explicit Connection(const std::filesystem::path& file);  // opens (creates) read-write
  static Connection open_read_only(const std::filesystem::path& file);
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;

  void exec(std::string_view sql);  // one or more statements, no results
  // True inside BEGIN ... COMMIT. SQLite ends a transaction by itself on some errors (a full disk,
  // an I/O error), so this asks SQLite rather than remembering what was begun.
  bool in_transaction() const;
  // Rolls back the open transaction, if any; never throws (it runs in error paths, where the
  // error being handled is the one worth reporting).
  void rollback_quietly() noexcept;
  std::int64_t last_insert_rowid() const;
  int changes() const;
  sqlite3* handle() const { return db_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  Connection(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  sqlite3* db_ = nullptr;
  std::filesystem::path file_;
};

class Statement {
 public:
  Statement(Connection& db, std::string_view sql);
  ~Statement();
  Statement(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binding (1-based index); chainable. Strings are copied by SQLite (SQLITE_TRANSIENT); a blob
  // is not copied: its bytes must stay valid until the statement is reset.
  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_blob(int i, std::span<const std::byte> v);
  Statement& bind_null(int i);

  bool step();   // true: a row is available; false: done. Throws on error.
  void run();    // step until done, then reset
  void reset();  // reset and clear bindings

  std::int64_t column_int(int i) const;
  std::string column_text(int i) const;
  bool column_is_null(int i) const;

 private:
  Connection* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Transaction {
 public:
  explicit Transaction(Connection& db, bool immediate = true);
  ~Transaction();  // rolls back when not committed
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Connection& db_;
  bool done_ = false;
};

// Incremental blob reads, so records of any size stream out in constant memory.
class Blob {
 public:
  Blob(Connection& db, const char* table, const char* column, std::int64_t rowid);
  ~Blob();
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;
  std::uint64_t size() const;
  void read(std::uint64_t offset, std::span<std::byte> out) const;

 private:
  Connection& db_;
  sqlite3_blob* blob_ = nullptr;
};

}  // namespace sennen::sqlite
