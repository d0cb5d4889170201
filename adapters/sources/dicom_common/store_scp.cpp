#include "adapters/sources/dicom_common/store_scp.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcostrmf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/oflog/oflog.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>
#include <thread>

#include "daemon/core/error.hpp"
#include "daemon/util/log.hpp"

namespace sennen::dicom {
namespace {

struct NetworkDeleter {
  void operator()(T_ASC_Network* net) const { ASC_dropNetwork(&net); }
};
using Network = std::unique_ptr<T_ASC_Network, NetworkDeleter>;

struct AssociationDeleter {
  void operator()(T_ASC_Association* assoc) const {
    ASC_dropSCPAssociation(assoc);
    ASC_destroyAssociation(&assoc);
  }
};
using Association = std::unique_ptr<T_ASC_Association, AssociationDeleter>;

// Encapsulated syntaxes first: a peer that offers an image in its stored compressed form is
// asked for exactly that (no transcoding), and uncompressed data in the encoding it has.
const char* const kTransferSyntaxes[] = {
    UID_JPEGProcess1TransferSyntax,         UID_JPEGProcess2_4TransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,     UID_JPEGProcess14TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,       UID_JPEGLSLossyTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
    UID_RLELosslessTransferSyntax,          UID_MPEG2MainProfileAtMainLevelTransferSyntax,
    UID_MPEG2MainProfileAtHighLevelTransferSyntax, UID_MPEG4HighProfileLevel4_1TransferSyntax,
    UID_MPEG4BDcompatibleHighProfileLevel4_1TransferSyntax, UID_HEVCMainProfileLevel5_1TransferSyntax,
    UID_HEVCMain10ProfileLevel5_1TransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
    UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
    UID_LittleEndianImplicitTransferSyntax,
};
constexpr int kTransferSyntaxCount = static_cast<int>(sizeof(kTransferSyntaxes) / sizeof(kTransferSyntaxes[0]));

std::string trim(const char* s) {
  std::string out(s);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// DCMTK reports the peer as "host" or "host:port"; an IPv6 peer has colons of its own.
std::string host_of(const std::string& address) {
  if (std::count(address.begin(), address.end(), ':') == 1) return address.substr(0, address.find(':'));
  return address;
}

}  // namespace

struct StoreScp::Impl {
  ScpOptions options;
  StoreHandler& handler;
  Network net;
  std::atomic<bool> stop{false};
  std::thread thread;

  Impl(ScpOptions o, StoreHandler& h) : options(std::move(o)), handler(h) {}

  std::string where() const { return "DICOM SCP " + options.ae_title + " on port " + std::to_string(options.port); }

  void run() {
    while (!stop) {
      T_ASC_Association* raw = nullptr;
      // A one-second wait so stop() is noticed promptly.
      OFCondition cond = ASC_receiveAssociation(net.get(), &raw, ASC_DEFAULTMAXPDU, nullptr, nullptr, OFFalse,
                                                DUL_NOBLOCK, 1);
      Association assoc(raw);
      if (cond == DUL_NOASSOCIATIONREQUEST) continue;
      if (cond.bad()) {
        log::warning(where() + ": association request failed: " + std::string(cond.text()));
        continue;
      }
      try {
        serve(assoc.get());
      } catch (const std::exception& e) {  // never let one peer end the service
        log::error(where() + ": " + e.what());
        ASC_abortAssociation(assoc.get());
      }
    }
  }

  void reject(T_ASC_Association* assoc, T_ASC_RejectParametersReason reason, const std::string& why) {
    log::warning(where() + ": association refused: " + why);
    T_ASC_RejectParameters rej{ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, reason};
    ASC_rejectAssociation(assoc, &rej);
  }

