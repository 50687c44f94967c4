#include "dap/message_stream.h"

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "stream_pairs.h"

namespace kdap::dap {
namespace {

using namespace boost::asio::experimental::awaitable_operators;
using testing::make_pair;
using testing::run;
using testing::StreamPair;

// A peer that vanished must surface as EPIPE from write(), not kill the test binary.
const bool kSigpipeIgnored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();

std::string body_number(int i) {
  return "{\"seq\":" + std::to_string(i) + ",\"type\":\"event\"}";
}

// Built outside the coroutines: g++ 12 rejects initializer lists inside a coroutine lambda ("array used as
// initializer").
std::string tagged_body(int from, int i, const std::string& pad) {
  return nlohmann::json{{"from", from}, {"i", i}, {"pad", pad}}.dump();
}

// g++ 12 miscompiles co_await inside conditions (the EXPECT_* macros expand to one), so tests await first and
// assert afterwards.
asio::awaitable<bool> throws_framing_error(MessageReader& reader) {
  bool threw = false;
  try {
    co_await reader.read();
  } catch (const FramingError&) {
    threw = true;
  }
  co_return threw;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

class MessageStreamTest : public ::testing::TestWithParam<std::string> {
 protected:
  asio::io_context io;
  StreamPair pair = make_pair(GetParam(), io);
};

TEST_P(MessageStreamTest, DeliversManyMessagesInOrder) {
  ASSERT_TRUE(kSigpipeIgnored);
  constexpr int kCount = 2000;
  MessageWriter writer(*pair.a, io.get_executor());
  MessageReader reader(*pair.b);
  std::vector<std::string> received;

  auto produce = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < kCount; ++i) {
      if (i % 2 == 0) {
        writer.post(body_number(i));
      } else {
        co_await writer.send(body_number(i));
      }
    }
    co_await writer.drain();
  };
  auto consume = [&]() -> asio::awaitable<void> {
    while (received.size() < kCount) {
      auto body = co_await reader.read();
      if (!body) break;
      received.push_back(std::move(*body));
    }
  };
  run(io, produce() && consume());
  ASSERT_EQ(received.size(), static_cast<std::size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(received[i], body_number(i));
}

TEST_P(MessageStreamTest, SendersFromSeveralCoroutinesAreSerialised) {
  MessageWriter writer(*pair.a, io.get_executor());
  MessageReader reader(*pair.b);
  std::vector<std::string> received;
  const std::string pad(300 * 1024, 'x');

  auto produce = [&](int id) -> asio::awaitable<void> {
    for (int i = 0; i < 20; ++i) {
      co_await writer.send(tagged_body(id, i, pad));
    }
  };
  auto consume = [&]() -> asio::awaitable<void> {
    while (received.size() < 60) {
      auto body = co_await reader.read();
      received.push_back(body.value());
    }
  };
  run(io, (produce(1) && produce(2) && produce(3)) && consume());
  // Every message arrives whole (frames never interleave), and each sender's messages keep their order.
  std::map<int, int> next_index;
  for (const auto& body : received) {
    const auto message = nlohmann::json::parse(body);
    EXPECT_EQ(message["pad"], pad);
    EXPECT_EQ(message["i"], next_index[message["from"].get<int>()]++);
  }
  EXPECT_EQ(next_index, (std::map<int, int>{{1, 20}, {2, 20}, {3, 20}}));
}

TEST_P(MessageStreamTest, FourMebibyteMessage) {
  MessageWriter writer(*pair.a, io.get_executor());
  MessageReader reader(*pair.b);
  std::string big = "{\"output\":\"";
  while (big.size() < 4 * 1024 * 1024) big += "0123456789abcdef";
  big += "\"}";
  std::optional<std::string> received;
  auto produce = [&]() -> asio::awaitable<void> {
    co_await writer.send(big);
    writer.post("{}");
    co_await writer.drain();
  };
  auto consume = [&]() -> asio::awaitable<void> {
    received = co_await reader.read();
    const auto second = co_await reader.read();
    EXPECT_EQ(second, "{}");
  };
  run(io, produce() && consume());
  ASSERT_TRUE(received);
  EXPECT_EQ(received->size(), big.size());
  EXPECT_TRUE(*received == big);
}

TEST_P(MessageStreamTest, CleanEofIsNullopt) {
  MessageWriter writer(*pair.a, io.get_executor());
  MessageReader reader(*pair.b);
  std::vector<std::optional<std::string>> received;
  auto produce = [&]() -> asio::awaitable<void> {
    writer.post("{\"a\":1}");
    writer.post("{\"a\":2}");
    co_await writer.drain();
    pair.a->close();
  };
  auto consume = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 4; ++i) received.push_back(co_await reader.read());
  };
  run(io, produce() && consume());
  EXPECT_EQ(received,
            (std::vector<std::optional<std::string>>{"{\"a\":1}", "{\"a\":2}", std::nullopt, std::nullopt}));
}

