#include "bridge/session/capabilities.h"

namespace kdap::session {

nlohmann::json initial_capabilities() {
  return {{"supportsConfigurationDoneRequest", true},
          {"supportsFunctionBreakpoints", true},
          {"supportsConditionalBreakpoints", true},
          {"supportsHitConditionalBreakpoints", true},
          {"supportsEvaluateForHovers", true},
          {"exceptionBreakpointFilters",
           {{{"filter", "unrecovered-panic"}, {"label", "Unrecovered Panics"}, {"default", true}},
            {{"filter", "runtime-fatal-throw"}, {"label", "Fatal Throws"}, {"default", true}}}},
          {"supportsSetVariable", true},
          {"supportsExceptionInfoRequest", true},
          {"supportsDelayedStackTraceLoading", true},
          {"supportsLogPoints", true},
          {"supportsDisassembleRequest", true},
          {"supportsClipboardContext", true},
          {"supportsSteppingGranularity", true},
          {"supportsInstructionBreakpoints", true},
          {"supportsTerminateRequest", true},
          {"supportTerminateDebuggee", true}};
}

nlohmann::json adjust_dlv_capabilities(nlohmann::json body) {
  if (!body.is_object()) body = nlohmann::json::object();
  // kdap answers terminate and restart itself: terminate must restore the node, and a restart of a parked
  // component is a new session.
  body["supportsTerminateRequest"] = true;
  body["supportsRestartRequest"] = false;
  body["supportTerminateDebuggee"] = true;
  return body;
}

}  // namespace kdap::session
