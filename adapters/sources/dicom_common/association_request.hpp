#pragma once
// The structure of an A-ASSOCIATE-RQ PDU (DICOM PS3.8 9.3.2), checked before DCMTK reads it.
// DCMTK 3.6.7 (Debian 12's) leaks memory on several requests it cannot take: a presentation
// context whose sub-items do not add up, one without a transfer syntax, a request without an
// application context name (it then cannot build its A-ASSOCIATE-AC). Any host that reaches the
// port could grow the service that way, before any AE title is looked at; so what DCMTK would
// give up on, or could not answer, is refused here first. Nothing is refused that PS3.8 (and PS3.7 Annex D, for
// the user information sub-items) allows.
#include <cstdint>
#include <span>
#include <string>

namespace sennen::dicom {

// The size of a PDU, header included, from its first 6 bytes (type, reserved, 32-bit length).
std::uint64_t pdu_size(std::span<const std::uint8_t, 6> header);

// `pdu` is the whole request, from its first byte (PDU type 01H). Returns why it is malformed,
// naming the item and its offset; "" when it is not.
std::string association_request_problem(std::span<const std::uint8_t> pdu);

}  // namespace sennen::dicom