TEST_P(MessageStreamTest, FramingErrorSurfaces) {
  MessageReader reader(*pair.b);
  auto produce = [&]() -> asio::awaitable<void> {
    co_await pair.a->write_all(frame("{}") + "Content-Length: twelve\r\n\r\n{}");
  };
  auto consume = [&]() -> asio::awaitable<void> {
    const auto first = co_await reader.read();
    EXPECT_EQ(first, "{}");
    const bool threw = co_await throws_framing_error(reader);
    EXPECT_TRUE(threw);
  };
  run(io, produce() && consume());
}

TEST_P(MessageStreamTest, EofInsideAMessageIsAFramingError) {
  MessageReader reader(*pair.b);
  auto produce = [&]() -> asio::awaitable<void> {
    co_await pair.a->write_all("Content-Length: 10\r\n\r\n{\"a\"");
    pair.a->close();
  };
  auto consume = [&]() -> asio::awaitable<void> {
    const bool threw = co_await throws_framing_error(reader);
    EXPECT_TRUE(threw);
  };
  run(io, produce() && consume());
}

TEST_P(MessageStreamTest, ReaderHonoursItsBodyCap) {
  MessageReader reader(*pair.b, 16);
  auto produce = [&]() -> asio::awaitable<void> { co_await pair.a->write_all(frame(std::string(17, ' '))); };
  auto consume = [&]() -> asio::awaitable<void> {
    const bool threw = co_await throws_framing_error(reader);
    EXPECT_TRUE(threw);
  };
  run(io, produce() && consume());
}

TEST_P(MessageStreamTest, SendAppliesBackpressure) {
  MessageWriter writer(*pair.a, io.get_executor());
  MessageReader reader(*pair.b);
  const std::string mib(1024 * 1024, ' ');
  std::size_t most_queued_after_send = 0;
  int received = 0;
  auto produce = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 24; ++i) {
      co_await writer.send("{}" + mib);
      most_queued_after_send = std::max(most_queued_after_send, writer.queued_bytes());
    }
    co_await writer.drain();
  };
  auto consume = [&]() -> asio::awaitable<void> {
    co_await sleep_for(std::chrono::milliseconds(50));  // let the queue fill up first
    while (received < 24) {
      const auto body = co_await reader.read();
      if (!body) break;
      ++received;
    }
  };
  run(io, produce() && consume());
  EXPECT_EQ(received, 24);
  EXPECT_LE(most_queued_after_send, MessageWriter::kMaxQueuedBytes);
  EXPECT_GT(most_queued_after_send, MessageWriter::kMaxQueuedBytes / 2);
}

TEST_P(MessageStreamTest, DrainWaitsForEverythingQueued) {
  MessageWriter writer(*pair.a, io.get_executor());
  MessageReader reader(*pair.b);
  int received = 0;
  auto produce = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 50; ++i) writer.post(std::string("{\"p\":\"") + std::string(100000, 'p') + "\"}");
    EXPECT_GT(writer.queued_bytes(), 0u);
    co_await writer.drain();
    EXPECT_EQ(writer.queued_bytes(), 0u);
  };
  auto consume = [&]() -> asio::awaitable<void> {
    while (received < 50) {
      const auto body = co_await reader.read();
      if (!body) break;
      ++received;
    }
  };
  run(io, produce() && consume());
  EXPECT_EQ(received, 50);
}

TEST_P(MessageStreamTest, CloseReleasesABlockedSender) {
  MessageWriter writer(*pair.a, io.get_executor());
  const std::string mib(1024 * 1024, ' ');
  bool send_returned = false;
  auto produce = [&]() -> asio::awaitable<void> {
    // Nobody reads, so the transport fills and the queue passes the cap.
    for (int i = 0; i < 32; ++i) co_await writer.send("{}" + mib);
    send_returned = true;
  };
  auto closer = [&]() -> asio::awaitable<void> {
    co_await sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(send_returned);
    writer.close();
  };
  run(io, produce() && closer());
  EXPECT_TRUE(send_returned);
  EXPECT_FALSE(writer.failed());
  writer.post("{}");  // discarded, not an error
  EXPECT_EQ(writer.queued_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, MessageStreamTest, ::testing::Values("tcp", "pipe"),
                         [](const auto& param_info) { return param_info.param; });

TEST(MessageWriter, FailsWhenThePeerIsGone) {
  asio::io_context io;
  StreamPair pair = testing::make_tcp_pair(io);
  MessageWriter writer(*pair.a, io.get_executor());
  pair.b->close();
  auto produce = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 100 && !writer.failed(); ++i) {
      writer.post(std::string("{\"p\":\"") + std::string(64 * 1024, 'p') + "\"}");
      co_await writer.drain();
    }
  };
  run(io, produce());
  EXPECT_TRUE(writer.failed());
  writer.post("{}");
  EXPECT_EQ(writer.queued_bytes(), 0u);
  run(io, writer.drain());  // returns at once on a failed writer
}

TEST(MessageWriter, CanBeDestroyedWithMessagesQueued) {
  asio::io_context io;
  StreamPair pair = testing::make_tcp_pair(io);
  {
    MessageWriter writer(*pair.a, io.get_executor());
    for (int i = 0; i < 10; ++i) writer.post(std::string(1024 * 1024, ' '));
  }
  io.run_for(std::chrono::milliseconds(100));
  SUCCEED();
}

}  // namespace
}  // namespace kdap::dap
