#pragma once
// Record-level opt-out for a DPC file: copies it, streamed line by line, without the rows of the
// patients `decide` withholds. A DPC row names its patient only by データ識別番号 (column 2), an
// anonymised ID that is not the chart number (formats.md §5), so the hospital maintains a map
// (dpc_id_map: a CSV of データ識別番号 and patient ID per line) that is read again every time a
// file is filtered; a row whose データ識別番号 is not in it is unattributed. A title row (line 1,
// see dpc.hpp) is kept. Counts are of rows.
#include <filesystem>
#include <map>
#include <string>

#include "daemon/core/content_filter.hpp"

namespace sennen::dropbox {

// データ識別番号 (canonical, see canonical_patient_id) -> canonical patient ID. Read as leniently as
// the stop list is: UTF-8 (with or without BOM) or CP932, CRLF or LF, comma or tab between the two
// columns, quotes and Excel's ="..." around values, full-width digits, leading zeros. Lines that
// do not give two IDs (a header, a note) are skipped. A データ識別番号 listed with two different
// patient IDs is left out (its rows are unattributed) and logged: which patient is not guessed.
// Throws sennen::Error when it cannot be read.
std::map<std::string, std::string> read_dpc_id_map(const std::filesystem::path& csv);

FilterCounts filter_dpc(const std::map<std::string, std::string>& ids, const ContentReader& in,
                        const PatientGate& decide, const ContentWriter& write);

}  // namespace sennen::dropbox
