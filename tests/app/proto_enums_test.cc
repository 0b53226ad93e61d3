// Every enum table (app/storage/proto_enums.h) maps both ways, and covers
// every value the proto enum declares: a value added to types.proto without a
// domain counterpart fails here, not in a client.

#include "app/storage/proto_enums.h"

#include <set>
#include <string>

#include "app/storage/event_codec.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace sequencer::app {
namespace {

template <typename Domain, typename Proto, size_t N>
void ExpectTableCovers(const enums::Table<Domain, Proto> (&table)[N],
                       const google::protobuf::EnumDescriptor* descriptor,
                       std::set<std::string> unmapped) {
  std::set<int> mapped;
  std::set<Domain> domain_values;
  for (const auto& [d, p] : table) {
    EXPECT_TRUE(mapped.insert(p).second)
        << descriptor->name() << " value " << p << " mapped twice";
    EXPECT_TRUE(domain_values.insert(d).second)
        << descriptor->name() << ": a domain value is mapped twice";
    EXPECT_EQ(enums::FromProtoEnum(table, p), d);
    EXPECT_EQ(enums::ToProtoEnum(table, d, Proto{}), p);
  }
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
    if (unmapped.count(value->name()) > 0) {
      EXPECT_EQ(mapped.count(value->number()), 0u) << value->name();
      continue;
    }
    EXPECT_EQ(mapped.count(value->number()), 1u)
        << value->name() << " has no domain value in the table";
  }
}

TEST(ProtoEnumsTest, EveryTableMapsEveryProtoValueBothWays) {
  ExpectTableCovers(enums::kStepTypes, v1::StepType_descriptor(),
                    {"STEP_TYPE_UNSPECIFIED"});
  ExpectTableCovers(enums::kStepModes, v1::StepMode_descriptor(),
                    {"STEP_MODE_UNSPECIFIED"});
  ExpectTableCovers(enums::kRecipientStatuses, v1::RecipientStatus_descriptor(),
                    {"RECIPIENT_STATUS_UNSPECIFIED"});
  ExpectTableCovers(enums::kActions, v1::Action_descriptor(),
                    {"ACTION_UNSPECIFIED"});
  ExpectTableCovers(enums::kStepStates, v1::StepState_descriptor(),
                    {"STEP_STATE_UNSPECIFIED"});
  ExpectTableCovers(enums::kSignalTypes, v1::SignalType_descriptor(),
                    {"SIGNAL_TYPE_UNSPECIFIED"});
  ExpectTableCovers(enums::kDeliveryOutcomes, v1::DeliveryOutcome_descriptor(),
                    {"DELIVERY_OUTCOME_UNSPECIFIED"});
}

TEST(ProtoEnumsTest, DecodingRefusesUnknownAndUnspecifiedValues) {
  absl::StatusOr<domain::StepType> unspecified =
      FromProto("steps[0].type", v1::STEP_TYPE_UNSPECIFIED);
  ASSERT_FALSE(unspecified.ok());
  EXPECT_EQ(unspecified.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unspecified.status().message(),
            "steps[0].type: unknown or unspecified value 0");
  EXPECT_FALSE(
      FromProto("statuses[0]", static_cast<v1::RecipientStatus>(99)).ok());
  // The one documented default: an unspecified mode is automatic.
  EXPECT_EQ(FromProto("mode", v1::STEP_MODE_UNSPECIFIED).value(),
            domain::StepMode::kAutomatic);
}

}  // namespace
}  // namespace sequencer::app