  void serve(T_ASC_Association* assoc) {
    char calling[65] = {}, called[65] = {}, peer[256] = {}, self[256] = {};
    ASC_getAPTitles(assoc->params, calling, sizeof calling, called, sizeof called, nullptr, 0);
    ASC_getPresentationAddresses(assoc->params, peer, sizeof peer, self, sizeof self);
    const std::string calling_ae = trim(calling), called_ae = trim(called), peer_host = host_of(peer);
    const std::string who = "'" + calling_ae + "' from " + peer_host;
    if (called_ae != options.ae_title)
      return reject(assoc, ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED,
                    who + " called AE title '" + called_ae + "'; we are '" + options.ae_title + "'");
    if (!contains(options.allowed_calling_ae_titles, calling_ae))
      return reject(assoc, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED,
                    who + ": calling AE title not in allowed_calling_ae_titles");
    if (!options.allowed_addresses.empty() && !contains(options.allowed_addresses, peer_host))
      return reject(assoc, ASC_REASON_SU_NOREASON, who + ": address not in allowed_addresses");

    const char* verification[] = {UID_VerificationSOPClass};
    // DCMTK takes non-const arrays; it does not write to them.
    std::vector<const char*> syntaxes(std::begin(kTransferSyntaxes), std::end(kTransferSyntaxes));
    OFCondition cond = ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, verification, 1,
                                                                       syntaxes.data(), kTransferSyntaxCount);
    if (cond.good())
      cond = ASC_acceptContextsWithPreferredTransferSyntaxes(assoc->params, dcmAllStorageSOPClassUIDs,
                                                             numberOfDcmAllStorageSOPClassUIDs, syntaxes.data(),
                                                             kTransferSyntaxCount);
    if (cond.good()) cond = ASC_acknowledgeAssociation(assoc);
    if (cond.bad()) {
      log::warning(where() + ": cannot accept association of " + who + ": " + cond.text());
      return;
    }
    for (;;) {
      T_DIMSE_Message msg{};
      T_ASC_PresentationContextID pres = 0;
      cond = receive_command(assoc, pres, msg);
      if (cond == DUL_PEERREQUESTEDRELEASE) {
        ASC_acknowledgeRelease(assoc);
        return;
      }
      if (cond == DUL_PEERABORTEDASSOCIATION) return;
      if (cond.bad()) {
        log::warning(where() + ": association of " + who + " dropped: " + cond.text());
        ASC_abortAssociation(assoc);
        return;
      }
      if (msg.CommandField == DIMSE_C_ECHO_RQ) {
        cond = DIMSE_sendEchoResponse(assoc, pres, &msg.msg.CEchoRQ, STATUS_Success, nullptr);
      } else if (msg.CommandField == DIMSE_C_STORE_RQ) {
        cond = store(assoc, pres, msg.msg.CStoreRQ, calling_ae);
      } else {
        log::warning(where() + ": " + who + " sent a DIMSE command we do not offer (0x" +
                     std::to_string(msg.CommandField) + "); aborting the association");
        cond = DIMSE_BADCOMMANDTYPE;
      }
      if (cond.bad()) {
        log::warning(where() + ": association of " + who + " ended: " + cond.text());
        ASC_abortAssociation(assoc);
        return;
      }
    }
  }

  // Waits for the next command at most dimse_timeout, in one-second slices so stop() is noticed.
  OFCondition receive_command(T_ASC_Association* assoc, T_ASC_PresentationContextID& pres, T_DIMSE_Message& msg) {
    for (long waited = 0;; ++waited) {
      OFCondition cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, 1, &pres, &msg, nullptr);
      if (cond != DIMSE_NODATAAVAILABLE) return cond;
      if (stop) return DIMSE_NODATAAVAILABLE;
      if (waited + 1 >= options.dimse_timeout.count()) return DIMSE_NODATAAVAILABLE;
    }
  }

