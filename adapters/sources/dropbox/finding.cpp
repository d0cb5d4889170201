#include "adapters/sources/dropbox/finding.hpp"

namespace sennen::dropbox {

std::string reason_text(const std::string& file_name, const Rejection& r) {
  std::string where_ja, where_en;
  if (r.line) {
    where_ja = std::to_string(r.line) + "行目";
    where_en = "line " + std::to_string(r.line);
    if (!r.field.empty()) {
      where_ja += "、" + r.field;
      where_en += ", " + r.field;
    }
  } else {
    where_ja = "ファイル全体";
    where_en = "the file as a whole";
  }
  return "【送信されませんでした】" + file_name + "\n" +                                             //
         "内容: " + r.what_ja + "\n" + "場所: " + where_ja + "\n" + "対処: " + r.todo_ja + "\n\n" +  //
         "[NOT SENT] " + file_name + "\n" + "What: " + r.what_en + "\n" + "Where: " + where_en + "\n" +
         "What to do: " + r.todo_en + "\n";
}

}  // namespace sennen::dropbox
