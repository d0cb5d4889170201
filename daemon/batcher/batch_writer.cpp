// The tar and zstd layers of a sealed batch, push-style: libarchive hands tar bytes to a
// callback, which compresses them and passes the compressed bytes to the CMS layers.
#include "daemon/batcher/batch_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <exception>
#include <type_traits>
#include <optional>
#include <vector>

#include "daemon/batcher/cms_stream.hpp"
#include "daemon/batcher/sealing_keys_impl.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::batcher {
namespace fs = std::filesystem;
using namespace detail;

namespace {

struct ZstdFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

struct LocaleFree {
  void operator()(locale_t l) const { freelocale(l); }
};
using LocalePtr = std::unique_ptr<std::remove_pointer_t<locale_t>, LocaleFree>;

// libarchive converts entry names through the current LC_CTYPE, and in the "C" locale a daemon
// usually runs in, a non-ASCII name cannot be converted (3.6.2 then crashes in
// archive_write_header). Names are UTF-8 by contract, so every libarchive call runs with a
// thread-local C.UTF-8 LC_CTYPE; the process locale is never touched.
class ThreadLocaleScope {
 public:
  explicit ThreadLocaleScope(locale_t l) : previous_(uselocale(l)) {}
  ~ThreadLocaleScope() { uselocale(previous_); }
  ThreadLocaleScope(const ThreadLocaleScope&) = delete;
  ThreadLocaleScope& operator=(const ThreadLocaleScope&) = delete;

 private:
  locale_t previous_;
};

constexpr std::size_t kReadChunk = 64 * 1024;

// Paths end up on the central side's disk via `tar x`: keep them relative and inside the tree.
void check_archive_path(std::string_view p) {
  auto bad = [&](const char* why) {
    throw Error("archive path \"" + std::string(p) + "\" " + why + " (this is a bug in the caller)");
  };
  if (p.empty()) bad("is empty");
  if (p.front() == '/') bad("is absolute; entries must be relative");
  if (p.find('\0') != std::string_view::npos) bad("contains a NUL byte");
  if (p.back() == '/') bad("names a directory; only regular files are archived");
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    std::string_view part = p.substr(start, end - start);
    if (part == ".." || part == "." || part.empty()) bad("has an empty, '.' or '..' component");
    start = end + 1;
  }
}

}  // namespace

