// Templates: the placeholder grammar, validation errors and resolution.

#include "domain/template.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"
#include "tests/util/test_util.h"

namespace sequencer::domain {
namespace {

using ::sequencer::testing::StatusIs;

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
      {"Hi {{1st_name}}",
       "invalid variable name \"1st_name\" in placeholder \"{{1st_name}}\" "
       "at offset 3: a variable name is lower-case letters"},
      {"Hi {{first_name", "unclosed \"{{\" at offset 3"},
      {"Hi first_name}}", "stray \"}}\" at offset 13"},
      {"{% if x %}", "\"{%\" at offset 0"},
      {"{{}}", "invalid placeholder \"{{}}\" at offset 0"},
      {"{{first name}}", "invalid placeholder"},
      {"{{aira.}}", "invalid variable name"},
      {"{{custom.Upper}}", "invalid placeholder"},
      {"{{aira.x-y}}", "invalid placeholder"},
      {"{{a..b}}", "invalid variable name"},
      {"{{{first_name}}}", "invalid placeholder"},
  };
  for (const Case& c : cases) {
    absl::Status status = ValidateTemplate(c.text);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << c.text;
    EXPECT_NE(status.message().find(c.expected), absl::string_view::npos)
        << c.text << " -> " << status;
  }
}

TEST(TemplateTest, VariableNamesAreFreeWithinTheSyntax) {
  for (const std::string& name : std::vector<std::string>{
           "first_name", "title", "city", "role", "aira.opening_line",
           "crm.deal.stage", "x", "a1", "custom.1st_line", std::string(64, 'k'),
           "aira." + std::string(59, 'k')}) {
    EXPECT_TRUE(IsValidVariableName(name)) << name;
  }
  for (const std::string& name : std::vector<std::string>{
           "", "First_name", "aira.Opening", "1st", "_x", ".x", "x.", "a..b",
           "a-b", "a b", "caf\xc3\xa9", std::string(65, 'k'),
           "aira." + std::string(60, 'k')}) {
    EXPECT_FALSE(IsValidVariableName(name)) << name;
  }
}

TEST(TemplateTest, CustomVariablesAreAcceptedInTemplates) {
  EXPECT_TRUE(ValidateTemplate("Hi {{first_name}} in {{city}} for {{role}}, "
                               "{{aira.opening_line}}")
                  .ok());
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
