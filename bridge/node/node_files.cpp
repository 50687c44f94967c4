#include "bridge/node/node_files.h"

#include <sstream>

#include "bridge/node/shell.h"

namespace kdap::node {
namespace {
constexpr auto kFileTimeout = std::chrono::seconds(30);
}

asio::awaitable<std::optional<std::string>> read_file(Node& node, std::string path, std::size_t max_bytes) {
  auto q = shell_quote(path);
  auto r = co_await node.run(
      "if [ ! -e " + q + " ]; then exit 3; fi; head -c " + std::to_string(max_bytes + 1) + " -- " + q,
      kFileTimeout);
  if (r.exit_status == 3) co_return std::nullopt;
  if (!r.ok()) throw NodeError("cannot read " + path + " on " + node.describe() + ": " + r.err);
  if (r.out.size() > max_bytes) {
    throw NodeError(path + " on " + node.describe() + " is larger than " + std::to_string(max_bytes) +
                    " bytes");
  }
  co_return std::move(r.out);
}

asio::awaitable<std::optional<FileInfo>> stat_file(Node& node, std::string path) {
  auto q = shell_quote(path);
  auto r = co_await node.run(
      "if [ ! -e " + q + " ]; then exit 3; fi; stat -c '%a %u:%g %s' -- " + q + " && sha256sum -- " + q,
      kFileTimeout);
  if (r.exit_status == 3) co_return std::nullopt;
  if (!r.ok()) throw NodeError("cannot stat " + path + " on " + node.describe() + ": " + r.err);
  std::istringstream in(r.out);
  FileInfo info;
  in >> info.mode >> info.owner >> info.size >> info.sha256;
  if (info.sha256.size() != 64) throw NodeError("unexpected stat output for " + path + ": " + r.out);
  co_return info;
}

asio::awaitable<void> move_file(Node& node, std::string from, std::string to) {
  auto r = co_await node.run("mv -f -- " + shell_quote(from) + " " + shell_quote(to), kFileTimeout);
  if (!r.ok()) {
    throw NodeError("cannot move " + from + " to " + to + " on " + node.describe() + ": " + r.err);
  }
}

asio::awaitable<void> make_private_dir(Node& node, std::string path) {
  auto q = shell_quote(path);
  auto r = co_await node.run("mkdir -p -- " + q + " && chmod 700 -- " + q, kFileTimeout);
  if (!r.ok()) {
    throw NodeError("cannot create " + path + " on " + node.describe() + ": " + r.err +
                    " (kdap needs root on the node, or set stateDir to a writable place)");
  }
}

asio::awaitable<void> write_file(Node& node, std::string path, std::string content, std::string mode) {
  auto q = shell_quote(path);
  auto tmp = shell_quote(path + ".kdap-tmp");
  auto dir = shell_quote(path.substr(0, path.rfind('/') == 0 ? 1 : path.rfind('/')));
  auto r = co_await node.run("mkdir -p -- " + dir + " && cat > " + tmp + " && chmod " + shell_quote(mode) +
                                 " " + tmp + " && mv -f -- " + tmp + " " + q,
                             kFileTimeout, std::move(content));
  if (!r.ok()) throw NodeError("cannot write " + path + " on " + node.describe() + ": " + r.err);
}

asio::awaitable<std::optional<std::string>> resolve_program(Node& node, std::string program) {
  std::string cmd = program.find('/') != std::string::npos
                        ? "[ -x " + shell_quote(program) + " ] && [ -f " + shell_quote(program) +
                              " ] && echo " + shell_quote(program)
                        : "command -v -- " + shell_quote(program);
  auto r = co_await node.run(cmd, kFileTimeout);
  if (!r.ok()) co_return std::nullopt;
  auto path = r.out.substr(0, r.out.find('\n'));
  if (path.empty() || path.front() != '/') co_return std::nullopt;
  co_return path;
}

}  // namespace kdap::node
