#include "dap/seq_mapper.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dap/envelope.h"

namespace kdap::dap {
namespace {

using nlohmann::json;

std::int64_t seq_of(const std::string& body) {
  return json::parse(body).at("seq").get<std::int64_t>();
}
std::int64_t request_seq_of(const std::string& body) {
  return json::parse(body).at("request_seq").get<std::int64_t>();
}

std::string editor_request(std::int64_t seq, const std::string& command) {
  return json{{"seq", seq}, {"type", "request"}, {"command", command}, {"arguments", json::object()}}.dump();
}

std::string dlv_response(std::int64_t request_seq, const std::string& command) {
  return json{{"seq", 0},        {"type", "response"}, {"request_seq", request_seq},
              {"success", true}, {"command", command}, {"body", {{"seq", 555}, {"request_seq", 555}}}}
      .dump();
}

std::string dlv_event(const std::string& event) {
  return json{{"seq", 0}, {"type", "event"}, {"event", event}, {"body", json::object()}}.dump();
}

// Tracks the editor-side sequence and checks it only ever grows.
struct EditorView {
  std::int64_t last = 0;
  void saw(std::int64_t seq) {
    EXPECT_GT(seq, last);
    last = seq;
  }
};

TEST(SeqMapper, RenumbersADlvStreamAndMapsRepliesBack) {
  SeqMapper mapper;
  EditorView editor;

  // The editor numbers its own requests; kdap restamps them for dlv.
  std::vector<std::int64_t> server_seqs;
  for (std::int64_t editor_seq : {10, 11, 12}) {
    std::string body = editor_request(editor_seq, "cmd" + std::to_string(editor_seq));
    mapper.client_to_server(body);
    server_seqs.push_back(seq_of(body));
  }
  EXPECT_EQ(server_seqs, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(mapper.pending_client_requests(), 3u);

  // dlv answers out of order with seq 0 everywhere, interleaved with events.
  const std::vector<std::pair<std::string, std::int64_t>> from_dlv = {
      {dlv_event("initialized"), -1}, {dlv_response(2, "cmd11"), 11}, {dlv_event("output"), -1},
      {dlv_response(1, "cmd10"), 10}, {dlv_response(3, "cmd12"), 12}, {dlv_event("stopped"), -1}};
  for (auto [body, editor_request_seq] : from_dlv) {
    ASSERT_EQ(mapper.server_to_client(body), Route::kForward);
    editor.saw(seq_of(body));
    if (editor_request_seq >= 0) {
      EXPECT_EQ(request_seq_of(body), editor_request_seq);
      // Nested look-alikes stay untouched.
      EXPECT_EQ(json::parse(body)["body"]["seq"], 555);
      EXPECT_EQ(json::parse(body)["body"]["request_seq"], 555);
    }
  }
  EXPECT_EQ(editor.last, 6);
  EXPECT_EQ(mapper.pending_client_requests(), 0u);
}

TEST(SeqMapper, ResponsesToKdapsOwnRequestsAreRoutedToKdap) {
  SeqMapper mapper;
  std::string editor_body = editor_request(1, "threads");
  mapper.client_to_server(editor_body);
  const std::int64_t own = mapper.next_server_seq();
  EXPECT_EQ(own, 2);
  std::string after = editor_request(2, "stackTrace");
  mapper.client_to_server(after);
  EXPECT_EQ(seq_of(after), 3);

  std::string response = dlv_response(own, "attach");
  const std::string unchanged = response;
  EXPECT_EQ(mapper.server_to_client(response), Route::kOwnResponse);
  EXPECT_EQ(response, unchanged);

  // It consumed no editor-side number.
  std::string event = dlv_event("initialized");
  ASSERT_EQ(mapper.server_to_client(event), Route::kForward);
  EXPECT_EQ(seq_of(event), 1);

  // A second reply to the same request has no one waiting for it.
  std::string again = dlv_response(own, "attach");
  EXPECT_EQ(mapper.server_to_client(again), Route::kDrop);
}

TEST(SeqMapper, UnknownOrMissingRequestSeqIsDropped) {
  SeqMapper mapper;
  std::string unknown = dlv_response(42, "next");
  EXPECT_EQ(mapper.server_to_client(unknown), Route::kDrop);
  std::string missing = R"({"seq":0,"type":"response","success":true,"command":"next"})";
  EXPECT_EQ(mapper.server_to_client(missing), Route::kDrop);
  std::string not_json = "not json";
  EXPECT_EQ(mapper.server_to_client(not_json), Route::kDrop);
}

TEST(SeqMapper, ReverseRequestRoundTrip) {
  SeqMapper mapper;
  std::string event = dlv_event("initialized");
  ASSERT_EQ(mapper.server_to_client(event), Route::kForward);

  std::string reverse = R"({"seq":7,"type":"request","command":"runInTerminal","arguments":{"args":["x"]}})";
  ASSERT_EQ(mapper.server_to_client(reverse), Route::kForward);
  const std::int64_t editor_side = seq_of(reverse);
  EXPECT_EQ(editor_side, 2);

  std::string editor_request_body = editor_request(1, "configurationDone");
  mapper.client_to_server(editor_request_body);

  std::string answer = json{{"seq", 2},        {"type", "response"},         {"request_seq", editor_side},
                            {"success", true}, {"command", "runInTerminal"}, {"body", {{"processId", 1234}}}}
                           .dump();
  mapper.client_to_server(answer);
  EXPECT_EQ(request_seq_of(answer), 7);
  EXPECT_EQ(seq_of(answer), 2);
  EXPECT_EQ(json::parse(answer)["body"]["processId"], 1234);

  // Answering it twice maps nothing the second time.
  std::string twice = answer;
  set_top_level_number(twice, "request_seq", editor_side);
  mapper.client_to_server(twice);
  EXPECT_EQ(request_seq_of(twice), editor_side);
}

TEST(SeqMapper, OwnEventsAndForwardedMessagesShareOneIncreasingSequence) {
  SeqMapper mapper;
  EditorView editor;
  std::int64_t editor_seq = 1;
  for (int round = 0; round < 50; ++round) {
    editor.saw(mapper.next_client_seq());  // e.g. a progress event
    std::string request = editor_request(editor_seq, "next");
    mapper.client_to_server(request);
    std::string event = dlv_event("output");
    ASSERT_EQ(mapper.server_to_client(event), Route::kForward);
    editor.saw(seq_of(event));
    editor.saw(mapper.next_client_seq());
    std::string response = dlv_response(seq_of(request), "next");
    ASSERT_EQ(mapper.server_to_client(response), Route::kForward);
    editor.saw(seq_of(response));
    EXPECT_EQ(request_seq_of(response), editor_seq);
    ++editor_seq;
  }
  EXPECT_EQ(editor.last, 200);
}

TEST(SeqMapper, ServerSideSequenceStaysUniqueWithOwnRequests) {
  SeqMapper mapper;
  std::int64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    std::int64_t seq = 0;
    if (i % 3 == 0) {
      seq = mapper.next_server_seq();
    } else {
      std::string request = editor_request(i, "evaluate");
      mapper.client_to_server(request);
      seq = seq_of(request);
    }
    EXPECT_GT(seq, last);
    last = seq;
  }
}

TEST(SeqMapper, EditorEventsAndUnknownTypesAreRenumbered) {
  SeqMapper mapper;
  std::string editor_event = R"({"seq":99,"type":"event","event":"custom"})";
  mapper.client_to_server(editor_event);
  EXPECT_EQ(seq_of(editor_event), 1);
  std::string odd = R"({"type":"mystery"})";
  EXPECT_EQ(mapper.server_to_client(odd), Route::kForward);
  EXPECT_EQ(seq_of(odd), 1);
}

TEST(SeqMapper, NonObjectsFromTheEditorAreLeftAlone) {
  SeqMapper mapper;
  std::string body = "[1,2]";
  mapper.client_to_server(body);
  EXPECT_EQ(body, "[1,2]");
  EXPECT_EQ(mapper.pending_client_requests(), 0u);
}

TEST(SeqMapper, TakePendingClientRequestsOldestFirst) {
  SeqMapper mapper;
  for (std::int64_t seq : {5, 6, 7}) {
    std::string body = editor_request(seq, "req" + std::to_string(seq));
    mapper.client_to_server(body);
  }
  std::string response = dlv_response(2, "req6");
  ASSERT_EQ(mapper.server_to_client(response), Route::kForward);
  const auto pending = mapper.take_pending_client_requests();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].client_seq, 5);
  EXPECT_EQ(pending[0].command, "req5");
  EXPECT_EQ(pending[1].client_seq, 7);
  EXPECT_EQ(mapper.pending_client_requests(), 0u);
  std::string late = dlv_response(1, "req5");
  EXPECT_EQ(mapper.server_to_client(late), Route::kDrop);
}

}  // namespace
}  // namespace kdap::dap
