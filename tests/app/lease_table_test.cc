// The lease table's rules: one unexpired lease per recipient and version,
// expiry, removal, and a table of many leases dropping only the expired ones.

#include "app/runtime/lease_table.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sequencer::app {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

Lease LeaseOf(const std::string& recipient, uint64_t version,
              absl::Time expires_at) {
  return Lease{"t", "s", recipient, 0, version, expires_at};
}

TEST(LeaseTableTest, OneUnexpiredLeasePerRecipientAndVersion) {
  LeaseTable table;
  std::optional<std::string> first =
      table.TryGrant(LeaseOf("r1", 3, kNow + absl::Minutes(1)), kNow);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(table.TryGrant(LeaseOf("r1", 3, kNow + absl::Minutes(1)), kNow));
  EXPECT_EQ(table.HeldVersion("t", "s", "r1", kNow), 3u);
  // The recipient changed: a lease at the new version replaces the old one.
  std::optional<std::string> second =
      table.TryGrant(LeaseOf("r1", 4, kNow + absl::Minutes(1)), kNow);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(table.Find(*first, kNow).has_value());
  EXPECT_TRUE(table.Find(*second, kNow).has_value());
}

TEST(LeaseTableTest, AnExpiredLeaseIsGoneAndTheStepCanBeLeasedAgain) {
  LeaseTable table;
  std::optional<std::string> token =
      table.TryGrant(LeaseOf("r1", 3, kNow + absl::Minutes(1)), kNow);
  ASSERT_TRUE(token.has_value());
  const absl::Time later = kNow + absl::Minutes(1);
  EXPECT_FALSE(table.Find(*token, later).has_value());
  EXPECT_FALSE(table.HeldVersion("t", "s", "r1", later).has_value());
  EXPECT_TRUE(
      table.TryGrant(LeaseOf("r1", 3, later + absl::Minutes(1)), later));
}

TEST(LeaseTableTest, RemoveFreesTheRecipient) {
  LeaseTable table;
  std::optional<std::string> token =
      table.TryGrant(LeaseOf("r1", 3, kNow + absl::Minutes(1)), kNow);
  ASSERT_TRUE(token.has_value());
  table.Remove(*token);
  EXPECT_FALSE(table.Find(*token, kNow).has_value());
  EXPECT_TRUE(table.TryGrant(LeaseOf("r1", 3, kNow + absl::Minutes(1)), kNow));
  table.Remove("no-such-token");  // harmless
}

TEST(LeaseTableTest, ManyLeasesExpireInTheirOwnTime) {
  LeaseTable table;
  std::vector<std::string> tokens;
  for (int i = 0; i < 1000; ++i) {
    std::optional<std::string> token = table.TryGrant(
        LeaseOf(absl::StrCat("r", i), 1, kNow + absl::Seconds(i + 1)), kNow);
    ASSERT_TRUE(token.has_value());
    tokens.push_back(*token);
  }
  // At kNow + 500 s the first 500 have expired; a grant drops them.
  const absl::Time at = kNow + absl::Seconds(500);
  EXPECT_TRUE(table.TryGrant(LeaseOf("other", 1, at + absl::Minutes(1)), at));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(table.Find(tokens[i], at).has_value(), i >= 500) << i;
    EXPECT_EQ(table.HeldVersion("t", "s", absl::StrCat("r", i), at).has_value(),
              i >= 500)
        << i;
  }
  // An expired recipient can be leased again; an unexpired one cannot.
  EXPECT_TRUE(table.TryGrant(LeaseOf("r10", 1, at + absl::Minutes(1)), at));
  EXPECT_FALSE(table.TryGrant(LeaseOf("r900", 1, at + absl::Minutes(1)), at));
}

}  // namespace
}  // namespace sequencer::app
