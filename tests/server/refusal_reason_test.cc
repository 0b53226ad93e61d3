// The domain's RefusalReason and the API's sequencer.v1.RefusalReason list the
// same reasons with the same spelling, so the two cannot drift: every domain
// reason has a proto value named exactly RefusalReasonName, and every proto
// value but UNSPECIFIED is some domain reason's name.

#include <iterator>
#include <optional>
#include <set>
#include <string>

#include "domain/refusal.h"
#include "gtest/gtest.h"
#include "sequencer/v1/types.pb.h"

namespace sequencer::server {
namespace {

TEST(RefusalReasonTest, EveryDomainReasonIsAProtoValue) {
  for (domain::RefusalReason reason : domain::kAllRefusalReasons) {
    const std::string name(domain::RefusalReasonName(reason));
    v1::RefusalReason value = v1::REFUSAL_REASON_UNSPECIFIED;
    EXPECT_TRUE(v1::RefusalReason_Parse(name, &value)) << name;
    EXPECT_NE(value, v1::REFUSAL_REASON_UNSPECIFIED) << name;
  }
}

TEST(RefusalReasonTest, EveryProtoValueIsADomainReason) {
  const google::protobuf::EnumDescriptor* descriptor =
      v1::RefusalReason_descriptor();
  std::set<std::string> names;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const std::string name = descriptor->value(i)->name();
    if (descriptor->value(i)->number() == v1::REFUSAL_REASON_UNSPECIFIED) {
      continue;
    }
    names.insert(name);
    std::optional<domain::RefusalReason> reason =
        domain::RefusalReasonFromName(name);
    ASSERT_TRUE(reason.has_value()) << name;
    EXPECT_EQ(domain::RefusalReasonName(*reason), name);
  }
  EXPECT_EQ(names.size(), std::size(domain::kAllRefusalReasons));
}

}  // namespace
}  // namespace sequencer::server
