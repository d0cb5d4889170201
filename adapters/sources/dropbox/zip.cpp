#include "adapters/sources/dropbox/zip.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>

#include "daemon/util/error.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/utf8.hpp"

namespace sennen::dropbox {
namespace fs = std::filesystem;
namespace {

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};

// Removes the staging folder, whatever happens.
struct Staging {
  fs::path dir;
  ~Staging() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const char* const kTodoJa = "元のZIPファイルをもう一度最後までコピーするか、中のファイルを直接置いてください。";
const char* const kTodoEn =
    "Copy the original zip file into the folder again, to the end, or put the files in it directly.";

Rejection bad(std::string ja, std::string en) { return {0, "", std::move(ja), std::move(en), kTodoJa, kTodoEn}; }

// libarchive converts entry names to the locale's character set and gives none at all for a
// name it cannot convert: under the service's C locale that was every non-ASCII name, and such
// files were skipped. Names are read under C.UTF-8, for this thread only, while a zip is read.
class Utf8Names {
 public:
  Utf8Names() : utf8_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{})) {
    if (utf8_) before_ = ::uselocale(utf8_);
  }
  ~Utf8Names() {
    if (!utf8_) return;
    ::uselocale(before_);
    ::freelocale(utf8_);
  }
  Utf8Names(const Utf8Names&) = delete;
  Utf8Names& operator=(const Utf8Names&) = delete;

 private:
  locale_t utf8_;
  locale_t before_{};
};

// The entry's last name component, or "" when it has none usable. A name stored as UTF-8 (the
// zip says so) comes as written. One stored without saying (Japanese Windows' own zip writes
// CP932 so) is read by libarchive 3.6 as CP437, whatever its hdrcharset option says (tried), and
// each 0x5C byte, the second byte of 表 or ソ in CP932, becomes a '/': such a name comes garbled,
// or, when it ends in such a character, as nothing usable.
std::string base_name(std::string_view path) {
  const auto slash = path.find_last_of(util::valid_utf8(path) ? "/\\" : "/");
  std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  return name == "." || name == ".." ? "" : name;
}

}  // namespace

bool looks_like_zip(std::string_view name, std::string_view head) {
  std::string ext(name.size() >= 4 ? name.substr(name.size() - 4) : std::string_view());
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".zip" && head.substr(0, 4) == std::string_view("PK\x03\x04", 4);
}

