#include "adapters/sources/ssmix2/odbc.hpp"

#include <sql.h>
#include <sqlext.h>

#include <algorithm>
#include <cctype>

#include "daemon/util/error.hpp"

namespace sennen::odbc {
namespace {

bool ok(SQLRETURN r) { return r == SQL_SUCCESS || r == SQL_SUCCESS_WITH_INFO; }

// An integer attribute value, which ODBC's Set*Attr functions take in their pointer argument.
SQLPOINTER attr_value(SQLULEN v) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the ODBC API defines integer attributes this way
  return reinterpret_cast<SQLPOINTER>(v);
}

// Every diagnostic record of a handle, one line: "[SQLSTATE] text (native n); ...".
std::string diagnostics(SQLSMALLINT type, SQLHANDLE handle) {
  std::string out;
  for (SQLSMALLINT i = 1;; ++i) {
    SQLCHAR state[6] = {0};
    SQLCHAR text[1024] = {0};
    SQLINTEGER native = 0;
    SQLSMALLINT len = 0;
    if (!ok(SQLGetDiagRec(type, handle, i, state, &native, text, sizeof text, &len))) break;
    if (!out.empty()) out += "; ";
    out += "[" + std::string(reinterpret_cast<char*>(state)) + "] " + reinterpret_cast<char*>(text);
    if (native != 0) out += " (native " + std::to_string(native) + ")";
  }
  return out.empty() ? "no diagnostics from the driver" : out;
}

// One ODBC handle, freed with its owner.
template <SQLSMALLINT Type>
struct Handle {
  SQLHANDLE h = SQL_NULL_HANDLE;
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (h != SQL_NULL_HANDLE) SQLFreeHandle(Type, h);
  }
};

}  // namespace

std::string redact(const std::string& s) {
  std::string out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t end = s.find(';', pos);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(pos, end - pos);
    auto eq = part.find('=');
    std::string key = part.substr(0, eq);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
    key.erase(std::remove_if(key.begin(), key.end(), [](unsigned char c) { return std::isspace(c); }), key.end());
    if (eq != std::string::npos && (key == "pwd" || key == "password")) part = part.substr(0, eq + 1) + "***";
    out += part;
    if (end < s.size()) out += ";";
    pos = end + 1;
  }
  return out;
}

bool is_text_type(int t) {
  return t == SQL_CHAR || t == SQL_VARCHAR || t == SQL_LONGVARCHAR || t == SQL_WCHAR || t == SQL_WVARCHAR ||
         t == SQL_WLONGVARCHAR;
}
bool is_timestamp_type(int t) { return t == SQL_TYPE_TIMESTAMP || t == SQL_TIMESTAMP || t == SQL_DATETIME; }

std::string type_name(int t) {
  switch (t) {
    case SQL_CHAR:
      return "CHAR";
    case SQL_VARCHAR:
      return "VARCHAR";
    case SQL_LONGVARCHAR:
      return "LONGVARCHAR";
    case SQL_WCHAR:
      return "WCHAR";
    case SQL_WVARCHAR:
      return "WVARCHAR";
    case SQL_WLONGVARCHAR:
      return "WLONGVARCHAR";
    case SQL_TYPE_TIMESTAMP:
    case SQL_TIMESTAMP:
      return "TIMESTAMP";
    case SQL_INTEGER:
      return "INTEGER";
    case SQL_SMALLINT:
      return "SMALLINT";
    case SQL_BIGINT:
      return "BIGINT";
    case SQL_NUMERIC:
      return "NUMERIC";
    case SQL_DECIMAL:
      return "DECIMAL";
    case SQL_DOUBLE:
      return "DOUBLE";
    case SQL_FLOAT:
      return "FLOAT";
    case SQL_REAL:
      return "REAL";
    case SQL_TYPE_DATE:
      return "DATE";
    case SQL_TYPE_TIME:
      return "TIME";
    case SQL_BIT:
      return "BIT";
    case SQL_BINARY:
    case SQL_VARBINARY:
    case SQL_LONGVARBINARY:
      return "BINARY";
    default:
      return "SQL type " + std::to_string(t);
  }
}

struct Connection::Impl {
  std::string label;
  Handle<SQL_HANDLE_ENV> env;
  Handle<SQL_HANDLE_DBC> dbc;
  bool connected = false;
  ~Impl() {
    if (connected) SQLDisconnect(dbc.h);
  }
  [[noreturn]] void fail(const std::string& what, SQLSMALLINT type, SQLHANDLE h) const {
    throw Error("index DB (ODBC " + label + "): " + what + ": " + diagnostics(type, h));
  }
};

struct Cursor::Impl {
  const Connection::Impl& conn;
  Handle<SQL_HANDLE_STMT> stmt;
  std::vector<Column> columns;
  std::vector<std::string> params;  // bound by address: kept alive as long as the statement
  std::vector<SQLLEN> param_lengths;
  std::size_t max_rows = 0, fetched = 0;
  explicit Impl(const Connection::Impl& c) : conn(c) {}
  ~Impl() {
    if (stmt.h != SQL_NULL_HANDLE) SQLFreeStmt(stmt.h, SQL_CLOSE);
  }
};

