// Content templates: text with {{variable}} placeholders.
//
// A placeholder is `{{` name `}}` with optional spaces inside the braces. A
// variable name is free (custom fields and AI-written values are common) but
// follows one syntax: `[a-z][a-z0-9_]*(\.[a-z0-9_]+)*`, at most 64 characters
// (`first_name`, `city`, `aira.opening_line`, `crm.deal.stage`). Anything else
// that opens with `{{` or `{%`, an unclosed `{{`, a stray `}}`, and names of
// another syntax are invalid. Whether a recipient has a value is decided only
// when a step runs (a missing one puts the recipient in ERROR naming it).

#ifndef SEQUENCER_DOMAIN_TEMPLATE_H_
#define SEQUENCER_DOMAIN_TEMPLATE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "domain/limits.h"

namespace sequencer::domain {

// OK, or INVALID_ARGUMENT naming the offending placeholder and its offset.
absl::Status ValidateTemplate(absl::string_view text);

// The variable-name syntax above, in words, for error messages.
inline constexpr char kVariableNameRule[] =
    "a variable name is lower-case letters, digits and '_', starting with a "
    "letter, with optional dot-separated namespaces (e.g. aira.opening_line), "
    "at most 64 characters";

// True when `name` follows the variable-name syntax above.
bool IsValidVariableName(absl::string_view name);

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
