// The two ends of a use case for a gRPC handler: an encoder that turns the
// use case's result into the serialized response message (what the outcome
// record holds, app/pipeline/command_runner.h), and Respond, which fills the
// handler's response from what the use case answered, whether it ran now or
// answered a retry from its record.

#ifndef SEQUENCER_SERVER_RESPOND_H_
#define SEQUENCER_SERVER_RESPOND_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "app/pipeline/command_runner.h"
#include "google/protobuf/message.h"

namespace sequencer::server {

// An encoder from a function mapping a result to its response message.
template <typename Result, typename ToMessage>
app::ResponseEncoder<Result> EncodeWith(ToMessage to_message) {
  return [to_message = std::move(to_message)](const Result& result) {
    return to_message(result).SerializeAsString();
  };
}

// Parses the answered response into `response`; the use case's error as it
// is. INTERNAL when the recorded bytes are not a `response` message.
template <typename Result>
absl::Status Respond(const absl::StatusOr<app::Answered<Result>>& answered,
                     google::protobuf::Message* response) {
  if (!answered.ok()) return answered.status();
  if (!response->ParseFromString(answered->response)) {
    return absl::InternalError(
        "the recorded response does not parse as the method's response");
  }
  return absl::OkStatus();
}

}  // namespace sequencer::server

#endif  // SEQUENCER_SERVER_RESPOND_H_
