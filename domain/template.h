// Content templates: text with {{variable}} placeholders.
//
// A placeholder is `{{` name `}}` with optional spaces inside the braces. A
// name is one of the contact variables (first_name, last_name, full_name,
// email, phone, company, title), or a namespaced one: `aira.<key>` (values
// produced by the AI writer) or `custom.<key>`, where <key> is [a-z0-9_]{1,64}.
// Anything else that opens with `{{` or `{%`, an unclosed `{{`, a stray `}}`,
// and unknown names are invalid.

#ifndef SEQUENCER_DOMAIN_TEMPLATE_H_
#define SEQUENCER_DOMAIN_TEMPLATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sequencer::domain {

// OK, or INVALID_ARGUMENT naming the offending placeholder and its offset.
absl::Status ValidateTemplate(absl::string_view text);

// True when `name` may be used as a variable name (the placeholder grammar
// above).
bool IsKnownVariableName(absl::string_view name);

struct ResolvedText {
  std::string text;
  // Placeholders without a value, in order of first appearance, each once. Left
  // unresolved (as written) in `text`.
  std::vector<std::string> missing_variables;
};

// Substitutes every placeholder of a valid template with its value from
// `variables`.
ResolvedText ResolveTemplate(
    absl::string_view text,
    const std::map<std::string, std::string>& variables);

}  // namespace sequencer::domain

#endif  // SEQUENCER_DOMAIN_TEMPLATE_H_
