#include "dap/asio_byte_stream.h"

#include <fcntl.h>

#include <array>
#include <optional>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "stream_pairs.h"

namespace kdap::dap {
namespace {

using testing::run;

TEST(AsioByteStream, TcpStreamsDisableNagle) {
  asio::io_context io;
  auto pair = testing::make_tcp_pair(io);
  asio::ip::tcp::no_delay option;
  static_cast<TcpByteStream&>(*pair.a).stream().get_option(option);
  EXPECT_TRUE(option.value());
}

TEST(AsioByteStream, ReadsWhatWasWrittenThenZeroAtEof) {
  asio::io_context io;
  auto pair = testing::make_pipe_pair(io);
  std::string received;
  auto task = [&]() -> asio::awaitable<void> {
    const std::array<std::string_view, 3> parts{"ab", "", "cd"};
    co_await pair.a->write_gather(parts);
    co_await pair.a->write_all("ef");
    pair.a->close();
    std::array<char, 16> buffer;
    for (;;) {
      const std::size_t n = co_await pair.b->read_some(buffer);
      if (n == 0) break;
      received.append(buffer.data(), n);
    }
  };
  run(io, task());
  EXPECT_EQ(received, "abcdef");
}

TEST(AsioByteStream, EofIsStickyOnTcp) {
  asio::io_context io;
  auto pair = testing::make_tcp_pair(io);
  pair.a->close();
  std::vector<std::size_t> results;
  auto task = [&]() -> asio::awaitable<void> {
    std::array<char, 16> buffer;
    for (int i = 0; i < 3; ++i) {
      const std::size_t n = co_await pair.b->read_some(buffer);
      results.push_back(n);
    }
  };
  run(io, task(), std::chrono::seconds(5));
  EXPECT_EQ(results, (std::vector<std::size_t>{0, 0, 0}));
}

TEST(AsioByteStream, CloseIsIdempotentAndEndsAPendingRead) {
  asio::io_context io;
  auto pair = testing::make_tcp_pair(io);
  std::optional<std::size_t> result;
  auto reader = [&]() -> asio::awaitable<void> {
    std::array<char, 16> buffer;
    result = co_await pair.b->read_some(buffer);
  };
  auto closer = [&]() -> asio::awaitable<void> {
    co_await asio::post(io, asio::use_awaitable);
    pair.b->close();
    pair.b->close();
  };
  using namespace boost::asio::experimental::awaitable_operators;
  run(io, reader() && closer());
  EXPECT_EQ(result, 0u);
}

TEST(AsioByteStream, WriteToAClosedStreamThrows) {
  asio::io_context io;
  auto pair = testing::make_tcp_pair(io);
  pair.a->close();
  auto task = [&]() -> asio::awaitable<void> { co_await pair.a->write_all("x"); };
  EXPECT_THROW(run(io, task()), boost::system::system_error);
}

TEST(AsioByteStream, StdioStreamsUseDuplicatesOfTheDescriptors) {
  asio::io_context io;
  auto in = make_stdin_stream(io.get_executor());
  auto out = make_stdout_stream(io.get_executor());
  in->close();
  out->close();
  // Closing our copies leaves the process's own fd 0 and fd 1 open.
  EXPECT_NE(::fcntl(0, F_GETFD), -1);
  EXPECT_NE(::fcntl(1, F_GETFD), -1);
}

}  // namespace
}  // namespace kdap::dap
