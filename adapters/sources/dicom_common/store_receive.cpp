#include "adapters/sources/dicom_common/store_receive.hpp"

#include <dcmtk/dcmdata/dcostrmf.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "daemon/util/log.hpp"

namespace sennen::dicom {

void prepare_dcmtk_networking() {
  static std::once_flag once;  // the settings are the process's, like DCMTK's own globals
  std::call_once(once, [] {
    // Debian's DCMTK leaves Nagle on unless asked at run time; with it every C-STORE (and every
    // C-GET/C-MOVE sub-operation) waits ~40 ms for a delayed ACK.
    ::setenv("TCP_NODELAY", "1", 1);
    // Peers are identified by IP address (allowed_addresses), never by a reverse DNS name, which
    // would also cost a lookup per association.
    dcmDisableGethostbyaddr.set(OFTrue);
    // DCMTK would print its own unprefixed lines to stderr (the journal); every refusal is
    // already logged by us with its reason and priority, so only its fatal messages are kept.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  });
}

std::string trimmed_field(const char* field) {
  std::string out(field);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

namespace {

// Not DIMSE_sendStoreResponse, which copies the request's UIDs into the response: DCMTK reads a
// UID that begins with '=' as a UID name, and for a name it does not know it cannot build the
// response (the peer gets no answer) and leaks the element it made (dimcmd.cc addString, DCMTK
// 3.6.7 as Debian 12 ships it). No valid UID begins so: such a value is left out of the
// response, which PS3.7 allows (both fields are U(=) in a C-STORE-RSP).
OFCondition send_response(T_ASC_Association* assoc, T_ASC_PresentationContextID pres, const T_DIMSE_C_StoreRQ& req,
                          std::uint16_t status) {
  T_DIMSE_Message msg{};
  msg.CommandField = DIMSE_C_STORE_RSP;
  T_DIMSE_C_StoreRSP& rsp = msg.msg.CStoreRSP;
  rsp.MessageIDBeingRespondedTo = req.MessageID;
  rsp.DataSetType = DIMSE_DATASET_NULL;
  rsp.DimseStatus = status;
  OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID, sizeof rsp.AffectedSOPClassUID);
  OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, req.AffectedSOPInstanceUID, sizeof rsp.AffectedSOPInstanceUID);
  if (!trimmed_field(req.AffectedSOPClassUID).starts_with('=')) rsp.opts |= O_STORE_AFFECTEDSOPCLASSUID;
  if (!trimmed_field(req.AffectedSOPInstanceUID).starts_with('=')) rsp.opts |= O_STORE_AFFECTEDSOPINSTANCEUID;
  return DIMSE_sendMessageUsingMemoryData(assoc, pres, &msg, nullptr, nullptr, nullptr, nullptr);
}

}  // namespace

OFCondition receive_store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres, T_DIMSE_C_StoreRQ& req,
                          std::string_view calling_ae, StoreHandler& handler, int timeout_seconds,
                          const std::string& where) {
  // The request's UID only labels log lines; the file name comes from the handler, and the UIDs
  // inside the data set are checked by end_store before any of them names a file.
  const std::string sop = trimmed_field(req.AffectedSOPInstanceUID);
  StoreHandler::Begin begin = handler.begin_store(calling_ae, sop);
  DcmOutputFileStream* raw_stream = nullptr;
  if (begin.status == status::success) {
    OFCondition cond = DIMSE_createFilestream(OFFilename(begin.file.c_str()), &req, assoc, pres, 1, &raw_stream);
    if (cond.bad()) {
      log::error(where + ": cannot create " + begin.file.string() + ": " + cond.text());
      begin.status = status::out_of_resources;
    }
  }
  std::unique_ptr<DcmOutputFileStream> stream(raw_stream);
  if (begin.status != status::success) {
    // The data set still arrives: read and drop it, then answer the refusal.
    DIC_UL bytes = 0, pdvs = 0;
    OFCondition cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, timeout_seconds, &bytes, &pdvs);
    if (cond.bad()) return cond;
    return send_response(assoc, pres, req, begin.status);
  }
  T_ASC_PresentationContextID data_pres = pres;
  OFCondition cond =
      DIMSE_receiveDataSetInFile(assoc, DIMSE_NONBLOCKING, timeout_seconds, &data_pres, stream.get(), nullptr, nullptr);
  const bool write_ok = stream->status().good();
  const std::string write_error = write_ok ? std::string() : std::string(stream->status().text());
  stream.reset();  // closes the file
  if (cond.bad()) {
    handler.end_store(begin.file, false, calling_ae, sop, cond.text());
    return cond;
  }
  if (!write_ok) {
    handler.end_store(begin.file, false, calling_ae, sop, "cannot write the file: " + write_error);
    return send_response(assoc, pres, req, status::out_of_resources);
  }
  return send_response(assoc, pres, req, handler.end_store(begin.file, true, calling_ae, sop, ""));
}

}  // namespace sennen::dicom
