// Templates: the placeholder grammar, validation errors and resolution.

#include "domain/template.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "tests/util/test_util.h"

namespace sequencer::domain {
namespace {

TEST(TemplateTest, ValidTemplates) {
  for (const char* text :
       {"", "plain text", "Hi {{first_name}}", "Hi {{ first_name }}!",
        "{{aira.opening_line}} {{custom.team_size_2}}",
        "{{last_name}}{{full_name}}{{email}}{{phone}}{{company}}{{title}}",
        "single { and } braces are text", "json {\"a\": 1}"}) {
    SEQ_EXPECT_OK(ValidateTemplate(text));
  }
}

TEST(TemplateTest, InvalidTemplatesNameTheProblemAndOffset) {
  struct Case {
    const char* text;
    const char* expected;
  } cases[] = {
      {"Hi {{nickname}}",
       "unknown variable \"nickname\" in placeholder \"{{nickname}}\" at "
       "offset 3"},
      {"Hi {{first_name", "unclosed \"{{\" at offset 3"},
      {"Hi first_name}}", "stray \"}}\" at offset 13"},
      {"{% if x %}", "\"{%\" at offset 0"},
      {"{{}}", "invalid placeholder \"{{}}\" at offset 0"},
      {"{{first name}}", "invalid placeholder"},
      {"{{aira.}}", "unknown variable"},
      {"{{custom.Upper}}", "invalid placeholder"},
      {"{{aira.x-y}}", "invalid placeholder"},
      {"{{other.key}}", "unknown variable"},
      {"{{{first_name}}}", "invalid placeholder"},
  };
  for (const Case& c : cases) {
    absl::Status status = ValidateTemplate(c.text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(status.message().find(c.expected), absl::string_view::npos)
        << c.text << " -> " << status;
  }
}

TEST(TemplateTest, KnownVariableNames) {
  EXPECT_TRUE(IsKnownVariableName("first_name"));
  EXPECT_TRUE(IsKnownVariableName("title"));
  EXPECT_TRUE(IsKnownVariableName("aira.opening_line"));
  EXPECT_TRUE(IsKnownVariableName("custom." + std::string(64, 'k')));
  EXPECT_FALSE(IsKnownVariableName("custom." + std::string(65, 'k')));
  EXPECT_FALSE(IsKnownVariableName("custom."));
  EXPECT_FALSE(IsKnownVariableName("aira.Opening"));
  EXPECT_FALSE(IsKnownVariableName("nickname"));
  EXPECT_FALSE(IsKnownVariableName(""));
  EXPECT_FALSE(IsKnownVariableName("First_name"));
}

TEST(TemplateTest, ResolvesAndListsMissingVariablesOnce) {
  const std::map<std::string, std::string> variables = {
      {"first_name", "Alice"}, {"aira.opening_line", "Loved it."}};
  ResolvedText resolved = ResolveTemplate(
      "Hi {{ first_name }}, {{aira.opening_line}} {{company}} / {{title}} / "
      "{{company}}",
      variables);
  EXPECT_EQ(resolved.text,
            "Hi Alice, Loved it. {{company}} / {{title}} / {{company}}");
  EXPECT_EQ(resolved.missing_variables,
            (std::vector<std::string>{"company", "title"}));
}

TEST(TemplateTest, ResolvedValuesAreNotReexpanded) {
  ResolvedText resolved = ResolveTemplate(
      "{{first_name}}", {{"first_name", "{{company}}"}, {"company", "X"}});
  EXPECT_EQ(resolved.text, "{{company}}");
  EXPECT_TRUE(resolved.missing_variables.empty());
}

}  // namespace
}  // namespace sequencer::domain
