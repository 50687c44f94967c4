#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kdap::dap {

// Largest body we accept. dlv's biggest replies (deep variables, long stack traces, big strings) stay in the
// low megabytes because dlv itself truncates loaded values; 64 MiB leaves two orders of magnitude of headroom
// while bounding what a confused or hostile peer can make kdap allocate per message. (clangd uses 1 GiB, but
// it talks to one local editor; kdap buffers both directions of a network relay.)
inline constexpr std::size_t kDefaultMaxBody = 64 * 1024 * 1024;

// A real DAP header section is one or two short lines. Anything this long without the blank line that ends
// the header is not DAP (an HTTP client, a TLS handshake, a shell banner): fail rather than buffer it.
inline constexpr std::size_t kMaxHeaderBytes = 8 * 1024;

class FramingError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

// Incremental `Content-Length` framing as used by DAP (and LSP): feed whatever the transport delivered, then
// call next() until it returns nullopt. Once next() has thrown, the stream is unrecoverable (we cannot know
// where the next message starts) and every later call throws the same error.
class FrameParser {
 public:
  explicit FrameParser(std::size_t max_body = kDefaultMaxBody);

  void feed(std::string_view bytes);
  std::optional<std::string> next();
  std::size_t buffered() const { return buffer_.size() - offset_ + body_.size(); }
  bool failed() const { return failed_; }

 private:
  // Returns true once the header section is complete and body_length_ is known.
  bool parse_header_lines();
  void parse_header_line(std::string_view line);
  [[noreturn]] void fail(std::string message);
  void compact();
  std::string take_body();

  std::size_t max_body_;
  std::string buffer_;
  // A large body that had not fully arrived when its header was parsed is collected here, in a string of its
  // final size, and handed out as it is: one copy of its bytes instead of a growing buffer and a copy out.
  std::string body_;
  bool in_body_ = false;
  std::size_t offset_ = 0;      // first byte not yet consumed
  std::size_t line_start_ = 0;  // start of the header line being parsed (absolute index into buffer_)
  std::size_t scan_from_ = 0;   // where to resume looking for '\n', so single-byte feeds stay linear
  std::optional<std::size_t> content_length_;
  bool header_done_ = false;
  bool failed_ = false;
  std::string error_;
};

// "Content-Length: N\r\n\r\n" — separate so writers can send header and body without concatenating them.
std::string frame_header(std::size_t body_size);
// Header + body in one string; convenient for tests and small messages.
std::string frame(std::string_view body);

}  // namespace kdap::dap
