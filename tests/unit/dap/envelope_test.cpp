#include "dap/envelope.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kdap::dap {
namespace {

using nlohmann::json;

TEST(ScanEnvelope, ReadsARequest) {
  const auto env = scan_envelope(R"({"seq":7,"type":"request","command":"next","arguments":{"threadId":1}})");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->type, "request");
  EXPECT_EQ(env->seq, 7);
  EXPECT_EQ(env->request_seq, std::nullopt);
  EXPECT_EQ(env->command, "next");
  EXPECT_EQ(env->event, "");
  EXPECT_TRUE(env->success);
}

TEST(ScanEnvelope, ReadsAResponseInAnyFieldOrderWithWhitespace) {
  const auto env = scan_envelope(
      " \r\n\t{ \"body\" : { \"seq\" : 99, \"type\": \"event\" } ,\n \"command\" :\"evaluate\" , "
      "\"success\":false,"
      "\"request_seq\" : 12 , \"type\" : \"response\", \"seq\" : -3 }\n ");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->type, "response");
  EXPECT_EQ(env->seq, -3);
  EXPECT_EQ(env->request_seq, 12);
  EXPECT_EQ(env->command, "evaluate");
  EXPECT_FALSE(env->success);
}

TEST(ScanEnvelope, ReadsAnEvent) {
  const auto env =
      scan_envelope(R"({"type":"event","event":"stopped","body":{"reason":"breakpoint"},"seq":0})");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->type, "event");
  EXPECT_EQ(env->event, "stopped");
  EXPECT_EQ(env->seq, 0);
}

TEST(ScanEnvelope, IgnoresNestedKeysAndTrickyStrings) {
  const auto env = scan_envelope(
      R"({"body":{"variables":[{"seq":5,"value":"{\"seq\":6}"},["seq",7]],"x":"}]\\"},)"
      R"("note":"a \"quoted\" {brace} [bracket] \\","type":"response","seq":11,"request_seq":4,"command":"variables"})");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->seq, 11);
  EXPECT_EQ(env->request_seq, 4);
  EXPECT_EQ(env->command, "variables");
}

TEST(ScanEnvelope, ReturnsEscapedStringsRaw) {
  const auto env = scan_envelope(R"({"type":"event","event":"a\"b"})");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->event, R"(a\"b)");
}

TEST(ScanEnvelope, RecognisesKeysSpelledWithEscapes) {
  const auto env = scan_envelope(R"({"s\u0065q":5,"t\u0079pe":"event"})");
  ASSERT_TRUE(env);
  EXPECT_EQ(env->seq, 5);
  EXPECT_EQ(env->type, "event");
}

TEST(ScanEnvelope, MissingOrNonIntegerSeqIsEmpty) {
  EXPECT_EQ(scan_envelope(R"({"type":"event"})")->seq, std::nullopt);
  EXPECT_EQ(scan_envelope(R"({"seq":1.5})")->seq, std::nullopt);
  EXPECT_EQ(scan_envelope(R"({"seq":"1"})")->seq, std::nullopt);
  EXPECT_EQ(scan_envelope(R"({"seq":99999999999999999999})")->seq, std::nullopt);
  EXPECT_EQ(scan_envelope(R"({"seq":1,"seq":2})")->seq, 2);
}

TEST(ScanEnvelope, AcceptsEmptyObjectAndByteOrderMark) {
  EXPECT_TRUE(scan_envelope("{}"));
  EXPECT_TRUE(scan_envelope(" { } "));
  EXPECT_EQ(scan_envelope("\xEF\xBB\xBF{\"seq\":3}")->seq, 3);
}

TEST(ScanEnvelope, RejectsNonObjects) {
  for (const char* input :
       {"",           " ",          "[]",          "[{\"seq\":1}]", "\"x\"",       "42",
        "null",       "{",          "}",           "{\"a\":1",      "{\"a\" 1}",   "{\"a\":}",
        "{\"a\":1,}", "{,}",        "{\"a\":[}]}", "{\"a\":{]}",    "{\"a\":\"x}", "{\"a\":\"x\\\"}",
        "{a:1}",      "{\"a\":1}x", "{\"a\":1}{}", "{\"a\":tru}",   "{\"a\":nul}", "{\"a\":1 \"b\":2}",
        "{'a':1}"}) {
    EXPECT_EQ(scan_envelope(input), std::nullopt) << input;
    std::string body = input;
    EXPECT_FALSE(set_top_level_number(body, "seq", 1)) << input;
    EXPECT_EQ(body, input);
  }
}

