#include "adapters/sources/dicom_common/store_scp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/dcmnet/dulstruc.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>
#include <vector>

#include "adapters/sources/dicom_common/association_request.hpp"
#include "adapters/sources/dicom_common/store_receive.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

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

// A class whose instances we take: every storage class DCMTK knows (patient and non-patient
// objects), anything under DICOM's storage branch that it does not know yet, and private classes
// (outside DICOM's root), which vendors use for storage. We store bytes: no class needs decoding.
bool storable(const std::string& uid) {
  if (uid == UID_VerificationSOPClass || dcmIsaStorageSOPClassUID(uid.c_str(), ESSC_All)) return true;
  if (uid.rfind("1.2.840.10008.5.1.4.1.1.", 0) == 0) return true;
  return uid.rfind("1.2.840.10008.", 0) != 0;
}

// The transfer syntax to accept from a proposed context: one DCMTK knows (so the data set it
// receives can be parsed, byte-exact), an encapsulated one first (an image offered in its
// compressed form is taken as it is, not decompressed by the sender), otherwise the peer's first.
// Empty: none of them.
std::string chosen_syntax(const T_ASC_PresentationContext& pc) {
  std::string first;
  for (int i = 0; i < pc.transferSyntaxCount; ++i) {
    const DcmXfer x(pc.proposedTransferSyntaxes[i]);
    if (x.getXfer() == EXS_Unknown || x.getXfer() == EXS_BigEndianImplicit) continue;
    if (x.isEncapsulated()) return pc.proposedTransferSyntaxes[i];
    if (first.empty()) first = pc.proposedTransferSyntaxes[i];
  }
  return first;
}

std::string uid_name(const char* uid) { return std::string(dcmFindNameOfUID(uid, uid)); }

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// DCMTK reports the peer as "host" or "host:port"; an IPv6 peer has colons of its own.
std::string host_of(const std::string& address) {
  if (std::count(address.begin(), address.end(), ':') == 1) return address.substr(0, address.find(':'));
  return address;
}

// The hardened unit holds no capability, so a port below 1024 cannot be bound until the
// administrator installs the one drop-in that grants CAP_NET_BIND_SERVICE.
std::string privileged_port_advice(std::uint16_t port, int err) {
  if (port >= 1024 || (err != EACCES && err != EPERM)) return {};
  return "; a port below 1024 needs CAP_NET_BIND_SERVICE: copy /usr/share/doc/sennen-edge/examples/"
         "dicom-port-below-1024.conf into /etc/systemd/system/sennen-edged.service.d/, then systemctl "
         "daemon-reload and restart sennen-edged (or have the senders use a port of 1024 or above, such as 11112)";
}

// Our own listening socket (DCMTK 3.6.7 can neither bind one address nor hand a connection to
// another thread before reading its association request). DCMTK's network is opened on a
// throwaway port, and this socket takes the place of its listening socket (dup2 onto the same
// descriptor, which DCMTK closes when the network is dropped); the returned descriptor, the same
// socket, is the one the acceptor polls. Non-blocking, so an accept that finds nothing returns.
util::Fd take_over_listening(T_ASC_Network* net, const std::string& address, std::uint16_t port,
                             const std::string& where) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!address.empty() && ::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
    throw Error(where + ": '" + address + "' is not an IPv4 address to listen on");
  const std::string shown = (address.empty() ? std::string("port ") : address + ":") + std::to_string(port);
  util::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw Error(where + ": cannot create a socket: " + util::errno_text(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.get(), 64) != 0) {
    const int err = errno;
    throw Error(where + ": cannot listen on " + shown + ": " + util::errno_text(err) +
                "; check that no other program uses the port" +
                (address.empty() ? std::string() : " and that the address is this host's") +
                privileged_port_advice(port, err));
  }
  auto* key = static_cast<PRIVATE_NETWORKKEY*>(net->network);
  if (::dup2(fd.get(), key->networkSpecific.TCP.listenSocket) < 0)
    throw Error(where + ": cannot take over DCMTK's listening socket: " + util::errno_text(errno));
  net->acceptorPort = port;
  return fd;
}

