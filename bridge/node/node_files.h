#pragma once
// File operations on a node, built from plain POSIX commands so they work the same over SSH and locally
// and need nothing installed on the node.

#include <optional>
#include <string>

#include "bridge/node/node.h"

namespace kdap::node {

struct FileInfo {
  std::string mode;   // octal, as stat prints it
  std::string owner;  // uid:gid
  std::uint64_t size = 0;
  std::string sha256;
};

// nullopt when the file does not exist; throws NodeError when it exists but cannot be read.
asio::awaitable<std::optional<std::string>> read_file(Node& node, std::string path,
                                                      std::size_t max_bytes = 16 << 20);
asio::awaitable<std::optional<FileInfo>> stat_file(Node& node, std::string path);
// rename(2) semantics where possible (mv keeps bytes, mode and owner; across filesystems it copies them).
asio::awaitable<void> move_file(Node& node, std::string from, std::string to);
asio::awaitable<void> make_private_dir(Node& node, std::string path);
// Writes `content` to `path` (parent directories created) through a temporary name and a rename, so a reader
// never sees half a file; `mode` is octal, e.g. "0644".
asio::awaitable<void> write_file(Node& node, std::string path, std::string content, std::string mode);
// Resolves a bare program name through the node's PATH; absolute paths are checked for existence.
asio::awaitable<std::optional<std::string>> resolve_program(Node& node, std::string program);

}  // namespace kdap::node
