#include "dap/framing.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kdap::dap {
namespace {

using Bodies = std::vector<std::string>;

Bodies take_all(FrameParser& parser) {
  Bodies out;
  while (auto body = parser.next()) out.push_back(std::move(*body));
  return out;
}

Bodies parse_all(std::string_view input, std::size_t max_body = kDefaultMaxBody) {
  FrameParser parser(max_body);
  parser.feed(input);
  return take_all(parser);
}

// Feeds `input` whole and expects a FramingError whose message mentions `needle`.
void expect_error(std::string_view input, std::string_view needle, std::size_t max_body = kDefaultMaxBody) {
  FrameParser parser(max_body);
  parser.feed(input);
  try {
    take_all(parser);
    ADD_FAILURE() << "no FramingError for input \"" << input.substr(0, 80) << "\"";
  } catch (const FramingError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << needle << "\"";
  }
}

const Bodies kThree = {R"({"seq":1,"type":"request","command":"initialize"})", R"({"seq":2})",
                       R"({"seq":3,"type":"event","event":"output","body":{"output":"a\r\n\r\nb"}})"};

std::string framed(const Bodies& bodies) {
  std::string out;
  for (const auto& b : bodies) out += frame(b);
  return out;
}

TEST(Frame, WritesContentLengthHeader) {
  EXPECT_EQ(frame("{}"), "Content-Length: 2\r\n\r\n{}");
  EXPECT_EQ(frame_header(1234), "Content-Length: 1234\r\n\r\n");
}

TEST(FrameParser, SeveralMessagesInOneRead) {
  EXPECT_EQ(parse_all(framed(kThree)), kThree);
}

TEST(FrameParser, SingleByteFeedingOfSeveralMessages) {
  FrameParser parser;
  Bodies out;
  for (char c : framed(kThree)) {
    parser.feed(std::string_view(&c, 1));
    for (auto& body : take_all(parser)) out.push_back(std::move(body));
  }
  EXPECT_EQ(out, kThree);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(FrameParser, SplitAtEveryPosition) {
  const std::string input = framed(kThree);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    FrameParser parser;
    parser.feed(std::string_view(input).substr(0, split));
    Bodies out = take_all(parser);
    parser.feed(std::string_view(input).substr(split));
    for (auto& body : take_all(parser)) out.push_back(std::move(body));
    EXPECT_EQ(out, kThree) << "split at " << split;
  }
}

TEST(FrameParser, WaitsForTheWholeBody) {
  FrameParser parser;
  parser.feed("Content-Length: 10\r\n\r\n{\"a\":");
  EXPECT_EQ(parser.next(), std::nullopt);
  EXPECT_EQ(parser.buffered(), 5u);
  parser.feed("12}");
  EXPECT_EQ(parser.next(), std::nullopt);
  parser.feed("  ");
  EXPECT_EQ(parser.next(), R"({"a":12}  )");
  EXPECT_EQ(parser.next(), std::nullopt);
}

TEST(FrameParser, HeaderNameIsCaseInsensitive) {
  EXPECT_EQ(parse_all("content-length: 2\r\n\r\n{}"), Bodies{"{}"});
  EXPECT_EQ(parse_all("CONTENT-LENGTH: 2\r\n\r\n{}"), Bodies{"{}"});
  EXPECT_EQ(parse_all("CoNtEnT-lEnGtH: 2\r\n\r\n{}"), Bodies{"{}"});
}

TEST(FrameParser, WhitespaceAroundNameAndValueIsAllowed) {
  EXPECT_EQ(parse_all("Content-Length:2\r\n\r\n{}"), Bodies{"{}"});
  EXPECT_EQ(parse_all(" \tContent-Length \t:  2 \t\r\n\r\n{}"), Bodies{"{}"});
}

TEST(FrameParser, OtherHeadersAreIgnored) {
  EXPECT_EQ(parse_all("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: 2\r\n"
                      "X-Anything:\r\n\r\n{}"),
            Bodies{"{}"});
}

TEST(FrameParser, Utf8BodyLengthIsCountedInBytes) {
  const std::string body = "{\"output\":\"h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x90\xB9\"}";
  ASSERT_EQ(body.size(), 28u);  // 20 ASCII + 2 + 3 + 4 bytes for three characters
  EXPECT_EQ(parse_all(frame(body) + frame("{}")), (Bodies{body, "{}"}));
}

TEST(FrameParser, OneMebibyteBody) {
  std::string body = "{\"x\":\"" + std::string(1024 * 1024, 'x') + "\"}";
  FrameParser parser;
  const std::string input = frame(body) + frame("{}");
  // Transport-sized reads.
  for (std::size_t i = 0; i < input.size(); i += 65536) parser.feed(std::string_view(input).substr(i, 65536));
  EXPECT_EQ(take_all(parser), (Bodies{body, "{}"}));
}

// As MessageReader drives it: next() after every read, so a large body is seen before it is complete.
TEST(FrameParser, LargeBodyArrivingInPiecesComesOutWholeWithWhatFollows) {
  std::string big = "{\"x\":\"";
  for (int i = 0; big.size() < 300 * 1024; ++i) big += static_cast<char>('a' + i % 26);
  big += "\"}";
  const std::string input =
      frame(R"({"seq":1})") + frame(big) + frame(R"({"seq":3})") + frame(R"({"seq":4})");
  const std::size_t sizes[] = {1, 7, 4096, 65536, 13, 100000, 3};
  for (std::size_t split = 0; split < 4; ++split) {
    FrameParser parser;
    Bodies out;
    std::size_t at = 0;
    for (std::size_t i = split; at < input.size(); ++i) {
      const std::size_t n = std::min(sizes[i % std::size(sizes)], input.size() - at);
      parser.feed(std::string_view(input).substr(at, n));
      at += n;
      while (auto body = parser.next()) out.push_back(std::move(*body));
      EXPECT_LE(parser.buffered(), input.size());
    }
    EXPECT_EQ(out, (Bodies{R"({"seq":1})", big, R"({"seq":3})", R"({"seq":4})"})) << "split " << split;
    EXPECT_EQ(parser.buffered(), 0u);
  }
}

TEST(FrameParser, CountsAPartLargeBodyAsBuffered) {
  const std::string body = "{\"x\":\"" + std::string(200 * 1024, 'y') + "\"}";
  const std::string input = frame(body);
  FrameParser parser;
  parser.feed(std::string_view(input).substr(0, 70000));
  EXPECT_EQ(parser.next(), std::nullopt);
  const std::size_t header = input.size() - body.size();
  EXPECT_EQ(parser.buffered(), 70000 - header);  // what MessageReader reports when the stream ends here
  parser.feed(std::string_view(input).substr(70000, 1000));
  EXPECT_EQ(parser.next(), std::nullopt);
  EXPECT_EQ(parser.buffered(), 71000 - header);
  parser.feed(std::string_view(input).substr(71000));
  EXPECT_EQ(parser.next(), body);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(FrameParser, ManyMessagesKeepTheBufferSmall) {
  FrameParser parser;
  const std::string one = frame(R"({"seq":1})");
  for (int i = 0; i < 10000; ++i) {
    parser.feed(one.substr(0, 7));
    parser.feed(one.substr(7));
    ASSERT_EQ(parser.next(), R"({"seq":1})");
  }
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(FrameParser, RejectsZeroLength) {
  expect_error("Content-Length: 0\r\n\r\n", "is 0");
}
TEST(FrameParser, RejectsNegativeLength) {
  expect_error("Content-Length: -5\r\n\r\n{}", "negative");
}
TEST(FrameParser, RejectsNonNumericLength) {
  expect_error("Content-Length: abc\r\n\r\n{}", "non-numeric");
  expect_error("Content-Length: 12a\r\n\r\n{}", "non-numeric");
  expect_error("Content-Length: +2\r\n\r\n{}", "non-numeric");
  expect_error("Content-Length: 1 2\r\n\r\n{}", "non-numeric");
  expect_error("Content-Length: 0x10\r\n\r\n{}", "non-numeric");
}
TEST(FrameParser, RejectsEmptyLength) {
  expect_error("Content-Length:\r\n\r\n{}", "no value");
}
TEST(FrameParser, RejectsOverflowingLength) {
  expect_error("Content-Length: 18446744073709551616\r\n\r\n{}", "overflows");
  expect_error("Content-Length: 99999999999999999999999999999\r\n\r\n{}", "overflows");
  expect_error("Content-Length: 18446744073709551615\r\n\r\n{}", "exceeds the limit");
}
TEST(FrameParser, RejectsLengthOverTheCap) {
  expect_error("Content-Length: 67108865\r\n\r\n", "exceeds the limit of 67108864");
  expect_error("Content-Length: 11\r\n\r\n", "exceeds the limit of 10", 10);
  EXPECT_EQ(parse_all(frame("{\"a\":\"12\"}"), 10), Bodies{"{\"a\":\"12\"}"});
}
TEST(FrameParser, RejectsMissingLength) {
  expect_error("Content-Type: application/json\r\n\r\n{}", "no Content-Length");
  expect_error("\r\n{}", "no Content-Length");
}
TEST(FrameParser, RejectsDuplicateLength) {
  expect_error("Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "duplicate");
}
TEST(FrameParser, RejectsBareLineFeeds) {
  expect_error("Content-Length: 2\n\n{}", "bare \\n");
  expect_error("Content-Length: 2\r\n\n{}", "bare \\n");
}
TEST(FrameParser, RejectsBareCarriageReturn) {
  expect_error("Content-Length: 2\rX: y\r\n\r\n{}", "bare \\r");
}

TEST(FrameParser, RejectsJunkBeforeAHeader) {
  expect_error("garbage\r\n" + frame("{}"), "malformed DAP header line \"garbage\"");
  // Junk glued to the header turns it into an unknown header name, so the Content-Length is missing.
  expect_error("garbage" + frame("{}"), "no Content-Length");
  expect_error(std::string("\x00\x01\xff", 3) + "\r\n" + frame("{}"), "\\x00\\x01\\xff");
}

TEST(FrameParser, RejectsJunkBetweenMessages) {
  FrameParser parser;
  parser.feed(frame("{}") + "junk\r\n" + frame("{}"));
  EXPECT_EQ(parser.next(), "{}");
  EXPECT_THROW(parser.next(), FramingError);
}

TEST(FrameParser, RejectsAnOverlongHeaderWithoutWaitingForItsEnd) {
  FrameParser parser;
  parser.feed(std::string(kMaxHeaderBytes, 'a'));
  EXPECT_EQ(parser.next(), std::nullopt);
  parser.feed("a");
  EXPECT_THROW(parser.next(), FramingError);

  std::string many_lines;
  while (many_lines.size() <= kMaxHeaderBytes) many_lines += "X-Padding: aaaaaaaaaaaaaaaaaaaa\r\n";
  expect_error(many_lines + frame("{}"), "exceeds 8192 bytes");
}

TEST(FrameParser, RejectsHttp) {
  expect_error(
      "POST / HTTP/1.1\r\nHost: localhost:4711\r\nContent-Type: application/json\r\nContent-Length: "
      "2\r\n\r\n{}",
      "looks like HTTP");
  expect_error("GET http://localhost/ HTTP/1.1\r\n\r\n", "looks like HTTP");
  // Headers alone are not enough either.
  expect_error("Host: localhost\r\nAccept: */*\r\n\r\n", "no Content-Length");
}

TEST(FrameParser, FailsOnTheFirstBadLineWithoutWaitingForMoreInput) {
  FrameParser parser;
  parser.feed("POST / HTTP/1.1\r\n");
  EXPECT_THROW(parser.next(), FramingError);
}

TEST(FrameParser, StaysFailedAfterAnError) {
  FrameParser parser;
  parser.feed("Content-Length: x\r\n\r\n");
  EXPECT_THROW(parser.next(), FramingError);
  EXPECT_TRUE(parser.failed());
  parser.feed(frame("{}"));
  EXPECT_THROW(parser.next(), FramingError);
  EXPECT_EQ(parser.buffered(), 0u);
}

}  // namespace
}  // namespace kdap::dap
