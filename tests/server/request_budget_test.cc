#include "server/request_budget.h"

#include <utility>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/util/status_matchers.h"

namespace sequencer::server {
namespace {

using ::sequencer::testing::StatusIs;

TEST(RequestBudgetTest, AdmitsWithinTheLimitAndRefusesBeyond) {
  RequestBudget budget(100);
  RequestBudget::Hold a, b, c;
  ASSERT_TRUE(budget.Admit(60, &a).ok());
  ASSERT_TRUE(budget.Admit(40, &b).ok());
  EXPECT_EQ(budget.in_flight_bytes(), 100u);
  absl::Status refused = budget.Admit(1, &c);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(absl::StrContains(refused.message(), "retry with backoff"))
      << refused;
  EXPECT_EQ(budget.refused(), 1u);
  EXPECT_EQ(budget.in_flight_bytes(), 100u);
  a.Release();
  EXPECT_EQ(budget.in_flight_bytes(), 40u);
  EXPECT_TRUE(budget.Admit(60, &c).ok());
}

TEST(RequestBudgetTest, ARequestLargerThanTheLimitRunsAlone) {
  RequestBudget budget(100);
  RequestBudget::Hold big, small;
  ASSERT_TRUE(budget.Admit(500, &big).ok());
  EXPECT_THAT(budget.Admit(1, &small),
              StatusIs(absl::StatusCode::kResourceExhausted));
  big.Release();
  EXPECT_TRUE(budget.Admit(1, &small).ok());
  RequestBudget::Hold big_again;
  EXPECT_THAT(budget.Admit(500, &big_again),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(RequestBudgetTest, HoldsReleaseOnDestructionAndMove) {
  RequestBudget budget(100);
  {
    RequestBudget::Hold hold;
    ASSERT_TRUE(budget.Admit(70, &hold).ok());
    RequestBudget::Hold moved = std::move(hold);
    EXPECT_EQ(budget.in_flight_bytes(), 70u);
    hold.Release();  // Moved from: releases nothing.
    EXPECT_EQ(budget.in_flight_bytes(), 70u);
  }
  EXPECT_EQ(budget.in_flight_bytes(), 0u);
}

TEST(RequestBudgetTest, ZeroLimitAdmitsEverything) {
  RequestBudget budget(0);
  RequestBudget::Hold a, b;
  EXPECT_TRUE(budget.Admit(1 << 30, &a).ok());
  EXPECT_TRUE(budget.Admit(1 << 30, &b).ok());
}

}  // namespace
}  // namespace sequencer::server
