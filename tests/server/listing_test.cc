// ListRecipients and ListSequences through a real server: status filters and
// pagination with page tokens.

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/util/api_helpers.h"
#include "tests/util/grpc_status_matchers.h"
#include "tests/util/test_server.h"

namespace sequencer::testing {
namespace {

class ListingTest : public ::testing::Test {
 protected:
  // Every recipient id of `seq` with one of `statuses` (all when empty),
  // walking pages of `page_size`; `pages` receives the number of pages.
  std::vector<std::string> ListAll(
      const std::string& seq, const std::vector<v1::RecipientStatus>& statuses,
      int page_size, int* pages = nullptr) {
    std::vector<std::string> ids;
    std::string token;
    int count = 0;
    do {
      v1::ListRecipientsRequest request;
      request.set_sequence_id(seq);
      for (auto s : statuses) request.add_statuses(s);
      request.set_page_size(page_size);
      request.set_page_token(token);
      v1::ListRecipientsResponse response;
      grpc::Status status = server_.recipients().ListRecipients(
          CallAs().get(), request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      if (!status.ok()) break;
      EXPECT_LE(response.recipients_size(), page_size == 0 ? 100 : page_size);
      for (const auto& r : response.recipients()) {
        ids.push_back(r.recipient_id());
        if (!statuses.empty()) {
          EXPECT_NE(std::find(statuses.begin(), statuses.end(), r.status()),
                    statuses.end())
              << r.recipient_id() << " "
              << v1::RecipientStatus_Name(r.status());
        }
        EXPECT_EQ(r.actions_size(), 8) << "listed recipients carry actions";
      }
      token = response.next_page_token();
      ++count;
      if (count > 100) {
        ADD_FAILURE() << "paging does not end";
        break;
      }
    } while (!token.empty());
    if (pages != nullptr) *pages = count;
    return ids;
  }

  TestServer server_;
};

std::vector<std::string> Ids(int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i < to; ++i) ids.push_back(absl::StrFormat("r%02d", i));
  return ids;
}

TEST_F(ListingTest, PagesOf10Over25RecipientsSeeEachOnceInIdOrder) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  // Enrolled out of order, in two calls.
  std::vector<std::string> odd, even;
  for (const std::string& id : Ids(0, 25))
    ((id.back() - '0') % 2 ? odd : even).push_back(id);
  Enroll(server_, "s", odd);
  Enroll(server_, "s", even);
  int pages = 0;
  EXPECT_EQ(ListAll("s", {}, 10, &pages), Ids(0, 25));
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ListAll("s", {}, 25, &pages), Ids(0, 25));
  EXPECT_EQ(pages, 1) << "no token when the last page is exactly full";
  EXPECT_EQ(ListAll("s", {}, 0, &pages), Ids(0, 25)) << "0 means 100";
  EXPECT_EQ(pages, 1);
  EXPECT_EQ(ListAll("s", {}, 1, &pages), Ids(0, 25));
  EXPECT_EQ(pages, 25);
}

TEST_F(ListingTest, FirstPageHoldsTheFirstIdsAndATokenToTheRest) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  Enroll(server_, "s", Ids(0, 25));
  v1::ListRecipientsRequest request;
  request.set_sequence_id("s");
  request.set_page_size(10);
  v1::ListRecipientsResponse response;
  ASSERT_TRUE(server_.recipients()
                  .ListRecipients(CallAs().get(), request, &response)
                  .ok());
  ASSERT_EQ(response.recipients_size(), 10);
  EXPECT_EQ(response.recipients(0).recipient_id(), "r00");
  EXPECT_EQ(response.recipients(9).recipient_id(), "r09");
  EXPECT_FALSE(response.next_page_token().empty());
}

