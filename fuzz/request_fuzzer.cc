// Request decoding and validation: the first byte picks a request message, the
// rest is parsed as it, and the message goes through the codec and domain
// functions the handlers run on it (ids, enums, durations, step definitions,
// content edits, bulk actions, delivery batches and results, the domain
// decisions that validate content and templates).
// Whatever the bytes: no crash, no sanitizer report, and what a decoder
// accepts survives an encode/decode round trip unchanged.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app/pipeline/idempotency.h"
#include "app/storage/event_codec.h"
#include "app/use_cases/delivery.h"
#include "domain/bulk.h"
#include "domain/recipient.h"
#include "domain/sequence.h"
#include "google/protobuf/stubs/logging.h"
#include "sequencer/v1/sequencer.pb.h"
#include "server/api_mapping.h"

namespace {

namespace domain = ::sequencer::domain;
namespace app = ::sequencer::app;
namespace server = ::sequencer::server;
namespace v1 = ::sequencer::v1;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

const domain::DecisionContext& Context() {
  static const auto* context = new domain::DecisionContext{
      "tenant", "actor", "req-1", absl::FromUnixSeconds(1767600000)};
  return *context;
}

bool SameStep(const domain::StepDefinition& a,
              const domain::StepDefinition& b) {
  return a.type == b.type && a.mode == b.mode && a.delay == b.delay &&
         a.content == b.content;
}

// A sequence (email, task, sms) and a recipient enrolled in it, as fixtures
// for the requests that act on a recipient.
struct Fixture {
  domain::Sequence sequence;
  domain::Recipient recipient;
  // The same recipient once its first (email) step is due and queued for a
  // delivery worker.
  domain::Recipient awaiting_delivery;
};

// An hour after Context(): the first step (1 h delay) is due.
const domain::DecisionContext& LaterContext() {
  static const auto* context = new domain::DecisionContext{
      "tenant", "worker", "req-2", absl::FromUnixSeconds(1767600000 + 7200)};
  return *context;
}

domain::Recipient Applied(domain::Recipient state,
                          const std::vector<domain::RecipientEvent>& events) {
  for (const auto& event : events)
    state = domain::Evolve(std::move(state), event);
  return state;
}

const Fixture& TheFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    domain::CreateSequence create;
    create.sequence_id = "seq";
    create.name = "Fuzz";
    create.steps = {{domain::StepType::kEmail,
                     domain::StepMode::kAutomatic,
                     absl::Hours(1),
                     {"Hi {{first_name}}", "About {{company}}", "", ""}},
                    {domain::StepType::kTask,
                     domain::StepMode::kManual,
                     absl::Hours(2),
                     {"", "", "", "Call {{first_name}}"}},
                    {domain::StepType::kSms,
                     domain::StepMode::kAutomatic,
                     absl::Hours(3),
                     {"", "Text {{first_name}}", "", ""}}};
    auto created =
        domain::DecideCreateSequence(create, domain::Sequence{}, Context());
    Check(created.ok());
    for (const auto& event : *created) {
      f->sequence = domain::Evolve(std::move(f->sequence), event);
    }
    domain::EnrollRecipient enroll;
    enroll.recipient_id = "r1";
    enroll.contact.email = "r1@example.com";
    enroll.variables = {{"first_name", "Ada"}, {"company", "Acme"}};
    auto enrolled = domain::DecideEnroll(enroll, f->sequence,
                                         domain::Recipient{}, Context());
    Check(enrolled.ok());
    for (const auto& event : *enrolled) {
      f->recipient = domain::Evolve(std::move(f->recipient), event);
    }
    auto due = domain::Decide(domain::MarkStepDue{}, f->recipient, f->sequence,
                              LaterContext());
    Check(due.ok() && !due->empty());
    f->awaiting_delivery = Applied(f->recipient, *due);
    Check(f->awaiting_delivery.awaiting_delivery);
    return f;
  }();
  return *fixture;
}

// Applies a decision's events and renders the result as the API would.
void ApplyAndView(const domain::Recipient& before,
                  const std::vector<domain::RecipientEvent>& events) {
  domain::Recipient after = before;
  for (const auto& event : events) {
    after = domain::Evolve(std::move(after), event);
    app::ToProto(event);
  }
  Check(after.version == before.version + events.size());
  server::ToApi(after, TheFixture().sequence);
}

void CheckDuration(const google::protobuf::Duration& proto) {
  auto duration = app::FromProtoDuration("d", proto);
  if (!duration.ok()) return;
  auto again = app::FromProtoDuration("d", app::ToProtoDuration(*duration));
  Check(again.ok() && *again == *duration);
}

