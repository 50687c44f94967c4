#include "dap/byte_stream.h"

namespace kdap::dap {

asio::awaitable<void> ByteStream::write_gather(std::span<const std::string_view> parts) {
  for (const std::string_view part : parts) co_await write_all(part);
}

}  // namespace kdap::dap
