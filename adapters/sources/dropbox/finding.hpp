#pragma once
// Why a dropped file is rejected, in the words staff read in the reason file beside it: what is
// wrong, where (line and field, 1-based as an editor shows them), and what to do, in Japanese and
// English.
#include <cstdint>
#include <string>

namespace sennen::dropbox {

struct Rejection {
  std::uint64_t line = 0;  // 0: the file as a whole
  std::string field;       // e.g. "IR 医療機関コード (field 5)"; "" when the whole line or file
  std::string what_ja, what_en;
  std::string todo_ja, todo_en;
};

// The reason file's text (UTF-8): one paragraph per language, naming the file.
std::string reason_text(const std::string& file_name, const Rejection& r);

}  // namespace sennen::dropbox
