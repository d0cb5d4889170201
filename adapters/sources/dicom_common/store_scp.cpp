#include "adapters/sources/dicom_common/store_scp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmnet/dulstruc.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <list>
#include <system_error>
#include <thread>
#include <vector>

#include "adapters/sources/dicom_common/store_receive.hpp"
#include "daemon/core/error.hpp"
#include "daemon/util/fd.hpp"
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

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// DCMTK reports the peer as "host" or "host:port"; an IPv6 peer has colons of its own.
std::string host_of(const std::string& address) {
  if (std::count(address.begin(), address.end(), ':') == 1) return address.substr(0, address.find(':'));
  return address;
}

// DCMTK 3.6.7 listens on every interface and has no option for an address. Its network is
// opened on a throwaway port, and our socket, bound to the one address, takes the place of its
// listening socket (dup2 onto the same descriptor, which DCMTK closes when the network is dropped).
void listen_on_address(T_ASC_Network* net, const std::string& address, std::uint16_t port, const std::string& where) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
    throw Error(where + ": '" + address + "' is not an IPv4 address to listen on");
  util::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw Error(where + ": cannot create a socket: " + util::errno_text(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.get(), 64) != 0)
    throw Error(where + ": cannot listen on " + address + ":" + std::to_string(port) + ": " + util::errno_text(errno) +
                "; check that no other program uses the port and that the address is this host's");
  auto* key = static_cast<PRIVATE_NETWORKKEY*>(net->network);
  if (::dup2(fd.get(), key->networkSpecific.TCP.listenSocket) < 0)
    throw Error(where + ": cannot take over DCMTK's listening socket: " + util::errno_text(errno));
  net->acceptorPort = port;
}

}  // namespace

struct StoreScp::Impl {
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  ScpOptions options;
  StoreHandler& handler;
  Network net;
  std::atomic<bool> stop{false};
  std::thread acceptor;
  std::list<Worker> workers;  // touched by the acceptor thread only, then by stop() once it is joined

  Impl(ScpOptions o, StoreHandler& h) : options(std::move(o)), handler(h) {}

  std::string where() const { return "DICOM SCP " + options.ae_title + " on port " + std::to_string(options.port); }

  void reap_finished() {
    for (auto it = workers.begin(); it != workers.end();) {
      if (!*it->done) {
        ++it;
        continue;
      }
      it->thread.join();
      it = workers.erase(it);
    }
  }

  void accept_loop() {
    while (!stop) {
      T_ASC_Association* raw = nullptr;
      // A one-second wait so stop() is noticed promptly. Reading the association request is
      // bounded by the network's ACSE timeout, so a silent peer holds this loop that long at most.
      OFCondition cond = ASC_receiveAssociation(net.get(), &raw, ASC_DEFAULTMAXPDU, nullptr, nullptr, OFFalse,
                                                DUL_NOBLOCK, 1);
      Association assoc(raw);
      reap_finished();
      if (cond == DUL_NOASSOCIATIONREQUEST) continue;
      if (cond.bad()) {
        log::warning(where() + ": association request failed: " + std::string(cond.text()));
        continue;
      }
      if (static_cast<int>(workers.size()) >= options.max_associations) {
        log::warning(where() + ": association refused: already serving " + std::to_string(workers.size()) +
                     " (max_associations); the peer may retry");
        T_ASC_RejectParameters rej{ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
                                   ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED};
        ASC_rejectAssociation(assoc.get(), &rej);
        continue;
      }
      // Shared with the worker, so that the association is closed whichever side lets go last.
      auto owned = std::make_shared<Association>(std::move(assoc));
      Worker& w = workers.emplace_back();
      w.done = std::make_shared<std::atomic<bool>>(false);
      try {
        w.thread = std::thread([this, owned, done = w.done] {
          try {
            serve(owned->get());
          } catch (const std::exception& e) {  // never let one peer end the service
            log::error(where() + ": " + e.what());
            ASC_abortAssociation(owned->get());
          }
          owned->reset();
          *done = true;
        });
      } catch (const std::system_error& e) {
        log::error(where() + ": cannot start a thread for an association: " + e.what());
        ASC_abortAssociation(owned->get());
        workers.pop_back();
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
    const std::string calling_ae = trimmed_field(calling), called_ae = trimmed_field(called), peer_host = host_of(peer);
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
    const int timeout = static_cast<int>(options.dimse_timeout.count());
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
        cond = receive_store(assoc, pres, msg.msg.CStoreRQ, calling_ae, handler, timeout, where());
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
};

StoreScp::StoreScp(ScpOptions options, StoreHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

StoreScp::~StoreScp() { stop(); }

void StoreScp::start() {
  if (impl_->acceptor.joinable()) return;
  prepare_dcmtk_networking();
  const ScpOptions& o = impl_->options;
  T_ASC_Network* raw = nullptr;
  OFCondition cond = ASC_initializeNetwork(NET_ACCEPTOR, o.bind_address.empty() ? o.port : 0,
                                           static_cast<int>(o.acse_timeout.count()), &raw);
  impl_->net.reset(raw);
  if (cond.bad())
    throw Error(impl_->where() + ": cannot listen: " + cond.text() +
                "; check that no other program uses the port and that the service may bind it");
  if (!o.bind_address.empty()) listen_on_address(impl_->net.get(), o.bind_address, o.port, impl_->where());
  impl_->stop = false;
  impl_->acceptor = std::thread([this] { impl_->accept_loop(); });
}

void StoreScp::stop() {
  if (!impl_) return;
  impl_->stop = true;
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  for (auto& w : impl_->workers) w.thread.join();
  impl_->workers.clear();
  impl_->net.reset();
}

}  // namespace sennen::dicom
