#include "domain/sequence.h"

#include <string>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "domain/content_rules.h"
#include "domain/refusal.h"
#include "domain/template.h"

namespace sequencer::domain {
namespace internal {

absl::string_view ContentFieldName(ContentField field) {
  switch (field) {
    case ContentField::kSubject:
      return "subject";
    case ContentField::kBody:
      return "body";
    case ContentField::kMessage:
      return "message";
    case ContentField::kDetails:
      return "details";
  }
  return "unknown";
}

bool TypeUsesField(StepType type, ContentField field) {
  switch (type) {
    case StepType::kEmail:
      return field == ContentField::kSubject || field == ContentField::kBody;
    case StepType::kSocialMessage:
      return field == ContentField::kMessage;
    case StepType::kSms:
      return field == ContentField::kBody;
    case StepType::kTask:
      return field == ContentField::kDetails;
  }
  return false;
}

std::string FieldsOfType(StepType type) {
  std::string out;
  for (ContentField field : kAllContentFields) {
    if (!TypeUsesField(type, field)) continue;
    if (!out.empty()) out += " and ";
    out += std::string(ContentFieldName(field));
  }
  return out;
}

std::optional<size_t> CountCodePoints(absl::string_view text) {
  size_t count = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + length > text.size()) return std::nullopt;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return std::nullopt;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return std::nullopt;
    }
    i += length;
    ++count;
  }
  return count;
}

}  // namespace internal

namespace {

using internal::ContentField;

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
         c == '@' || c == '+' || c == '-';
}

const std::string& FieldValue(const StepContent& content, ContentField field) {
  switch (field) {
    case ContentField::kSubject:
      return content.subject;
    case ContentField::kBody:
      return content.body;
    case ContentField::kMessage:
      return content.message;
    case ContentField::kDetails:
      break;
  }
  return content.details;
}

absl::Status InvalidArgument(absl::string_view message) {
  return WithRefusal(absl::InvalidArgumentError(message),
                     Refusal{RefusalReason::kInvalidArgument, {}});
}

// Maximum size of `field` in a step of `type`, and whether it counts characters
// (code points) rather than bytes.
struct SizeLimit {
  size_t max = 0;
  bool characters = false;
};
SizeLimit LimitOf(StepType type, ContentField field) {
  if (type == StepType::kEmail && field == ContentField::kSubject) {
    return {kMaxEmailSubjectLength, true};
  }
  if (type == StepType::kEmail && field == ContentField::kBody) {
    return {kMaxEmailBodyBytes, false};
  }
  if (type == StepType::kSms && field == ContentField::kBody) {
    return {kMaxSmsBodyLength, true};
  }
  return {kMaxOtherContentBytes, false};
}

EventMetadata MetadataFrom(const DecisionContext& context) {
  return EventMetadata{context.tenant_id, context.actor, context.request_id,
                       context.now};
}

bool IsValidStepType(StepType type) {
  return type == StepType::kEmail || type == StepType::kSocialMessage ||
         type == StepType::kSms || type == StepType::kTask;
}

}  // namespace