// The largest association request taken: what a fresh Linux socket buffers unread (its 128 KiB
// receive buffer advertises 64 KiB), so it is whole before it is checked and handed to DCMTK.
// Real requests are a few KiB (about 25 KiB when a modality proposes every storage class); a
// larger one is refused, as DCMTK would read its unchecked rest (DCMTK's own limit is 1 MiB).
constexpr std::uint32_t kWholeRequestBytes = 60 * 1024;
// How long DCMTK may spend reading a request it was handed. It is whole in the socket's buffer by
// then, so this guards against the unforeseen only: other hand-overs wait meanwhile.
constexpr std::chrono::seconds kHandOverLimit{10};

std::string peer_address(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  char text[INET_ADDRSTRLEN] = "?";
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0 && a.sin_family == AF_INET)
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return text;
}

// Waits until the connection holds its whole A-ASSOCIATE-RQ (or kWholeRequestBytes of it), so
// that DCMTK, which is handed the connection under a process-wide lock, never waits on a peer.
// Returns why not, if it does not come within `limit`: a port scanner, a health check, a peer
// that does not speak DICOM. Only this connection's thread waits for it.
std::string await_association_request(int fd, std::chrono::seconds limit, const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    unsigned char head[6];
    const ssize_t n = ::recv(fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return "closed the connection without an association request";
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return "connection failed before its association request: " + util::errno_text(errno);
    if (n > 0 && head[0] != 0x01)
      return "sent something other than an association request (PDU type " + std::to_string(head[0]) + ")";
    if (n == sizeof head) {
      int buffered = 0;
      if (::ioctl(fd, FIONREAD, &buffered) == 0 &&
          static_cast<std::uint64_t>(buffered) >= std::min<std::uint64_t>(pdu_size(head), kWholeRequestBytes))
        return {};
    }
    if (n > 0) {
      // Part of a request is here: its unread bytes hide the end of the stream from recv(), so a
      // peer that hung up would otherwise be waited for until `limit`. The rest can never come.
      pollfd hup{fd, POLLRDHUP, 0};
      if (::poll(&hup, 1, 0) == 1 && (hup.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return "closed the connection in the middle of its association request";
    }
    if (stop) return "the receiver is stopping";
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return "sent no complete association request within " + std::to_string(limit.count()) + " s";
    if (n > 0) {  // part of the request is here: poll() would return at once, so pace the wait
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
  }
}

// Reads the association request await_association_request saw arrive and checks it before DCMTK
// is handed it: its size, then its structure (association_request.hpp). One refused is consumed
// and answered, with an A-ASSOCIATE-RJ if too large (permanent, service provider, local limit
// exceeded) or an A-ABORT if malformed (service provider, invalid PDU parameter value; PS3.8
// 9.3.4, 9.3.8); why is returned, for the caller to log before the connection is closed. Consuming
// the request first makes the close send a FIN after the answer, not a reset that could discard it.
std::string refuse_before_dcmtk(int fd) {
  // Not zero-filled: recv() writes what is read, and only that is looked at.
  const auto request = std::make_unique_for_overwrite<std::uint8_t[]>(kWholeRequestBytes);
  const ssize_t n = ::recv(fd, request.get(), kWholeRequestBytes, MSG_PEEK | MSG_DONTWAIT);
  if (n < 6) return {};  // gone meanwhile: DCMTK reports it
  const std::uint64_t size = pdu_size(std::span<const std::uint8_t, 6>(request.get(), 6));
  std::string problem;
  std::vector<std::uint8_t> answer;
  if (size > kWholeRequestBytes) {
    problem = "it has " + std::to_string(size) + " bytes, more than the " + std::to_string(kWholeRequestBytes) +
              " taken (A-ASSOCIATE-RJ sent); have the device propose fewer presentation contexts";
    answer = {0x03, 0, 0, 0, 0, 4, 0, 1, 3, 2};
  } else {
    problem = association_request_problem(std::span(request.get(), static_cast<std::size_t>(n)));
    if (problem.empty()) return {};
    problem += " (A-ABORT sent); check that the device is configured for DICOM on this port";
    answer = {0x07, 0, 0, 0, 0, 4, 0, 0, 2, 6};
  }
  ::recv(fd, request.get(), kWholeRequestBytes, MSG_DONTWAIT);
  ::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  return problem;
}

// DCMTK takes an accepted connection only through one process-wide setting; associations of
// every StoreScp in the process pass through here one at a time, normally already fully received.
// DCMTK reads a handed-over request without a timeout, so a guard shuts the socket down (through
// our own duplicate, whose number cannot be reused meanwhile) if the reading outlasts `limit`.
OFCondition receive_association(T_ASC_Network* net, util::Fd conn, std::chrono::seconds limit,
                                T_ASC_Association** assoc) {
  static std::mutex handover;
  std::lock_guard lock(handover);
  util::Fd ours(::fcntl(conn.get(), F_DUPFD_CLOEXEC, 0));
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread guard([&] {
    std::unique_lock l(m);
    if (!cv.wait_for(l, limit, [&] { return done; }) && ours) ::shutdown(ours.get(), SHUT_RDWR);
  });
  dcmExternalSocketHandle.set(conn.release());  // DCMTK owns the socket from here
  OFCondition cond = ASC_receiveAssociation(net, assoc, ASC_DEFAULTMAXPDU, nullptr, nullptr, OFFalse, DUL_BLOCK, 0);
  dcmExternalSocketHandle.set(DCMNET_INVALID_SOCKET);
  {
    std::lock_guard l(m);
    done = true;
  }
  cv.notify_one();
  guard.join();
  return cond;
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
  util::Fd listener;
  std::atomic<bool> stop{false};
  std::atomic<int> serving{0};  // associations accepted and not yet ended
  std::thread acceptor;
  std::list<Worker> workers;                // touched by the acceptor thread only, then by stop() once it is joined
  std::set<std::string> refused_addresses;  // by the acceptor thread only: each is logged once

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

  // Connections waiting for their association request, plus those being served: beyond this,
  // a new connection is closed at once (a flood of them must not become a flood of threads).
  std::size_t max_connections() const { return static_cast<std::size_t>(options.max_associations) + 16; }

  void accept_loop() {
    while (!stop) {
      pollfd p{listener.get(), POLLIN, 0};
      const int ready = ::poll(&p, 1, 1000);  // a one-second wait so stop() is noticed promptly
      reap_finished();
      if (ready <= 0) continue;
      util::Fd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
          // Out of descriptors or memory: the connection stays queued and poll() would report it
          // again at once, so pause instead of spinning and filling the log.
          log::warning(where() + ": cannot accept a connection: " + util::errno_text(errno));
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        continue;
      }
      // A sender not in allowed_addresses is turned away here, before it is given a thread or a
      // connection slot, which it could otherwise hold for acse_timeout, again and again.
      if (const std::string from = peer_address(conn.get());
          !options.allowed_addresses.empty() && !contains(options.allowed_addresses, from)) {
        if (refused_addresses.insert(from).second)
          log::warning(where() + ": closed a connection from " + from +
                       ", which is not in allowed_addresses (logged once per address)");
        continue;
      }
      if (workers.size() >= max_connections()) {
        log::warning(where() + ": closed a connection from " + peer_address(conn.get()) + ": " +
                     std::to_string(workers.size()) + " connections are open already");
        continue;
      }
      // Each connection gets its own thread at once: one that never sends its association request
      // (a port scanner, a health check) holds only that thread, for acse_timeout at most.
      auto owned = std::make_shared<util::Fd>(std::move(conn));
      Worker& w = workers.emplace_back();
      w.done = std::make_shared<std::atomic<bool>>(false);
      try {
        w.thread = std::thread([this, owned, done = w.done] {
          try {
            handle(*owned);
          } catch (const std::exception& e) {  // never let one peer end the service
            log::error(where() + ": " + e.what());
          }
          *done = true;
        });
      } catch (const std::system_error& e) {
        log::error(where() + ": cannot start a thread for a connection: " + e.what());
        workers.pop_back();
      }
    }
  }

  void handle(util::Fd& conn) {
    const std::string from = peer_address(conn.get());
    if (std::string why = await_association_request(conn.get(), options.acse_timeout, stop); !why.empty()) {
      if (!stop) log::warning(where() + ": closed a connection from " + from + ", which " + why);
      return;
    }
    if (std::string why = refuse_before_dcmtk(conn.get()); !why.empty()) {
      log::warning(where() + ": refused the association request from " + from + ": " + why);
      return;
    }
    T_ASC_Association* raw = nullptr;
    OFCondition cond =
        receive_association(net.get(), std::move(conn), std::min(options.acse_timeout, kHandOverLimit), &raw);
    Association assoc(raw);
    if (cond.bad()) {
      log::warning(where() + ": association request from " + from + " failed: " + std::string(cond.text()));
      return;
    }
    if (serving.fetch_add(1) >= options.max_associations) {
      serving.fetch_sub(1);
      log::warning(where() + ": association from " + from + " refused: already serving " +
                   std::to_string(options.max_associations) + " (max_associations); the peer may retry");
      T_ASC_RejectParameters rej{ASC_RESULT_REJECTEDTRANSIENT, ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED,
                                 ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED};
      ASC_rejectAssociation(assoc.get(), &rej);
      return;
    }
    struct Slot {  // gives the place back however serve() ends
      std::atomic<int>& count;
      ~Slot() { count.fetch_sub(1); }
    } slot{serving};
    try {
      serve(assoc.get());
    } catch (...) {
      ASC_abortAssociation(assoc.get());
      throw;
    }
  }

  void reject(T_ASC_Association* assoc, T_ASC_RejectParametersReason reason, const std::string& calling_ae,
              const std::string& why) {
    log::warning(where() + ": association refused: " + why);
    handler.refused(calling_ae, StoreHandler::Refusal::association);
    T_ASC_RejectParameters rej{ASC_RESULT_REJECTEDPERMANENT, ASC_SOURCE_SERVICEUSER, reason};
    ASC_rejectAssociation(assoc, &rej);
  }

  // Accepts each proposed context we can take (storable(), chosen_syntax()) and refuses the rest,
  // naming each refused one in one log line and counting them for the peer: a modality whose
  // images we turn away at negotiation must not go unnoticed.
  OFCondition accept_contexts(T_ASC_Association* assoc, const std::string& calling_ae, const std::string& who) {
    std::vector<std::string> refused;
    const int n = ASC_countPresentationContexts(assoc->params);
    for (int i = 0; i < n; ++i) {
      T_ASC_PresentationContext pc{};
      OFCondition cond = ASC_getPresentationContext(assoc->params, i, &pc);
      if (cond.bad()) return cond;
      const std::string abstract = trimmed_field(pc.abstractSyntax);
      std::string ts = storable(abstract) ? chosen_syntax(pc) : std::string();
      if (!ts.empty()) {
        cond = ASC_acceptPresentationContext(assoc->params, pc.presentationContextID, ts.c_str());
      } else {
        const bool class_ok = storable(abstract);
        std::string offered;
        for (int t = 0; t < pc.transferSyntaxCount; ++t)
          offered += (t ? ", " : "") + uid_name(pc.proposedTransferSyntaxes[t]);
        refused.push_back(util::display_name(uid_name(abstract.c_str())) +
                          (class_ok
                               ? " in " + util::display_name(offered) + " (no transfer syntax we can store as sent)"
                               : " (not a storage SOP class)"));
        cond = ASC_refusePresentationContext(
            assoc->params, pc.presentationContextID,
            class_ok ? ASC_P_TRANSFERSYNTAXESNOTSUPPORTED : ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
      }
      if (cond.bad()) return cond;
    }
    if (!refused.empty()) {
      std::string list;
      for (const auto& r : refused) list += (list.empty() ? "" : "; ") + r;
      log::warning(
          where() + ": refused " + std::to_string(refused.size()) + " of " + std::to_string(n) +
          " presentation contexts proposed by " + who + ": " + list +
          "; what the peer sends in these never arrives (for a transfer syntax: have the sender offer another one "
          "as well, e.g. explicit VR little endian)");
      handler.refused(calling_ae, StoreHandler::Refusal::presentation_context);
    }
    return EC_Normal;
  }

  void serve(T_ASC_Association* assoc) {
    char calling[65] = {}, called[65] = {}, peer[256] = {}, self[256] = {};
    ASC_getAPTitles(assoc->params, calling, sizeof calling, called, sizeof called, nullptr, 0);
    ASC_getPresentationAddresses(assoc->params, peer, sizeof peer, self, sizeof self);
    const std::string calling_ae = trimmed_field(calling), called_ae = trimmed_field(called), peer_host = host_of(peer);
    // AE titles are whatever bytes the peer sent: shown in their display form, compared as sent.
    const std::string who = "'" + util::display_name(calling_ae) + "' from " + util::display_name(peer_host);
    if (called_ae != options.ae_title)
      return reject(
          assoc, ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED, calling_ae,
          who + " called AE title '" + util::display_name(called_ae) + "'; we are '" + options.ae_title + "'");
    if (!contains(options.allowed_calling_ae_titles, calling_ae))
      return reject(assoc, ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED, calling_ae,
                    who + ": calling AE title not in allowed_calling_ae_titles");
    if (!options.allowed_addresses.empty() && !contains(options.allowed_addresses, peer_host))
      return reject(assoc, ASC_REASON_SU_NOREASON, calling_ae, who + ": address not in allowed_addresses");

    // Found by fuzz_dicom_association: a peer that receives PDUs of at most 1 to 12 bytes can be
    // sent no answer (DCMTK needs more), so its instances were kept but never answered, and it
    // sends them again. 0 means no limit.
    if (const long max_pdu = assoc->params->theirMaxPDUReceiveSize; max_pdu > 0 && max_pdu <= 12)
      return reject(assoc, ASC_REASON_SU_NOREASON, calling_ae,
                    who + ": it receives PDUs of at most " + std::to_string(max_pdu) +
                        " bytes, too short for any answer; fix the sender's maximum PDU length");

    OFCondition cond = accept_contexts(assoc, calling_ae, who);
    if (cond.good()) cond = ASC_acknowledgeAssociation(assoc);
    if (cond.bad()) {
      log::warning(where() + ": cannot accept association of " + who + ": " + cond.text());
      return;
    }
    // Debug lines around every accepted association (tests/faults counts kills that land inside one).
    log::debug(where() + ": association of " + who + " open");
    struct Closed {
      std::string text;
      ~Closed() { log::debug(text); }
    } closed{where() + ": association of " + who + " closed"};
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
  OFCondition cond =
      ASC_initializeNetwork(NET_ACCEPTOR, 0, static_cast<int>(o.acse_timeout.count()), &raw);  // throwaway port
  impl_->net.reset(raw);
  if (cond.bad()) throw Error(impl_->where() + ": cannot set up DICOM networking: " + cond.text());
  impl_->listener = take_over_listening(impl_->net.get(), o.bind_address, o.port, impl_->where());
  impl_->stop = false;
  impl_->acceptor = std::thread([this] { impl_->accept_loop(); });
}

void StoreScp::stop() {
  if (!impl_) return;
  impl_->stop = true;
  if (impl_->acceptor.joinable()) impl_->acceptor.join();
  for (auto& w : impl_->workers) w.thread.join();
  impl_->workers.clear();
  impl_->listener = util::Fd();
  impl_->net.reset();
}

}  // namespace sennen::dicom
