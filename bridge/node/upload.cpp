#include "bridge/node/upload.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <openssl/evp.h>

#include "bridge/node/shell.h"

namespace kdap::node {
namespace {
// A 200 MB component over a slow link: generous, but bounded.
constexpr auto kUploadTimeout = std::chrono::seconds(900);
}  // namespace

std::string read_local_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NodeError("cannot read " + path + " on this machine");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw NodeError("reading " + path + " on this machine failed");
  return std::move(bytes).str();
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw NodeError("SHA-256 failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

asio::awaitable<Upload> upload_file(Node& node, std::string local_path, std::string remote_dir,
                                    std::string name, std::string mode) {
  std::string bytes = read_local_file(local_path);
  Upload upload;
  upload.sha256 = sha256_hex(bytes);
  upload.size = bytes.size();
  upload.path = remote_dir + "/" + name;
  std::string tmp = remote_dir + "/." + name + ".kdap-upload-" + std::to_string(::getpid());
  auto r = co_await node.run("umask 077 && mkdir -p -- " + shell_quote(remote_dir) + " && cat > " +
                                 shell_quote(tmp) + " && chmod " + shell_quote(mode) + " " +
                                 shell_quote(tmp) + " && sha256sum -- " + shell_quote(tmp),
                             kUploadTimeout, std::move(bytes));
  std::string remote_sum = r.out.substr(0, r.out.find(' '));
  if (!r.ok() || remote_sum != upload.sha256) {
    co_await node.run("rm -f -- " + shell_quote(tmp), std::chrono::seconds(30));
    throw NodeError(
        "uploading " + local_path + " to " + node.describe() + ":" + upload.path + " failed: " +
        (r.ok() ? "the copy's SHA-256 is " + remote_sum + ", the local file's " + upload.sha256 : r.err));
  }
  auto moved = co_await node.run("mv -f -- " + shell_quote(tmp) + " " + shell_quote(upload.path),
                                 std::chrono::seconds(30));
  if (!moved.ok()) throw NodeError("cannot move the upload into place at " + upload.path + ": " + moved.err);
  co_return upload;
}

}  // namespace kdap::node
