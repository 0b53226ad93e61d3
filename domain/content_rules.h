// Internal helpers shared by sequence.cc and recipient.cc: which content fields
// a step type uses and UTF-8 character counting. Not part of the domain's
// public contract.

#ifndef SEQUENCER_DOMAIN_CONTENT_RULES_H_
#define SEQUENCER_DOMAIN_CONTENT_RULES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "domain/model.h"

namespace sequencer::domain::internal {

enum class ContentField { kSubject, kBody, kMessage, kDetails };

inline constexpr ContentField kAllContentFields[] = {
    ContentField::kSubject, ContentField::kBody, ContentField::kMessage,
    ContentField::kDetails};

// "subject", "body", "message", "details".
absl::string_view ContentFieldName(ContentField field);

// True when steps of `type` use `field` (EMAIL subject+body, SOCIAL_MESSAGE
// message, SMS body, TASK details).
bool TypeUsesField(StepType type, ContentField field);

// "subject and body", "message", ... for messages.
std::string FieldsOfType(StepType type);

// The number of code points of valid UTF-8 `text`; nullopt when `text` is not
// valid UTF-8.
std::optional<size_t> CountCodePoints(absl::string_view text);

}  // namespace sequencer::domain::internal

#endif  // SEQUENCER_DOMAIN_CONTENT_RULES_H_