TEST(ScanEnvelope, SurvivesDeepNesting) {
  const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + ",\"seq\":1}";
  EXPECT_EQ(scan_envelope(deep)->seq, 1);
  EXPECT_FALSE(scan_envelope("{\"a\":" + std::string(100000, '[') + "}"));
}

TEST(SetTopLevelNumber, ReplacesOnlyTheTopLevelValue) {
  std::string body = R"({"body":{"seq":5,"s":"\"seq\":6"},"seq":0,"type":"event"})";
  ASSERT_TRUE(set_top_level_number(body, "seq", 42));
  EXPECT_EQ(body, R"({"body":{"seq":5,"s":"\"seq\":6"},"seq":42,"type":"event"})");
}

TEST(SetTopLevelNumber, HandlesValuesOfEveryWidthAndSign) {
  std::string body = R"({ "seq" : 123456 , "x":1})";
  ASSERT_TRUE(set_top_level_number(body, "seq", 7));
  EXPECT_EQ(body, R"({ "seq" : 7 , "x":1})");
  ASSERT_TRUE(set_top_level_number(body, "seq", -9223372036854775807 - 1));
  EXPECT_EQ(body, R"({ "seq" : -9223372036854775808 , "x":1})");
}

TEST(SetTopLevelNumber, ReplacesNonNumericValues) {
  std::string body = R"({"seq":"zero","request_seq":{"a":1},"x":null})";
  ASSERT_TRUE(set_top_level_number(body, "seq", 1));
  ASSERT_TRUE(set_top_level_number(body, "request_seq", 2));
  EXPECT_EQ(body, R"({"seq":1,"request_seq":2,"x":null})");
}

TEST(SetTopLevelNumber, InsertsAMissingKey) {
  std::string body = R"({"type":"event","body":{"seq":1}})";
  ASSERT_TRUE(set_top_level_number(body, "seq", 3));
  EXPECT_EQ(body, R"({"seq":3,"type":"event","body":{"seq":1}})");

  std::string empty = " {  } ";
  ASSERT_TRUE(set_top_level_number(empty, "seq", 3));
  EXPECT_EQ(empty, R"( {"seq":3  } )");
  EXPECT_EQ(json::parse(empty), json::parse(R"({"seq":3})"));
}

TEST(SetTopLevelNumber, ReplacesEveryDuplicateAndEscapedSpelling) {
  std::string body = R"({"seq":1,"s\u0065q":2,"seq":3})";
  ASSERT_TRUE(set_top_level_number(body, "seq", 10));
  EXPECT_EQ(body, R"({"seq":10,"s\u0065q":10,"seq":10})");
}

TEST(SetTopLevelNumbers, SetsAndInsertsSeveralInOnePass) {
  std::string body = R"({"seq":0,"type":"response","command":"threads"})";
  const NumberField fields[] = {{"seq", 100}, {"request_seq", 5}};
  ASSERT_TRUE(set_top_level_numbers(body, fields));
  EXPECT_EQ(body, R"({"request_seq":5,"seq":100,"type":"response","command":"threads"})");
}

TEST(SetTopLevelNumbers, RewritesAOneMegabyteBody) {
  json variables = json::array();
  for (int i = 0; i < 12000; ++i) {
    variables.push_back({{"name", "v" + std::to_string(i)},
                         {"value", "{\"seq\":" + std::to_string(i) + "} [\\\"] }"},
                         {"seq", i},
                         {"request_seq", i},
                         {"variablesReference", 0}});
  }
  const json original = {{"seq", 0},        {"type", "response"},     {"request_seq", 9},
                         {"success", true}, {"command", "variables"}, {"body", {{"variables", variables}}}};
  std::string body = original.dump();
  ASSERT_GT(body.size(), 1024u * 1024u);

  const NumberField fields[] = {{"seq", 123456789}, {"request_seq", 77}};
  ASSERT_TRUE(set_top_level_numbers(body, fields));

  json expected = original;
  expected["seq"] = 123456789;
  expected["request_seq"] = 77;
  EXPECT_EQ(json::parse(body), expected);
  const auto env = scan_envelope(body);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->seq, 123456789);
  EXPECT_EQ(env->request_seq, 77);
  EXPECT_EQ(env->command, "variables");
}

// Strings are skipped quote to quote; whether a quote closes the string depends on the backslashes before it.
TEST(ScanEnvelope, StringsWithBackslashRunsAgreeWithAFullParser) {
  std::mt19937 random(7);
  const char alphabet[] = {'\\', '"', 'a', '}', ',', 'n'};
  int valid = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string value;
    const int length = static_cast<int>(random() % 12);
    for (int k = 0; k < length; ++k) value += alphabet[random() % sizeof alphabet];
    const std::string body = "{\"type\":\"" + value + "\",\"seq\":5}";
    const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    const auto env = scan_envelope(body);
    if (parsed.is_discarded()) continue;  // the scanner does not validate escapes such as \a
    ++valid;
    ASSERT_TRUE(env) << body;
    EXPECT_EQ(env->type, value) << body;
    EXPECT_EQ(env->seq, 5) << body;
  }
  EXPECT_GT(valid, 1000);
}

