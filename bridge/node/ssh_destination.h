#pragma once
// The launch configuration's `host`: `[user@]hostname[:port]`, `[user@][v6addr]:port`, or a ~/.ssh/config
// alias.

#include <optional>
#include <string>
#include <string_view>

namespace kdap::node {

struct SshDestination {
  std::optional<std::string> user;
  std::string host;
  std::optional<unsigned> port;
};

// Throws std::invalid_argument naming what is wrong.
SshDestination parse_ssh_destination(std::string_view text);

}  // namespace kdap::node