Connection::Connection(const std::string& connection_string) : impl_(std::make_unique<Impl>()) {
  impl_->label = redact(connection_string);
  if (!ok(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &impl_->env.h)))
    throw Error("index DB (ODBC " + impl_->label + "): the ODBC driver manager cannot allocate an environment");
  if (!ok(SQLSetEnvAttr(impl_->env.h, SQL_ATTR_ODBC_VERSION, attr_value(SQL_OV_ODBC3), 0)))
    impl_->fail("cannot select ODBC 3", SQL_HANDLE_ENV, impl_->env.h);
  if (!ok(SQLAllocHandle(SQL_HANDLE_DBC, impl_->env.h, &impl_->dbc.h)))
    impl_->fail("cannot allocate a connection", SQL_HANDLE_ENV, impl_->env.h);
  SQLSetConnectAttr(impl_->dbc.h, SQL_ATTR_LOGIN_TIMEOUT, attr_value(10), 0);
  std::string in = connection_string;
  SQLCHAR out[1024];
  SQLSMALLINT out_len = 0;
  SQLRETURN r = SQLDriverConnect(impl_->dbc.h, nullptr, reinterpret_cast<SQLCHAR*>(in.data()),
                                 static_cast<SQLSMALLINT>(in.size()), out, sizeof out, &out_len, SQL_DRIVER_NOPROMPT);
  if (!ok(r))
    impl_->fail(
        "cannot connect (check the DSN or Driver= in the connection string, that the driver is installed "
        "(odbcinst -q -d lists them) and that the database accepts this user)",
        SQL_HANDLE_DBC, impl_->dbc.h);
  impl_->connected = true;
}

Connection::~Connection() = default;

const std::string& Connection::label() const { return impl_->label; }

Cursor Connection::query(const std::string& sql, const std::vector<std::string>& params, std::size_t max_rows) {
  auto c = std::make_unique<Cursor::Impl>(*impl_);
  if (!ok(SQLAllocHandle(SQL_HANDLE_STMT, impl_->dbc.h, &c->stmt.h)))
    impl_->fail("cannot allocate a statement", SQL_HANDLE_DBC, impl_->dbc.h);
  const SQLHANDLE st = c->stmt.h;
  c->max_rows = max_rows;
  if (max_rows)  // a hint: drivers may ignore it, the cursor stops reading there anyway
    SQLSetStmtAttr(st, SQL_ATTR_MAX_ROWS, attr_value(max_rows), 0);
  c->params = params;
  c->param_lengths.resize(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    c->param_lengths[i] = static_cast<SQLLEN>(c->params[i].size());
    const SQLULEN size = std::max<SQLULEN>(1, c->params[i].size());
    if (!ok(SQLBindParameter(st, static_cast<SQLUSMALLINT>(i + 1), SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, size, 0,
                             c->params[i].data(), static_cast<SQLLEN>(c->params[i].size()), &c->param_lengths[i])))
      impl_->fail("cannot bind a parameter of: " + sql, SQL_HANDLE_STMT, st);
  }
  std::string text = sql;
  SQLRETURN r = SQLExecDirect(st, reinterpret_cast<SQLCHAR*>(text.data()), static_cast<SQLINTEGER>(text.size()));
  if (!ok(r) && r != SQL_NO_DATA) impl_->fail("the query failed: " + sql, SQL_HANDLE_STMT, st);
  SQLSMALLINT n = 0;
  if (!ok(SQLNumResultCols(st, &n))) impl_->fail("cannot describe the result of: " + sql, SQL_HANDLE_STMT, st);
  for (SQLSMALLINT i = 1; i <= n; ++i) {
    SQLCHAR name[256] = {0};
    SQLSMALLINT name_len = 0, type = 0, digits = 0, nullable = 0;
    SQLULEN size = 0;
    if (!ok(SQLDescribeCol(st, static_cast<SQLUSMALLINT>(i), name, sizeof name, &name_len, &type, &size, &digits,
                           &nullable)))
      impl_->fail("cannot describe column " + std::to_string(i) + " of: " + sql, SQL_HANDLE_STMT, st);
    c->columns.push_back({reinterpret_cast<char*>(name), type});
  }
  return Cursor(std::move(c));
}

Cursor::Cursor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Cursor::~Cursor() = default;
Cursor::Cursor(Cursor&&) noexcept = default;

const std::vector<Column>& Cursor::columns() const { return impl_->columns; }

bool Cursor::next(std::vector<std::optional<std::string>>& row) {
  if (impl_->max_rows && impl_->fetched >= impl_->max_rows) return false;
  const SQLHANDLE st = impl_->stmt.h;
  SQLRETURN r = SQLFetch(st);
  if (r == SQL_NO_DATA) return false;
  if (!ok(r)) impl_->conn.fail("cannot fetch a row", SQL_HANDLE_STMT, st);
  ++impl_->fetched;
  row.assign(impl_->columns.size(), std::nullopt);
  for (std::size_t i = 0; i < impl_->columns.size(); ++i) {
    std::string value;
    // Read in pieces: the size a driver describes may be smaller than the value (psqlODBC
    // describes unbounded varchar as 255).
    for (;;) {
      char buf[4096];
      SQLLEN ind = 0;
      r = SQLGetData(st, static_cast<SQLUSMALLINT>(i + 1), SQL_C_CHAR, buf, sizeof buf, &ind);
      if (r == SQL_NO_DATA) break;
      if (!ok(r)) impl_->conn.fail("cannot read column " + impl_->columns[i].name, SQL_HANDLE_STMT, st);
      if (ind == SQL_NULL_DATA) break;
      const bool more = r == SQL_SUCCESS_WITH_INFO && (ind == SQL_NO_TOTAL || ind >= static_cast<SQLLEN>(sizeof buf));
      value.append(buf, more ? sizeof buf - 1 : static_cast<std::size_t>(ind));
      if (!more) {
        row[i] = std::move(value);
        break;
      }
    }
  }
  return true;
}

}  // namespace sennen::odbc
