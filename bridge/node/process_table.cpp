#include "bridge/node/process_table.h"

#include <charconv>
#include <map>

namespace kdap::node {

std::vector<ProcessInfo> parse_cmdline_dump(std::string_view dump) {
  std::map<int, ProcessInfo> by_pid;
  while (!dump.empty()) {
    auto end = dump.find('\0');
    std::string_view record = dump.substr(0, end);
    dump.remove_prefix(end == std::string_view::npos ? dump.size() : end + 1);
    constexpr std::string_view prefix = "/proc/";
    constexpr std::string_view suffix = "/cmdline:";
    if (record.substr(0, prefix.size()) != prefix) continue;
    auto tail = record.find(suffix);
    if (tail == std::string_view::npos) continue;
    int pid = 0;
    auto digits = record.substr(prefix.size(), tail - prefix.size());
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) continue;
    auto& info = by_pid[pid];
    info.pid = pid;
    info.argv.emplace_back(record.substr(tail + suffix.size()));
  }
  std::vector<ProcessInfo> result;
  result.reserve(by_pid.size());
  for (auto& [pid, info] : by_pid) result.push_back(std::move(info));
  return result;
}

asio::awaitable<std::vector<ProcessInfo>> list_processes(Node& node) {
  // Exit status 2 only means some process ended while grep read the list.
  auto r =
      co_await node.run("grep -a -z -H '' /proc/[0-9]*/cmdline 2>/dev/null; true", std::chrono::seconds(30));
  co_return parse_cmdline_dump(r.out);
}

}  // namespace kdap::node