void CreateSequence(const v1::CreateSequenceRequest& request) {
  if (!domain::ValidateId("request_id", request.request_id()).ok()) return;
  if (request.steps_size() > domain::kMaxSteps) return;
  domain::CreateSequence command;
  command.sequence_id = request.sequence_id();
  command.name = request.name();
  command.stop_on_response =
      !request.has_stop_on_response() || request.stop_on_response();
  for (int i = 0; i < request.steps_size(); ++i) {
    CheckDuration(request.steps(i).delay());
    auto step =
        app::FromProto(absl::StrCat("steps[", i, "]"), request.steps(i));
    if (!step.ok()) return;
    auto again = app::FromProto("again", app::ToProto(*step));
    Check(again.ok() && SameStep(*again, *step));
    command.steps.push_back(*std::move(step));
  }
  auto events =
      domain::DecideCreateSequence(command, domain::Sequence{}, Context());
  if (!events.ok()) return;
  domain::Sequence sequence;
  for (const auto& event : *events) {
    sequence = domain::Evolve(std::move(sequence), event);
    auto decoded = app::SequenceEventFromProto(app::ToProto(event));
    Check(decoded.ok());
  }
  Check(sequence.exists && sequence.steps.size() == command.steps.size());
  server::ToApi(sequence);
}

void Enroll(const v1::EnrollRecipientsRequest& request) {
  if (!domain::ValidateId("sequence_id", request.sequence_id()).ok()) return;
  for (const v1::RecipientInput& input : request.recipients()) {
    if (!domain::ValidateId("recipient_id", input.recipient_id()).ok()) {
      continue;
    }
    domain::EnrollRecipient command;
    command.recipient_id = input.recipient_id();
    command.contact = {input.contact().email(), input.contact().phone(),
                       input.contact().social_profile()};
    command.variables.insert(input.variables().begin(),
                             input.variables().end());
    auto events = domain::DecideEnroll(command, TheFixture().sequence,
                                       domain::Recipient{}, Context());
    if (events.ok()) ApplyAndView(domain::Recipient{}, *events);
  }
}

void Act(const std::string& sequence_id, const std::string& recipient_id,
         const domain::RecipientCommand& command) {
  if (!domain::ValidateId("sequence_id", sequence_id).ok() ||
      !domain::ValidateId("recipient_id", recipient_id).ok()) {
    return;
  }
  const Fixture& f = TheFixture();
  auto events = domain::Decide(command, f.recipient, f.sequence, Context());
  if (events.ok()) ApplyAndView(f.recipient, *events);
}

void EditContent(const v1::EditContentRequest& request) {
  const domain::ContentEdit edit = app::FromProto(request.edit());
  Check(app::FromProto(app::ToProto(edit)) == edit);
  Act(request.sequence_id(), request.recipient_id(),
      domain::EditContent{request.step_index(), edit});
}

void RecordSignal(const v1::RecordSignalRequest& request) {
  auto signal = app::FromProto("signal", request.signal());
  if (!signal.ok()) return;
  Check(app::ToProto(*signal) == request.signal());
  Act(request.sequence_id(), request.recipient_id(),
      domain::RecordSignal{*signal, request.detail()});
}

void CompleteManualStep(const v1::CompleteManualStepRequest& request) {
  domain::CompleteManualStep command;
  if (request.has_step_index()) command.step_index = request.step_index();
  Act(request.sequence_id(), request.recipient_id(), command);
}

void LeaseSteps(const v1::LeaseStepsRequest& request) {
  if (auto channel = app::FromProto("channel", request.channel());
      channel.ok()) {
    Check(app::ToProto(*channel) == request.channel());
  }
  CheckDuration(request.lease_duration());
  CheckDuration(request.wait());
}

void ListRecipients(const v1::ListRecipientsRequest& request) {
  for (int status : request.statuses()) {
    auto decoded =
        app::FromProto("statuses", static_cast<v1::RecipientStatus>(status));
    if (decoded.ok()) {
      Check(app::ToProto(*decoded) == status);
    }
  }
}

void BulkAction(const v1::BulkActionRequest& request) {
  auto action = server::BulkActionFromProto(request.action());
  if (!action.ok()) return;
  if (!domain::ValidateId("request_id", request.request_id()).ok() ||
      !domain::ValidateId("sequence_id", request.sequence_id()).ok()) {
    return;
  }
  domain::BulkCommand command;
  command.action = *action;
  command.edit =
      domain::EditContent{request.step_index(), app::FromProto(request.edit())};
  // The selection: the fixture's states, one per valid id (at most a few, so
  // that a long list stays quick).
  const Fixture& f = TheFixture();
  std::vector<domain::Recipient> selected;
  for (const std::string& id : request.recipient_ids()) {
    if (selected.size() == 8) break;
    if (!domain::ValidateId("recipient_ids", id).ok()) return;
    selected.push_back(selected.size() % 2 == 0 ? f.recipient
                                                : f.awaiting_delivery);
  }
  auto decision = domain::DecideBulk(command, selected, f.sequence, Context());
  if (!decision.ok()) return;
  if (!decision->offenders.empty()) return;
}

