#include "domain/events.h"

#include <string_view>
#include <variant>

namespace sequencer::domain {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

std::string_view EventName(const RecipientEventPayload& payload) {
  return std::visit(
      Overloaded{
          [](const RecipientEnrolled&) -> std::string_view {
            return "RecipientEnrolled";
          },
          [](const StepDispatched&) -> std::string_view {
            return "StepDispatched";
          },
          [](const StepCompleted&) -> std::string_view {
            return "StepCompleted";
          },
          [](const StepFailed&) -> std::string_view { return "StepFailed"; },
          [](const Paused&) -> std::string_view { return "Paused"; },
          [](const Resumed&) -> std::string_view { return "Resumed"; },
          [](const StepSkipped&) -> std::string_view { return "StepSkipped"; },
          [](const ContentEdited&) -> std::string_view {
            return "ContentEdited";
          },
          [](const ManualStepCompleted&) -> std::string_view {
            return "ManualStepCompleted";
          },
          [](const ReplyReceived&) -> std::string_view {
            return "ReplyReceived";
          },
          [](const MeetingBooked&) -> std::string_view {
            return "MeetingBooked";
          },
          [](const Bounced&) -> std::string_view { return "Bounced"; },
          [](const Unsubscribed&) -> std::string_view {
            return "Unsubscribed";
          },
          [](const Finished&) -> std::string_view { return "Finished"; },
          [](const Stopped&) -> std::string_view { return "Stopped"; },
          [](const Deleted&) -> std::string_view { return "Deleted"; },
          [](const StepDue&) -> std::string_view { return "StepDue"; },
          [](const SendTimedOut&) -> std::string_view {
            return "SendTimedOut";
          },
          [](const DeliveryReportedLate&) -> std::string_view {
            return "DeliveryReportedLate";
          },
      },
      payload);
}

std::string_view EventName(const SequenceEventPayload& payload) {
  return std::visit(Overloaded{
                        [](const SequenceCreated&) -> std::string_view {
                          return "SequenceCreated";
                        },
                        [](const SequencePaused&) -> std::string_view {
                          return "SequencePaused";
                        },
                        [](const SequenceResumed&) -> std::string_view {
                          return "SequenceResumed";
                        },
                    },
                    payload);
}

}  // namespace sequencer::domain
