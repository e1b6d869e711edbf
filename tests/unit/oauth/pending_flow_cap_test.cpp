// The cap on an organization's pending flows, as each process counts them: flows count until
// they expire or a callback ends them, a refusal says when the soonest one expires, and
// organizations are counted apart.
#include "oauth/pending_flow_cap.hpp"

#include <gtest/gtest.h>

using connector::core::PendingFlowCap;

namespace {

constexpr int64_t now = 1'800'000'000;

TEST(PendingFlowCap, RefusesPastTheCapUntilAFlowExpiresOrEnds) {
  PendingFlowCap cap(2);
  EXPECT_EQ(cap.try_start("org_a", now, now + 300), 0);
  EXPECT_EQ(cap.try_start("org_a", now, now + 100), 0);
  EXPECT_EQ(cap.try_start("org_a", now, now + 600), 100) << "seconds until the soonest one expires";
  EXPECT_EQ(cap.try_start("org_a", now + 40, now + 640), 60);
  EXPECT_EQ(cap.try_start("org_b", now, now + 600), 0) << "organizations are counted apart";

  cap.ended("org_a", now + 300); // a callback took it
  EXPECT_EQ(cap.try_start("org_a", now, now + 600), 0);
  EXPECT_EQ(cap.try_start("org_a", now, now + 600), 100);
  EXPECT_EQ(cap.try_start("org_a", now + 100, now + 700), 0) << "the flow expiring at now+100 is gone";
  EXPECT_GT(cap.try_start("org_a", now + 100, now + 700), 0);
}

// authorize holds a reservation while it stores the flow: a flow that was refused or could
// not be stored frees its place; a stored one keeps it.
TEST(PendingFlowCap, AReservationFreesItsPlaceUnlessKept) {
  PendingFlowCap cap(1);
  ASSERT_EQ(cap.try_start("org_a", now, now + 300), 0);
  { PendingFlowCap::Reservation dropped(cap, "org_a", now + 300); }
  ASSERT_EQ(cap.try_start("org_a", now, now + 300), 0) << "the dropped flow's place was freed";
  {
    PendingFlowCap::Reservation stored(cap, "org_a", now + 300);
    stored.keep();
  }
  EXPECT_EQ(cap.try_start("org_a", now, now + 400), 300) << "the stored flow still counts";
}

TEST(PendingFlowCap, AnEndedFlowOfAnotherProcessChangesNothing) {
  PendingFlowCap cap(1);
  cap.ended("org_a", now + 300); // never counted here
  EXPECT_EQ(cap.try_start("org_a", now, now + 300), 0);
  cap.ended("org_a", now + 299); // no such flow
  EXPECT_EQ(cap.try_start("org_a", now, now + 300), 300);
}

TEST(PendingFlowCap, ZeroMeansNoCap) {
  PendingFlowCap cap(0);
  EXPECT_FALSE(cap.enabled());
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(cap.try_start("org_a", now, now + 600), 0);
}

} // namespace
