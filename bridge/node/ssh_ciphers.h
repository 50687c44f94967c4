#pragma once
// Which cipher kdap asks the node's sshd for. Both ends pay for it on every packet, and sshd's share lies on
// every relayed request's path.

#include <optional>
#include <string>

namespace kdap::node {

// AES-GCM first when this CPU has AES and carry-less multiply instructions: with them OpenSSL's AES-GCM runs
// about three times as fast as ChaCha20-Poly1305, at both ends (OpenSSH and libssh put ChaCha20 first because
// it is fast and constant-time without them). The same algorithms as libssh's default, only reordered;
// nullopt keeps libssh's default. A `Ciphers` line in the SSH configuration still wins.
std::optional<std::string> preferred_ciphers();
std::string ciphers_for(bool aes_in_hardware);

}  // namespace kdap::node