TEST_F(ListingTest, StatusFilterWithOneOrSeveralStatuses) {
  CreateSequence(server_, "s",
                 {EmailStep(absl::Hours(24)), SmsStep(absl::Hours(24))});
  Enroll(server_, "s", Ids(0, 25));
  // r00-r04 paused, r05-r09 stopped, r10-r12 bounced, r13 finished, rest
  // in progress.
  for (const std::string& id : Ids(0, 5))
    MustAct(server_, v1::ACTION_PAUSE, "s", id);
  for (const std::string& id : Ids(5, 10))
    MustAct(server_, v1::ACTION_STOP, "s", id);
  for (const std::string& id : Ids(10, 13))
    ASSERT_TRUE(Signal(server_, "s", id, v1::SIGNAL_TYPE_BOUNCE).ok());
  MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r13");
  MustAct(server_, v1::ACTION_SKIP_STEP, "s", "r13");

  EXPECT_EQ(ListAll("s", {v1::RECIPIENT_STATUS_PAUSED}, 10), Ids(0, 5));
  EXPECT_EQ(ListAll("s", {v1::RECIPIENT_STATUS_FINISHED}, 10),
            std::vector<std::string>{"r13"});
  EXPECT_EQ(ListAll("s", {v1::RECIPIENT_STATUS_IN_PROGRESS}, 4), Ids(14, 25));
  EXPECT_TRUE(ListAll("s", {v1::RECIPIENT_STATUS_UNSUBSCRIBED}, 10).empty());

  std::vector<std::string> expected = Ids(0, 5);
  for (const std::string& id : Ids(10, 13)) expected.push_back(id);
  EXPECT_EQ(
      ListAll("s", {v1::RECIPIENT_STATUS_BOUNCED, v1::RECIPIENT_STATUS_PAUSED},
              3),
      expected);
  expected = Ids(5, 14);
  EXPECT_EQ(
      ListAll("s",
              {v1::RECIPIENT_STATUS_STOPPED, v1::RECIPIENT_STATUS_BOUNCED,
               v1::RECIPIENT_STATUS_FINISHED, v1::RECIPIENT_STATUS_STOPPED},
              2),
      expected);

  // A status change moves the recipient between filters.
  MustAct(server_, v1::ACTION_RESUME, "s", "r02");
  std::vector<std::string> paused = Ids(0, 5);
  paused.erase(paused.begin() + 2);
  EXPECT_EQ(ListAll("s", {v1::RECIPIENT_STATUS_PAUSED}, 10), paused);
  std::vector<std::string> running = {"r02"};
  for (const std::string& id : Ids(14, 25)) running.push_back(id);
  EXPECT_EQ(ListAll("s", {v1::RECIPIENT_STATUS_IN_PROGRESS}, 5), running);
}

TEST_F(ListingTest, RecipientsOfOtherSequencesAndTenantsAreNotListed) {
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))});
  CreateSequence(server_, "t", {EmailStep(absl::Hours(24))});
  CreateSequence(server_, "s", {EmailStep(absl::Hours(24))}, true, "tenant-b");
  Enroll(server_, "s", {"a", "b"});
  Enroll(server_, "t", {"c"});
  Enroll(server_, "s", {"d"}, "tenant-b");
  EXPECT_EQ(ListAll("s", {}, 10), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ListAll("t", {}, 10), (std::vector<std::string>{"c"}));
  v1::ListRecipientsRequest request;
  request.set_sequence_id("nope");
  v1::ListRecipientsResponse response;
  EXPECT_THAT(
      server_.recipients().ListRecipients(CallAs().get(), request, &response),
      StatusIs(grpc::StatusCode::NOT_FOUND));
}

TEST_F(ListingTest, ListSequencesPagesInIdOrder) {
  std::vector<std::string> expected;
  for (int i = 24; i >= 0; --i) {
    CreateSequence(server_, absl::StrFormat("seq-%02d", i),
                   {EmailStep(absl::Hours(1))});
  }
  for (int i = 0; i < 25; ++i)
    expected.push_back(absl::StrFormat("seq-%02d", i));
  CreateSequence(server_, "other", {EmailStep(absl::Hours(1))}, true,
                 "tenant-b");

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListSequencesRequest request;
    request.set_page_size(10);
    request.set_page_token(token);
    v1::ListSequencesResponse response;
    ASSERT_TRUE(server_.sequences()
                    .ListSequences(CallAs().get(), request, &response)
                    .ok());
    EXPECT_LE(response.sequences_size(), 10);
    for (const auto& s : response.sequences()) {
      seen.push_back(s.sequence_id());
      EXPECT_EQ(s.name(), "Sequence " + s.sequence_id());
      EXPECT_EQ(s.steps_size(), 1);
    }
    token = response.next_page_token();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, 3);

  v1::ListSequencesRequest all;
  v1::ListSequencesResponse response;
  ASSERT_TRUE(
      server_.sequences().ListSequences(CallAs().get(), all, &response).ok());
  EXPECT_EQ(response.sequences_size(), 25);
  EXPECT_TRUE(response.next_page_token().empty());
}

}  // namespace
}  // namespace sequencer::testing
