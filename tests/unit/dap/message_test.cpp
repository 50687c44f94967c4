#include "dap/message.h"

#include <gtest/gtest.h>

namespace kdap::dap {
namespace {

TEST(Message, MakeRequest) {
  EXPECT_EQ(make_request("attach", {{"mode", "remote"}}),
            Json::parse(R"({"seq":0,"type":"request","command":"attach","arguments":{"mode":"remote"}})"));
  EXPECT_EQ(make_request("threads")["arguments"], Json::object());
}

TEST(Message, MakeEvent) {
  EXPECT_EQ(make_event("initialized"),
            Json::parse(R"({"seq":0,"type":"event","event":"initialized","body":{}})"));
}

TEST(Message, MakeResponseCopiesRequestSeqAndCommand) {
  const Json request = Json::parse(R"({"seq":12,"type":"request","command":"launch","arguments":{}})");
  EXPECT_EQ(make_response(request, {{"x", 1}}),
            Json::parse(R"({"seq":0,"type":"response","request_seq":12,"success":true,"command":"launch",
                            "body":{"x":1}})"));
}

TEST(Message, MakeResponseToleratesAMalformedRequest) {
  const Json response = make_response(Json::array());
  EXPECT_EQ(response["request_seq"], 0);
  EXPECT_EQ(response["command"], "");
}

TEST(Message, MakeErrorResponse) {
  const Json request = Json::parse(R"({"seq":3,"type":"request","command":"attach"})");
  EXPECT_EQ(make_error_response(request, 2001, "dlv not found on node-1: install it", false),
            Json::parse(R"({"seq":0,"type":"response","request_seq":3,"success":false,"command":"attach",
                            "message":"dlv not found on node-1: install it",
                            "body":{"error":{"id":2001,"format":"dlv not found on node-1: install it",
                                             "showUser":false}}})"));
  EXPECT_EQ(make_error_response(request, 1, "x")["body"]["error"]["showUser"], true);
}

TEST(Message, MakeOutputEvent) {
  EXPECT_EQ(make_output_event("stderr", "boom\n"), Json::parse(R"({"seq":0,"type":"event","event":"output",
                            "body":{"category":"stderr","output":"boom\n"}})"));
}

TEST(Message, OutputWithInvalidUtf8CanBeSerialised) {
  const Json event = make_output_event("stdout", "ok \xC3\xA9 bad \xFF\xC3 end");
  EXPECT_EQ(event["body"]["output"], "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_NO_THROW((void)event.dump());
}

TEST(Message, SanitizeUtf8) {
  EXPECT_EQ(sanitize_utf8("plain"), "plain");
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x90\xB9"), "\xF0\x9F\x90\xB9");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitize_utf8("\xF4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");         // above U+10FFFF
  EXPECT_EQ(sanitize_utf8("a\xE2\x9C"), "a\xEF\xBF\xBD\xEF\xBF\xBD");                // truncated
}

TEST(Message, DumpMessageNeverThrowsOnBadUtf8) {
  const Json message = {{"output", std::string("\xFF")}};
  EXPECT_THROW((void)message.dump(), Json::type_error);
  EXPECT_EQ(dump_message(message), "{\"output\":\"\xEF\xBF\xBD\"}");
}

}  // namespace
}  // namespace kdap::dap
