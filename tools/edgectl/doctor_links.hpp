#pragma once
// The doctor's look at what the walker never follows: symbolic links (and folders on another file
// system) in the top levels of each SS-MIX2 root. sennen-edged skips them, so a site that keeps
// part of its tree behind a link learns here, before any data is missed, to list the link's
// target as another root.
#include "daemon/config/config.hpp"
#include "tools/edgectl/doctor_report.hpp"

namespace sennen::edgectl {

void check_source_links(Report& r, const config::Config& cfg);

}  // namespace sennen::edgectl
