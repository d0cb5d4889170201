#pragma once
// Making the next poll read a file of a source tree again (quarantine retry, resend): which
// configured source it belongs to, whether that source can read a file again, and the keys its
// polling state files the file's folder under.
#include <string>
#include <vector>

#include "daemon/config/config.hpp"

namespace sennen::edgectl {

const config::Source* source_config(const config::Config& cfg, const std::string& name);
// Why a file of `source` cannot be read again (no such source any more, or its kind cannot, e.g.
// DICOM instances that were pushed or fetched once), or "" when it can.
std::string cannot_reread(const config::Config& cfg, const std::string& source);
// The keys under which `source` may have filed the folder of `rel_path`: one per root (see
// adapters/sources/dirpoll/walker.cpp: "<root>/<folder relative to the root>").
std::vector<std::string> folder_keys(const config::Config& cfg, const std::string& source, const std::string& rel_path);

}  // namespace sennen::edgectl
