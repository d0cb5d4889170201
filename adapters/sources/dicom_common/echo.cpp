#include "adapters/sources/dicom_common/echo.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/scu.h>

namespace sennen::dicom {

std::string echo(const EchoPeer& peer) {
  DcmSCU scu;
  scu.setAETitle(peer.calling_ae);
  scu.setPeerAETitle(peer.called_ae);
  scu.setPeerHostName(peer.host);
  scu.setPeerPort(static_cast<Uint16>(peer.port));
  const auto secs = static_cast<Uint32>(peer.timeout.count());
  scu.setConnectionTimeout(static_cast<Sint32>(secs));
  scu.setACSETimeout(secs);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setDIMSETimeout(secs);
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
  scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
  const std::string where = peer.called_ae + "@" + peer.host + ":" + std::to_string(peer.port);
  OFCondition c = scu.initNetwork();
  if (c.bad()) return "cannot set up the DICOM network layer: " + std::string(c.text());
  c = scu.negotiateAssociation();
  if (c.bad())
    return "no association with " + where + " as " + peer.calling_ae + ": " + c.text() +
           " (check host, port and both AE titles, and that the PACS knows this AE title)";
  if (scu.findPresentationContextID(UID_VerificationSOPClass, "") == 0) {
    scu.releaseAssociation();
    return where + " does not accept Verification (C-ECHO)";
  }
  c = scu.sendECHORequest(0);
  scu.releaseAssociation();
  if (c.bad()) return "C-ECHO to " + where + " failed: " + std::string(c.text());
  return "";
}

}  // namespace sennen::dicom
