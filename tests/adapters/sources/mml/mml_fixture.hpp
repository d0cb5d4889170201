#pragma once
// Generated MML instances for the mml source's tests (unit, fuzz seeds): the smallest instance of
// the shape formats.md §3 and the skoba/mml samples show.
#include <string>

namespace sennen::mml::test {

struct Instance {
  std::string patient = "0000469905";
  std::string uid = "JPN999999900009DOC0001";
  std::string parent;                   // parentId, none when empty
  std::string relation = "oldEdition";  // its @relation
  std::string purpose = "record";       // title@generationPurpose
  std::string declaration = R"(<?xml version="1.0" encoding="UTF-8"?>)";
  std::string version = "4.1.2";
  std::string title = "progress note";
  std::string body = "<mmlPc:ProgressCourseModule/>";
};

inline std::string instance(const Instance& i) {
  std::string parent = i.parent.empty() ? "" : "<parentId relation=\"" + i.relation + "\">" + i.parent + "</parentId>";
  return i.declaration + "\n<Mml version=\"" + i.version +
         "\" createDate=\"2025-01-10T10:00:00\" xmlns=\"http://www.medxml.net/MML/v4/base/1.0\" "
         "xmlns:mmlCm=\"http://www.medxml.net/MML/v4/SharedComponent/Common/1.0\" "
         "xmlns:mmlPc=\"http://www.medxml.net/MML/v4/ContentModule/ProgressCourse/1.0\">\n"
         "<MmlHeader><masterId><mmlCm:Id mmlCm:type=\"facility\" mmlCm:tableId=\"JPN999999900009\">\n  " +
         i.patient +
         "\n</mmlCm:Id></masterId><toc><tocItem>http://www.medxml.net/MML/v4/base/1.0</tocItem></toc></MmlHeader>\n"
         "<MmlBody><MmlModuleItem><docInfo contentModuleType=\"progressCourse\"><securityLevel/>"
         "<title generationPurpose=\"" +
         i.purpose + "\">" + i.title + "</title><docId><uid>" + i.uid + "</uid>" + parent +
         "</docId><confirmDate>2025-01-10T10:00:00</confirmDate></docInfo><content>" + i.body +
         "</content></MmlModuleItem></MmlBody></Mml>\n";
}

}  // namespace sennen::mml::test
