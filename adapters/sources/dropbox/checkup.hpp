#pragma once
// Health-checkup documents (CDA R2: ClinicalDocument in urn:hl7-org:v3, what the national 特定健診
// archives hold). A document names its patient by ClinicalDocument/recordTarget/patientRole/id
// elements, each an identifier (extension) within a namespace (root, an OID). Which root, if any,
// carries this hospital's patient ID is not known here (a checkup centre's document may carry
// only insurance numbers): the site names it (checkup_patient_id_root), and a document without
// an ID under that root is never sent.
#include <filesystem>
#include <string>
#include <vector>

namespace sennen::dropbox {

struct CdaId {
  std::string root, extension;
};

struct CdaIds {
  std::vector<CdaId> ids;  // recordTarget/patientRole/id, in document order
  std::string error;       // not well-formed XML (what, line); ids are then empty
};

// Streams the document (libxml2's reader, no network, no entity expansion).
CdaIds cda_patient_ids(const std::filesystem::path& file);

}  // namespace sennen::dropbox
