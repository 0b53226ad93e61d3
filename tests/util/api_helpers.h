// Shorthands for calling the API in server tests.

#ifndef SEQUENCER_TESTS_UTIL_API_HELPERS_H_
#define SEQUENCER_TESTS_UTIL_API_HELPERS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/rpc/error_details.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sequencer/v1/sequencer.grpc.pb.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {

v1::StepDefinition EmailStep(absl::Duration delay,
                             const std::string& subject = "Hi {{first_name}}",
                             const std::string& body = "About {{company}}");
v1::StepDefinition SmsStep(absl::Duration delay,
                           const std::string& body = "Text {{first_name}}");
v1::StepDefinition TaskStep(absl::Duration delay,
                            const std::string& details = "Call them");

// A fresh request id for each call ("req-1", "req-2", ...).
std::string NextRequestId();

// A CreateSequence request for the given id and steps, with a fresh request
// id; for callers that send it themselves (e.g. to a Daemon's stub).
v1::CreateSequenceRequest SequenceRequest(
    const std::string& sequence_id,
    const std::vector<v1::StepDefinition>& steps, bool stop_on_response = true);

// Creates a sequence with the given id and steps (as kTenant unless told);
// fails the test when the call fails.
v1::Sequence CreateSequence(TestServer& server, const std::string& sequence_id,
                            const std::vector<v1::StepDefinition>& steps,
                            bool stop_on_response = true,
                            const std::string& tenant = kTenant);

// Enrolls recipients with first_name/company variables; fails the test when the
// call fails.
void Enroll(TestServer& server, const std::string& sequence_id,
            const std::vector<std::string>& recipient_ids,
            const std::string& tenant = kTenant);

grpc::Status GetRecipient(TestServer& server, const std::string& sequence_id,
                          const std::string& recipient_id, v1::Recipient* out,
                          const std::string& tenant = kTenant);
// Fails the test when the recipient cannot be read.
v1::Recipient MustGetRecipient(TestServer& server,
                               const std::string& sequence_id,
                               const std::string& recipient_id);

v1::RecipientActionRequest ActionRequest(const std::string& sequence_id,
                                         const std::string& recipient_id);

// The google.rpc.ErrorInfo of a refused call, or an empty one.
google::rpc::ErrorInfo ErrorInfoOf(const grpc::Status& status);

// Equal as protobuf messages (map order does not matter), with a readable diff
// when not.
::testing::AssertionResult ProtoEquals(const google::protobuf::Message& a,
                                       const google::protobuf::Message& b);

// Every event of the log, serialized, for "nothing was written" checks.
std::vector<std::string> LogSnapshot(TestServer& server);

// ---- More shorthands for action tests (all as kTenant).

// Calls the single-recipient action `action` (PAUSE, RESUME, SKIP_STEP, STOP,
// DELETE, COMPLETE_MANUAL_STEP; VIEW_CONTENT reads content) with a fresh
// request id. `out` receives the recipient (unset for DELETE and
// VIEW_CONTENT); may be null.
grpc::Status Act(TestServer& server, v1::Action action,
                 const std::string& sequence_id,
                 const std::string& recipient_id, v1::Recipient* out = nullptr);
// Act, failing the test when the call fails; returns the recipient after it.
v1::Recipient MustAct(TestServer& server, v1::Action action,
                      const std::string& sequence_id,
                      const std::string& recipient_id);

grpc::Status Signal(TestServer& server, const std::string& sequence_id,
                    const std::string& recipient_id, v1::SignalType signal,
                    v1::Recipient* out = nullptr,
                    const std::string& detail = "");

grpc::Status EditContent(TestServer& server, const std::string& sequence_id,
                         const std::string& recipient_id, int step_index,
                         const v1::ContentEdit& edit,
                         v1::Recipient* out = nullptr);

grpc::Status ViewContent(TestServer& server, const std::string& sequence_id,
                         const std::string& recipient_id,
                         v1::RecipientContent* out);

grpc::Status PreviewSkip(TestServer& server, const std::string& sequence_id,
                         const std::string& recipient_id, v1::SkipPreview* out);

grpc::Status Timeline(TestServer& server, const std::string& sequence_id,
                      const std::string& recipient_id,
                      v1::RecipientTimeline* out);

// The availability entry for `action` in `recipient.actions()`, or an empty
// one (action UNSPECIFIED) when missing.
v1::ActionAvailability FindAction(const v1::Recipient& recipient,
                                  v1::Action action);

// "PAUSE" for ACTION_PAUSE, "IN_PROGRESS" for RECIPIENT_STATUS_IN_PROGRESS:
// short names for test ids and traces (the API's strings use the full enum
// value names).
std::string ShortName(v1::Action action);
std::string ShortName(v1::RecipientStatus status);

}  // namespace sequencer::testing

#endif  // SEQUENCER_TESTS_UTIL_API_HELPERS_H_