Unpacked unpack_zip(const fs::path& zip, const fs::path& folder, const ZipLimits& limits) {
  Unpacked out;
  const std::string stem = zip.stem().string();
  Staging staging{folder / (".unpacking-" + zip.filename().string())};
  fs::remove_all(staging.dir);
  fs::create_directory(staging.dir);
  const Utf8Names utf8_names;
  std::unique_ptr<archive, ReadCloser> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), zip.c_str(), 64 * 1024) != ARCHIVE_OK) {
    out.rejection = bad("ZIPファイルとして開けません。",
                        std::string("it cannot be opened as a zip file: ") + archive_error_string(a.get()) + ".");
    return out;
  }
  std::uint64_t files = 0, bytes = 0;
  const std::uint64_t ratio_bound =
      limits.max_ratio ? limits.max_ratio * std::max<std::uintmax_t>(fs::file_size(zip), 1) : 0;
  std::vector<std::pair<fs::path, std::string>> staged;  // staged file, final name
  archive_entry* entry = nullptr;
  for (int r; (r = archive_read_next_header(a.get(), &entry)) != ARCHIVE_EOF;) {
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      out.rejection = bad(
          "ZIPファイルが壊れているか、途中までしかコピーされていません。",
          std::string("the zip file is damaged or was copied only in part: ") + archive_error_string(a.get()) + ".");
      return out;
    }
    const char* const path = archive_entry_pathname(entry);
    const auto type = archive_entry_filetype(entry);
    // A "folder" with content is a file whose name came to end in '/' (see base_name).
    const bool folder_with_content = type == AE_IFDIR && archive_entry_size(entry) > 0;
    if (type != AE_IFREG && !folder_with_content) continue;  // folders (their files come as entries), links
    const std::string name = folder_with_content ? "" : base_name(path ? path : "");
    if (name.empty()) {
      const std::string shown = util::display_name(path ? path : "");
      out.rejection = bad("ZIPファイルの中に、名前の読めないファイルがあります（" + shown + "）。",
                          "a file in the zip has no usable name (\"" + shown +
                              "\"): its name may be in Shift_JIS, which the zip does not say.");
      return out;
    }
    // Unpacked, a zip inside would be unpacked in turn at the next poll, and so on: each level
    // within the limits, the whole without any (an archive built to fill the disk nests).
    if (looks_like_zip(name, std::string_view("PK\x03\x04", 4))) {
      out.rejection = bad(
          "ZIPファイルの中にZIPファイルがあります（" + util::display_name(name) + "）。中のZIPファイルは展開しません。",
          "the zip holds another zip file (" + util::display_name(name) + "); a zip inside a zip is not unpacked.");
      return out;
    }
    // Unpacked as "<stem>_<name>", perhaps with ".N" after it, and a rejected file gets
    // ".reason.txt" beside it: all of it must fit in a file name (255 bytes here).
    if (stem.size() + 1 + name.size() + 32 > 255) {
      out.rejection =
          bad("ZIPファイルの中のファイル名が長すぎます（" + util::display_name(name) + "）。",
              "the name of a file in the zip is too long to be put in the folder (" + std::to_string(name.size()) +
                  " bytes after the zip's own name of " + std::to_string(stem.size()) + "; at most " +
                  std::to_string(255 - 33 - stem.size()) + "): " + util::display_name(name) + ".");
      return out;
    }
    if (++files > limits.max_files) {
      out.rejection =
          bad("ZIPファイルの中のファイルが多すぎます（上限 " + std::to_string(limits.max_files) + "）。",
              "the zip file holds more than " + std::to_string(limits.max_files) + " files (zip_max_files).");
      return out;
    }
    const fs::path staged_file = staging.dir / std::to_string(files);
    std::ofstream f(staged_file, std::ios::binary);
    char buf[64 * 1024];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) != 0;) {
      if (n < 0) {
        out.rejection = bad(
            "ZIPファイルが壊れているか、途中までしかコピーされていません。",
            std::string("the zip file is damaged or was copied only in part: ") + archive_error_string(a.get()) + ".");
        return out;
      }
      bytes += static_cast<std::uint64_t>(n);
      if (bytes > limits.max_bytes) {
        out.rejection =
            bad("ZIPファイルを展開すると大きすぎます（上限 " + std::to_string(limits.max_bytes) + " バイト）。",
                "unpacked, the zip file would be larger than " + std::to_string(limits.max_bytes) +
                    " bytes (zip_max_bytes).");
        return out;
      }
      if (ratio_bound && bytes > ratio_bound) {
        out.rejection = bad("ZIPファイルの圧縮率が高すぎます（展開後が圧縮ファイルの " +
                                std::to_string(limits.max_ratio) + " 倍を超えます）。",
                            "unpacked, the zip file would be more than " + std::to_string(limits.max_ratio) +
                                " times its own size (zip_max_ratio): an archive built to fill the disk, or "
                                "data that packs unusually well.");
        return out;
      }
      f.write(buf, n);
    }
    f.close();
    if (!f) throw Error("cannot write " + staged_file.string() + " while unpacking " + zip.string());
    staged.emplace_back(staged_file, stem + "_" + name);
  }
  for (const auto& [file, name] : staged) {
    fs::path target = folder / name;
    for (int i = 2; fs::exists(target); ++i) target = folder / (name + "." + std::to_string(i));
    fs::rename(file, target);
    out.files.push_back(target);
  }
  return out;
}

}  // namespace sennen::dropbox
