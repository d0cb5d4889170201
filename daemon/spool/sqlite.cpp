#include "daemon/spool/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

#include "daemon/util/error.hpp"

namespace sennen::sqlite {
namespace {
// `rc`: what the failing call returned. Binding and blob calls do not record their error on the
// connection (sqlite3_errmsg then says "not an error"), so the message is taken from rc unless
// the connection holds the same error with more detail.
[[noreturn]] void fail(sqlite3* db, const std::string& what, int rc) {
  const int code = rc & 0xff;
  const bool detailed = db && (sqlite3_extended_errcode(db) & 0xff) == code;
  std::string msg = what + ": " + (detailed ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (code == SQLITE_FULL) msg += " (the disk holding the spool is full; free space)";
  if (code == SQLITE_TOOBIG)
    msg +=
        " (a value is larger than the SQLite library accepts in one piece; the spool writes large records in "
        "chunks to stay far below that limit, so please report this message as a bug)";
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
    msg += " (the spool database is damaged; stop the service and contact support before deleting anything)";
  throw Error(msg);
}

sqlite3* open_db(const std::filesystem::path& file, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        "cannot open spool database " + file.string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    throw Error(msg);
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  return db;
}
}  // namespace

Connection::Connection(const std::filesystem::path& file)
    : db_(open_db(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)), file_(file) {}

Connection Connection::open_read_only(const std::filesystem::path& file) {
  return Connection(open_db(file, SQLITE_OPEN_READONLY), file);
}

Connection::~Connection() { sqlite3_close_v2(db_); }
Connection::Connection(Connection&& o) noexcept : db_(std::exchange(o.db_, nullptr)), file_(std::move(o.file_)) {}
Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    file_ = std::move(o.file_);
  }
  return *this;
}

void Connection::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    fail(db_, "spool " + file_.string() + ": " + msg + " in: " + s.substr(0, 80), sqlite3_extended_errcode(db_));
  }
}

bool Connection::in_transaction() const { return db_ && sqlite3_get_autocommit(db_) == 0; }

void Connection::rollback_quietly() noexcept {
  if (in_transaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Connection::changes() const { return sqlite3_changes(db_); }

Statement::Statement(Connection& db, std::string_view sql) : db_(&db) {
  int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                              nullptr);
  if (rc != SQLITE_OK) fail(db.handle(), "spool: cannot prepare \"" + std::string(sql.substr(0, 80)) + "\"", rc);
}
Statement::~Statement() { sqlite3_finalize(stmt_); }
Statement::Statement(Statement&& o) noexcept : db_(o.db_), stmt_(std::exchange(o.stmt_, nullptr)) {}

Statement& Statement::bind(int i, std::int64_t v) {
  if (int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) fail(db_->handle(), "spool: bind", rc);
  return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
  if (int rc = sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8); rc != SQLITE_OK)
    fail(db_->handle(), "spool: bind", rc);
  return *this;
}
Statement& Statement::bind_blob(int i, std::span<const std::byte> v) {
  if (int rc = sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC); rc != SQLITE_OK)
    fail(db_->handle(), "spool: bind " + std::to_string(v.size()) + " bytes", rc);
  return *this;
}
Statement& Statement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  fail(db_->handle(), "spool: " + sql.substr(0, 80), rc);
}
void Statement::run() {
  while (step()) {
  }
  reset();
}
void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
std::string Statement::column_text(int i) const {
  auto* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}
bool Statement::column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

Transaction::Transaction(Connection& db, bool immediate) : db_(db) {
  db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}
Transaction::~Transaction() {
  if (!done_) db_.rollback_quietly();
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

Blob::Blob(Connection& db, const char* table, const char* column, std::int64_t rowid) : db_(db) {
  if (int rc = sqlite3_blob_open(db.handle(), "main", table, column, rowid, 0, &blob_); rc != SQLITE_OK)
    fail(db.handle(), std::string("spool: open blob ") + table + "." + column, rc);
}
Blob::~Blob() { sqlite3_blob_close(blob_); }
std::uint64_t Blob::size() const { return static_cast<std::uint64_t>(sqlite3_blob_bytes(blob_)); }
void Blob::read(std::uint64_t offset, std::span<std::byte> out) const {
  if (int rc = sqlite3_blob_read(blob_, out.data(), static_cast<int>(out.size()), static_cast<int>(offset));
      rc != SQLITE_OK)
    fail(db_.handle(), "spool: blob read", rc);
}

}  // namespace sennen::sqlite
