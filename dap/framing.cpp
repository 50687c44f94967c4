#include "dap/framing.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace kdap::dap {
namespace {

constexpr std::string_view kContentLength = "Content-Length";

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// RFC 7230 token characters; rejecting anything else makes binary junk fail on its first line.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == ':') return false;
  }
  return true;
}

// Error messages quote the offending input; keep them short and printable so logs stay readable.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7f && s[i] != '"' && s[i] != '\\') {
      out.push_back(s[i]);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string http_hint(std::string_view line) {
  if (line.find(" HTTP/") != std::string_view::npos || line.starts_with("HTTP/")) {
    return " (this looks like HTTP; a DAP peer sends Content-Length framed JSON with no request line)";
  }
  return {};
}

// Bodies from this size on that arrive in pieces are collected in a string of their own (see body_).
constexpr std::size_t kBodyOfItsOwn = 64 * 1024;

}  // namespace

FrameParser::FrameParser(std::size_t max_body) : max_body_(max_body) {}

void FrameParser::feed(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  if (in_body_) {
    const std::size_t take = std::min(bytes.size(), *content_length_ - body_.size());
    body_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (bytes.empty()) return;
  }
  compact();
  buffer_.append(bytes);
}

std::optional<std::string> FrameParser::next() {
  if (failed_) throw FramingError(error_);
  if (in_body_) {
    if (body_.size() < *content_length_) return std::nullopt;
    return take_body();
  }
  if (!header_done_ && !parse_header_lines()) return std::nullopt;
  const std::size_t length = *content_length_;
  const std::size_t have = buffer_.size() - offset_;
  if (have < length) {
    if (length >= kBodyOfItsOwn) {
      body_.reserve(length);
      body_.append(buffer_, offset_, have);
      offset_ = line_start_ = scan_from_ = buffer_.size();
      in_body_ = true;
    }
    return std::nullopt;
  }
  std::string body(buffer_, offset_, length);
  offset_ += length;
  line_start_ = scan_from_ = offset_;
  content_length_.reset();
  header_done_ = false;
  return body;
}

std::string FrameParser::take_body() {
  std::string body = std::move(body_);
  body_ = std::string();
  in_body_ = false;
  content_length_.reset();
  header_done_ = false;
  return body;
}

bool FrameParser::parse_header_lines() {
  for (;;) {
    const std::size_t nl = buffer_.find('\n', scan_from_);
    if (nl == std::string::npos) {
      scan_from_ = buffer_.size();
      if (buffer_.size() - offset_ > kMaxHeaderBytes) {
        fail("DAP header section exceeds " + std::to_string(kMaxHeaderBytes) +
             " bytes without the blank line that ends it; starts with \"" +
             excerpt(std::string_view(buffer_).substr(offset_)) + "\"" +
             http_hint(std::string_view(buffer_).substr(offset_)));
      }
      return false;
    }
    if (nl + 1 - offset_ > kMaxHeaderBytes) {
      fail("DAP header section exceeds " + std::to_string(kMaxHeaderBytes) + " bytes");
    }
    if (nl == line_start_ || buffer_[nl - 1] != '\r') {
      fail("DAP header line ends with a bare \\n (header lines end with \\r\\n): \"" +
           excerpt(std::string_view(buffer_).substr(line_start_, nl - line_start_)) + "\"");
    }
    const std::string_view line(buffer_.data() + line_start_, nl - 1 - line_start_);
    line_start_ = scan_from_ = nl + 1;
    if (line.empty()) {
      if (!content_length_) fail("DAP header section has no Content-Length header");
      offset_ = line_start_;
      header_done_ = true;
      return true;
    }
    parse_header_line(line);
  }
}

void FrameParser::parse_header_line(std::string_view line) {
  if (line.find('\r') != std::string_view::npos) {
    fail("DAP header line contains a bare \\r: \"" + excerpt(line) + "\"");
  }
  const std::size_t colon = line.find(':');
  const std::string_view name = trim(line.substr(0, colon));
  if (colon == std::string_view::npos || !is_token(name)) {
    fail("malformed DAP header line \"" + excerpt(line) + "\", expected \"Name: value\"" + http_hint(line));
  }
  // Other headers (Content-Type is the only one ever seen) carry nothing we need.
  if (!iequals(name, kContentLength)) return;
  if (content_length_) fail("duplicate Content-Length header");

  const std::string_view value = trim(line.substr(colon + 1));
  if (value.empty()) fail("Content-Length header has no value");
  if (value.front() == '-') fail("negative Content-Length \"" + excerpt(value) + "\"");
  for (char c : value) {
    if (c < '0' || c > '9') fail("non-numeric Content-Length \"" + excerpt(value) + "\"");
  }
  std::uint64_t length = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
  if (ec == std::errc::result_out_of_range) fail("Content-Length \"" + excerpt(value) + "\" overflows");
  if (ec != std::errc() || end != value.data() + value.size()) {
    fail("non-numeric Content-Length \"" + excerpt(value) + "\"");
  }
  if (length == 0) fail("Content-Length is 0, but a DAP message body is a JSON object");
  if (length > max_body_) {
    fail("Content-Length " + std::to_string(length) + " exceeds the limit of " + std::to_string(max_body_) +
         " bytes");
  }
  content_length_ = static_cast<std::size_t>(length);
}

void FrameParser::fail(std::string message) {
  failed_ = true;
  error_ = std::move(message);
  // The bytes can never be parsed now; do not keep up to max_body of them alive.
  buffer_ = std::string();
  body_ = std::string();
  in_body_ = false;
  offset_ = line_start_ = scan_from_ = 0;
  throw FramingError(error_);
}

// Consumed bytes are dropped only once they outnumber the live ones, so each byte is moved at most once on
// average and next() never copies the whole buffer.
void FrameParser::compact() {
  if (offset_ == 0) return;
  const std::size_t live = buffer_.size() - offset_;
  if (live == 0) {
    // One huge message should not pin its buffer for the rest of the session.
    constexpr std::size_t kKeepCapacity = 1024 * 1024;
    if (buffer_.capacity() > kKeepCapacity) {
      buffer_ = std::string();
    } else {
      buffer_.clear();
    }
  } else if (offset_ >= live) {
    buffer_.erase(0, offset_);
  } else {
    return;
  }
  line_start_ -= offset_;
  scan_from_ -= offset_;
  offset_ = 0;
}

std::string frame_header(std::size_t body_size) {
  std::string header(kContentLength);
  header += ": ";
  header += std::to_string(body_size);
  header += "\r\n\r\n";
  return header;
}

std::string frame(std::string_view body) {
  std::string out = frame_header(body.size());
  out.append(body);
  return out;
}

}  // namespace kdap::dap