  OFCondition store(T_ASC_Association* assoc, T_ASC_PresentationContextID pres, T_DIMSE_C_StoreRQ& req,
                    const std::string& calling_ae) {
    T_DIMSE_C_StoreRSP rsp{};
    rsp.DimseStatus = STATUS_Success;
    rsp.MessageIDBeingRespondedTo = req.MessageID;
    rsp.DataSetType = DIMSE_DATASET_NULL;
    OFStandard::strlcpy(rsp.AffectedSOPClassUID, req.AffectedSOPClassUID, sizeof rsp.AffectedSOPClassUID);
    OFStandard::strlcpy(rsp.AffectedSOPInstanceUID, req.AffectedSOPInstanceUID, sizeof rsp.AffectedSOPInstanceUID);
    rsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
    if (req.opts & O_STORE_RQ_BLANK_PADDING) rsp.opts |= O_STORE_RSP_BLANK_PADDING;

    const std::string sop = trim(req.AffectedSOPInstanceUID);
    const int timeout = static_cast<int>(options.dimse_timeout.count());
    StoreHandler::Begin begin = handler.begin_store(calling_ae, sop);
    DcmOutputFileStream* raw_stream = nullptr;
    if (begin.status == status::success) {
      OFCondition cond = DIMSE_createFilestream(OFFilename(begin.file.c_str()), &req, assoc, pres, 1, &raw_stream);
      if (cond.bad()) {
        log::error(where() + ": cannot create " + begin.file.string() + ": " + cond.text());
        begin.status = status::out_of_resources;
      }
    }
    std::unique_ptr<DcmOutputFileStream> stream(raw_stream);
    if (begin.status != status::success) {
      // The data set still arrives; read and drop it, then answer.
      DIC_UL bytes = 0, pdvs = 0;
      OFCondition cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, timeout, &bytes, &pdvs);
      if (cond.bad()) return cond;
      rsp.DimseStatus = begin.status;
      return DIMSE_sendStoreResponse(assoc, pres, &req, &rsp, nullptr);
    }
    T_ASC_PresentationContextID data_pres = pres;
    OFCondition cond = DIMSE_receiveDataSetInFile(assoc, DIMSE_NONBLOCKING, timeout, &data_pres, stream.get(),
                                                  nullptr, nullptr);
    const bool write_ok = stream->status().good();
    const std::string write_error = write_ok ? std::string() : std::string(stream->status().text());
    stream.reset();  // closes the file
    if (cond.bad()) {
      handler.end_store(begin.file, false, sop, cond.text());
      return cond;
    }
    if (!write_ok) {
      handler.end_store(begin.file, false, sop, "cannot write the file: " + write_error);
      rsp.DimseStatus = status::out_of_resources;
    } else {
      rsp.DimseStatus = handler.end_store(begin.file, true, sop, "");
    }
    return DIMSE_sendStoreResponse(assoc, pres, &req, &rsp, nullptr);
  }
};

StoreScp::StoreScp(ScpOptions options, StoreHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

StoreScp::~StoreScp() { stop(); }

void StoreScp::start() {
  if (impl_->thread.joinable()) return;
  // Debian's DCMTK leaves Nagle on unless asked at run time; with it every C-STORE waits ~40 ms
  // for a delayed ACK. DCMTK reads the variable when it sets a socket up.
  ::setenv("TCP_NODELAY", "1", 1);
  // Peers are identified by IP address (allowed_addresses), never by a reverse DNS name, which
  // would also cost a lookup per association.
  dcmDisableGethostbyaddr.set(OFTrue);
  // DCMTK would print its own unprefixed lines to stderr (the journal); every refusal is already
  // logged by us with its reason and priority, so only its fatal messages are kept.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  T_ASC_Network* raw = nullptr;
  OFCondition cond = ASC_initializeNetwork(NET_ACCEPTOR, impl_->options.port,
                                           static_cast<int>(impl_->options.acse_timeout.count()), &raw);
  impl_->net.reset(raw);
  if (cond.bad())
    throw Error(impl_->where() + ": cannot listen: " + cond.text() +
                "; check that no other program uses the port and that the service may bind it");
  impl_->stop = false;
  impl_->thread = std::thread([this] { impl_->run(); });
}

void StoreScp::stop() {
  if (!impl_) return;
  impl_->stop = true;
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->net.reset();
}

}  // namespace sennen::dicom
