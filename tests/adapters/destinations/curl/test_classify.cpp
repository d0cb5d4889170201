// The one retry-or-refusal rule shared by the https and s3 destinations, on the outcomes libcurl
// reports. The wording against real peers is checked by the destinations' own tests.
#include <doctest/doctest.h>

#include "adapters/destinations/curl/classify.hpp"

namespace {
using sennen::DeliveryResult;
using namespace sennen::destinations::curl;
using Status = DeliveryResult::Status;

Peer receiver() {
  return {"the receiver",
          "destination.url",
          "destination.tls.ca (/etc/sennen-edge/ca.crt)",
          "",
          "/etc/sennen-edge/site.crt",
          "/etc/sennen-edge/site.key",
          2048,
          std::chrono::seconds(20)};
}

Outcome answered(long status) {
  Outcome o;
  o.status = status;
  return o;
}

Outcome failed(CURLcode code, const char* message) {
  Outcome o;
  o.code = code;
  o.curl_error = message;
  return o;
}

// An interpreter that says who answered and always offers the same advice, so the tests see
// when the advice is used.
Answer plain(const Outcome& o) { return {"answered " + std::to_string(o.status), ": do X", false}; }

}  // namespace

TEST_CASE("2xx is delivered; 5xx, 408 and 429 retry; other 4xx and 3xx are refusals with the advice") {
  for (long s : {200L, 201L, 204L})
    CHECK(result_of(answered(s), "uploading u", receiver(), plain).status == Status::delivered);
  for (long s : {500L, 502L, 503L, 504L, 408L, 429L}) {
    auto r = result_of(answered(s), "uploading u", receiver(), plain);
    CHECK(r.status == Status::retry);
    CHECK(r.reason == "uploading u: answered " + std::to_string(s) + "; will try again");
  }
  for (long s : {301L, 400L, 401L, 403L, 404L, 405L, 409L, 413L, 422L}) {
    auto r = result_of(answered(s), "uploading u", receiver(), plain);
    CHECK(r.status == Status::rejected);
    CHECK(r.reason == "uploading u: answered " + std::to_string(s) + ": do X");
  }
}

TEST_CASE("a refusal without advice says the batch is kept; a protocol's transient code retries") {
  auto r = result_of(answered(418), "w", receiver(), [](const Outcome&) { return Answer{"said", {}, false}; });
  CHECK(r.status == Status::rejected);
  CHECK(r.reason == "w: said; the batch is kept and will be sent when this is fixed");
  r = result_of(answered(503), "w", receiver(), [](const Outcome&) { return Answer{"said", ": ignored", false}; });
  CHECK(r.reason == "w: said; will try again");
  r = result_of(answered(400), "w", receiver(), [](const Outcome&) { return Answer{"said", ": damaged", true}; });
  CHECK(r.status == Status::retry);
  CHECK(r.reason == "w: said: damaged");
}

TEST_CASE("network faults and stalls retry, naming the stall limits") {
  for (CURLcode c : {CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
                     CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SSL_CONNECT_ERROR, CURLE_OPERATION_TIMEDOUT})
    CHECK(result_of(failed(c, "boom"), "w", receiver(), plain).status == Status::retry);
  auto r = transport_failure(failed(CURLE_OPERATION_TIMEDOUT, "Operation too slow"), "uploading u", receiver());
  CHECK(r.reason.find("the transfer stalled below 2048 bytes/s for 20s (Operation too slow)") != std::string::npos);
  r = transport_failure(failed(CURLE_SEND_ERROR, "Connection reset by peer"), "uploading u", receiver());
  CHECK(r.reason.find("the connection to the receiver broke during the transfer (Connection reset by peer)") !=
        std::string::npos);
}

TEST_CASE("certificate and address problems are refusals that name the setting to fix") {
  auto r = transport_failure(failed(CURLE_PEER_FAILED_VERIFICATION, "no alternative certificate subject name"), "w",
                             receiver());
  CHECK(r.status == Status::rejected);
  CHECK(r.reason.find("the receiver's TLS certificate was not accepted (no alternative certificate subject name)") !=
        std::string::npos);
  CHECK(r.reason.find("destination.tls.ca (/etc/sennen-edge/ca.crt)") != std::string::npos);
  CHECK(r.reason.find("name the host in destination.url") != std::string::npos);
  r = transport_failure(failed(CURLE_SSL_CERTPROBLEM, "unable to set private key file"), "w", receiver());
  CHECK(r.status == Status::rejected);
  CHECK(r.reason.find("/etc/sennen-edge/site.crt, /etc/sennen-edge/site.key") != std::string::npos);
  CHECK(transport_failure(failed(CURLE_SSL_CACERT_BADFILE, "x"), "w", receiver()).status == Status::rejected);
  CHECK(transport_failure(failed(CURLE_URL_MALFORMAT, "x"), "w", receiver()).status == Status::rejected);
}
