// A gtest fixture base whose test suite shares one throwaway PostgreSQL
// cluster, started before the suite's first test and removed after its last.
//
//   class StoreTest : public ota::testing::PostgresTest {
//    protected:
//     void SetUp() override {
//       ASSERT_OK_AND_ASSIGN(std::string url, cluster_->CreateDatabase());
//       ...
//     }
//   };
#ifndef OTA_TEST_PG_POSTGRES_TEST_H_
#define OTA_TEST_PG_POSTGRES_TEST_H_

#include "gtest/gtest.h"
#include "test/pg/postgres_cluster.h"

namespace ota::testing {

class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto c = PostgresCluster::Start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // The suite's cluster; one fresh database per test from CreateDatabase.
  static inline PostgresCluster* cluster_ = nullptr;
};

}  // namespace ota::testing

#endif  // OTA_TEST_PG_POSTGRES_TEST_H_
