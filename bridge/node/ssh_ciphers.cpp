#include "bridge/node/ssh_ciphers.h"

#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace kdap::node {

namespace {

bool cpu_has_aes_gcm_instructions() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__)
  unsigned long caps = ::getauxval(AT_HWCAP);
  return (caps & HWCAP_AES) && (caps & HWCAP_PMULL);
#else
  return false;
#endif
}

}  // namespace

std::string ciphers_for(bool aes_in_hardware) {
  std::string aes_gcm = "aes256-gcm@openssh.com,aes128-gcm@openssh.com";
  std::string chacha = "chacha20-poly1305@openssh.com";
  std::string aes_ctr = "aes256-ctr,aes192-ctr,aes128-ctr";
  return aes_in_hardware ? aes_gcm + "," + chacha + "," + aes_ctr : chacha + "," + aes_gcm + "," + aes_ctr;
}

std::optional<std::string> preferred_ciphers() {
  if (!cpu_has_aes_gcm_instructions()) return std::nullopt;
  return ciphers_for(true);
}

}  // namespace kdap::node
