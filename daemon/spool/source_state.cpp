// SourceState backed by the spool's dirpoll_* tables, bound to one source name, written through
// the spool's connection so it shares the ingest transaction.
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_statements.hpp"

namespace sennen::spool {
namespace {

class SpoolSourceState final : public SourceState {
 public:
  SpoolSourceState(sqlite::Connection& db, Spool::Statements& st, std::string source)
      : db_(db), st_(st), source_(std::move(source)) {}

  std::vector<DirState> child_dirs(std::string_view parent) override {
    auto& q = st_.child_dirs;
    q.bind(1, source_).bind(2, parent);
    std::vector<DirState> out;
    while (q.step())
      out.push_back({q.column_text(0), q.column_int(1), q.column_int(2), q.column_int(3) != 0, q.column_int(4) != 0,
                     q.column_int(5)});
    q.reset();
    return out;
  }

  void put_dir(std::string_view parent, const DirState& d) override {
    st_.put_dir.bind(1, source_).bind(2, d.path).bind(3, parent).bind(4, d.mtime_ns).bind(5, d.ctime_ns);
    st_.put_dir.bind(6, d.settled ? 1 : 0).bind(7, d.has_subdirs ? 1 : 0).bind(8, d.listed_at).run();
  }

  void erase_dir_tree(std::string_view path) override {
    // Children sort between "path/" and "path0" ('0' follows '/').
    std::string lo = std::string(path) + "/", hi = std::string(path) + "0";
    sqlite::Statement d(db_,
                        "DELETE FROM dirpoll_dirs WHERE source = ?1 AND (path = ?2 OR (path >= ?3 AND path < ?4))");
    d.bind(1, source_).bind(2, path).bind(3, lo).bind(4, hi).run();
    sqlite::Statement u(db_, "DELETE FROM dirpoll_units WHERE source = ?1 AND (dir = ?2 OR (dir >= ?3 AND dir < ?4))");
    u.bind(1, source_).bind(2, path).bind(3, lo).bind(4, hi).run();
  }

  std::vector<UnitState> units(std::string_view dir) override {
    auto& q = st_.units;
    q.bind(1, source_).bind(2, dir);
    std::vector<UnitState> out;
    while (q.step())
      out.push_back({q.column_text(0), static_cast<std::uint64_t>(q.column_int(1)), q.column_int(2), q.column_int(3),
                     q.column_text(4)});
    q.reset();
    return out;
  }

  void put_unit(std::string_view dir, const UnitState& u) override {
    st_.put_unit.bind(1, source_).bind(2, dir).bind(3, u.name).bind(4, static_cast<std::int64_t>(u.size));
    st_.put_unit.bind(5, u.mtime_ns).bind(6, u.ctime_ns).bind(7, u.status).run();
  }

  void erase_unit(std::string_view dir, std::string_view name) override {
    st_.erase_unit.bind(1, source_).bind(2, dir).bind(3, name).run();
  }

  // Superseded and cancelled versions, and entries the walker never opens (it counts those
  // itself), are not files seen.
  std::uint64_t unit_count() override {
    sqlite::Statement q(db_,
                        "SELECT COUNT(*) FROM dirpoll_units WHERE source = ?1 AND status NOT IN "
                        "('history', 'cancel', 'skipped', 'unreadable')");
    q.bind(1, source_);
    q.step();
    return static_cast<std::uint64_t>(q.column_int(0));
  }

  std::uint64_t units_with_status(std::string_view status) override {
    sqlite::Statement q(db_, "SELECT COUNT(*) FROM dirpoll_units WHERE source = ?1 AND status = ?2");
    q.bind(1, source_).bind(2, status);
    q.step();
    return static_cast<std::uint64_t>(q.column_int(0));
  }

 private:
  sqlite::Connection& db_;
  Spool::Statements& st_;
  std::string source_;
};

}  // namespace

std::unique_ptr<SourceState> Spool::source_state(std::string_view source) {
  return std::make_unique<SpoolSourceState>(*db_, *st_, std::string(source));
}

}  // namespace sennen::spool
