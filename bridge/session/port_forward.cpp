#include "bridge/session/port_forward.h"

#include <array>

#include "bridge/util/race.h"

namespace kdap::session {
namespace {

boost::asio::awaitable<void> copy(dap::ByteStream& from, dap::ByteStream& to) {
  std::array<char, 64 * 1024> buffer;
  for (;;) {
    std::size_t n = co_await from.read_some(buffer);
    if (n == 0) co_return;
    co_await to.write_all(std::string_view(buffer.data(), n));
  }
}

}  // namespace

boost::asio::awaitable<void> join_streams(dap::ByteStream& a, dap::ByteStream& b) {
  try {
    co_await race(copy(a, b), copy(b, a));
  } catch (const std::exception&) {
    // Either side failing ends the forward the same way as a clean close.
  }
  a.close();
  b.close();
}

}  // namespace kdap::session
