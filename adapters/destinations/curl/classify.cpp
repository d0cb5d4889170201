#include "adapters/destinations/curl/classify.hpp"

namespace sennen::destinations::curl {

bool transient_status(long s) { return s >= 500 || s == 408 || s == 429; }

DeliveryResult transport_failure(const Outcome& o, const std::string& what, const Peer& peer) {
  const std::string detail = " (" + o.curl_error + ")";
  const std::string& who = peer.name;
  switch (o.code) {
    case CURLE_PEER_FAILED_VERIFICATION:  // a CA mismatch and a host-name mismatch alike
      return rejected(
          what + ": " + who + "'s TLS certificate was not accepted" + detail + ": it must be issued by a CA in " +
          peer.trust + " and name the host in " + peer.address_key + peer.host_note +
          "; nothing was sent. Ask the central team for their current CA certificate, or correct " + peer.address_key);
    case CURLE_SSL_CACERT_BADFILE:
      return rejected(what + ": cannot use " + peer.trust + detail +
                      "; check that the file exists, is readable by the sennen-edge user and holds a PEM "
                      "CA certificate");
    case CURLE_SSL_CERTPROBLEM:
      return rejected(what + ": cannot use this site's client certificate or key (" + peer.cert.string() + ", " +
                      peer.key.string() + ")" + detail +
                      "; check that both files exist, are readable by the sennen-edge user, are PEM, and "
                      "belong together");
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return rejected(what + ": " + peer.address_key + " is not usable" + detail + "; correct it in the configuration");
    case CURLE_OPERATION_TIMEDOUT:
      return retry(what + ": " + who + " did not answer in time, or the transfer stalled below " +
                   std::to_string(peer.low_speed_bytes) + " bytes/s for " +
                   std::to_string(peer.low_speed_time.count()) + "s" + detail +
                   "; will try again (destination.low_speed_limit and low_speed_time set what counts "
                   "as a stall)");
    case CURLE_SSL_CONNECT_ERROR:
      return retry(what + ": the TLS handshake with " + who + " failed" + detail + "; will try again. If this " +
                   "persists, " + who + " may not offer TLS 1.2 or newer" +
                   (peer.cert.empty() ? "" : ", or may not accept this site's client certificate"));
    case CURLE_COULDNT_RESOLVE_HOST:
      return retry(what + ": cannot resolve " + who + "'s host name" + detail + "; check DNS on this machine and " +
                   peer.address_key + "; will try again");
    case CURLE_COULDNT_CONNECT:
      return retry(what + ": cannot connect to " + who + detail +
                   "; it may be down, or a firewall blocks the port; will try again");
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return retry(what + ": the connection to " + who + " broke during the transfer" + detail +
                   "; nothing incomplete counts as delivered; will try again");
    default:
      return retry(what + ": transfer failed" + detail + "; will try again");
  }
}

DeliveryResult result_of(const Outcome& o, const std::string& what, const Peer& peer, const Interpret& interpret) {
  if (o.code != CURLE_OK) return transport_failure(o, what, peer);
  if (o.status >= 200 && o.status < 300) return DeliveryResult::delivered();
  const Answer a = interpret(o);
  if (transient_status(o.status)) return retry(what + ": " + a.said + "; will try again");
  if (a.transient) return retry(what + ": " + a.said + (a.advice.empty() ? "; will try again" : a.advice));
  return rejected(what + ": " + a.said +
                  (a.advice.empty() ? "; the batch is kept and will be sent when this is fixed" : a.advice));
}

}  // namespace sennen::destinations::curl
