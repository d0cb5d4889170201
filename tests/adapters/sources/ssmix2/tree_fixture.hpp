#pragma once
// Building SS-MIX2 trees for the adapter tests: HL7 content, files at their standardized-storage
// place, and ages (a file is read only once it is older than stable_after).
#include <utime.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"

namespace sennen::test {

inline constexpr const char* kPid = "0000012345";

inline std::string hl7(const std::string& pid, const std::string& type, const std::string& extra = "") {
  return "MSH|^~\\&|HIS|S|GW|R|20250101120000||" + type +
         "|1|P|2.5||||||~ISO IR87||ISO 2022-1994\r"
         "PID|0001||" +
         pid + "^^^^PI||\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B\r" + extra;
}

// Writes root/PID[0:3]/PID[3:6]/PID/date/type/name.
inline std::filesystem::path put(const std::filesystem::path& root, const std::string& date, const std::string& type,
                                 const std::string& order, const std::string& stamp, char flag,
                                 const std::string& content, const std::string& pid = kPid) {
  std::filesystem::path dir = root / pid.substr(0, 3) / pid.substr(3, 3) / pid / date / type;
  std::filesystem::path file = dir / (pid + "_" + date + "_" + type + "_" + order + "_" + stamp + "_01_" + flag);
  write_file(file, content);
  return file;
}

inline void age(const std::filesystem::path& p, std::time_t mtime) {
  struct utimbuf t {
    mtime, mtime
  };
  REQUIRE(::utime(p.c_str(), &t) == 0);
}

}  // namespace sennen::test
