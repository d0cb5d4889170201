#pragma once
// Root reads what its permissions forbid (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a test of an
// unreadable file or folder run as root would prove nothing. While a WithoutFileAccessOverride
// lives, this process keeps neither capability in its effective set and obeys permissions like
// the service user (a file root owns with mode 000 is unreadable to it too); they come back
// when it ends. Not root: nothing to drop, permissions apply anyway.
namespace sennen::test {

class WithoutFileAccessOverride {
 public:
  WithoutFileAccessOverride();
  ~WithoutFileAccessOverride();
  WithoutFileAccessOverride(const WithoutFileAccessOverride&) = delete;
  WithoutFileAccessOverride& operator=(const WithoutFileAccessOverride&) = delete;

 private:
  bool dropped_ = false;
};

}  // namespace sennen::test