struct BatchWriter::Impl {
  fs::path path;
  std::int64_t mtime = 0;
  util::Fd fd;
  bool finished = false;
  bool broken = false;
  bool discarding = false;            // set while an abandoned archive is freed
  std::uint64_t entry_remaining = 0;  // declared bytes of the current entry not yet written
  std::optional<CmsSealStream> cms;
  std::unique_ptr<ZSTD_CCtx, ZstdFree> zstd;
  std::vector<std::byte> zout;
  std::vector<std::byte> read_buf;
  std::exception_ptr callback_error;  // thrown inside the libarchive callback, rethrown outside
  LocalePtr utf8_ctype{newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr)};
  ArchivePtr tar;  // last: it is freed first, while what its callback uses still exists

  ~Impl() {
    if (tar) {
      ThreadLocaleScope utf8(utf8_ctype.get());
      if (!finished) {
        // Abandoned: let libarchive close normally, into a callback that drops everything.
        // (archive_write_fail() would skip that, but libarchive 3.6 then leaks its client
        // state; only when the close would pad a huge unfinished entry with zeros is it worth it.)
        discarding = true;
        if (entry_remaining > (64u << 20)) archive_write_fail(tar.get());
      }
      tar.reset();
    }
    if (finished) return;
    cms.reset();
    fd.reset();
    ::unlink(path.c_str());
  }

  void compress(const void* data, std::size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, n, 0};
    for (;;) {
      ZSTD_outBuffer out{zout.data(), zout.size(), 0};
      std::size_t left = ZSTD_compressStream2(zstd.get(), &out, &in, mode);
      if (ZSTD_isError(left)) throw Error("compressing " + path.string() + ": " + ZSTD_getErrorName(left));
      cms->write(std::span(zout.data(), out.pos));
      bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
      if (done) return;
    }
  }

  static la_ssize_t on_tar_bytes(struct archive*, void* self, const void* buf, std::size_t n) {
    auto* impl = static_cast<Impl*>(self);
    if (impl->discarding) return static_cast<la_ssize_t>(n);
    try {
      impl->compress(buf, n, ZSTD_e_continue);
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      impl->callback_error = std::current_exception();
      return -1;
    }
  }

  [[noreturn]] void tar_failed(const std::string& what) {
    if (callback_error) std::rethrow_exception(callback_error);
    const char* msg = archive_error_string(tar.get());
    throw Error("writing " + path.string() + ": " + what + ": " + (msg ? msg : "libarchive error"));
  }

  void check_usable() const {
    if (finished) throw Error("batch " + path.string() + " is already finished; start a new BatchWriter");
    if (broken) throw Error("batch " + path.string() + " was abandoned after an earlier error; discard this writer");
  }

  void begin_entry(std::string_view archive_path, std::uint64_t size) {
    check_archive_path(archive_path);
    std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
    if (!e) throw Error("out of memory");
    std::string p(archive_path);
    archive_entry_set_pathname_utf8(e.get(), p.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), static_cast<time_t>(mtime), 0);
    // ARCHIVE_WARN would mean a lossy header (e.g. a name it could not convert): not acceptable.
    if (archive_write_header(tar.get(), e.get()) != ARCHIVE_OK) tar_failed("tar header for " + p);
    entry_remaining = size;
  }

  void entry_data(std::string_view archive_path, const std::byte* data, std::size_t n) {
    while (n > 0) {
      la_ssize_t w = archive_write_data(tar.get(), data, n);
      if (w <= 0) tar_failed("tar data for " + std::string(archive_path));
      data += w;
      n -= static_cast<std::size_t>(w);
      entry_remaining -= static_cast<std::uint64_t>(w);
    }
  }

  void end_entry(std::string_view archive_path) {
    if (archive_write_finish_entry(tar.get()) != ARCHIVE_OK)
      tar_failed("finishing tar entry " + std::string(archive_path));
  }
};

namespace {
// Marks the writer unusable unless the guarded operation completes.
struct BreakOnThrow {
  bool& broken;
  int uncaught = std::uncaught_exceptions();
  ~BreakOnThrow() {
    if (std::uncaught_exceptions() > uncaught) broken = true;
  }
};
}  // namespace

