#pragma once
// Internal to dicom_common (it names DCMTK types): what the SCP and the query/retrieve SCU share.
// Above all the one piece of code that receives the data set of a C-STORE request and answers it,
// used by the SCP (pushes and C-MOVE sub-associations) and by C-GET sub-operations alike.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

#include <string>
#include <string_view>

#include "adapters/sources/dicom_common/store_scp.hpp"

namespace sennen::dicom {

// Streams the data set that follows `req` into the file handler.begin_store() names, as a Part-10
// file whose meta information comes from the presentation context: the data set's bytes and
// transfer syntax stay exactly as sent, and memory does not grow with its size. The status
// handler.end_store() returns is answered. A bad condition means the association broke (no
// response could be sent); `where` names our side in log lines.
OFCondition receive_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres, T_DIMSE_C_StoreRQ& req,
                          std::string_view calling_ae, StoreHandler& handler, int timeout_seconds,
                          const std::string& where);

// The process-wide DCMTK settings our networking needs, made once per process before the first
// association: DCMTK reads them from globals and the environment while it sets sockets up, so
// changing them later, while another thread runs an association, would race with it.
void prepare_dcmtk_networking();

// A fixed-size text field of a DIMSE command or an association (UID, AE title), without padding.
std::string trimmed_field(const char* field);

}  // namespace sennen::dicom
