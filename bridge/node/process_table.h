#pragma once
// The node's processes, read from /proc/*/cmdline in a single command (grep -z keeps every argument
// boundary exact, which `ps` output would not).

#include <string>
#include <vector>

#include "bridge/node/node.h"

namespace kdap::node {

struct ProcessInfo {
  int pid = 0;
  std::vector<std::string> argv;
};

asio::awaitable<std::vector<ProcessInfo>> list_processes(Node& node);
// Parses `grep -a -z -H '' /proc/[0-9]*/cmdline` output: records "/proc/PID/cmdline:ARG\0".
std::vector<ProcessInfo> parse_cmdline_dump(std::string_view dump);

}  // namespace kdap::node