BatchWriter::BatchWriter(const fs::path& out_path, const SealingKeys& keys, int zstd_level,
                         std::int64_t entry_mtime_unix)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (zstd_level < 1 || zstd_level > ZSTD_maxCLevel())
    throw Error("zstd level " + std::to_string(zstd_level) + " is out of range; use 1.." +
                std::to_string(ZSTD_maxCLevel()) + " (3 is a good default)");
  // Within ustar's 11 octal digits, so no entry needs a pax "mtime" record (see size_bounds.cpp).
  if (entry_mtime_unix < 0 || entry_mtime_unix > 077777777777LL)
    throw Error("batch entry time " + std::to_string(entry_mtime_unix) +
                " is outside 1970..4147; check the system clock (this is a bug if the clock is right)");
  m.mtime = entry_mtime_unix;

  int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (fd < 0) {
    int err = errno;
    throw Error("cannot create batch file " + out_path.string() + ": " + util::errno_text(err) +
                (err == EEXIST   ? " (a file of that name is left over; it is never overwritten)"
                 : err == EACCES ? " (grant the sennen-edge user write access to the directory)"
                                 : ""));
  }
  m.fd = util::Fd(fd);
  m.path = out_path;            // from here on, ~Impl removes the file unless finished
  if (::fchmod(fd, 0640) != 0)  // independent of the umask, so the group can be granted read access
    throw Error("cannot set mode 0640 on " + out_path.string() + ": " + util::errno_text(errno));

  m.cms.emplace(keys.impl(), m.fd, out_path);

  m.zstd.reset(ZSTD_createCCtx());
  if (!m.zstd) throw Error("out of memory creating a zstd compressor");
  // Single-threaded on purpose: constant, small memory; the checksum lets `zstd -d` detect damage.
  if (ZSTD_isError(ZSTD_CCtx_setParameter(m.zstd.get(), ZSTD_c_compressionLevel, zstd_level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(m.zstd.get(), ZSTD_c_checksumFlag, 1)))
    throw Error("cannot configure zstd level " + std::to_string(zstd_level));
  m.zout.resize(ZSTD_CStreamOutSize());
  m.read_buf.resize(kReadChunk);

  if (!m.utf8_ctype)
    throw Error("the C.UTF-8 locale is not available (" + util::errno_text(errno) +
                "); it is part of glibc >= 2.35, install the locales package on older systems");
  ThreadLocaleScope utf8(m.utf8_ctype.get());
  m.tar.reset(archive_write_new());
  if (!m.tar) throw Error("out of memory creating a tar writer");
  // Block size 0: hand every write straight to the callback, and no padding of the last block
  // (zstd does the buffering; padding would only add bytes).
  if (archive_write_set_format_pax(m.tar.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(m.tar.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(m.tar.get(), 0) != ARCHIVE_OK ||
      archive_write_open2(m.tar.get(), &m, nullptr, &Impl::on_tar_bytes, nullptr, nullptr) != ARCHIVE_OK)
    m.tar_failed("setting up the pax tar writer");
}

BatchWriter::~BatchWriter() = default;

void BatchWriter::add_bytes(std::string_view archive_path, std::span<const std::byte> data) {
  Impl& m = *impl_;
  m.check_usable();
  BreakOnThrow guard{m.broken};
  ThreadLocaleScope utf8(m.utf8_ctype.get());
  m.begin_entry(archive_path, data.size());
  m.entry_data(archive_path, data.data(), data.size());
  m.end_entry(archive_path);
}

void BatchWriter::add_stream(std::string_view archive_path, std::uint64_t size, const ReadFn& read) {
  Impl& m = *impl_;
  m.check_usable();
  BreakOnThrow guard{m.broken};
  ThreadLocaleScope utf8(m.utf8_ctype.get());
  m.begin_entry(archive_path, size);
  std::uint64_t got = 0;
  for (;;) {
    std::size_t n = read(m.read_buf);
    if (n == 0) break;
    if (n > m.read_buf.size())
      throw Error("reading " + std::string(archive_path) + ": the reader returned more bytes than fit the buffer");
    if (n > size - got)
      throw Error(std::string(archive_path) + " changed while being sealed: it has more than the " +
                  std::to_string(size) + " bytes it had when listed; the batch is abandoned and will be rebuilt");
    got += n;
    m.entry_data(archive_path, m.read_buf.data(), n);
  }
  if (got != size)
    throw Error(std::string(archive_path) + " changed while being sealed: only " + std::to_string(got) + " of " +
                std::to_string(size) + " bytes could be read; the batch is abandoned and will be rebuilt");
  m.end_entry(archive_path);
}

bool BatchWriter::output_failed() const { return impl_->callback_error != nullptr; }

SealedFile BatchWriter::finish() {
  Impl& m = *impl_;
  m.check_usable();
  BreakOnThrow guard{m.broken};
  ThreadLocaleScope utf8(m.utf8_ctype.get());
  if (archive_write_close(m.tar.get()) != ARCHIVE_OK) m.tar_failed("writing the end of the tar archive");
  m.compress(nullptr, 0, ZSTD_e_end);
  m.cms->finish();
  util::fsync_or_throw(m.fd, m.path);
  SealedFile out{m.cms->bytes_out(), m.cms->sha256_hex()};
  m.fd.reset();
  util::fsync_directory(m.path.parent_path().empty() ? fs::path(".") : m.path.parent_path());
  m.finished = true;  // the file is complete and durable; from now on it is the caller's
  return out;
}

}  // namespace sennen::batcher