// Begins a send on the recipient whose step is queued, under `token`;
// returns the state after it when the domain allows it.
std::optional<domain::Recipient> Begun(const std::string& token) {
  const Fixture& f = TheFixture();
  auto begun = domain::Decide(
      domain::BeginSend{token, f.awaiting_delivery.version, absl::Minutes(15)},
      f.awaiting_delivery, f.sequence, LaterContext());
  if (!begun.ok()) return std::nullopt;
  Check(!begun->empty());
  ApplyAndView(f.awaiting_delivery, *begun);
  return Applied(f.awaiting_delivery, *begun);
}

void BeginSends(const v1::BeginSendsRequest& request) {
  int n = 0;
  for (const v1::BeginSendRequest& send : request.sends()) {
    if (++n > 8) break;
    if (!app::ValidateLeaseToken(send.lease_token()).ok()) continue;
    if (!domain::ValidateId("sequence_id", send.sequence_id()).ok() ||
        !domain::ValidateId("recipient_id", send.recipient_id()).ok()) {
      continue;
    }
    std::optional<domain::Recipient> begun = Begun(send.lease_token());
    // A valid token may always begin the queued step.
    Check(begun.has_value() && begun->in_flight_token == send.lease_token());
  }
}

void ReportDelivery(const v1::ReportDeliveryRequest& request) {
  auto report = server::ReportFromProto(request);
  if (!report.ok()) return;
  std::optional<domain::Recipient> begun = Begun(report->report.lease_token);
  Check(begun.has_value());
  const Fixture& f = TheFixture();
  auto events = domain::Decide(domain::ReportDelivery{report->report}, *begun,
                               f.sequence, LaterContext());
  // The token is the one in flight: the result is recorded.
  Check(events.ok() && !events->empty());
  ApplyAndView(*begun, *events);
  Check(Applied(*begun, *events).in_flight_token.empty());
}

void ReportDeliveries(const v1::ReportDeliveriesRequest& request) {
  int n = 0;
  for (const v1::ReportDeliveryRequest& report : request.reports()) {
    if (++n > 8) break;
    ReportDelivery(report);
  }
}

template <typename Message>
bool Parse(const uint8_t* data, size_t size, Message* message) {
  if (!message->ParseFromArray(data, static_cast<int>(size))) return false;
  app::RequestFingerprint(*message);
  return true;
}

}  // namespace

// Invalid UTF-8 in string fields is an expected parse failure, not news.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0];
  ++data;
  --size;
  // 0xf0-0xff: the requests added after the seed corpus was made (their
  // seeds start with 0xf0-0xf3); below: kind % 7 as the corpus has it.
  switch (kind >= 0xf0 ? 7 + (kind - 0xf0) % 4 : kind % 7) {
    case 0: {
      v1::CreateSequenceRequest request;
      if (Parse(data, size, &request)) CreateSequence(request);
      break;
    }
    case 1: {
      v1::EnrollRecipientsRequest request;
      if (Parse(data, size, &request)) Enroll(request);
      break;
    }
    case 2: {
      v1::EditContentRequest request;
      if (Parse(data, size, &request)) EditContent(request);
      break;
    }
    case 3: {
      v1::RecordSignalRequest request;
      if (Parse(data, size, &request)) RecordSignal(request);
      break;
    }
    case 4: {
      v1::CompleteManualStepRequest request;
      if (Parse(data, size, &request)) CompleteManualStep(request);
      break;
    }
    case 5: {
      v1::LeaseStepsRequest request;
      if (Parse(data, size, &request)) LeaseSteps(request);
      break;
    }
    case 6: {
      v1::ListRecipientsRequest request;
      if (Parse(data, size, &request)) ListRecipients(request);
      break;
    }
    case 7: {
      v1::BulkActionRequest request;
      if (Parse(data, size, &request)) BulkAction(request);
      break;
    }
    case 8: {
      v1::BeginSendsRequest request;
      if (Parse(data, size, &request)) BeginSends(request);
      break;
    }
    case 9: {
      v1::ReportDeliveryRequest request;
      if (Parse(data, size, &request)) ReportDelivery(request);
      break;
    }
    case 10: {
      v1::ReportDeliveriesRequest request;
      if (Parse(data, size, &request)) ReportDeliveries(request);
      break;
    }
  }
  return 0;
}
