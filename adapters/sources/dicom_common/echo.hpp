#pragma once
// C-ECHO (DICOM "ping"): associates with a peer, asks for Verification and releases. For
// sennen-edgectl doctor: a PACS that answers it is reachable and accepts our AE titles.
#include <chrono>
#include <string>

namespace sennen::dicom {

struct EchoPeer {
  std::string host;
  int port = 0;
  std::string called_ae;   // the peer's AE title
  std::string calling_ae;  // ours, as the peer knows it
  std::chrono::seconds timeout{10};
};

// "" when the peer answered with success; otherwise what failed (connection, association
// refused and why, or the C-ECHO status).
std::string echo(const EchoPeer& peer);

}  // namespace sennen::dicom
