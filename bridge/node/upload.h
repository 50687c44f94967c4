#pragma once
// Copying a file from kdap's machine to the node: through a temporary name, checked by SHA-256 on both sides,
// then renamed into place, so a half-copied binary is never run.

#include <string>

#include "bridge/node/node.h"

namespace kdap::node {

struct Upload {
  std::string path;    // where it is on the node
  std::string sha256;  // of the local file, equal to the node's copy
  std::uint64_t size = 0;
};

// The local file's bytes; throws NodeError naming the path when it cannot be read.
std::string read_local_file(const std::string& path);
std::string sha256_hex(std::string_view bytes);

// Copies `local_path` to `<remote_dir>/<name>` with `mode`. Throws NodeError when the copy's SHA-256 on the
// node differs (the temporary file is removed then).
asio::awaitable<Upload> upload_file(Node& node, std::string local_path, std::string remote_dir,
                                    std::string name, std::string mode);

}  // namespace kdap::node
