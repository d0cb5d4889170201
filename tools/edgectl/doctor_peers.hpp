#pragma once
// The doctor's checks that talk to other machines: the destination (a real TLS handshake and an
// authenticated request that changes nothing) and the DICOM peers (C-ECHO); and the TLS client
// certificate the destination check presents (matches its key, not expired).
#include "daemon/config/config.hpp"
#include "tools/edgectl/doctor_report.hpp"

namespace sennen::edgectl {

// https: the client certificate and key match; the certificate and the CA are not expired
// (warn within 30 days).
void check_tls_client(Report& r, const config::Tls& tls);

// https: HEAD <url>/<site id>/heartbeat.json with the client certificate. s3: the same object,
// SigV4-signed. Authenticated means the server answered 200 or 404 (no heartbeat yet); a refusal
// (401, 403, 400 for a rejected client certificate) or no TLS session at all fails.
void check_destination_reachable(Report& r, const config::Config& cfg);

// C-ECHO to every dicom-qr source's PACS, with the AE titles configured.
void check_dicom_peers(Report& r, const config::Config& cfg);

}  // namespace sennen::edgectl