absl::Status ValidateId(absl::string_view field, absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) {
    return InvalidArgument(absl::StrCat(
        field, ": must be 1-", kMaxIdLength,
        " characters of [A-Za-z0-9._:@+-], got ", id.size(), " characters"));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    if (!IsIdChar(id[i])) {
      return InvalidArgument(
          absl::StrCat(field, ": must be 1-", kMaxIdLength,
                       " characters of [A-Za-z0-9._:@+-], found a disallowed "
                       "character at offset ",
                       i));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStepContent(absl::string_view field_prefix, StepType type,
                                 const StepContent& content) {
  if (!IsValidStepType(type)) {
    return InvalidArgument(
        absl::StrCat(field_prefix, ".type: unknown step type"));
  }
  for (ContentField field : internal::kAllContentFields) {
    const std::string& value = FieldValue(content, field);
    const std::string name = absl::StrCat(field_prefix, ".content.",
                                          internal::ContentFieldName(field));
    if (!internal::TypeUsesField(type, field)) {
      if (!value.empty()) {
        return InvalidArgument(
            absl::StrCat(name, ": a ", std::string(StepTypeName(type)),
                         " step has no ", internal::ContentFieldName(field),
                         " (it uses ", internal::FieldsOfType(type), ")"));
      }
      continue;
    }
    const SizeLimit limit = LimitOf(type, field);
    if (limit.characters) {
      const std::optional<size_t> length = internal::CountCodePoints(value);
      if (!length.has_value()) {
        return InvalidArgument(absl::StrCat(name, ": not valid UTF-8"));
      }
      if (*length > limit.max) {
        return InvalidArgument(absl::StrCat(name, ": must be at most ",
                                            limit.max, " characters, got ",
                                            *length));
      }
    } else if (value.size() > limit.max) {
      return InvalidArgument(absl::StrCat(name, ": must be at most ", limit.max,
                                          " bytes, got ", value.size()));
    }
    if (absl::Status status = ValidateTemplate(value); !status.ok()) {
      return InvalidArgument(absl::StrCat(name, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStepCount(size_t count) {
  if (count == 0 || count > static_cast<size_t>(kMaxSteps)) {
    return InvalidArgument(
        absl::StrCat("steps: must have 1-", kMaxSteps, " steps, got ", count));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SequenceEvent>> DecideCreateSequence(
    const CreateSequence& command, const Sequence& current,
    const DecisionContext& context) {
  if (absl::Status status = ValidateId("sequence_id", command.sequence_id);
      !status.ok()) {
    return status;
  }
  const std::optional<size_t> name_length =
      internal::CountCodePoints(command.name);
  if (!name_length.has_value()) return InvalidArgument("name: not valid UTF-8");
  if (*name_length == 0 || *name_length > kMaxSequenceNameLength) {
    return InvalidArgument(absl::StrCat("name: must be 1-",
                                        kMaxSequenceNameLength,
                                        " characters, got ", *name_length));
  }
  if (absl::Status count = ValidateStepCount(command.steps.size());
      !count.ok()) {
    return count;
  }
  std::vector<StepDefinition> steps = command.steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    StepDefinition& step = steps[i];
    const std::string prefix = absl::StrCat("steps[", i, "]");
    if (step.delay < absl::ZeroDuration() || step.delay > kMaxStepDelay) {
      return InvalidArgument(
          absl::StrCat(prefix, ".delay: must be between 0 and 365 days, got ",
                       absl::FormatDuration(step.delay)));
    }
    if (step.mode != StepMode::kAutomatic && step.mode != StepMode::kManual) {
      return InvalidArgument(absl::StrCat(prefix, ".mode: unknown step mode"));
    }
    if (absl::Status status =
            ValidateStepContent(prefix, step.type, step.content);
        !status.ok()) {
      return status;
    }
    if (step.type == StepType::kTask) step.mode = StepMode::kManual;
  }
  if (current.exists) {
    return absl::AlreadyExistsError(
        absl::StrCat("sequence ", command.sequence_id, " already exists"));
  }
  SequenceCreated created;
  created.sequence_id = command.sequence_id;
  created.name = command.name;
  created.steps = std::move(steps);
  created.stop_on_response = command.stop_on_response;
  return std::vector<SequenceEvent>{
      SequenceEvent{MetadataFrom(context), std::move(created)}};
}

absl::StatusOr<std::vector<SequenceEvent>> DecidePauseSequence(
    const Sequence& current, const DecisionContext& context) {
  if (!current.exists) return absl::NotFoundError("sequence not found");
  if (current.paused) {
    return RefuseAction(
        absl::StrCat("sequence ", current.sequence_id, " is already paused"),
        Refusal{RefusalReason::kActionNotAvailable,
                {{"action", "PAUSE_SEQUENCE"},
                 {"sequence_status", "SEQUENCE_STATUS_PAUSED"}}});
  }
  return std::vector<SequenceEvent>{SequenceEvent{
      MetadataFrom(context), SequencePaused{current.sequence_id}}};
}

absl::StatusOr<std::vector<SequenceEvent>> DecideResumeSequence(
    const Sequence& current, const DecisionContext& context) {
  if (!current.exists) return absl::NotFoundError("sequence not found");
  if (!current.paused) {
    return RefuseAction(
        absl::StrCat("sequence ", current.sequence_id, " is not paused"),
        Refusal{RefusalReason::kActionNotAvailable,
                {{"action", "RESUME_SEQUENCE"},
                 {"sequence_status", "SEQUENCE_STATUS_ACTIVE"}}});
  }
  return std::vector<SequenceEvent>{SequenceEvent{
      MetadataFrom(context), SequenceResumed{current.sequence_id}}};
}

Sequence Evolve(Sequence state, const SequenceEvent& event) {
  if (const auto* created = std::get_if<SequenceCreated>(&event.payload)) {
    state.exists = true;
    state.tenant_id = event.metadata.tenant_id;
    state.sequence_id = created->sequence_id;
    state.name = created->name;
    state.steps = created->steps;
    state.stop_on_response = created->stop_on_response;
    state.paused = false;
    state.created_at = event.metadata.occurred_at;
    state.created_by = event.metadata.actor;
  } else if (std::holds_alternative<SequencePaused>(event.payload)) {
    state.paused = true;
  } else if (std::holds_alternative<SequenceResumed>(event.payload)) {
    state.paused = false;
  }
  ++state.version;
  return state;
}

}  // namespace sequencer::domain