// Renumbering at the places the scan found gives exactly what a second scan gives, for every shape of body.
TEST(SetScannedNumbers, MatchesSetTopLevelNumbers) {
  const std::vector<std::string> bodies = {
      R"({"seq":0,"type":"response","request_seq":3,"command":"threads","body":{"seq":1}})",
      R"({"type":"event","event":"stopped","body":{"reason":"breakpoint"},"seq":0})",
      R"({"type":"event"})",
      R"({})",
      R"( { "seq" : 12345678901 , "request_seq":1 } )",
      R"({"s\u0065q":5,"request_seq":2,"x":"\"seq\":9"})",
      R"({"seq":1,"seq":2,"request_seq":3,"request_seq":4,"seq":5})",
      R"({"seq":1,"seq":2,"seq":3,"seq":4,"seq":5,"seq":6})",
      "\xEF\xBB\xBF{\"seq\":3}",
  };
  const NumberField both[] = {{"seq", 42}, {"request_seq", 1234567}};
  const NumberField seq_only[] = {{"seq", 7}};
  for (const auto& original : bodies) {
    for (auto fields : {std::span<const NumberField>(both), std::span<const NumberField>(seq_only)}) {
      std::string rescanned = original;
      ASSERT_TRUE(set_top_level_numbers(rescanned, fields)) << original;
      std::string scanned = original;
      const auto env = scan_envelope(scanned);
      ASSERT_TRUE(env) << original;
      ASSERT_TRUE(set_scanned_numbers(scanned, *env, fields)) << original;
      EXPECT_EQ(scanned, rescanned) << original;
    }
  }
}

TEST(ScanEnvelope, UpToBodyStopsAtTheBodyOnceTheRoutingFieldsAreRead) {
  // What follows "body" is not looked at: here it is not even JSON.
  const std::string response = R"({"seq":0,"type":"response","request_seq":3,"success":true,)"
                               R"("command":"variables","body":{"variables":[ not json)";
  EXPECT_FALSE(scan_envelope(response));
  const auto env = scan_envelope(response, EnvelopeScope::kUpToBody);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->type, "response");
  EXPECT_EQ(env->request_seq, 3);
  EXPECT_EQ(env->command, "variables");
  const auto event =
      scan_envelope(R"({"seq":0,"type":"event","event":"output","body":[)", EnvelopeScope::kUpToBody);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->event, "output");
}

TEST(ScanEnvelope, UpToBodyReadsOnWhenARoutingFieldComesAfterTheBody) {
  for (const std::string body : {
           R"({"type":"response","command":"threads","body":{"seq":1},"seq":0,"request_seq":3})",
           R"({"seq":0,"type":"response","command":"threads","body":{},"request_seq":3})",
           R"({"seq":0,"type":"event","body":{"event":"x"},"event":"stopped"})",
           R"({"body":{},"seq":0,"type":"request","command":"next"})",
       }) {
    const auto whole = scan_envelope(body);
    const auto up_to_body = scan_envelope(body, EnvelopeScope::kUpToBody);
    ASSERT_TRUE(whole && up_to_body) << body;
    EXPECT_EQ(up_to_body->seq, whole->seq) << body;
    EXPECT_EQ(up_to_body->request_seq, whole->request_seq) << body;
    EXPECT_EQ(up_to_body->event, whole->event) << body;
    EXPECT_EQ(up_to_body->members, whole->members) << body;
  }
}

TEST(SetScannedNumbers, RenumbersWhatAnUpToBodyScanRead) {
  const NumberField both[] = {{"seq", 42}, {"request_seq", 1234567}};
  for (
      const std::string original : {
          R"({"seq":0,"type":"response","request_seq":3,"command":"threads","body":{"seq":1,"request_seq":2}})",
          R"({"seq":10,"type":"event","event":"stopped","body":{"seq":1}})",
      }) {
    std::string expected = original;
    ASSERT_TRUE(set_top_level_numbers(expected, both));
    std::string body = original;
    const auto env = scan_envelope(body, EnvelopeScope::kUpToBody);
    ASSERT_TRUE(env);
    ASSERT_TRUE(set_scanned_numbers(body, *env, both));
    EXPECT_EQ(body, expected);
    EXPECT_EQ(json::parse(body)["body"]["seq"], 1);
  }
}

}  // namespace
}  // namespace kdap::dap
