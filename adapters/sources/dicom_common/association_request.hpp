#pragma once
// The structure of an A-ASSOCIATE-RQ PDU (DICOM PS3.8 9.3.2), checked before DCMTK reads it.
// DCMTK 3.6.7 (Debian 12's) leaks memory on several requests it cannot take: a presentation
// context whose sub-items do not add up, one without a transfer syntax, a request without an
// application context name (it then cannot build its A-ASSOCIATE-AC). Any host that reaches the
// port could grow the service that way, before any AE title is looked at; so what DCMTK would
// give up on, or could not answer, is refused here first. Nothing is refused that PS3.8 allows.
#include <cstdint>
#include <span>
#include <string>

namespace sennen::dicom {

// The reason sent in the A-ABORT for a request refused here (PS3.8 Table 9-26, source: service
// provider): "invalid-PDU-parameter value".
constexpr std::uint8_t kAbortInvalidPduParameter = 6;

// `pdu` is the request from its first byte (PDU type 01H): all of it, or its first bytes when it
// is longer than what the caller waits for; then the items lying wholly inside are checked, and
// the counts (one application context, at least one presentation context) are not.
// Returns why the request is malformed, naming the item and its offset; "" when it is not.
std::string association_request_problem(std::span<const std::uint8_t> pdu);

}  // namespace sennen::dicom
