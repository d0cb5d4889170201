#include "tests/support/permissions.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <stdexcept>

namespace sennen::test {
namespace {

constexpr unsigned kDacBits = (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH);

bool set_effective(bool with_dac) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  data[0].effective = with_dac ? data[0].effective | (data[0].permitted & kDacBits) : data[0].effective & ~kDacBits;
  return ::syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

WithoutFileAccessOverride::WithoutFileAccessOverride() {
  if (::geteuid() != 0) return;
  if (!set_effective(false)) throw std::runtime_error("cannot drop CAP_DAC_OVERRIDE for this test");
  dropped_ = true;
}

WithoutFileAccessOverride::~WithoutFileAccessOverride() {
  if (dropped_) (void)set_effective(true);  // as the test began; nothing to do if that fails
}

}  // namespace sennen::test
